"""Business metrics a team uploads (requests, customers...) so its cost can be read per unit."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.accounts.models import Organization, Team


class BusinessMetric(models.Model):
    """One day's value of a named business metric for a team (CSV ``date,metric,value``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="business_metrics")
    date = models.DateField()
    metric = models.CharField(max_length=100)
    # A count or amount, not money; kept exact like everything else.
    value = models.DecimalField(max_digits=24, decimal_places=6)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team", "metric", "date"]
        constraints = [
            models.UniqueConstraint(fields=["team", "metric", "date"], name="business_metric_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.metric} {self.date} = {self.value}"
