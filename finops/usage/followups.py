"""What follows a delivery that landed: once the ingest commits, Celery workers refresh the organization's
derived data (carbon rollups of the ingested days, forecasts and anomalies, budget evaluation) and the
dashboards' cached aggregates are invalidated. One list, so a new derived table is one line here."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction


def period_days(billing_periods: list[str]) -> tuple[str, str] | None:
    """First and last day (ISO) covered by monthly billing periods given by their start dates."""
    if not billing_periods:
        return None
    first = date.fromisoformat(min(billing_periods))
    last = date.fromisoformat(max(billing_periods))
    following = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return first.isoformat(), (following - timedelta(days=1)).isoformat()


def ingest_followups_enqueue(*, organization_id: int, billing_periods: list[str]) -> None:
    """Enqueue the refreshes on commit. Off when ``FINOPS_INGEST_FOLLOWUPS`` is false (the test suite, where
    queued tasks would outlive the test database they name)."""
    if not settings.FINOPS_INGEST_FOLLOWUPS:
        return
    days = period_days(billing_periods)

    def enqueue() -> None:
        # Imported here: these apps build on usage, not the other way round.
        from finops.budgets.tasks import evaluate_org as budgets_evaluate_org
        from finops.carbon.tasks import refresh_org as carbon_refresh_org
        from finops.forecasting.tasks import refresh_org as forecast_refresh_org
        from finops.web.tasks import dashboard_refresh_task

        if days is not None:
            carbon_refresh_org.delay(organization_id, *days)
        forecast_refresh_org.delay(organization_id)
        budgets_evaluate_org.delay(organization_id)
        dashboard_refresh_task.delay(organization_id)

    transaction.on_commit(enqueue)
