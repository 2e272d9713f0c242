"""Rightsizing: imported utilisation metrics (hourly aggregates), runs and their recommendations.

Metrics are stored as hourly aggregates, not raw samples: 1,000 instances x 5-minute samples x
14 days is 4M rows, hourly it is 336k, and the policy needs only the hourly average (its percentiles)
and the hourly maximum (max CPU, idle detection). Sums and counts are kept, not means, so the hours
of two files can be merged exactly.
"""

from __future__ import annotations

from django.db import models

from finops.accounts.models import Organization, Team
from finops.core.money import MoneyField


class UtilizationImport(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        DUPLICATE = "duplicate"
        FAILED = "failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    file_name = models.CharField(max_length=500)
    path = models.CharField(max_length=1000)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rows = models.BigIntegerField(default=0)  # samples read
    hours_written = models.BigIntegerField(default=0)  # (resource, hour) aggregates stored
    hours_replaced = models.BigIntegerField(default=0)  # of those, hours an older import had
    resources = models.IntegerField(default=0)
    has_memory = models.BooleanField(default=False)
    first_hour = models.DateTimeField(null=True, blank=True)
    last_hour = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "sha256"], name="utilimport_org_sha_idx")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class UtilizationHour(models.Model):
    """Aggregate of one resource's samples in one UTC hour. The latest import of an hour wins."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    utilization_import = models.ForeignKey(UtilizationImport, on_delete=models.CASCADE, related_name="hours")
    resource_id = models.TextField()
    hour = models.DateTimeField()
    samples = models.IntegerField()
    cpu_sum = models.FloatField()  # percent x samples: a percentage, not money, so float is right
    cpu_max = models.FloatField()
    mem_samples = models.IntegerField(default=0)
    mem_sum = models.FloatField(default=0.0)
    mem_max = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "resource_id", "hour"], name="utilhour_unique"),
        ]
        indexes = [models.Index(fields=["organization", "hour"], name="utilhour_org_hour_idx")]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.hour:%Y-%m-%d %H:00}"


class RightsizingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    parameters = models.JSONField(default=dict)  # the policy and the fleet constraints
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    resources = models.IntegerField(default=0)
    total_monthly_savings = MoneyField(null=True, blank=True)
    solver_stats = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"rightsizing run #{self.pk} ({self.status})"


class RightsizingRecommendation(models.Model):
    class Action(models.TextChoices):
        KEEP = "keep"
        RESIZE = "resize"
        STOP = "stop"

    run = models.ForeignKey(RightsizingRun, on_delete=models.CASCADE, related_name="recommendations")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    resource_id = models.TextField()
    resource_name = models.TextField(blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team_tag_value = models.TextField(blank=True)
    account_id = models.TextField(blank=True)  # the sub account (AWS linked account) the resource ran in
    region = models.CharField(max_length=64)
    operating_system = models.CharField(max_length=32, default="linux")
    instances = models.FloatField(default=1.0)  # average running instances in the window
    current_type = models.CharField(max_length=64)
    recommended_type = models.CharField(max_length=64, null=True, blank=True)  # null: stop
    action = models.CharField(max_length=8, choices=Action.choices)
    reason = models.TextField()
    p95_cpu = models.FloatField(null=True, blank=True)  # the policy's percentile (95 by default)
    max_cpu = models.FloatField(null=True, blank=True)
    p95_memory = models.FloatField(null=True, blank=True)
    memory_evidence = models.BooleanField(default=False)
    hours_observed = models.IntegerField(default=0)
    current_monthly_cost = MoneyField(null=True, blank=True)
    new_monthly_cost = MoneyField(null=True, blank=True)
    monthly_savings = MoneyField(null=True, blank=True)
    migration_effort = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "resource_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "resource_id"], name="rightsizing_rec_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id}: {self.action} {self.current_type} -> {self.recommended_type}"
