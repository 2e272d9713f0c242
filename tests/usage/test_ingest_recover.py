"""A worker killed outright in the middle of an ingest leaves its job "running" (its transaction rolled back,
its task unacknowledged until the broker's visibility timeout). ``ingest_jobs_recover``, run when a worker
starts, queues such a job again on PostgreSQL, where the organization's row lock tells a dead ingest from a
live one; it never touches a job whose ingest is live. SQLite has no such lock: there nothing is recovered."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest
from celery import current_app
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from finops.usage.models import IngestJob, LineItem
from finops.usage.services import ingest_job_create, ingest_jobs_recover
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import decimal_sum, read_rows

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def eager_tasks():
    current_app.conf.task_always_eager = True
    try:
        yield
    finally:
        current_app.conf.task_always_eager = False


def left_running(slug: str) -> IngestJob:
    """A job as a killed worker leaves it: marked running, nothing of its delivery written."""
    organization = factories.organization(slug)
    job = ingest_job_create(organization=organization, paths=[FOCUS_SAMPLE])
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.RUNNING, started_at=timezone.now())
    return job


@contextmanager
def live_ingest_lock(organization_id: int):
    """Another connection holding the organization's row lock, as a live ingest's transaction does."""
    import psycopg

    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or "postgres",
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )
    try:
        other.execute("SELECT id FROM accounts_organization WHERE id = %s FOR UPDATE", (organization_id,))
        yield
    finally:
        other.rollback()
        other.close()


def test_a_job_left_running_by_a_dead_worker_is_queued_again_and_completes():
    job = left_running("recover-dead")
    rows = read_rows(FOCUS_SAMPLE)
    with eager_tasks():
        recovered = ingest_jobs_recover()
    job.refresh_from_db()
    items = LineItem.objects.filter(organization=job.organization)
    if connection.vendor == "sqlite":  # no row lock to tell a dead ingest from a live one: left to the broker
        assert recovered == []
        assert job.status == "running"
        assert items.count() == 0
        return
    assert recovered == [job.pk]
    assert job.status == "succeeded", job.error
    assert items.count() == len(rows) == 1000
    assert items.aggregate(total=Sum("billed_cost"))["total"] == decimal_sum(rows, "BilledCost")
    assert Decimal(job.totals["USD"]["billed_cost"]) == decimal_sum(rows, "BilledCost")


def test_a_job_whose_ingest_is_live_is_left_alone():
    job = left_running("recover-live")
    finished = factories.organization("recover-other")
    done = ingest_job_create(organization=finished, paths=[FOCUS_SAMPLE])
    IngestJob.objects.filter(pk=done.pk).update(status=IngestJob.Status.SUCCEEDED)
    if connection.vendor == "sqlite":
        assert ingest_jobs_recover() == []
        return
    with connection.cursor() as cursor:  # a wrong recovery would run the job into the lock: fail, don't hang
        cursor.execute("SET lock_timeout = '5s'")
    try:
        with eager_tasks(), live_ingest_lock(job.organization_id):
            recovered = ingest_jobs_recover()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    job.refresh_from_db()
    assert recovered == []  # the live one is left to its worker, the finished one is not running
    assert job.status == "running"
    assert LineItem.objects.filter(organization__in=[job.organization, finished]).count() == 0
    assert IngestJob.objects.get(pk=done.pk).status == "succeeded"
