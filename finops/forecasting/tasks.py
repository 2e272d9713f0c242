"""Celery tasks for forecasting: thin shells that take ids and call one service."""

from __future__ import annotations

from celery import group, shared_task
from django.db import transaction

from finops.accounts.models import Organization
from finops.forecasting.models import AnomalySubscription, ForecastRun
from finops.forecasting.services import (
    anomaly_alerts_send,
    forecast_chunk_run,
    forecast_run_finish,
    forecast_run_start,
    forecast_runs_fail_stale,
)

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True}


def forecast_run_enqueue(run: ForecastRun, *, queue: str | None = None) -> None:
    """Fan out one refresh_chunk task per chunk (a group, no chord: see ``services``), after the plan commits."""
    if run.finished:
        return
    chunk_ids = list(run.chunks.order_by("index").values_list("pk", flat=True))
    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: group(refresh_chunk.s(c).set(**options) for c in chunk_ids).apply_async())


def forecast_refresh_enqueue(*, organization: Organization, trigger: str, queue: str | None = None) -> ForecastRun:
    with transaction.atomic():
        run = forecast_run_start(organization=organization, trigger=trigger)
        forecast_run_enqueue(run, queue=queue)
    return run


@shared_task(name="forecasting.refresh_chunk", **TASK_OPTIONS)
def refresh_chunk(chunk_id: int) -> dict:
    run_id = forecast_chunk_run(chunk_id=chunk_id)
    if run_id is not None:  # this chunk was the run's last: the database counter's answer to a chord callback
        refresh_finish.delay(run_id)
    return {"chunk": chunk_id, "last": run_id is not None}


@shared_task(name="forecasting.refresh_finish", **TASK_OPTIONS)
def refresh_finish(run_id: int) -> dict:
    run = forecast_run_finish(run_id=run_id)
    anomaly_alerts_send(organization=run.organization, mode=AnomalySubscription.Mode.IMMEDIATE)
    return {"run": run.pk, "status": run.status}


@shared_task(name="forecasting.refresh_org", **TASK_OPTIONS)
def refresh_org(organization_id: int, trigger: str = ForecastRun.Trigger.INGEST) -> dict:
    """Called by the ingest after a delivery that changed a period."""
    organization = Organization.objects.get(pk=organization_id)
    run = forecast_refresh_enqueue(organization=organization, trigger=trigger)
    return {"run": run.pk, "series": run.series_total}


@shared_task(name="forecasting.refresh_all", **TASK_OPTIONS)
def refresh_all() -> dict:
    stale = forecast_runs_fail_stale()
    runs = [
        forecast_refresh_enqueue(organization=organization, trigger=ForecastRun.Trigger.NIGHTLY).pk
        for organization in Organization.objects.order_by("pk")
    ]
    return {"runs": runs, "stale_failed": stale}


@shared_task(name="forecasting.anomaly_digest", **TASK_OPTIONS)
def anomaly_digest() -> dict:
    sent = 0
    for organization in Organization.objects.order_by("pk"):
        sent += len(anomaly_alerts_send(organization=organization, mode=AnomalySubscription.Mode.DAILY_DIGEST))
    return {"emails": sent}
