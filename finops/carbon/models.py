"""Carbon estimates: the coefficient sets they were computed with, and daily rollups beside DailyCost."""

from __future__ import annotations

from django.db import models

from finops.accounts.models import Organization, Team
from finops.core.money import MoneyField


class CoefficientSet(models.Model):
    """A dated, versioned set of CCF coefficients, stored whole so old estimates stay reproducible.

    Rows are never edited: a changed coefficient is a new version. Estimates record the version they used.
    """

    version = models.CharField(max_length=64, unique=True)
    published = models.DateField(null=True, blank=True)
    source = models.TextField()
    data = models.JSONField()  # Coefficients.to_dict()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published", "-created_at"]

    def __str__(self) -> str:
        return self.version


class CarbonDaily(models.Model):
    """Daily carbon rollup: DailyCost's dimensions plus instance type and the estimation method."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    coefficient_set = models.ForeignKey(CoefficientSet, on_delete=models.PROTECT, related_name="rollups")
    day = models.DateField()
    provider_name = models.TextField()
    billing_account_id = models.TextField()
    # The currency of effective_cost: rows of different currencies are never summed into one cost.
    billing_currency = models.TextField(blank=True, default="", db_default="")
    sub_account_id = models.TextField(blank=True)
    service_name = models.TextField(blank=True)
    service_category = models.TextField(blank=True)
    region_id = models.TextField(blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    instance_type = models.TextField(blank=True)
    method = models.CharField(max_length=16)  # measured | coefficient | cost-ratio | unknown
    grid_estimated = models.BooleanField(default=False)  # unknown region: the provider's average factor
    usage_hours = MoneyField()  # instance-hours of compute usage
    vcpu_hours = MoneyField()
    compute_kwh = MoneyField()
    memory_kwh = MoneyField()
    storage_kwh = MoneyField()
    network_kwh = MoneyField()
    kwh = MoneyField()
    operational_kgco2e = MoneyField()
    embodied_kgco2e = MoneyField()
    effective_cost = MoneyField()
    row_count = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["organization", "day"], name="carbondaily_org_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.service_name} {self.kwh} kWh"
