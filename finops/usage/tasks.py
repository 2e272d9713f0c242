"""Celery tasks for usage: thin shells that take ids and call one service."""

from __future__ import annotations

import contextlib

from celery import shared_task
from celery.signals import worker_ready

from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob
from finops.usage.services import (
    ingest_job_commit,
    ingest_job_run,
    ingest_jobs_recover,
    ingest_part_load,
    line_items_retention_run,
)


def _outcome(job: IngestJob) -> dict:
    return {"job": job.pk, "status": job.status, "rows": job.rows_read, "error": job.error}


@shared_task(name="usage.ingest_job_run", acks_late=True, reject_on_worker_lost=True)
def ingest_job_run_task(job_id: int) -> dict:
    job = IngestJob.objects.get(pk=job_id)
    try:
        job = ingest_job_run(job, fan_out=True)
    except IngestError:
        # Bad input is permanent: the job records the error; retrying cannot help.
        job.refresh_from_db()
    return _outcome(job)


@shared_task(name="usage.ingest_part_load", acks_late=True, reject_on_worker_lost=True)
def ingest_part_load_task(part_id: int) -> None:
    with contextlib.suppress(IngestError):  # the delivery is failed with the error
        ingest_part_load(part_id)


@shared_task(name="usage.ingest_job_commit", acks_late=True, reject_on_worker_lost=True)
def ingest_job_commit_task(job_id: int) -> dict:
    try:
        job = ingest_job_commit(job_id)
    except IngestError:
        job = IngestJob.objects.get(pk=job_id)
    return _outcome(job)


@shared_task(name="usage.ingest_jobs_recover")
def ingest_jobs_recover_task() -> list[int]:
    return ingest_jobs_recover()


@shared_task(name="usage.line_items_prune", acks_late=True, reject_on_worker_lost=True)
def line_items_prune_task() -> dict:
    result = line_items_retention_run()
    if result is None:
        return {"pruned": False}
    return {"pruned": True, "before": result.before.isoformat(), "months": len(result.months), "rows": result.rows}


@worker_ready.connect
def _recover_on_worker_start(**kwargs) -> None:
    """A worker starting (often the one restarted after a crash) queues the jobs a lost worker left running."""
    ingest_jobs_recover_task.delay()
