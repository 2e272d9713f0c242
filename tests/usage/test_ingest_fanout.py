"""A delivery of several files loaded by one task per file (PostgreSQL), committed as one: the same costs as one
task's ingest, nothing visible before the commit, nothing left behind by a refusal; SQLite loads in one task."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, Sum

from finops.core.money import MoneySum
from finops.usage import services
from finops.usage.models import BillingSlice, DailyCost, IngestFile, IngestJob, LineItem
from finops.usage.services import (
    COMMIT_TASK,
    FILE_LOAD_TASK,
    ingest_file_load,
    ingest_job_commit,
    ingest_job_create,
    ingest_job_run,
    ingest_jobs_recover,
)
from finops.usage.tasks import ingest_job_run_task
from tests import factories
from tests.conftest import FOCUS_SAMPLE, redis_url
from tests.usage.helpers import decimal_sum, grouped_sum, read_rows, write_csv

PG = "postgresql"


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The tasks the ingest services queue, recorded instead of sent: the test runs them, in the order it likes."""
    calls: list[tuple] = []
    monkeypatch.setattr(services, "enqueue_on_commit", lambda name, *args, **options: calls.append((name, *args)))
    return calls


@pytest.fixture
def delivery(tmp_path) -> tuple[list[dict[str, str]], list[Path]]:
    """The FOCUS sample (three providers, two billing periods) as a delivery of two files of 500 rows."""
    rows = read_rows(FOCUS_SAMPLE)
    return rows, [write_csv(tmp_path / "part-1.csv", rows[:500]), write_csv(tmp_path / "part-2.csv", rows[500:])]


def detached_tables(job: IngestJob) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind = 'r' AND NOT relispartition",
            [f"usage_lineitem_y%_j{job.pk}_f%"],
        )
        return {row[0] for row in cursor.fetchall()}


def file_leaves(job: IngestJob) -> dict[str, str]:
    """Leaf -> its parent, for the job's leaves attached under its job tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname LIKE %s AND c.relkind = 'r'",
            [f"usage_lineitem_y%_j{job.pk}_f%"],
        )
        return dict(cursor.fetchall())


def attached_indexes(job: IngestJob) -> int:
    """How many indexes the job's leaves brought (built by their loads), now partitions of the table's indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE c.relname LIKE %s AND c.relkind = 'i'",
            [f"usage_lineitem_y%_j{job.pk}_f%_i%"],
        )
        return cursor.fetchone()[0]


def rollup_rows(organization) -> Counter:
    return Counter(
        DailyCost.objects.filter(organization=organization).values_list(
            "day", "provider_name", "billing_account_id", "service_name", "billed_cost", "row_count"
        )
    )


def run_fanned_out(job: IngestJob, queued: list[tuple], order=reversed) -> IngestJob:
    """Run the queued file loads (by default the last file first), then the commit the last one queued."""
    loads = [call for call in queued if call[0] == FILE_LOAD_TASK]
    for _, file_id in order(loads):
        ingest_file_load(file_id)
    assert queued[-1] == (COMMIT_TASK, job.pk)
    return ingest_job_commit(job.pk, followups=False)


@pytest.mark.django_db
def test_a_delivery_of_several_files_commits_the_same_costs_as_one_task(delivery, queued, settings):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    rows, paths = delivery
    organization = factories.organization("fanned")
    job = ingest_job_run(ingest_job_create(organization=organization, paths=paths), fan_out=True, followups=False)
    if connection.vendor == PG:
        assert (job.status, job.fanned_out) == (IngestJob.Status.RUNNING, True)
        files = list(job.files.all())
        assert queued == [(FILE_LOAD_TASK, f.pk) for f in files]
        ingest_file_load(files[1].pk)
        # Loaded and committed by its task, yet invisible: no line item, no slice, the leaves detached.
        assert not LineItem.objects.filter(organization=organization).exists()
        assert not BillingSlice.objects.filter(organization=organization).exists()
        assert detached_tables(job)
        assert [name for name, *_ in queued].count(COMMIT_TASK) == 0
        ingest_file_load(files[0].pk)
        assert queued[-1] == (COMMIT_TASK, job.pk)
        job = ingest_job_commit(job.pk, followups=False)
        assert detached_tables(job) == set()
        months = {
            (f.pk, r["BillingPeriodStart"][:7].replace("-", "m"))
            for f, part in zip(files, (rows[:500], rows[500:]), strict=True)
            for r in part
        }
        assert set(file_leaves(job)) == {f"usage_lineitem_y{month}_j{job.pk}_f{file_id}" for file_id, month in months}
        assert set(file_leaves(job).values()) == {f"usage_lineitem_y{month}_j{job.pk}" for _, month in months}
        assert attached_indexes(job) == 2 * len(months)  # the table's two indexes on each leaf, none built again
        assert not IngestFile.objects.filter(job=job, loaded_summary__isnull=False).exists()
    else:  # one writer: the delivery is loaded in this task
        assert not job.fanned_out and queued == []
    assert job.status == IngestJob.Status.SUCCEEDED, job.error
    assert job.rows_read == len(rows) == 1000
    assert Decimal(job.totals["USD"]["billed_cost"]) == decimal_sum(rows, "BilledCost")
    by_provider = dict(
        LineItem.objects.filter(organization=organization)
        .values_list("provider_name")
        .annotate(total=MoneySum("billed_cost"))
        .order_by()
    )
    assert by_provider == grouped_sum(rows, lambda r: r["ProviderName"], "BilledCost")
    per_file = dict(
        LineItem.objects.filter(organization=organization)
        .values_list("ingest_file_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert sorted(per_file.values()) == [500, 500] and set(per_file) == set(job.files.values_list("pk", flat=True))
    slices = Counter((r["ProviderName"], r["BillingAccountId"], r["BillingPeriodStart"][:7]) for r in rows)
    recorded = {
        (s.provider_name, s.billing_account_id, s.billing_period_start.strftime("%Y-%m")): s.rows
        for s in BillingSlice.objects.filter(organization=organization, job=job)
    }
    assert recorded == dict(slices)
    assert DailyCost.objects.filter(organization=organization).aggregate(n=Sum("row_count"))["n"] == 1000

    # The same files in one task, for another organization: the same rollups to the row.
    alone = factories.organization("alone")
    single = ingest_job_run(ingest_job_create(organization=alone, paths=paths), followups=False)
    assert single.totals == job.totals and single.billing_periods == job.billing_periods
    assert rollup_rows(alone) == rollup_rows(organization)


@pytest.mark.django_db
def test_a_bad_row_in_one_file_fails_the_delivery_and_drops_what_the_other_files_loaded(delivery, queued, settings):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    rows, paths = delivery
    broken = [dict(r) for r in rows[500:]]
    broken[6]["BilledCost"] = "twelve"
    paths[1] = write_csv(paths[1], broken)
    organization = factories.organization("refused")
    job = ingest_job_create(organization=organization, paths=paths)
    if connection.vendor == PG:
        job = ingest_job_run(job, fan_out=True, followups=False)
        first, second = job.files.all()
        ingest_file_load(first.pk)
        assert detached_tables(job)
        with pytest.raises(services.IngestError):
            ingest_file_load(second.pk)
        ingest_file_load(first.pk)  # a redelivered load after the refusal keeps nothing
        assert detached_tables(job) == set() and file_leaves(job) == {}
        assert not IngestFile.objects.filter(job=job, loaded_summary__isnull=False).exists()
        assert COMMIT_TASK not in [name for name, *_ in queued]
    else:
        with pytest.raises(services.IngestError):
            ingest_job_run(job, fan_out=True, followups=False)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED
    # The file, its data row (the 7th) and the column.
    assert "part-2.csv, row 7, column BilledCost: not a number: 'twelve'" in job.error, job.error
    assert not LineItem.objects.filter(organization=organization).exists()
    assert not BillingSlice.objects.filter(organization=organization).exists()
    assert not DailyCost.objects.filter(organization=organization).exists()


@pytest.mark.django_db
def test_one_account_billed_in_two_currencies_across_files_is_refused_as_one_task_refuses_it(
    delivery, queued, settings, tmp_path
):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    rows, paths = delivery
    euros = [dict(r, BillingCurrency="EUR") if r["ProviderName"] == "AWS" else r for r in rows[500:]]
    paths[1] = write_csv(paths[1], euros)
    alone = factories.organization("one-task")
    with pytest.raises(services.IngestError):
        ingest_job_run(ingest_job_create(organization=alone, paths=paths), followups=False)
    expected = IngestJob.objects.get(organization=alone).error
    assert "1234567890123" in expected and "EUR" in expected and "part-2.csv" in expected

    organization = factories.organization("two-currencies")
    job = ingest_job_create(organization=organization, paths=paths)
    if connection.vendor == PG:
        job = ingest_job_run(job, fan_out=True, followups=False)
        with pytest.raises(services.IngestError):
            run_fanned_out(job, queued, order=list)
        assert detached_tables(job) == set() and file_leaves(job) == {}
    else:
        with pytest.raises(services.IngestError):
            ingest_job_run(job, fan_out=True, followups=False)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED
    assert job.error == expected
    assert not LineItem.objects.filter(organization=organization).exists()


@pytest.mark.django_db
def test_recovery_queues_only_the_lost_loads_then_the_commit(delivery, queued, settings):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    _, paths = delivery
    organization = factories.organization("recovered")
    job = ingest_job_run(ingest_job_create(organization=organization, paths=paths), fan_out=True, followups=False)
    if connection.vendor != PG:  # nothing fans out, nothing is recovered (SQLite cannot tell a live ingest)
        assert job.status == IngestJob.Status.SUCCEEDED and ingest_jobs_recover() == []
        return
    first, second = job.files.all()
    ingest_file_load(first.pk)
    queued.clear()
    assert ingest_jobs_recover() == [job.pk]
    assert queued == [(FILE_LOAD_TASK, second.pk)]  # the loaded file is not loaded again
    ingest_file_load(second.pk)
    queued.clear()
    assert ingest_jobs_recover() == [job.pk]  # as if the commit's worker was lost
    assert queued == [(COMMIT_TASK, job.pk)]
    job = ingest_job_commit(job.pk, followups=False)
    assert job.status == IngestJob.Status.SUCCEEDED
    assert ingest_job_commit(job.pk, followups=False).status == IngestJob.Status.SUCCEEDED  # a repeat changes nothing
    assert LineItem.objects.filter(organization=organization).count() == 1000


@pytest.mark.django_db
def test_the_same_delivery_committed_meanwhile_makes_the_fanned_out_one_a_duplicate(delivery, queued, settings):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    _, paths = delivery
    organization = factories.organization("twice")
    fanned = ingest_job_run(ingest_job_create(organization=organization, paths=paths), fan_out=True, followups=False)
    first = ingest_job_run(ingest_job_create(organization=organization, paths=paths), followups=False)
    if connection.vendor != PG:
        assert (fanned.status, first.status) == (IngestJob.Status.SUCCEEDED, IngestJob.Status.DUPLICATE)
        return
    assert first.status == IngestJob.Status.SUCCEEDED
    fanned = run_fanned_out(fanned, queued)
    assert (fanned.status, fanned.duplicate_of_id) == (IngestJob.Status.DUPLICATE, first.pk)
    assert detached_tables(fanned) == set()
    assert LineItem.objects.filter(organization=organization).count() == 1000


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_real_workers_load_a_delivery_file_by_file(delivery):
    from celery import current_app

    from tests.usage.test_worker import _start_worker

    rows, paths = delivery
    url = redis_url()
    organization = factories.organization(f"workers-{uuid.uuid4().hex[:6]}")
    job = ingest_job_create(organization=organization, paths=paths, source="upload")
    queue = f"finops-test-{uuid.uuid4().hex}"
    # Both workers consume the test's own queue and the ingest queue the file loads and the commit go to.
    workers = [
        _start_worker(f"{queue},ingest", url, {"FINOPS_INGEST_FANOUT_MIN_BYTES": "0", "FINOPS_INGEST_FOLLOWUPS": "0"})
        for _ in range(2)
    ]
    try:
        with current_app.connection_for_write(url) as broker:
            broker.default_channel.client.delete("ingest")  # messages other tests left for no worker
            ingest_job_run_task.apply_async(args=[job.pk], queue=queue, connection=broker)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status not in (IngestJob.Status.PENDING, IngestJob.Status.RUNNING):
                break
            time.sleep(0.3)
    finally:
        for worker in workers:
            worker.terminate()
        logs = [worker.communicate(timeout=20)[0] for worker in workers]
    assert job.status == IngestJob.Status.SUCCEEDED, (job.status, job.error, [log[-3000:] for log in logs])
    assert job.fanned_out == (connection.vendor == PG)
    assert LineItem.objects.filter(organization=organization).count() == len(rows)
    assert Decimal(job.totals["USD"]["billed_cost"]) == decimal_sum(rows, "BilledCost")
    factories.delete_organizations([organization])
