"""Celery tasks for commitments: thin shells over the idempotent expiry-alert service (exactly once by a unique
constraint, so a redelivered task is harmless)."""

from __future__ import annotations

from celery import shared_task

from finops.commitments.services import commitment_expiry_alerts_all
from finops.core.outbox import SEND_ERRORS


@shared_task(
    name="commitments.expiry_alerts",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=SEND_ERRORS,  # SMTP down or refusing for now; the alerts stay pending
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=8,
)
def expiry_alerts() -> dict[str, int]:
    """Daily: the 90/30/7-day expiry alerts of every organization's commitments."""
    return commitment_expiry_alerts_all()
