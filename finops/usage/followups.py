"""What follows a delivery that landed: once the ingest commits, ``finops.core.signals.ingest_committed`` is sent
and the apps deriving data from the organization's costs (carbon, forecasts, budgets, dashboards) queue their
refreshes from their own receivers."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction

from finops.core.signals import ingest_committed
from finops.usage.models import IngestJob

logger = logging.getLogger("finops.usage")


def period_days(billing_periods: list[str]) -> tuple[str, str] | None:
    """First and last day (ISO) covered by monthly billing periods given by their start dates."""
    if not billing_periods:
        return None
    first = date.fromisoformat(min(billing_periods))
    last = date.fromisoformat(max(billing_periods))
    following = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return first.isoformat(), (following - timedelta(days=1)).isoformat()


def ingest_followups_enqueue(*, organization_id: int, billing_periods: list[str]) -> None:
    """Announce the ingest on commit. Off when ``FINOPS_INGEST_FOLLOWUPS`` is false (the test suite, where
    queued tasks would outlive the test database they name)."""
    if not settings.FINOPS_INGEST_FOLLOWUPS:
        return
    periods = list(billing_periods)

    def announce() -> None:
        # Robust: one app failing to queue its refresh (a broker error) must not keep the others from theirs.
        results = ingest_committed.send_robust(
            sender=IngestJob, organization_id=organization_id, billing_periods=periods
        )
        for receiver, result in results:
            if isinstance(result, Exception):
                logger.error(
                    "ingest follow-up %s failed for organization %s",
                    getattr(receiver, "__qualname__", receiver),
                    organization_id,
                    exc_info=(type(result), result, result.__traceback__),
                )

    transaction.on_commit(announce)


def ingest_followups_run_inline(*, organization_id: int, billing_periods: list[str]) -> list[str]:
    """Compute now, in this process, what the follow-ups would queue (carbon, forecasts, budgets, dashboards):
    a command-line ingest without a worker. Returns the receivers that failed (logged with their traceback)."""
    failed = []
    results = ingest_committed.send_robust(
        sender=IngestJob, organization_id=organization_id, billing_periods=list(billing_periods), inline=True
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            name = getattr(receiver, "__qualname__", str(receiver))
            logger.error(
                "inline follow-up %s failed for organization %s",
                name,
                organization_id,
                exc_info=(type(result), result, result.__traceback__),
            )
            failed.append(f"{name}: {result}")
    return failed
