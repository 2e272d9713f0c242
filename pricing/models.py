"""Price catalogs: SKUs, dated prices by term kind, spot price history, and the imports they came from.

Prices are never overwritten: a newer import closes the previous price of the same offer
(``effective_to``) and adds its own, so "what was the price on date X" has an answer.
"""

from __future__ import annotations

from django.db import models

from finops.core.money import MoneyField


class CatalogImport(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    provider = models.CharField(max_length=16)
    format = models.CharField(max_length=32)
    source = models.CharField(max_length=500)  # offer code / catalog name
    location = models.CharField(max_length=1000)  # file path or URL it was read from
    publication_date = models.DateTimeField(null=True, blank=True)
    version = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    rows_read = models.BigIntegerField(default=0)
    skus_added = models.BigIntegerField(default=0)
    prices_added = models.BigIntegerField(default=0)
    prices_superseded = models.BigIntegerField(default=0)
    spot_samples_added = models.BigIntegerField(default=0)
    skipped = models.JSONField(default=dict)  # reason -> count (e.g. libcloud's unknown 0.0 prices)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} {self.version or ''} ({self.status})"


class Sku(models.Model):
    sku_key = models.CharField(max_length=300, unique=True)
    provider = models.CharField(max_length=16)
    sku_code = models.CharField(max_length=100, null=True, blank=True)
    service = models.CharField(max_length=200)
    product_family = models.CharField(max_length=200, null=True, blank=True)
    region = models.CharField(max_length=64, null=True, blank=True)
    instance_type = models.CharField(max_length=200, null=True, blank=True)
    operating_system = models.CharField(max_length=64, null=True, blank=True)
    tenancy = models.CharField(max_length=32, null=True, blank=True)
    license_model = models.CharField(max_length=100, null=True, blank=True)
    pre_installed_sw = models.CharField(max_length=100, null=True, blank=True)
    vcpu = models.IntegerField(null=True, blank=True)
    memory_gib = MoneyField(null=True, blank=True)
    architecture = models.CharField(max_length=32, null=True, blank=True)
    gpu = models.IntegerField(null=True, blank=True)
    instance_family = models.CharField(max_length=64, null=True, blank=True)
    normalization_factor = MoneyField(null=True, blank=True)
    attributes = models.JSONField(default=dict)
    catalog_import = models.ForeignKey(CatalogImport, on_delete=models.PROTECT, related_name="skus")

    class Meta:
        indexes = [models.Index(fields=["provider", "region", "instance_type"], name="sku_lookup_idx")]

    def __str__(self) -> str:
        return self.sku_key


class Term(models.TextChoices):
    ON_DEMAND = "on_demand"
    RESERVED = "reserved"
    SAVINGS_PLAN = "savings_plan"
    SPOT = "spot"


class Price(models.Model):
    """One dated price of one offer of a SKU. ``hourly`` is the recurring per-unit rate and ``upfront``
    the one-time fee, kept apart as published."""

    # No database FK constraints: an offer file brings a million prices, and deferred constraint checks
    # at commit cost more than the load. Only pricing.services writes these rows.
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="prices", db_constraint=False)
    term = models.CharField(max_length=16, choices=Term.choices)
    lease_years = models.IntegerField(null=True, blank=True)
    purchase_option = models.CharField(max_length=32, null=True, blank=True)
    offering_class = models.CharField(max_length=32, null=True, blank=True)
    plan_type = models.CharField(max_length=32, null=True, blank=True)
    unit = models.CharField(max_length=64)
    upfront = MoneyField()
    hourly = MoneyField()
    currency = models.CharField(max_length=8)
    effective_from = models.DateTimeField(null=True, blank=True)
    effective_to = models.DateTimeField(null=True, blank=True)  # null: current
    tier_start = MoneyField(null=True, blank=True)
    tier_end = MoneyField(null=True, blank=True)
    rate_code = models.CharField(max_length=200, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    derived = models.BooleanField(default=False)
    provenance = models.TextField(blank=True)  # how a derived price was derived
    source_row = models.BigIntegerField(null=True, blank=True)
    catalog_import = models.ForeignKey(
        CatalogImport, on_delete=models.CASCADE, related_name="prices", db_constraint=False, db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["sku", "term", "effective_from"], name="price_sku_term_idx"),
            models.Index(fields=["catalog_import"], name="price_import_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} {self.term} {self.hourly}/{self.unit}"


class SpotPriceSample(models.Model):
    provider = models.CharField(max_length=16)
    region = models.CharField(max_length=64)
    availability_zone = models.CharField(max_length=64)
    instance_type = models.CharField(max_length=64)
    product_description = models.CharField(max_length=100)
    operating_system = models.CharField(max_length=32)
    price = MoneyField()
    currency = models.CharField(max_length=8)
    timestamp = models.DateTimeField()
    catalog_import = models.ForeignKey(
        CatalogImport, on_delete=models.CASCADE, related_name="spot_samples", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "availability_zone", "instance_type", "product_description", "timestamp"],
                name="spot_sample_unique",
            )
        ]
        indexes = [models.Index(fields=["region", "instance_type", "timestamp"], name="spot_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.availability_zone} {self.instance_type} {self.price} @ {self.timestamp:%Y-%m-%d %H:%M}"


class CatalogSource(models.Model):
    """A catalog URL the nightly refresh re-imports (an unchanged file is a no-op)."""

    url = models.URLField(max_length=1000, unique=True)
    format = models.CharField(max_length=32, default="auto")
    enabled = models.BooleanField(default=True)
    last_import = models.ForeignKey(CatalogImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.url
