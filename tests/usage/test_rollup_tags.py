"""The tag rollup (DailyTagCost) and the commitment-status dimension of DailyCost: written by the ingest,
rebuilt from line items, and read by reports instead of line items. Expected numbers come from the csv
module and Decimal over the FOCUS sample (tests/usage/helpers.py)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from io import StringIO

import pyarrow as pa
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.usage.formats import read_chunks
from finops.usage.models import DailyCost, DailyTagCost, LineItem
from finops.usage.rebuild import rollups_rebuild
from finops.usage.rollup import TAG_ROLLUP_DIMENSIONS, merge_rollups, tag_pairs, tag_rollup_chunk
from finops.usage.selectors import NONE_LABEL, cost_breakdown, untagged_remainder
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import NULLS, decimal_sum, grouped_sum, read_rows, write_csv

pytestmark = pytest.mark.django_db


def charge_day(row: dict[str, str]) -> str:
    return row["ChargePeriodStart"][:10]


def tags_of(row: dict[str, str]) -> dict:
    return {} if row["Tags"] in NULLS else json.loads(row["Tags"])


def expected_tag_sums(rows: list[dict[str, str]], column: str = "BilledCost") -> dict[tuple, Decimal]:
    """(day, key, value) -> sum, for every non-empty tag of every row."""
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    for r in rows:
        for key, value in tags_of(r).items():
            if key and value not in (None, ""):
                sums[(charge_day(r), key, value)] += Decimal(r[column]) if r[column] not in NULLS else Decimal(0)
    return dict(sums)


@pytest.fixture
def ingested():
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "acme", "--json", stdout=StringIO())
    return Organization.objects.get(slug="acme"), read_rows(FOCUS_SAMPLE)


def stored_tag_sums(organization: Organization) -> dict[tuple, Decimal]:
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in DailyTagCost.objects.filter(organization=organization):
        sums[(row.day.isoformat(), row.tag_key, row.tag_value)] += row.billed_cost
    return dict(sums)


def test_ingest_writes_one_tag_row_per_tag_and_the_sums_equal_the_file(ingested):
    organization, rows = ingested
    assert stored_tag_sums(organization) == expected_tag_sums(rows)
    counts: Counter = Counter()
    for r in rows:
        counts.update(key for key, value in tags_of(r).items() if key and value not in (None, ""))
    stored_counts: Counter = Counter()
    for key, n in DailyTagCost.objects.filter(organization=organization).values_list("tag_key", "row_count"):
        stored_counts[key] += n
    assert stored_counts == counts
    assert " org" in counts  # keys are kept exactly as written, leading space included


def test_daily_cost_keeps_the_commitment_status(ingested):
    organization, rows = ingested
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        status = "" if r["CommitmentDiscountStatus"] in NULLS else r["CommitmentDiscountStatus"]
        expected[status] += Decimal(r["EffectiveCost"])
    stored: dict[str, Decimal] = defaultdict(Decimal)
    for status, cost in DailyCost.objects.filter(organization=organization).values_list(
        "commitment_discount_status", "effective_cost"
    ):
        stored[status] += cost
    assert dict(stored) == dict(expected)
    assert set(stored) == {"", "Used"}


def rollup_rows(model, organization: Organization) -> Counter:
    fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "ingest_job_id")]
    return Counter(tuple(row) for row in model.objects.filter(organization=organization).values_list(*fields))


def test_rebuild_from_line_items_reproduces_what_the_ingest_wrote(ingested):
    organization, _ = ingested
    daily, tagged = rollup_rows(DailyCost, organization), rollup_rows(DailyTagCost, organization)
    DailyTagCost.objects.filter(organization=organization).delete()
    DailyCost.objects.filter(organization=organization).update(commitment_discount_status="")
    written = rollups_rebuild(organization_id=organization.pk)
    assert written == {"DailyCost": sum(daily.values()), "DailyTagCost": sum(tagged.values())}
    assert rollup_rows(DailyCost, organization) == daily
    assert rollup_rows(DailyTagCost, organization) == tagged


def test_rebuild_rollups_command(ingested):
    organization, _ = ingested
    before = rollup_rows(DailyTagCost, organization)
    DailyTagCost.objects.all().delete()
    out = StringIO()
    call_command("rebuild_rollups", "--org", "acme", stdout=out)
    assert out.getvalue().startswith(
        f"acme: {DailyCost.objects.filter(organization=organization).count():,} daily rows"
    )
    assert rollup_rows(DailyTagCost, organization) == before
    with pytest.raises(CommandError, match="no organization 'nope'") as error:
        call_command("rebuild_rollups", "--org", "nope")
    assert error.value.returncode == 2
    with pytest.raises(CommandError, match=r"--org SLUG .* or --all"):
        call_command("rebuild_rollups")


def test_tag_reports_read_no_line_items(ingested):
    organization, rows = ingested
    LineItem.objects.filter(organization=organization).delete()  # answered from the rollups alone
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        value = tags_of(r).get("environment")
        expected[value if value not in (None, "") else NONE_LABEL] += Decimal(r["BilledCost"])
    got = {row.group: row.cost for row in cost_breakdown(organization=organization, group_by=["tag:environment"])}
    assert got == dict(expected)
    # Tag group-by beside a dimension, by day: the untagged remainder is per (service, day).
    by_service_day: dict[tuple, Decimal] = defaultdict(Decimal)
    for r in rows:
        value = tags_of(r).get("environment") or NONE_LABEL
        by_service_day[(date.fromisoformat(charge_day(r)), r["ServiceName"] or NONE_LABEL, value)] += Decimal(
            r["BilledCost"]
        )
    breakdown = cost_breakdown(organization=organization, group_by=["service", "tag:environment"], granularity="day")
    got_by = {(row.period, *row.groups): row.cost for row in breakdown}
    assert got_by == {k: v for k, v in by_service_day.items()}
    # A tag filter with a dimension group-by.
    filtered = cost_breakdown(organization=organization, group_by=["service"], tag=("environment", "prod"))
    expected_prod: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if tags_of(r).get("environment") == "prod":
            expected_prod[r["ServiceName"] or NONE_LABEL] += Decimal(r["BilledCost"])
    assert {row.group: row.cost for row in filtered} == dict(expected_prod)
    assert expected_prod


def test_two_tag_keys_fall_back_to_line_items(ingested):
    organization, rows = ingested
    DailyTagCost.objects.filter(organization=organization).delete()  # this report cannot use the tag rollup
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        tags = tags_of(r)
        if tags.get("business_unit") == "PeoriaData":
            expected[tags.get("environment") or NONE_LABEL] += Decimal(r["BilledCost"])
    got = cost_breakdown(organization=organization, group_by=["tag:environment"], tag=("business_unit", "PeoriaData"))
    assert {row.group: row.cost for row in got} == dict(expected)
    assert expected


def test_tag_pairs_keep_non_empty_tags_as_text():
    assert tag_pairs(None) == [] and tag_pairs("") == []
    text = json.dumps({"team": "a", "empty": "", "none": None, "n": 5, "flag": True, "": "x"})
    assert tag_pairs(text) == [("team", "a"), ("n", "5"), ("flag", "true")]


def test_tag_rollup_groups_rows_sharing_a_tag_across_different_tag_sets():
    # Two rows with different tag sets share team=a: one (day, team, a) row with both costs.
    from datetime import UTC, datetime

    from finops.usage.formats.schema import DECIMAL, TIMESTAMP

    start = datetime(2025, 1, 1, 5, tzinfo=UTC)
    n = 3
    table = pa.table(
        {
            "charge_period_start": pa.array([start] * n, TIMESTAMP),
            "billing_period_start": pa.array([datetime(2025, 1, 1, tzinfo=UTC)] * n, TIMESTAMP),
            **{
                name: pa.array(["x"] * n, pa.string())
                for name in (
                    "provider_name",
                    "billing_account_id",
                    "sub_account_id",
                    "service_name",
                    "service_category",
                    "region_id",
                    "region_name",
                    "charge_category",
                    "pricing_category",
                    "billing_currency",
                )
            },
            "commitment_discount_status": pa.array([None] * n, pa.string()),
            "charge_class": pa.array([None] * n, pa.string()),
            **{
                m: pa.array([Decimal("1.5"), Decimal("2.25"), Decimal("4")], DECIMAL)
                for m in ("billed_cost", "effective_cost", "list_cost", "pricing_quantity")
            },
            "tags": pa.array(['{"team": "a", "env": "prod"}', '{"team": "a"}', None], pa.string()),
        }
    )
    rollup = tag_rollup_chunk(table, pa.array(["a", "a", ""], pa.string()))
    got = {(r["tag_key"], r["tag_value"]): (r["billed_cost"], r["row_count"]) for r in rollup.to_pylist()}
    assert got == {("team", "a"): (Decimal("3.75"), 2), ("env", "prod"): (Decimal("1.5"), 1)}


def test_untagged_remainder_keeps_rows_whose_cost_nets_to_zero():
    keys = ("period", "group")
    everything = [
        {"period": 1, "group": "", "billing_currency": "USD", "cost": Decimal("10"), "rows": 3},
        {"period": 2, "group": "", "billing_currency": "USD", "cost": Decimal("0"), "rows": 2},
        {"period": 3, "group": "", "billing_currency": "USD", "cost": Decimal("7"), "rows": 1},
    ]
    tagged = [
        {"period": 1, "group": "a", "billing_currency": "USD", "cost": Decimal("4"), "rows": 1},
        {"period": 1, "group": "b", "billing_currency": "USD", "cost": Decimal("6"), "rows": 1},
        {"period": 3, "group": "a", "billing_currency": "USD", "cost": Decimal("7"), "rows": 1},
    ]
    remainder = untagged_remainder(tagged=tagged, everything=everything, keys=keys, tag_group="group")
    # Period 1: one untagged row whose cost is 0; period 2: all untagged; period 3: nothing left.
    assert [(r["period"], r["cost"], r["rows"]) for r in remainder] == [(1, Decimal(0), 1), (2, Decimal(0), 2)]


def test_a_long_untagged_delivery_ingests(tmp_path, settings):
    """More than 16 chunks without a single tag (many organizations activate no cost allocation tag): the
    merged tag rollup stays an empty table, the daily rollup still equals the file."""
    rows = [{**r, "Tags": ""} for r in read_rows(FOCUS_SAMPLE)]
    path = write_csv(tmp_path / "untagged.csv", rows)
    settings.FINOPS_INGEST_CHUNK_ROWS = 50  # 1,000 rows: 20 chunks, past the merge every 16
    out = StringIO()
    call_command("ingest_usage", str(path), "--org", "untagged", "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "succeeded"
    organization = Organization.objects.get(slug="untagged")
    assert LineItem.objects.filter(organization=organization).count() == len(rows)
    assert not DailyTagCost.objects.filter(organization=organization).exists()
    stored = sum((r.billed_cost for r in DailyCost.objects.filter(organization=organization)), Decimal(0))
    assert stored == decimal_sum(rows, "BilledCost")


def test_merging_untagged_chunks_gives_an_empty_table_that_merges_again(tmp_path):
    rows = [{**r, "Tags": ""} for r in read_rows(FOCUS_SAMPLE)[:120]]
    path = write_csv(tmp_path / "untagged.csv", rows)
    chunks = [parsed.table for parsed in read_chunks(path, "auto", 40)]
    parts = [tag_rollup_chunk(chunk, pa.array([""] * chunk.num_rows, pa.string())) for chunk in chunks]
    merged = merge_rollups(parts, TAG_ROLLUP_DIMENSIONS)
    assert merged.num_rows == 0
    again = merge_rollups([merged, *parts], TAG_ROLLUP_DIMENSIONS)
    assert again.num_rows == 0 and again.schema == merged.schema
    with pytest.raises(ValueError, match="at least one"):
        merge_rollups([], TAG_ROLLUP_DIMENSIONS)


def test_daily_cost_keeps_the_charge_class_through_ingest_and_rebuild(tmp_path):
    """Usage corrections (ChargeClass Correction) stay apart in the rollup, so usage excludes them without
    reading line items; the rebuild path recomputes the column."""
    rows = read_rows(FOCUS_SAMPLE)
    for row in rows[:25]:
        row["ChargeClass"] = "Correction"
    path = write_csv(tmp_path / "corrections.csv", rows, list(rows[0]))
    call_command("ingest_usage", str(path), "--org", "acme", "--json", stdout=StringIO())
    organization = Organization.objects.get(slug="acme")
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        expected["" if r["ChargeClass"] in NULLS else r["ChargeClass"]] += Decimal(r["BilledCost"])
    stored: dict[str, Decimal] = defaultdict(Decimal)
    for charge_class, cost in DailyCost.objects.filter(organization=organization).values_list(
        "charge_class", "billed_cost"
    ):
        stored[charge_class] += cost
    assert dict(stored) == dict(expected) and set(stored) == {"", "Correction"}
    daily = rollup_rows(DailyCost, organization)
    DailyCost.objects.filter(organization=organization).update(charge_class="")
    rollups_rebuild(organization_id=organization.pk)
    assert rollup_rows(DailyCost, organization) == daily


def test_many_forced_merges_store_the_exact_sums_of_the_csv(settings, monkeypatch):
    """50-row chunks merged every 2 parts of a day: every daily and tag sum still equals the file's own."""
    settings.FINOPS_INGEST_CHUNK_ROWS = 50
    monkeypatch.setattr("finops.usage.services._ROLLUP_MERGE_EVERY", 2)
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "acme", "--json", stdout=StringIO())
    organization = Organization.objects.get(slug="acme")
    rows = read_rows(FOCUS_SAMPLE)

    def key(r: dict[str, str]) -> tuple:
        return (charge_day(r), r["ServiceName"], r["ChargeCategory"])

    for column, field in (("BilledCost", "billed_cost"), ("EffectiveCost", "effective_cost")):
        stored: dict[tuple, Decimal] = defaultdict(Decimal)
        for row in DailyCost.objects.filter(organization=organization):
            stored[(row.day.isoformat(), row.service_name, row.charge_category)] += getattr(row, field)
        assert dict(stored) == grouped_sum(rows, key, column)
        stored_tags: dict[tuple, Decimal] = defaultdict(Decimal)
        for row in DailyTagCost.objects.filter(organization=organization):
            stored_tags[(row.day.isoformat(), row.tag_key, row.tag_value)] += getattr(row, field)
        assert dict(stored_tags) == expected_tag_sums(rows, column)
    counts = Counter(charge_day(r) for r in rows)
    stored_counts: Counter = Counter()
    for row in DailyCost.objects.filter(organization=organization):
        stored_counts[row.day.isoformat()] += row.row_count
    assert stored_counts == counts
    # One stored row per group: a day merged in parts must not leave two rows for one key.
    fields = [("team" if d == "team_value" else d) for d in TAG_ROLLUP_DIMENSIONS]
    keys = list(DailyTagCost.objects.filter(organization=organization).values_list(*fields))
    assert len(keys) == len(set(keys)) > 0
