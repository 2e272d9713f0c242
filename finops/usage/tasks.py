"""Celery tasks for usage: thin shells that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob
from finops.usage.services import ingest_job_run


@shared_task(name="usage.ingest_job_run", acks_late=True, reject_on_worker_lost=True)
def ingest_job_run_task(job_id: int) -> dict:
    job = IngestJob.objects.get(pk=job_id)
    try:
        job = ingest_job_run(job)
    except IngestError:
        # Bad input is permanent: the job records the error; retrying cannot help.
        job.refresh_from_db()
    return {"job": job.pk, "status": job.status, "rows": job.rows_read, "error": job.error}
