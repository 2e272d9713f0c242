"""Celery tasks of the carbon app: thin shells around services."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from finops.accounts.models import Organization
from finops.carbon.services import carbon_rollup_refresh


@shared_task(name="carbon.refresh_org", acks_late=True, reject_on_worker_lost=True)
def refresh_org(organization_id: int, start: str, end: str) -> dict:
    """Rebuild the carbon rollup of one organization for [start, end] (ISO dates, inclusive).

    Safe to rerun: the range is replaced in one transaction. Enqueued after each ingest (``ingest_committed``)
    with the days of the ingested billing periods.
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
