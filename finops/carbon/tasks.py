"""Celery tasks of the carbon app: thin shells around services."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.db import transaction

from finops.accounts.models import Organization
from finops.carbon.services import carbon_rollup_refresh


@shared_task(name="carbon.refresh_org", acks_late=True, reject_on_worker_lost=True)
def refresh_org(organization_id: int, start: str, end: str) -> dict:
    """Rebuild the carbon rollup of one organization for [start, end] (ISO dates, inclusive).

    Safe to rerun: the range is replaced in one transaction. Called after each ingest.
    """
    organization = Organization.objects.get(pk=organization_id)
    result = carbon_rollup_refresh(
        organization=organization, start=date.fromisoformat(start), end=date.fromisoformat(end)
    )
    return {
        "organization_id": result.organization_id,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "coefficients": result.coefficients,
        "rows_written": result.rows_written,
    }


def period_days(billing_periods: list[str]) -> tuple[str, str] | None:
    """First and last day (ISO) covered by monthly billing periods given by their start dates."""
    if not billing_periods:
        return None
    first = date.fromisoformat(min(billing_periods))
    last = date.fromisoformat(max(billing_periods))
    following = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return first.isoformat(), (following - timedelta(days=1)).isoformat()


def refresh_after_ingest(organization_id: int, billing_periods: list[str]) -> None:
    """The post-ingest hook: once the ingest transaction commits, refresh the carbon rollup of the days its
    billing periods cover (every row of those days is re-estimated, all accounts)."""
    days = period_days(billing_periods)
    if days is None:
        return
    transaction.on_commit(lambda: refresh_org.delay(organization_id, *days))
