"""Celery tasks for budgets: thin shells that take ids and call one service. The services are idempotent
(alerts and digests are exactly once by unique constraints), so a redelivered task is harmless."""

from __future__ import annotations

from celery import shared_task

from finops.accounts.models import Organization
from finops.budgets.models import Budget
from finops.budgets.services import budgets_evaluate, weekly_digest_send
from finops.core.outbox import SEND_ERRORS

_RETRY = {
    "autoretry_for": SEND_ERRORS,  # SMTP down or refusing for now; the alerts stay pending
    "retry_backoff": 30,
    "retry_backoff_max": 1800,
    "max_retries": 8,
}


@shared_task(name="budgets.evaluate_all", acks_late=True, reject_on_worker_lost=True)
def evaluate_all() -> list[int]:
    """Daily: one ``budgets.evaluate_org`` per organization with an active budget (more workers, sooner)."""
    ids = sorted(set(Budget.objects.filter(active=True).values_list("organization_id", flat=True)))
    for organization_id in ids:
        evaluate_org.delay(organization_id)
    return ids


@shared_task(name="budgets.evaluate_org", acks_late=True, reject_on_worker_lost=True, **_RETRY)
def evaluate_org(organization_id: int) -> dict:
    """Evaluate the organization's active budgets and send their due alerts (called after each ingest)."""
    organization = Organization.objects.get(pk=organization_id)
    results = budgets_evaluate(organization=organization)
    return {
        "organization": organization.slug,
        "budgets": [{"name": r.budget.name, "status": r.evaluation.status, "alerts": len(r.alerts)} for r in results],
    }


@shared_task(name="budgets.weekly_digest", acks_late=True, reject_on_worker_lost=True, **_RETRY)
def weekly_digest() -> dict:
    """Weekly: the spend digest to every subscribed user, once per user, organization and week."""
    return {"sent": len(weekly_digest_send())}
