"""Expiry alerts of existing commitments (the commitments themselves are read from line items: see selectors)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.accounts.models import Organization


class CommitmentExpiryAlert(models.Model):
    """One expiry email of (organization, commitment, threshold): exactly once by the unique constraint, inserted
    pending with its rendered message before sending and marked sent by ``finops.core.outbox.deliver_pending``.
    A threshold already passed when a tighter one is due (a commitment first seen 20 days before its end) is
    recorded as skipped: one email, for the tightest threshold."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        SKIPPED = "skipped"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    commitment_id = models.TextField()
    threshold_days = models.PositiveSmallIntegerField()
    ends_at = models.DateTimeField()
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
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "commitment_id", "threshold_days"], name="commitment_expiry_alert_once"
            )
        ]
        indexes = [models.Index(fields=["organization", "status"], name="commitment_alert_status_idx")]

    def __str__(self) -> str:
        return f"{self.commitment_id} {self.threshold_days}d {self.status}"


class CommitmentAlertSubscription(models.Model):
    """A member's own choice about the organization's expiry emails. Without a row, admins and finance get them
    (they renew commitments) and viewers do not; a row overrides that with ``active``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="commitment_alert_subscription_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {'gets' if self.active else 'skips'} expiry alerts of {self.organization}"


class ImportedCommitmentTerm(models.Model):
    """A commitment's start, end and size from the provider's inventory export (``import_commitment_terms``), for
    bills whose line items carry no commitment dates (FOCUS). Keyed by the provider's id (``ReservedInstancesId``,
    ``savingsPlanId``); a re-import of the same id replaces the row."""

    class Kind(models.TextChoices):
        RESERVATION = "reservation"
        SAVINGS_PLAN = "savings_plan"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    commitment_id = models.TextField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    arn = models.TextField(blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    units = models.DecimalField(max_digits=12, decimal_places=0, null=True, blank=True)
    hourly_commitment = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    state = models.CharField(max_length=32, blank=True)
    source_file = models.TextField()
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["organization", "end", "commitment_id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "commitment_id"], name="imported_commitment_term_once")
        ]

    def __str__(self) -> str:
        return f"{self.commitment_id} {self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}"
