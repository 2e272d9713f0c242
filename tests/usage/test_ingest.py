"""Ingest end to end through the CLI: real files, totals checked against independent Decimal sums."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization, Team
from finops.core.money import MoneySum
from finops.usage.models import BillingSlice, DailyCost, IngestJob, LineItem
from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE
from tests.usage.helpers import decimal_sum, grouped_sum, read_rows, team_of, write_csv

pytestmark = pytest.mark.django_db


def ingest(*paths: Path, org: str = "acme", fmt: str = "auto") -> dict:
    out = StringIO()
    call_command("ingest_usage", *map(str, paths), "--org", org, "--format", fmt, "--json", stdout=out)
    return json.loads(out.getvalue())


def ingest_fails(*paths: Path, org: str = "acme") -> CommandError:
    with pytest.raises(CommandError) as caught:
        ingest(*paths, org=org)
    assert caught.value.returncode == 2
    return caught.value


def snapshot() -> tuple:
    """Everything ingest writes, to prove a failed ingest changed nothing."""
    return (
        LineItem.objects.count(),
        LineItem.objects.aggregate(t=MoneySum("billed_cost"))["t"],
        DailyCost.objects.count(),
        DailyCost.objects.aggregate(t=MoneySum("effective_cost"))["t"],
        sorted(BillingSlice.objects.values_list("provider_name", "billing_account_id", "job_id", "rows")),
    )


def test_focus_sample_rows_and_totals_match_the_file_exactly():
    rows = read_rows(FOCUS_SAMPLE)
    result = ingest(FOCUS_SAMPLE)
    assert result["status"] == "succeeded"
    assert result["organization_created"] is True
    assert result["rows"] == len(rows) == 1000
    assert result["billing_periods"] == ["2024-09-01", "2024-10-01"]
    usd = result["totals"]["USD"]
    assert Decimal(usd["billed_cost"]) == decimal_sum(rows, "BilledCost")
    assert Decimal(usd["effective_cost"]) == decimal_sum(rows, "EffectiveCost")
    assert Decimal(usd["list_cost"]) == decimal_sum(rows, "ListCost")
    org = Organization.objects.get(slug="acme")
    assert LineItem.objects.filter(organization=org).count() == 1000
    # Stored at full precision: the database sums equal the file's sums too.
    stored = LineItem.objects.aggregate(b=MoneySum("billed_cost"), e=MoneySum("effective_cost"))
    assert stored["b"] == decimal_sum(rows, "BilledCost")
    assert stored["e"] == decimal_sum(rows, "EffectiveCost")
    # The rollups carry the same money as the line items.
    rolled = DailyCost.objects.aggregate(b=MoneySum("billed_cost"), l=MoneySum("list_cost"))
    assert rolled["b"] == decimal_sum(rows, "BilledCost")
    assert rolled["l"] == decimal_sum(rows, "ListCost")
    assert DailyCost.objects.aggregate(n=MoneySum("row_count"))["n"] == 1000


def test_cur_sample_rows_and_totals_match_the_file_exactly():
    rows = read_rows(CUR_SAMPLE)
    result = ingest(CUR_SAMPLE, fmt="aws-cur")
    assert result["rows"] == len(rows) == 1281
    assert result["billing_periods"] == ["2023-11-01"]
    usd = result["totals"]["USD"]
    assert Decimal(usd["billed_cost"]) == decimal_sum(rows, "lineItem/UnblendedCost")
    # No savings plans or reservations in this file: amortized equals unblended.
    assert Decimal(usd["effective_cost"]) == decimal_sum(rows, "lineItem/UnblendedCost")
    assert Decimal(usd["list_cost"]) == decimal_sum(rows, "pricing/publicOnDemandCost")
    item = LineItem.objects.filter(charge_category="Tax").first()
    assert item is not None and item.provider_name == "AWS"
    # Nothing is lost: columns without a FOCUS home are kept in extras.
    with_usage_type = [r for r in rows if r["lineItem/UsageType"]]
    assert LineItem.objects.filter(extras__has_key="lineItem/UsageType").count() == len(with_usage_type)


def test_same_delivery_twice_is_a_duplicate_and_changes_nothing():
    first = ingest(FOCUS_SAMPLE)
    before = snapshot()
    second = ingest(FOCUS_SAMPLE)
    assert second["status"] == "duplicate"
    assert second["duplicate_of"] == first["job"]
    assert second["totals"] == first["totals"]
    assert snapshot() == before


def test_a_restatement_replaces_its_slices(tmp_path):
    rows = read_rows(CUR_SAMPLE)
    ingest(CUR_SAMPLE)
    restated = [dict(r) for r in rows[:500]]
    for r in restated:
        r["lineItem/UnblendedCost"] = str(Decimal(r["lineItem/UnblendedCost"]) * 2)
    path = write_csv(tmp_path / "restated.csv", restated, list(rows[0]))
    result = ingest(path)
    assert result["status"] == "succeeded"
    assert result["rows_replaced"] == 1281
    assert LineItem.objects.count() == 500
    assert LineItem.objects.aggregate(t=MoneySum("billed_cost"))["t"] == decimal_sum(restated, "lineItem/UnblendedCost")
    assert DailyCost.objects.aggregate(t=MoneySum("billed_cost"))["t"] == decimal_sum(
        restated, "lineItem/UnblendedCost"
    )
    assert BillingSlice.objects.get().rows == 500


def test_files_of_one_call_are_one_delivery(tmp_path):
    rows = read_rows(CUR_SAMPLE)
    part1 = write_csv(tmp_path / "part-1.csv", rows[:700], list(rows[0]))
    plain2 = write_csv(tmp_path / "part-2.csv", rows[700:], list(rows[0]))
    part2 = tmp_path / "part-2.csv.gz"  # a delivery may mix plain and compressed parts
    part2.write_bytes(gzip.compress(plain2.read_bytes()))
    plain2.unlink()
    result = ingest(part1, part2)
    assert result["rows"] == 1281
    assert LineItem.objects.count() == 1281
    assert Decimal(result["totals"]["USD"]["billed_cost"]) == decimal_sum(rows, "lineItem/UnblendedCost")
    # The same two files again, in the other order: the same delivery.
    assert ingest(part2, part1)["status"] == "duplicate"


def test_a_failing_delivery_leaves_the_database_exactly_as_before(tmp_path):
    ingest(FOCUS_SAMPLE)
    before = snapshot()
    rows = read_rows(FOCUS_SAMPLE)
    broken = [dict(r) for r in rows]
    broken[600]["BilledCost"] = "12,5"
    bad = write_csv(tmp_path / "bad.csv", broken)
    good = write_csv(tmp_path / "good.csv", [dict(r) for r in rows[:10]])
    error = ingest_fails(good, bad)
    assert "bad.csv" in str(error) and "row 601" in str(error) and "BilledCost" in str(error)
    assert snapshot() == before
    failed = IngestJob.objects.order_by("-pk").first()
    assert failed.status == "failed" and "row 601" in failed.error
    assert failed.progress()["fraction"] < 1.0  # where it stopped, not "done"
    succeeded = IngestJob.objects.filter(status="succeeded").get()
    assert succeeded.progress() == {
        "rows": 1000,
        "bytes_done": succeeded.bytes_total,
        "bytes_total": succeeded.bytes_total,
        "fraction": 1.0,
    }


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [("unknown.csv", b"a,b,c\n1,2,3\n", "format")],
)
def test_bad_files_are_refused_by_name_and_nothing_is_written(tmp_path, name, content, expected):
    ingest(FOCUS_SAMPLE, org="acme")
    before = snapshot()
    path = tmp_path / name
    path.write_bytes(content)
    error = ingest_fails(path)
    assert name in str(error)
    assert expected in str(error).lower()
    assert snapshot() == before


def test_missing_mandatory_columns_are_listed(tmp_path):
    rows = read_rows(FOCUS_SAMPLE)
    fields = [f for f in rows[0] if f not in ("BilledCost", "ChargePeriodStart")]
    path = write_csv(tmp_path / "missing.csv", rows[:5], fields)
    error = str(ingest_fails(path))
    assert "missing.csv" in error and "BilledCost" in error and "ChargePeriodStart" in error
    assert LineItem.objects.count() == 0


def test_bad_date_is_refused_naming_row_and_column(tmp_path):
    rows = [dict(r) for r in read_rows(FOCUS_SAMPLE)[:20]]
    rows[6]["ChargePeriodStart"] = "2024-13-45 99:00:00"
    error = str(ingest_fails(write_csv(tmp_path / "dates.csv", rows)))
    assert "dates.csv" in error and "row 7" in error and "ChargePeriodStart" in error
    assert LineItem.objects.count() == 0


def test_negative_costs_are_data_not_errors(tmp_path):
    rows = [dict(r) for r in read_rows(FOCUS_SAMPLE)[:10]]
    rows[0]["ChargeCategory"] = "Credit"
    rows[0]["BilledCost"] = rows[0]["EffectiveCost"] = "-125.0000000001"
    result = ingest(write_csv(tmp_path / "credit.csv", rows))
    assert Decimal(result["totals"]["USD"]["billed_cost"]) == decimal_sum(rows, "BilledCost")
    assert LineItem.objects.filter(billed_cost=Decimal("-125.0000000001")).count() == 1


def test_teams_are_resolved_from_tags():
    rows = read_rows(FOCUS_SAMPLE)
    ingest(FOCUS_SAMPLE)
    from django.conf import settings

    expected = grouped_sum(rows, lambda r: team_of(r, settings.FINOPS_TEAM_TAG_KEYS), "BilledCost")
    assert "1234" in expected  # Microsoft rows carry CostCenter, which comes before business_unit
    org = Organization.objects.get(slug="acme")
    teams = {t.tag_value: t for t in Team.objects.filter(organization=org)}
    assert set(teams) == {k for k in expected if k}
    for value, total in expected.items():
        team = teams.get(value)
        got = LineItem.objects.filter(team_tag_value=value).aggregate(t=MoneySum("billed_cost"))["t"]
        assert got == total, value
        assert DailyCost.objects.filter(team=team).aggregate(t=MoneySum("billed_cost"))["t"] == total


def test_ingest_creates_the_organization_and_says_so():
    out = StringIO()
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "newco", stdout=out)
    assert "Created organization newco" in out.getvalue()
    assert "1,000 rows" in out.getvalue()
    out = StringIO()
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "newco", stdout=out)
    assert "Duplicate" in out.getvalue()


def test_missing_file_is_refused():
    error = ingest_fails(Path("/nonexistent/bill.csv"))
    assert "/nonexistent/bill.csv" in str(error)
    assert IngestJob.objects.count() == 0


def test_many_small_chunks_give_the_same_rollups(settings):
    """Chunk boundaries and the periodic merge of chunk rollups must not change a single total."""
    settings.FINOPS_INGEST_CHUNK_ROWS = 37  # 1000 rows -> 28 chunks, merged every 16
    rows = read_rows(FOCUS_SAMPLE)
    result = ingest(FOCUS_SAMPLE)
    assert result["rows"] == 1000
    by_day = grouped_sum(rows, lambda r: r["ChargePeriodStart"][:10], "BilledCost")
    stored = {
        d.isoformat(): t
        for d, t in DailyCost.objects.values_list("day").annotate(t=MoneySum("billed_cost")).values_list("day", "t")
    }
    assert stored == by_day
    assert DailyCost.objects.aggregate(n=MoneySum("row_count"))["n"] == 1000


def test_a_billing_account_in_two_currencies_is_refused_naming_the_row(tmp_path):
    """FOCUS and CUR alike: one billing account has one billing currency; nothing is written."""
    ingest(FOCUS_SAMPLE)
    before = snapshot()
    rows = [dict(r) for r in read_rows(FOCUS_SAMPLE)]
    account = rows[0]["BillingAccountId"]
    index = next(i for i, r in enumerate(rows) if i > 100 and r["BillingAccountId"] == account)
    rows[index]["BillingCurrency"] = "EUR"
    mixed = write_csv(tmp_path / "mixed.csv", rows)
    first = next(i for i, r in enumerate(rows) if r["BillingAccountId"] == account) + 1
    assert str(ingest_fails(mixed)) == (
        f"file {mixed}, row {index + 1}, column BillingCurrency: billing account {account} is billed in "
        f"USD (row {first}) and in EUR: a billing account has one billing currency; send each account's export "
        "in its own currency"
    )
    assert snapshot() == before

    cur = [dict(r) for r in read_rows(CUR_SAMPLE)]
    usd = write_csv(tmp_path / "a_usd.csv", cur[:50])
    eur = write_csv(tmp_path / "b_eur.csv", [{**r, "lineItem/CurrencyCode": "EUR"} for r in cur[50:]])
    assert str(ingest_fails(usd, eur)).startswith(
        f"file {eur}, row 1, column BillingCurrency: billing account {cur[0]['bill/PayerAccountId']} is billed in "
        f"USD (file {usd}, row 1) and in EUR"
    )
    assert snapshot() == before
