"""Line-item storage: slice replacement by leaf drop or row delete, month partitions, retention (both databases)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from rest_framework.test import APIClient

from finops.accounts.models import Organization
from finops.core.money import MoneySum
from finops.usage.models import BillingSlice, DailyCost, IngestJob, LineItem, LineItemPrune
from finops.usage.rebuild import rollups_rebuild
from finops.usage.selectors import ReportError, cost_breakdown, focus_export
from finops.usage.services import line_items_retention_run, retention_horizon
from finops.usage.storage import split_by_month
from finops.usage.tasks import line_items_prune_task
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import decimal_sum, read_rows, write_csv

pytestmark = pytest.mark.django_db


def ingest(*paths: Path, org: str = "acme") -> dict:
    out = StringIO()
    call_command("ingest_usage", *map(str, paths), "--org", org, "--json", stdout=out)
    return json.loads(out.getvalue())


def tables(pattern: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind IN ('r', 'p')", [pattern])
        return {row[0] for row in cursor.fetchall()}


def leaves_of(*job_ids: int) -> set[str]:
    """The leaf tables of these jobs (other tests' committed deliveries may have leaves of their own)."""
    return set().union(*(tables(f"usage_lineitem_y%_j{job_id}") for job_id in job_ids))


def month_tables() -> set[date]:
    """The months that have a partition, read from the catalog by name."""
    names = tables("usage_lineitem_y____m__")
    return {date(int(name[-7:-3]), int(name[-2:]), 1) for name in names}


def billed_by_provider() -> dict[str, Decimal]:
    rows = LineItem.objects.values("provider_name").annotate(t=MoneySum("billed_cost")).order_by()
    return {r["provider_name"]: r["t"] for r in rows}


def sums(rows: list[dict[str, str]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for row in rows:
        out[row["ProviderName"]] = out.get(row["ProviderName"], Decimal(0)) + Decimal(row["BilledCost"])
    return out


def test_split_by_month_keeps_row_order_in_runs_and_groups_when_months_alternate():
    def stamp(month: int) -> datetime:
        return datetime(2026, month, 1, tzinfo=UTC)

    table = pa.table({"billing_period_start": [stamp(1), stamp(1), stamp(2), stamp(1)], "n": [0, 1, 2, 3]})
    parts = split_by_month(table)
    assert [(m, t["n"].to_pylist()) for m, t in parts] == [
        (date(2026, 1, 1), [0, 1]),
        (date(2026, 2, 1), [2]),
        (date(2026, 1, 1), [3]),
    ]
    alternating = pa.table({"billing_period_start": [stamp(1 + i % 2) for i in range(200)], "n": list(range(200))})
    grouped = split_by_month(alternating)
    assert [(m, t["n"].to_pylist()) for m, t in grouped] == [
        (date(2026, 1, 1), list(range(0, 200, 2))),
        (date(2026, 2, 1), list(range(1, 200, 2))),
    ]


def test_replacing_part_of_a_leaf_deletes_rows_and_replacing_all_of_it_drops_it(tmp_path):
    rows = read_rows(FOCUS_SAMPLE)
    slices = Counter((r["ProviderName"], r["BillingPeriodStart"][:7]) for r in rows)
    first = ingest(FOCUS_SAMPLE)["job"]
    if connection.vendor == "postgresql":
        assert tables(f"usage_lineitem_y%_j{first}") == {
            f"usage_lineitem_y2024m09_j{first}",
            f"usage_lineitem_y2024m10_j{first}",
        }
    # AWS restated alone: the September leaf of the first delivery keeps Microsoft and Oracle.
    aws = [dict(r, BilledCost=str(Decimal(r["BilledCost"]) * 2)) for r in rows if r["ProviderName"] == "AWS"]
    second = ingest(write_csv(tmp_path / "aws.csv", aws, list(rows[0])))
    assert second["rows_replaced"] == slices[("AWS", "2024-09")]
    # Microsoft and Oracle of September restated: nothing of that leaf stays current.
    others = [dict(r) for r in rows if r["ProviderName"] != "AWS" and r["BillingPeriodStart"].startswith("2024-09")]
    third = ingest(write_csv(tmp_path / "others.csv", others, list(rows[0])))
    assert third["rows_replaced"] == slices[("Microsoft", "2024-09")] + slices[("Oracle", "2024-09")]
    if connection.vendor == "postgresql":
        assert leaves_of(first, second["job"], third["job"]) == {
            f"usage_lineitem_y2024m10_j{first}",
            f"usage_lineitem_y2024m09_j{second['job']}",
            f"usage_lineitem_y2024m09_j{third['job']}",
        }
    october = [r for r in rows if r["BillingPeriodStart"].startswith("2024-10")]
    expected = sums(aws + others + october)
    assert LineItem.objects.count() == len(aws) + len(others) + len(october) == len(rows)
    assert billed_by_provider() == expected
    assert DailyCost.objects.aggregate(t=MoneySum("billed_cost"))["t"] == sum(expected.values())
    owners = dict(BillingSlice.objects.values_list("provider_name", "job_id").filter(billing_period_start__month=9))
    assert owners == {"AWS": second["job"], "Microsoft": third["job"], "Oracle": third["job"]}


def test_a_failed_delivery_leaves_no_leaf_behind(tmp_path, settings):
    rows = read_rows(FOCUS_SAMPLE)
    first = ingest(FOCUS_SAMPLE)["job"]
    settings.FINOPS_INGEST_CHUNK_ROWS = 100
    broken = [dict(r) for r in rows]
    broken[-1]["BilledCost"] = "x"  # the last chunk: a leaf is loaded before the refusal
    with pytest.raises(CommandError):
        ingest(write_csv(tmp_path / "bad.csv", broken))
    failed = IngestJob.objects.get(status="failed")
    assert not LineItem.objects.filter(ingest_job_id=failed.pk).exists()
    assert LineItem.objects.count() == len(rows) and billed_by_provider() == sums(rows)
    if connection.vendor == "postgresql":
        assert tables(f"usage_lineitem_%_j{failed.pk}") == set()
        leaves = {f"usage_lineitem_y2024m09_j{first}", f"usage_lineitem_y2024m10_j{first}"}
        assert leaves_of(first, failed.pk) == leaves


def test_rows_written_outside_the_ingest_move_into_the_month_partition_made_later():
    """The ORM writes into the default partitions; creating that month's partition moves them into it (SQLite:
    one plain table, the row stays beside the delivery's)."""
    if connection.vendor == "postgresql" and tables("usage_lineitem_y2024m09"):
        with connection.cursor() as cursor:  # left by another test's committed delivery; rolled back with this test
            cursor.execute("SELECT count(*) FROM usage_lineitem_y2024m09")
            assert cursor.fetchone() == (0,)
            cursor.execute("DROP TABLE usage_lineitem_y2024m09")
    organization = factories.organization("acme")
    job = factories.placeholder_ingest_job(organization)
    LineItem.objects.bulk_create(
        [factories.line_item(organization, job, date(2024, 9, 3), billed_cost=Decimal("2.5"), effective_cost=0)]
    )
    assert connection.vendor != "postgresql" or tables("usage_lineitem_y2024m09") == set()
    rows = read_rows(FOCUS_SAMPLE)
    ingest(FOCUS_SAMPLE)
    assert LineItem.objects.count() == len(rows) + 1
    assert LineItem.objects.filter(ingest_job=job).aggregate(t=MoneySum("billed_cost"))["t"] == Decimal("2.5")
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(billed_cost) FROM usage_lineitem_y2024m09_default")
        assert cursor.fetchone() == (1, Decimal("2.5"))
        cursor.execute("SELECT count(*) FROM usage_lineitem_default")
        assert cursor.fetchone() == (0,)


def test_retention_horizon_counts_whole_months():
    assert retention_horizon(months=12, today=date(2026, 12, 7)) == datetime(2025, 12, 1, tzinfo=UTC)
    assert retention_horizon(months=1, today=date(2024, 1, 31)) == datetime(2023, 12, 1, tzinfo=UTC)
    assert retention_horizon(months=14, today=date(2024, 2, 1)) == datetime(2022, 12, 1, tzinfo=UTC)


def test_retention_removes_old_line_items_keeps_rollups_and_pages_say_so():
    rows = read_rows(FOCUS_SAMPLE)
    ingest(FOCUS_SAMPLE)
    organization = Organization.objects.get(slug="acme")
    total = decimal_sum(rows, "BilledCost")
    kept = [r for r in rows if r["BillingPeriodStart"] >= "2024-10-01"]
    today = date(2024, 11, 15)  # one month kept: October 2024 onwards

    preview = line_items_retention_run(months=1, today=today, dry_run=True)
    assert preview.rows == len(rows) - len(kept) and LineItem.objects.count() == len(rows)
    assert not LineItemPrune.objects.exists()
    focus_export(organization=organization)  # nothing pruned yet: no refusal

    older = {m for m in month_tables() if m < date(2024, 10, 1)} if connection.vendor == "postgresql" else set()
    result = line_items_retention_run(months=1, today=today)
    assert result.before == datetime(2024, 10, 1, tzinfo=UTC)
    assert result.rows == len(rows) - len(kept)
    if connection.vendor == "postgresql":
        assert date(2024, 9, 1) in older and set(result.months) == older
        assert tables("usage_lineitem_y2024m09%") == set() and tables("usage_lineitem_y2024m10%")
    assert LineItem.objects.count() == len(kept)
    assert billed_by_provider() == sums(kept)
    assert DailyCost.objects.aggregate(t=MoneySum("billed_cost"))["t"] == total  # rollups stay
    assert LineItemPrune.objects.get().before == result.before

    for start in (None, date(2024, 9, 1)):
        with pytest.raises(ReportError, match=r"removed by retention.*on or after 2024-10-01"):
            focus_export(organization=organization, start=start)
        with pytest.raises(ReportError, match="removed by retention"):
            cost_breakdown(organization=organization, group_by=["allocated_resource"], start=start)
    # Days charged only in kept billing periods read line items as before.
    later = date(2024, 10, 1)
    september_charged_later = [
        r for r in rows if r["BillingPeriodStart"] < "2024-10-01" and r["ChargePeriodStart"][:10] >= "2024-10-01"
    ]
    if september_charged_later:
        with pytest.raises(ReportError):
            focus_export(organization=organization, start=later)
    else:
        _, records = focus_export(organization=organization, start=later)
        assert len(list(records)) == sum(1 for r in kept if r["ChargePeriodStart"][:10] >= "2024-10-01")
    # Rollup reports still cover the pruned period.
    service = cost_breakdown(organization=organization, group_by=["provider"], start=date(2024, 9, 1))
    assert sum(row.cost for row in service) == decimal_sum(
        [r for r in rows if r["ChargePeriodStart"][:10] >= "2024-09-01"], "BilledCost"
    )
    # A rebuild recomputes what line items remain and keeps the pruned periods' rollups.
    rollups_rebuild(organization_id=organization.pk)
    assert DailyCost.objects.aggregate(t=MoneySum("billed_cost"))["t"] == total


def test_retention_is_off_by_default_and_the_command_reports(settings):
    ingest(FOCUS_SAMPLE)
    assert settings.FINOPS_LINE_ITEM_RETENTION_MONTHS == 0
    out = StringIO()
    call_command("prune_line_items", stdout=out)
    assert "retention is off" in out.getvalue() and LineItem.objects.count() == 1000
    with pytest.raises(CommandError, match="--months must be 1 or more"):
        call_command("prune_line_items", "--months", "0")
    out = StringIO()
    call_command("prune_line_items", "--months", "1", "--dry-run", stdout=out)  # today: far past 2024
    assert "would remove 1,000 rows" in out.getvalue() and LineItem.objects.count() == 1000
    settings.FINOPS_LINE_ITEM_RETENTION_MONTHS = 3
    out = StringIO()
    call_command("prune_line_items", stdout=out)
    assert "removed 1,000 rows" in out.getvalue()
    assert LineItem.objects.count() == 0 and DailyCost.objects.count() > 0


def test_the_api_refuses_line_items_of_pruned_periods_with_400():
    rows = read_rows(FOCUS_SAMPLE)
    ingest(FOCUS_SAMPLE)
    organization = Organization.objects.get(slug="acme")
    factories.member(organization, "fin", "finance")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {factories.token_key(factories.user('fin'), organization, 't')}")
    assert client.get("/api/v1/focus-export").status_code == 200
    line_items_retention_run(months=1, today=date(2024, 11, 15))
    refused = client.get("/api/v1/focus-export")
    assert refused.status_code == 400 and "removed by retention" in json.dumps(refused.json())
    dated = client.get("/api/v1/line-items/", {"start": "2024-09-01", "end": "2024-09-30"})
    assert dated.status_code == 400 and "removed by retention" in json.dumps(dated.json())
    kept = [r for r in rows if r["BillingPeriodStart"] >= "2024-10-01"]
    undated = client.get("/api/v1/line-items/", {"page_size": 1000})  # an undated listing pages through what is kept
    assert undated.status_code == 200 and len(undated.json()["results"]) == len(kept)


def test_the_nightly_task_prunes_by_the_setting(settings):
    rows = read_rows(FOCUS_SAMPLE)
    ingest(FOCUS_SAMPLE)
    assert line_items_prune_task() == {"pruned": False}
    assert LineItem.objects.count() == len(rows)
    settings.FINOPS_LINE_ITEM_RETENTION_MONTHS = 1  # today is long after 2024: every billing period of the file goes
    months = month_tables() if connection.vendor == "postgresql" else set()
    result = line_items_prune_task()
    assert result["pruned"] and result["rows"] == len(rows) and LineItem.objects.count() == 0
    if connection.vendor == "postgresql":
        horizon = retention_horizon(months=1, today=datetime.now(UTC).date()).date()
        old = {m for m in months if m < horizon}
        assert {date(2024, 9, 1), date(2024, 10, 1)} <= old and result["months"] == len(old)
    else:
        assert result["months"] == 0


@pytest.mark.django_db(transaction=True)
def test_two_organizations_make_the_same_new_month_at_once():
    """Two deliveries of other organizations reaching a month that has no partition yet at the same moment: both
    land (on PostgreSQL one creates the month partition, the other waits for it; SQLite writes one at a time)."""
    from threading import Barrier, Thread

    from django.db import connections

    rows = read_rows(FOCUS_SAMPLE)
    organizations = [factories.organization(slug) for slug in ("north", "south")]
    barrier, errors = Barrier(2), []

    def deliver(organization: Organization) -> None:
        try:
            barrier.wait()
            factories.ingest_files(organization, [FOCUS_SAMPLE])
        except Exception as error:  # reported below: a thread's exception would otherwise vanish
            errors.append(error)
        finally:
            connections.close_all()

    if connection.vendor == "postgresql":
        threads = [Thread(target=deliver, args=(o,)) for o in organizations]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        barrier = Barrier(1)
        for organization in organizations:
            deliver(organization)
    assert errors == []
    for organization in organizations:
        items = LineItem.objects.filter(organization=organization)
        assert items.count() == len(rows)
        assert items.aggregate(t=MoneySum("billed_cost"))["t"] == decimal_sum(rows, "BilledCost")
