"""Budgets, their alerts (sent exactly once) and weekly spend digests.

Scope (``Budget.scope``), a JSON object; every key optional, values OR-ed within a key, keys AND-ed:

    {"billing_account_id": ["731942058316"], "sub_account_id": [...], "service_name": [...],
     "region_id": [...], "team": ["<team slug>", ...], "tags": {"<tag key>": ["<value>", ...]}}

An empty scope ({}) is the whole organization. Only ``tags`` needs line items; the rest reads daily rollups.

Thresholds (``Budget.thresholds``): ``[{"percent": "80", "kind": "actual"}, {"percent": "100", "kind":
"forecast"}]``; percent of the amount as a decimal string, 0 < percent <= 1000.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.accounts.models import Organization
from finops.core.money import MoneyField


class Budget(models.Model):
    class Period(models.TextChoices):
        MONTHLY = "monthly"
        QUARTERLY = "quarterly"
        ANNUAL = "annual"

    class Metric(models.TextChoices):
        BILLED = "billed"
        EFFECTIVE = "effective"  # amortized

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="budgets")
    name = models.CharField(max_length=200)
    scope = models.JSONField(default=dict, blank=True)
    period = models.CharField(max_length=16, choices=Period.choices, default=Period.MONTHLY)
    amount = MoneyField()
    currency = models.CharField(max_length=3, default="USD")
    cost_metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.BILLED)
    thresholds = models.JSONField(default=list, blank=True)
    recipient_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    recipient_emails = models.JSONField(default=list, blank=True)
    # Auto-adjusting amount: the average actual spend of the last N complete periods (null = fixed amount).
    auto_adjust_periods = models.PositiveSmallIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    # The latest evaluation, for pages and the API (decimal strings); rewritten by each evaluation.
    last_evaluation = models.JSONField(default=dict, blank=True)
    last_status = models.CharField(max_length=16, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="budget_unique_name")]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.name}"

    def get_absolute_url(self) -> str:
        return f"/budgets/{self.pk}/"


class BudgetAlert(models.Model):
    """One alert email of (budget, period, threshold, kind). The unique constraint makes it exactly once:
    the row is inserted (pending, with the rendered message) before sending and marked sent after, under a
    row lock, so a crash before sending leaves a pending row that the next evaluation sends."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    threshold_percent = models.DecimalField(max_digits=8, decimal_places=3)
    kind = models.CharField(max_length=16)  # actual, forecast
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField()
    numbers = models.JSONField(default=dict)  # the evaluation that triggered it (decimal strings)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "threshold_percent", "kind"], name="budget_alert_once"
            )
        ]
        indexes = [models.Index(fields=["organization", "status"], name="budget_alert_status_idx")]

    def __str__(self) -> str:
        return f"{self.budget} {self.period_start} {self.threshold_percent}% {self.kind} {self.status}"


class DigestSubscription(models.Model):
    """A user who opted in to the weekly spend digest of an organization."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="digest_subscription_unique")]

    def __str__(self) -> str:
        return f"{self.user} digest of {self.organization}"


class DigestDelivery(models.Model):
    """One weekly digest email (user, organization, week): exactly once, like ``BudgetAlert``."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()  # the Monday of the digest's week
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week_start", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "week_start"], name="digest_delivery_once")
        ]

    def __str__(self) -> str:
        return f"digest {self.user} {self.organization} {self.week_start} {self.status}"
