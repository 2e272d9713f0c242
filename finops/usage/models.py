"""Usage data: FOCUS line items, their daily rollups, billing slices and the ingest jobs that wrote them."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import models

from finops.accounts.models import Organization, Team
from finops.core.money import MoneyField


class IngestJob(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        DUPLICATE = "duplicate"
        FAILED = "failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ingest_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, default="cli")  # cli, upload, api, demo
    requested_format = models.CharField(max_length=16, default="auto")
    format = models.CharField(max_length=16, blank=True)
    # The FOCUS versions of the delivery's FOCUS files, comma-separated ("1.2,1.3"); "" when none is FOCUS.
    focus_version = models.CharField(max_length=32, blank=True, default="", db_default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    delivery_sha256 = models.CharField(max_length=64, db_index=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rows_read = models.BigIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    rows_replaced = models.BigIntegerField(default=0)
    billing_periods = models.JSONField(default=list)
    slice_count = models.IntegerField(default=0)
    totals = models.JSONField(default=dict)  # {currency: {billed_cost, effective_cost, list_cost}} as strings
    bytes_total = models.BigIntegerField(default=0)
    # Its files were loaded by tasks of their own (in parallel on several workers), then committed together.
    fanned_out = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"ingest #{self.pk} {self.status}"

    @property
    def progress_cache_key(self) -> str:
        return f"finops:ingest-progress:{self.pk}"

    def part_progress_cache_key(self, number: int) -> str:
        """Where the task loading one part of a fanned-out delivery reports its progress."""
        return f"{self.progress_cache_key}:part:{number}"

    def progress(self) -> dict:
        """Live progress while running (from the cache, shared by web and workers), final numbers after."""
        if self.status in (self.Status.PENDING, self.Status.RUNNING, self.Status.FAILED):
            # A failed job shows where it stopped (nothing of it was kept).
            if self.fanned_out:  # each part's task reports its own share
                return self._parts_progress()
            live = cache.get(self.progress_cache_key)
            if live:
                return live
            return {"rows": 0, "bytes_done": 0, "bytes_total": self.bytes_total, "fraction": 0.0}
        return {
            "rows": self.rows_read,
            "bytes_done": self.bytes_total,
            "bytes_total": self.bytes_total,
            "fraction": 1.0,
        }

    def _parts_progress(self) -> dict:
        keys = [self.part_progress_cache_key(number) for number in self.parts.values_list("number", flat=True)]
        parts = cache.get_many(keys).values()
        done = sum(part["bytes_done"] for part in parts)
        return {
            "rows": sum(part["rows"] for part in parts),
            "bytes_done": done,
            "bytes_total": self.bytes_total,
            "fraction": min(done / max(self.bytes_total, 1), 1.0),
        }


class IngestFile(models.Model):
    job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=500)
    path = models.CharField(max_length=1000)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    format = models.CharField(max_length=16, blank=True)
    focus_version = models.CharField(max_length=8, blank=True, default="", db_default="")  # FOCUS files only
    rows = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["job", "name"]

    def __str__(self) -> str:
        return self.name


class IngestPart(models.Model):
    """A share of a fanned-out delivery's files, loaded by one task into leaves that stay detached until the
    delivery's commit (finops.usage.services), with what the commit needs from it."""

    job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveIntegerField()
    file_ids = models.JSONField(default=list)
    started_at = models.DateTimeField(null=True, blank=True)  # a task took it (recovery: only those can be lost)
    loaded_at = models.DateTimeField(null=True, blank=True)
    # {"summary": DeliverySummary.to_json(), "months": [ISO month, ...]}; and its rollups (Arrow IPC), which the
    # commit reads one part at a time and then empties.
    loaded = models.JSONField(null=True, blank=True)
    rollups = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="ingestpart_job_number_unique")]

    def __str__(self) -> str:
        return f"part {self.number} of ingest #{self.job_id}"


class BillingSlice(models.Model):
    """The unit an ingest replaces: (organization, provider, billing account, billing period)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="billing_slices")
    provider_name = models.TextField()
    billing_account_id = models.TextField()
    billing_period_start = models.DateTimeField()
    job = models.ForeignKey(IngestJob, on_delete=models.PROTECT, related_name="slices")
    rows = models.BigIntegerField()
    # {"account": {BillingAccountId: BillingAccountName}, "sub_account": {SubAccountId: SubAccountName}}: the names
    # the slice's rows carry, so that pages label accounts from this small table instead of scanning line items.
    account_names = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "billing_period_start", "provider_name", "billing_account_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider_name", "billing_account_id", "billing_period_start"],
                name="billing_slice_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_name}/{self.billing_account_id}/{self.billing_period_start:%Y-%m}"


class LineItem(models.Model):
    """One FOCUS cost row. Written in bulk by the ingest service (COPY / executemany), never one by one."""

    # No database FK constraints or single-column indexes on this fact table: deferred FK checks and
    # extra indexes more than doubled COPY time. Only the ingest service writes these rows, inside the
    # transaction that creates their job.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    ingest_job = models.ForeignKey(
        IngestJob, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    # The file of the delivery the row came from (on PostgreSQL, its leaf). Deleting the job deletes the rows:
    # no cascade of its own, which would scan this unindexed column.
    ingest_file = models.ForeignKey(
        IngestFile, null=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    # The team tag value resolved from Tags at ingest ("" when untagged); Team.tag_value names the team.
    # A value, not a foreign key, so rows are encoded without a database round trip.
    team_tag_value = models.TextField(blank=True, default="")

    provider_name = models.TextField()
    publisher_name = models.TextField(null=True)
    invoice_issuer_name = models.TextField(null=True)
    billing_account_id = models.TextField()
    billing_account_name = models.TextField(null=True)
    sub_account_id = models.TextField(null=True)
    sub_account_name = models.TextField(null=True)
    billing_currency = models.TextField()
    billing_period_start = models.DateTimeField()
    billing_period_end = models.DateTimeField()
    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField()
    charge_category = models.TextField()
    charge_class = models.TextField(null=True)
    charge_description = models.TextField(null=True)
    charge_frequency = models.TextField(null=True)
    billed_cost = MoneyField()
    effective_cost = MoneyField()
    list_cost = MoneyField(null=True)
    contracted_cost = MoneyField(null=True)
    list_unit_price = MoneyField(null=True)
    contracted_unit_price = MoneyField(null=True)
    pricing_quantity = MoneyField(null=True)
    pricing_unit = models.TextField(null=True)
    pricing_category = models.TextField(null=True)
    consumed_quantity = MoneyField(null=True)
    consumed_unit = models.TextField(null=True)
    service_name = models.TextField(null=True)
    service_category = models.TextField(null=True)
    region_id = models.TextField(null=True)
    region_name = models.TextField(null=True)
    availability_zone = models.TextField(null=True)
    resource_id = models.TextField(null=True)
    resource_name = models.TextField(null=True)
    resource_type = models.TextField(null=True)
    sku_id = models.TextField(null=True)
    sku_price_id = models.TextField(null=True)
    commitment_discount_id = models.TextField(null=True)
    commitment_discount_name = models.TextField(null=True)
    commitment_discount_type = models.TextField(null=True)
    commitment_discount_category = models.TextField(null=True)
    commitment_discount_status = models.TextField(null=True)
    tags = models.JSONField(null=True)
    # FOCUS 1.3+: the infrastructure provider, split cost allocation (what a shared charge was split to, how,
    # and the allocated resource's own tags) and the contract commitments the charge counts towards.
    host_provider_name = models.TextField(null=True)
    allocated_method_id = models.TextField(null=True)
    allocated_method_details = models.JSONField(null=True)
    allocated_resource_id = models.TextField(null=True)
    allocated_resource_name = models.TextField(null=True)
    allocated_tags = models.JSONField(null=True)
    contract_applied = models.JSONField(null=True)
    instance_type = models.TextField(null=True)
    extras = models.JSONField(null=True)

    class Meta:
        indexes = [
            # Replacing a slice deletes the rows of the job that owns it (BillingSlice.job): an integer
            # index costs COPY far less than one on the slice's text columns.
            models.Index(fields=["ingest_job"], name="lineitem_job_idx"),
            models.Index(fields=["organization", "charge_period_start"], name="lineitem_org_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_name} {self.charge_period_start:%Y-%m-%d %H:%M} {self.billed_cost}"


class LineItemPrune(models.Model):
    """A run of line-item retention: every line item of a billing period starting before ``before`` was removed
    (the rollups stay). Pages that read line items refuse to report on those periods rather than show zeros."""

    before = models.DateTimeField()
    months = models.IntegerField(default=0)  # month partitions dropped (PostgreSQL)
    rows = models.BigIntegerField(default=0)
    pruned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-before"]

    def __str__(self) -> str:
        return f"line items before {self.before:%Y-%m} pruned"


class DailyRollup(models.Model):
    """The columns of the daily rollups (finops.usage.rollup.ROLLUP_DIMENSIONS and ROLLUP_MEASURES), written
    by the ingest beside the line items so that reports and dashboards never scan line items."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ingest_job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    billing_period_start = models.DateTimeField()
    provider_name = models.TextField()
    billing_account_id = models.TextField()
    sub_account_id = models.TextField(blank=True)
    service_name = models.TextField(blank=True)
    service_category = models.TextField(blank=True)
    region_id = models.TextField(blank=True)
    charge_category = models.TextField(blank=True)
    # "Correction" for rows that correct an earlier period (FOCUS ChargeClass), "" otherwise.
    charge_class = models.TextField(blank=True, default="", db_default="")
    pricing_category = models.TextField(blank=True)
    billing_currency = models.TextField()
    # Used / Unused for commitment rows ("" otherwise): coverage and utilisation without reading line items.
    commitment_discount_status = models.TextField(blank=True, default="", db_default="")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    billed_cost = MoneyField()
    effective_cost = MoneyField()
    list_cost = MoneyField()
    pricing_quantity = MoneyField()
    row_count = models.BigIntegerField()

    class Meta:
        abstract = True


class DailyCost(DailyRollup):
    """Daily rollup of line items by ROLLUP_DIMENSIONS."""

    class Meta:
        indexes = [
            models.Index(fields=["organization", "day"], name="dailycost_org_day_idx"),
            models.Index(
                fields=["organization", "provider_name", "billing_account_id", "billing_period_start"],
                name="dailycost_slice_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.service_name} {self.billed_cost}"


class DailyTagCost(DailyRollup):
    """Daily rollup per tag: DailyCost's dimensions plus one (tag key, tag value) pair, so group-bys and
    filters on a tag never scan line items. A line item appears once per non-empty tag it carries; its
    untagged share for a key is the DailyCost total minus this table's rows for that key."""

    tag_key = models.TextField()
    tag_value = models.TextField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "tag_key", "day"], name="dailytagcost_org_key_day_idx"),
            # Explore's tag key and KEY=VALUE choices walk the distinct pairs (a loose index scan) instead of
            # reading every row; byte-wise ordered on PostgreSQL (code point order, whatever the collation).
            models.Index(
                fields=["organization", "tag_key", "tag_value"],
                name="dailytagcost_org_key_value_idx",
                opclasses=["int8_ops", "text_pattern_ops", "text_pattern_ops"],
            ),
            models.Index(
                fields=["organization", "provider_name", "billing_account_id", "billing_period_start"],
                name="dailytagcost_slice_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.tag_key}={self.tag_value} {self.billed_cost}"


class SavedView(models.Model):
    """A named Explore query (the query string that reproduces it), saved by a user and shared with every member
    of its organization by its URL."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="saved_views")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=200)
    query = models.TextField(help_text="Explore's query string, without the leading '?'.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name", "id"]

    def __str__(self) -> str:
        return f"{self.organization.slug}: {self.name}"
