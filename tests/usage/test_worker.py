"""A real Celery worker process ingests a file through the task, on both brokers finops supports:
kombu's filesystem transport (embedded mode, no server) and Redis (production)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from kombu import Connection

from finops.accounts.services import organization_get_or_create
from finops.usage.models import IngestJob, LineItem
from finops.usage.services import ingest_job_create
from finops.usage.tasks import ingest_job_run_task
from tests.conftest import CUR_SAMPLE, ROOT, redis_url
from tests.usage.helpers import decimal_sum, read_rows


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _start_worker(queue: str, redis: str | None, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update({"DATABASE_URL": _database_url(), "DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": "worker-test"})
    env.update(extra_env or {})
    if redis:
        env["REDIS_URL"] = redis
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "finops",
        "worker",
        "-Q",
        queue,
        "--pool=solo",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(job: IngestJob, worker: subprocess.Popen, timeout: float = 90) -> IngestJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status not in (IngestJob.Status.PENDING, IngestJob.Status.RUNNING):
            return job
        if worker.poll() is not None:
            break
        time.sleep(0.3)
    worker.terminate()
    output = worker.communicate(timeout=10)[0]
    pytest.fail(f"the worker did not finish job {job.pk} (status {job.status}); its log:\n{output[-4000:]}")


def _run_through_worker(broker_url: str, transport_options: dict, redis: str | None) -> None:
    organization, _ = organization_get_or_create(slug=f"worker-{uuid.uuid4().hex[:8]}")
    job = ingest_job_create(organization=organization, paths=[CUR_SAMPLE], source="upload")
    queue = f"finops-test-{uuid.uuid4().hex}"
    worker = _start_worker(queue, redis)
    try:
        with Connection(broker_url, transport_options=transport_options) as broker:
            ingest_job_run_task.apply_async(args=[job.pk], queue=queue, connection=broker)
        job = _wait_for(job, worker)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    rows = read_rows(CUR_SAMPLE)
    assert job.status == "succeeded", job.error
    assert job.rows_read == len(rows)
    assert Decimal(job.totals["USD"]["billed_cost"]) == decimal_sum(rows, "lineItem/UnblendedCost")
    assert LineItem.objects.filter(organization=organization).count() == len(rows)
    assert job.progress()["fraction"] == 1.0


@pytest.mark.django_db(transaction=True)
def test_filesystem_broker_worker_ingests_through_the_task():
    for folder in ("queue", "processed", "control"):
        (settings.CELERY_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(settings.CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(settings.CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(settings.CELERY_BROKER_DIR / "processed"),
        "control_folder": str(settings.CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    _run_through_worker("filesystem://localhost/", options, redis=None)  # as the embedded settings name it


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_redis_broker_worker_ingests_through_the_task():
    url = redis_url()
    _run_through_worker(url, {}, redis=url)
