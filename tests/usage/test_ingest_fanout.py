"""A delivery of several files loaded in parts, one task each (PostgreSQL), committed as one: the same costs as one
task's ingest, nothing visible before the commit, nothing left behind by a refusal, the later delivery of a slice
winning whatever the commit order; SQLite loads in one task."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from finops.core.money import MoneySum
from finops.usage import services, storage
from finops.usage.models import BillingSlice, DailyCost, DailyTagCost, IngestJob, IngestPart, LineItem
from finops.usage.services import (
    COMMIT_TASK,
    PART_LOAD_TASK,
    file_groups,
    ingest_job_commit,
    ingest_job_create,
    ingest_job_run,
    ingest_jobs_recover,
    ingest_part_load,
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
            [f"usage_lineitem_y%_j{job.pk}%"],
        )
        return {row[0] for row in cursor.fetchall()}


def part_leaves(job: IngestJob) -> dict[str, tuple[str, str]]:
    """Leaf -> (its parent, its partition bound), for the job's part leaves attached under its job tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE c.relname LIKE %s AND c.relkind = 'r'",
            [f"usage_lineitem_y%_j{job.pk}_p%"],
        )
        return {name: (parent, bound) for name, parent, bound in cursor.fetchall()}


def attached_indexes(job: IngestJob) -> int:
    """How many indexes the job's part leaves brought (built by their loads), now partitions of the table's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE c.relname LIKE %s AND c.relkind = 'i'",
            [f"usage_lineitem_y%_j{job.pk}_p%_i%"],
        )
        return cursor.fetchone()[0]


def billed_by_provider(model, organization) -> dict[str, Decimal]:
    """The organization's billed cost per provider in ``model`` (LineItem or DailyCost)."""
    rows = model.objects.filter(organization=organization).values_list("provider_name")
    return dict(rows.annotate(total=MoneySum("billed_cost")).order_by())


def rollup_rows(organization) -> Counter:
    return Counter(
        DailyCost.objects.filter(organization=organization).values_list(
            "day", "provider_name", "billing_account_id", "service_name", "billed_cost", "row_count"
        )
    )


def run_fanned_out(job: IngestJob, queued: list[tuple], order=reversed) -> IngestJob:
    """Run the queued part loads (by default the last part first), then the commit the last one queued."""
    loads = [call for call in queued if call[0] == PART_LOAD_TASK]
    for _, part_id in order(loads):
        ingest_part_load(part_id)
    assert queued[-1] == (COMMIT_TASK, job.pk)
    return ingest_job_commit(job.pk, followups=False)


def test_files_are_grouped_into_parts_of_about_equal_bytes():
    # Largest first, each into the lightest group: 5 | 4, then the 1s fill both to 6.
    assert file_groups([5, 1, 1, 1, 4], 2) == [[0, 2], [1, 3, 4]]
    assert file_groups([3, 2, 1], 8) == [[0], [1], [2]]  # never an empty part
    assert file_groups([3, 2, 1], 1) == [[0, 1, 2]]
    assert file_groups([7], 0) == [[0]]


@pytest.mark.django_db
def test_a_delivery_loaded_in_parts_commits_the_same_costs_as_one_task(delivery, queued, settings):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    rows, paths = delivery
    organization = factories.organization("fanned")
    job = ingest_job_run(ingest_job_create(organization=organization, paths=paths), fan_out=True, followups=False)
    if connection.vendor == PG:
        assert (job.status, job.fanned_out) == (IngestJob.Status.RUNNING, True)
        files = list(job.files.all())
        parts = list(job.parts.all())
        assert [p.file_ids for p in parts] == [[files[0].pk], [files[1].pk]]
        assert queued == [(PART_LOAD_TASK, p.pk) for p in parts]
        ingest_part_load(parts[1].pk)
        # Loaded and committed by its task, yet invisible: no line item, no slice, its leaves detached.
        assert not LineItem.objects.filter(organization=organization).exists()
        assert not BillingSlice.objects.filter(organization=organization).exists()
        assert detached_tables(job) == {
            f"usage_lineitem_y2024m09_j{job.pk}_p2",
            f"usage_lineitem_y2024m10_j{job.pk}_p2",
        }
        assert COMMIT_TASK not in [name for name, *_ in queued]
        progress = IngestJob.objects.get(pk=job.pk).progress()
        assert (progress["rows"], progress["bytes_done"]) == (500, files[1].size_bytes)
        ingest_part_load(parts[0].pk)
        assert queued[-1] == (COMMIT_TASK, job.pk)
        job = ingest_job_commit(job.pk, followups=False)
        assert detached_tables(job) == set()
        months = {
            (number, r["BillingPeriodStart"][:7].replace("-", "m"))
            for number, part in ((1, rows[:500]), (2, rows[500:]))
            for r in part
        }
        expected = {
            f"usage_lineitem_y{month}_j{job.pk}_p{number}": (
                f"usage_lineitem_y{month}_j{job.pk}",
                f"FOR VALUES IN ('{files[number - 1].pk}')",
            )
            for number, month in months
        }
        assert part_leaves(job) == expected
        assert attached_indexes(job) == 2 * len(months)  # the table's two indexes on each leaf, none built again
        assert not IngestPart.objects.filter(job=job, rollups__isnull=False).exists()
    else:  # one writer: the delivery is loaded in this task
        assert not job.fanned_out and queued == []
    assert job.status == IngestJob.Status.SUCCEEDED, job.error
    assert job.rows_read == job.rows_written == len(rows) == 1000
    assert Decimal(job.totals["USD"]["billed_cost"]) == decimal_sum(rows, "BilledCost")
    by_provider = billed_by_provider(LineItem, organization)
    assert by_provider == grouped_sum(rows, lambda r: r["ProviderName"], "BilledCost")
    per_file = dict(
        LineItem.objects.filter(organization=organization)
        .values_list("ingest_file_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert per_file == {f.pk: 500 for f in job.files.all()}
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
def test_a_bad_row_in_one_part_fails_the_delivery_and_drops_what_the_other_parts_loaded(delivery, queued, settings):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    rows, paths = delivery
    broken = [dict(r) for r in rows[500:]]
    broken[6]["BilledCost"] = "twelve"
    paths[1] = write_csv(paths[1], broken)
    organization = factories.organization("refused")
    job = ingest_job_create(organization=organization, paths=paths)
    if connection.vendor == PG:
        job = ingest_job_run(job, fan_out=True, followups=False)
        first, second = job.parts.all()
        ingest_part_load(first.pk)
        assert detached_tables(job)
        with pytest.raises(services.IngestError):
            ingest_part_load(second.pk)
        assert detached_tables(job) == set() and part_leaves(job) == {}
        assert not IngestPart.objects.filter(job=job, rollups__isnull=False).exists()
        # A redelivered load after the refusal reads the job under its part's lock and keeps nothing.
        IngestPart.objects.filter(pk=first.pk).update(loaded_at=None)
        ingest_part_load(first.pk)
        assert detached_tables(job) == set()
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
def test_one_account_billed_in_two_currencies_across_parts_is_refused_as_one_task_refuses_it(
    delivery, queued, settings
):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    rows, paths = delivery
    euros = [dict(r, BillingCurrency="EUR") if r["ProviderName"] == "AWS" else r for r in rows[500:]]
    paths[1] = write_csv(paths[1], euros)
    alone = factories.organization("one-task")
    with pytest.raises(services.IngestError):
        ingest_job_run(ingest_job_create(organization=alone, paths=paths), followups=False)
    expected = IngestJob.objects.get(organization=alone).error
    first_aws = next(i for i, r in enumerate(rows[500:], start=1) if r["ProviderName"] == "AWS")
    assert (
        f"part-2.csv, row {first_aws}, column BillingCurrency: billing account 1234567890123 is billed in USD"
        in expected
    )

    organization = factories.organization("two-currencies")
    job = ingest_job_create(organization=organization, paths=paths)
    if connection.vendor == PG:
        job = ingest_job_run(job, fan_out=True, followups=False)
        with pytest.raises(services.IngestError):
            run_fanned_out(job, queued, order=list)
        assert detached_tables(job) == set() and part_leaves(job) == {}
    else:
        with pytest.raises(services.IngestError):
            ingest_job_run(job, fan_out=True, followups=False)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED
    assert job.error == expected
    assert not LineItem.objects.filter(organization=organization).exists()


@pytest.mark.django_db
def test_recovery_queues_only_parts_a_lost_task_took_then_the_commit(delivery, queued, settings):
    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    _, paths = delivery
    organization = factories.organization("recovered")
    job = ingest_job_run(ingest_job_create(organization=organization, paths=paths), fan_out=True, followups=False)
    if connection.vendor != PG:  # nothing fans out, nothing is recovered (SQLite cannot tell a live ingest)
        assert job.status == IngestJob.Status.SUCCEEDED and ingest_jobs_recover() == []
        return
    first, second = job.parts.all()
    ingest_part_load(first.pk)
    queued.clear()
    assert ingest_jobs_recover() == []  # the second part is still queued: the broker's, not lost
    IngestPart.objects.filter(pk=second.pk).update(started_at=timezone.now())  # a task took it, then died
    assert ingest_jobs_recover() == [job.pk]
    assert queued == [(PART_LOAD_TASK, second.pk)]  # the loaded part is not loaded again
    ingest_part_load(second.pk)
    queued.clear()
    assert ingest_jobs_recover() == [job.pk]  # as if the commit's worker was lost
    assert queued == [(COMMIT_TASK, job.pk)]
    job = ingest_job_commit(job.pk, followups=False)
    assert job.status == IngestJob.Status.SUCCEEDED
    assert ingest_job_commit(job.pk, followups=False).status == IngestJob.Status.SUCCEEDED  # a repeat changes nothing
    # A late copy of a part's task after the commit loads nothing and leaves the committed leaves alone.
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.RUNNING)
    ingest_part_load(first.pk)
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.SUCCEEDED)
    assert LineItem.objects.filter(organization=organization).count() == 1000
    share = storage.Part(number=first.number, file_ids=tuple(first.file_ids))
    with pytest.raises(RuntimeError, match="already part of the line-item table"):
        storage._leaf_create(date(2024, 9, 1), job.pk, share)


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


@pytest.mark.django_db
def test_a_slice_stays_with_the_later_delivery_whichever_commits_last(tmp_path):
    rows = read_rows(FOCUS_SAMPLE)
    aws = [dict(r, BilledCost=str(Decimal(r["BilledCost"]) * 2)) for r in rows if r["ProviderName"] == "AWS"]
    older = write_csv(tmp_path / "older.csv", rows)
    newer = write_csv(tmp_path / "newer-aws.csv", aws)
    organization = factories.organization("order")
    first_sent = ingest_job_create(organization=organization, paths=[older])
    later_sent = ingest_job_create(organization=organization, paths=[newer])
    later = ingest_job_run(later_sent, followups=False)  # the later delivery commits first
    earlier = ingest_job_run(first_sent, followups=False)
    assert earlier.status == IngestJob.Status.SUCCEEDED
    others = [r for r in rows if r["ProviderName"] != "AWS"]
    assert (earlier.rows_read, earlier.rows_written, earlier.slice_count) == (1000, len(others), 3)
    owners = dict(
        BillingSlice.objects.filter(organization=organization).values_list("provider_name", "job_id").distinct()
    )
    assert owners == {"AWS": later.pk, "Microsoft": earlier.pk, "Oracle": earlier.pk}
    expected = grouped_sum(others, lambda r: r["ProviderName"], "BilledCost") | {"AWS": decimal_sum(aws, "BilledCost")}
    assert billed_by_provider(LineItem, organization) == expected
    assert billed_by_provider(DailyCost, organization) == expected
    aws_tags = DailyTagCost.objects.filter(organization=organization, provider_name="AWS")
    assert set(aws_tags.values_list("ingest_job_id", flat=True)) == {later.pk}
    assert LineItem.objects.filter(organization=organization).count() == len(aws) + len(others)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_real_workers_load_a_delivery_in_parts(delivery, tmp_path):
    from celery import current_app

    from tests.usage.test_worker import _start_worker

    rows, paths = delivery
    paths.append(write_csv(tmp_path / "part-3.csv", [dict(r, BillingAccountId="999999999999") for r in rows[:300]]))
    url = redis_url()
    organization = factories.organization(f"workers-{uuid.uuid4().hex[:6]}")
    job = ingest_job_create(organization=organization, paths=paths, source="upload")
    queue = f"finops-test-{uuid.uuid4().hex}"
    settings_env = {
        "FINOPS_INGEST_FANOUT_MIN_BYTES": "0",
        "FINOPS_INGEST_FANOUT_PARTS": "2",
        "FINOPS_INGEST_FOLLOWUPS": "0",
    }
    # Both workers consume the test's own queue and the ingest queue the parts and the commit go to.
    workers = [_start_worker(f"{queue},ingest", url, settings_env) for _ in range(2)]
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
    if connection.vendor == PG:
        assert sorted(len(ids) for ids in job.parts.values_list("file_ids", flat=True)) == [1, 2]
    assert LineItem.objects.filter(organization=organization).count() == len(rows) + 300
    expected = decimal_sum(rows, "BilledCost") + decimal_sum(rows[:300], "BilledCost")
    assert Decimal(job.totals["USD"]["billed_cost"]) == expected
    factories.delete_organizations([organization])


@pytest.mark.django_db(transaction=True)
def test_a_refusal_does_not_wait_for_parts_still_loading(delivery, settings):
    """A part refused while another is mid-load fails the delivery at once; the other finds it failed when it
    finishes and keeps nothing (PostgreSQL: two connections; SQLite has no part to wait for)."""
    import threading

    settings.FINOPS_INGEST_FANOUT_MIN_BYTES = 0
    _, paths = delivery
    organization = factories.organization(f"race-{uuid.uuid4().hex[:6]}")
    job = ingest_job_create(organization=organization, paths=paths)
    if connection.vendor != PG:
        services._fan_out_fail(job, "refused")
        job.refresh_from_db()
        assert (job.status, job.error) == (IngestJob.Status.FAILED, "refused")
        factories.delete_organizations([organization])
        return
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.RUNNING, fanned_out=True)
    loading = IngestPart.objects.create(job=job, number=1, file_ids=[job.files.first().pk])
    locked, release, outcome = threading.Event(), threading.Event(), {}

    def load() -> None:  # a part's load: its row lock held for the length of its COPY, then the job's row lock
        try:
            from django.db import transaction

            with transaction.atomic():
                IngestPart.objects.select_for_update().get(pk=loading.pk)
                locked.set()
                release.wait(10)
                status = IngestJob.objects.select_for_update().values_list("status", flat=True).get(pk=job.pk)
                outcome["status seen"] = status
        finally:
            connection.close()

    worker = threading.Thread(target=load)
    worker.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        services._fan_out_fail(job, "part-2.csv, row 7: refused")
        waited = time.monotonic() - started
    finally:
        release.set()
        worker.join(20)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED and job.error == "part-2.csv, row 7: refused"
    assert waited < 5, f"the refusal waited {waited:.1f} s for the loading part"
    assert outcome == {"status seen": IngestJob.Status.FAILED}
    factories.delete_organizations([organization])
