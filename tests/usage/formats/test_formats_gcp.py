"""Google Cloud billing export parsing: the real BigQuery export rows (CSV) and the same rows as BigQuery's
newline-delimited JSON, checked against sums of the raw file; bad input refused by file, row and column."""

from __future__ import annotations

import ast
import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from formats_helpers import (
    GCP_SAMPLE,
    gcp_credit_total,
    gcp_effective,
    gcp_json_record,
    needs_shared_data,
    raw_dicts,
    raw_header_and_rows,
    read_all,
    write_csv,
)

from finops.usage.formats import IngestError, detect_format
from finops.usage.formats.schema import CANONICAL_SCHEMA


@pytest.fixture(scope="module")
def raw() -> list[dict[str, str]]:
    return raw_dicts(GCP_SAMPLE)


@pytest.fixture(scope="module")
def parsed() -> pa.Table:
    return read_all(GCP_SAMPLE)


def _ndjson(rows: list[dict[str, str]], extra_last: dict | None = None) -> str:
    records = [gcp_json_record(r) for r in rows]
    if extra_last:
        records[-1].update(extra_last)
    return "".join(json.dumps(record) + "\n" for record in records)


@needs_shared_data
def test_sample_is_detected_and_parsed_row_for_row(raw, parsed):
    assert detect_format(GCP_SAMPLE) == "gcp-billing"
    assert parsed.schema.equals(CANONICAL_SCHEMA)
    assert parsed.num_rows == len(raw) == 25
    assert set(parsed["provider_name"].to_pylist()) == {"Google Cloud"}
    assert parsed["billing_account_id"].to_pylist() == [r["billing_account_id"] for r in raw]
    assert parsed["sub_account_id"].to_pylist() == [r["project.id"] for r in raw]
    assert parsed["service_name"].to_pylist() == [r["service.description"] for r in raw]
    assert parsed["sku_id"].to_pylist() == [r["sku.id"] for r in raw]
    assert parsed["region_id"].to_pylist() == [r["location.region"] or r["location.location"] for r in raw]
    assert parsed["consumed_quantity"].to_pylist() == [Decimal(r["usage.amount"]) for r in raw]
    assert parsed["consumed_unit"].to_pylist() == [r["usage.unit"] for r in raw]
    assert parsed["pricing_unit"].to_pylist() == [r["usage.pricing_unit"] for r in raw]
    assert set(parsed["charge_category"].to_pylist()) == {"Usage"}  # every cost_type is "regular"


@needs_shared_data
def test_costs_are_exact_and_credits_counted_once(raw, parsed):
    billed = [Decimal(r["cost"]) for r in raw]
    assert parsed["billed_cost"].to_pylist() == billed
    assert sum(parsed["billed_cost"].to_pylist()) == sum(billed) == Decimal("0.000032")
    # Credits reduce EffectiveCost only (the FinOps Foundation's rule): the free-trial credits here cover
    # every cost, so nothing is effectively paid, while BilledCost keeps the gross cost.
    effective = [gcp_effective(r) for r in raw]
    assert parsed["effective_cost"].to_pylist() == effective
    assert sum(effective) == 0
    assert sum(gcp_credit_total(r["credits"]) for r in raw) == -sum(billed)
    # No credit rows of their own: nothing is counted twice.
    assert "Credit" not in parsed["charge_category"].to_pylist()


@needs_shared_data
def test_billing_period_is_the_invoice_month_in_pacific_time(parsed):
    assert set(parsed["billing_period_start"].to_pylist()) == {datetime(2020, 11, 1, 7, tzinfo=UTC)}  # PDT
    assert set(parsed["billing_period_end"].to_pylist()) == {datetime(2020, 12, 1, 8, tzinfo=UTC)}  # PST
    assert parsed["charge_period_start"][0].as_py() == datetime(2020, 11, 9, 23, tzinfo=UTC)


@needs_shared_data
def test_labels_become_tags_and_the_rest_is_kept_in_extras(raw, parsed):
    for row, tags, extras in zip(raw, parsed["tags"].to_pylist(), parsed["extras"].to_pylist(), strict=True):
        labels = {pair["key"]: pair["value"] for pair in ast.literal_eval(row["labels"])}
        assert (json.loads(tags) if tags else {}) == labels
        kept = json.loads(extras)
        assert kept["credits"] == row["credits"] and kept["invoice.month"] == row["invoice.month"]


@needs_shared_data
@pytest.mark.parametrize("packing", ["plain", "gzip"])
def test_newline_delimited_json_gives_the_same_rows_as_the_csv(raw, parsed, tmp_path, packing):
    text = _ndjson(raw)
    path = tmp_path / "billing.json"
    path.write_bytes(gzip.compress(text.encode()) if packing == "gzip" else text.encode())
    assert detect_format(path) == "gcp-billing"
    from_json = read_all(path)
    assert from_json.num_rows == 25
    for column in ("billed_cost", "effective_cost", "consumed_quantity", "pricing_quantity", "billing_period_start"):
        assert from_json[column].to_pylist() == parsed[column].to_pylist(), column
    for column in ("charge_period_start", "charge_period_end", "tags", "billing_account_id", "sub_account_id"):
        assert from_json[column].to_pylist() == parsed[column].to_pylist(), column
    assert sum(from_json["billed_cost"].to_pylist()) == sum(Decimal(r["cost"]) for r in raw)


@needs_shared_data
def test_a_field_first_seen_on_the_last_line_is_read(raw, tmp_path):
    """BigQuery leaves null fields out of JSON: the detailed export's resource appears where it is set."""
    resource = {"name": "vm-1", "global_name": "//compute.googleapis.com/projects/p/zones/z/instances/1"}
    path = tmp_path / "detailed.json"
    path.write_text(_ndjson(raw, {"resource": resource}))
    table = read_all(path)
    assert table["resource_id"].to_pylist() == [None] * 24 + [resource["global_name"]]
    assert table["resource_name"].to_pylist() == [None] * 24 + ["vm-1"]


def test_cost_types_credits_and_machine_type(tmp_path):
    header = [
        "billing_account_id",
        "usage_start_time",
        "usage_end_time",
        "cost",
        "currency",
        "invoice.month",
        "cost_type",
        "credits",
        "system_labels",
        "service.description",
    ]
    machine = json.dumps([{"key": "compute.googleapis.com/machine_spec", "value": "n2-standard-4"}])
    credit = json.dumps([{"name": "CUD", "amount": -0.75, "type": "COMMITTED_USAGE_DISCOUNT"}, {"amount": -0.5}])
    rows = [
        [
            "A",
            "2024-01-05 10:00:00 UTC",
            "2024-01-05 11:00:00 UTC",
            "2.00",
            "USD",
            "202401",
            "regular",
            credit,
            machine,
        ],
        ["A", "2024-01-05 10:00:00 UTC", "2024-01-05 11:00:00 UTC", "0.40", "USD", "202401", "regular", credit, "[]"],
        ["A", "2024-01-31 00:00:00 UTC", "2024-02-01 00:00:00 UTC", "0.16", "USD", "202401", "tax", "[]", "[]"],
        ["A", "2023-11-02 00:00:00 UTC", "2023-11-03 00:00:00 UTC", "-3.5", "USD", "202401", "adjustment", "", ""],
        ["A", "2024-01-31 00:00:00 UTC", "2024-02-01 00:00:00 UTC", "0.01", "USD", "202401", "rounding_error", "", ""],
    ]
    table = read_all(write_csv(tmp_path / "types.csv", header, [[*r, "Compute Engine"] for r in rows]))
    assert table["charge_category"].to_pylist() == ["Usage", "Usage", "Tax", "Adjustment", "Adjustment"]
    assert table["charge_frequency"].to_pylist() == ["Usage-Based", "Usage-Based", None, None, None]
    # 2.00 - 1.25 = 0.75; 0.40 - 1.25 floored at 0; a negative adjustment stays negative.
    assert table["effective_cost"].to_pylist() == [
        Decimal("0.75"),
        0,
        Decimal("0.16"),
        Decimal("-3.5"),
        Decimal("0.01"),
    ]
    assert table["billed_cost"].to_pylist() == [Decimal(r[3]) for r in rows]
    assert table["instance_type"].to_pylist() == ["n2-standard-4", None, None, None, None]


# ----------------------------------------------------------------------------------------- bad input


def _with(tmp_path, row: int, **values: str):
    header, rows = raw_header_and_rows(GCP_SAMPLE)
    rows = [list(r) for r in rows]
    for column, value in values.items():
        rows[row - 1][header.index(column)] = value
    return write_csv(tmp_path / "bad.csv", header, rows)


@needs_shared_data
@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (3, "cost", "five cents", "not a number: 'five cents'"),
        (4, "labels", "[{'key': 'team', 'value': 'a'", "invalid JSON"),
        (2, "credits", '[{"amount": }]', "invalid JSON"),
        (5, "credits", '[{"amount": "lots"}]', "credit amount is not a number"),
        (6, "invoice.month", "2020-11", "not an invoice month (YYYYMM)"),
        (7, "usage_start_time", "yesterday", "not a date/time"),
    ],
)
def test_a_bad_value_is_refused_by_row_and_column(tmp_path, row, column, value, message):
    path = _with(tmp_path, row, **{column: value})
    with pytest.raises(IngestError) as refused:
        read_all(path)
    assert (refused.value.file, refused.value.row, refused.value.column) == (str(path), row, column)
    assert message in refused.value.message


@needs_shared_data
def test_a_truncated_csv_is_refused_at_its_last_row(tmp_path):
    text = GCP_SAMPLE.read_text()
    path = tmp_path / "cut.csv"
    path.write_text(text[: len(text) - 200])
    with pytest.raises(IngestError) as refused:
        read_all(path)
    assert refused.value.row == 25 and "truncated" in refused.value.message


@needs_shared_data
def test_a_truncated_json_file_is_refused_at_its_last_line(raw, tmp_path):
    text = _ndjson(raw)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) - 40])
    with pytest.raises(IngestError) as refused:
        read_all(path)
    assert (refused.value.file, refused.value.row) == (str(path), 25)
    assert "invalid JSON (the file's last line: truncated?)" in refused.value.message


def test_missing_columns_are_named(tmp_path):
    path = write_csv(tmp_path / "few.csv", ["billing_account_id", "usage_start_time", "cost", "cost_type"], [["A"] * 4])
    with pytest.raises(IngestError, match="missing Google Cloud billing export columns: usage_end_time, currency"):
        read_all(path)


@needs_shared_data
@pytest.mark.parametrize(
    ("line", "message"),
    [('{"cost": 1.0, "currency": ', "invalid JSON: "), ('["not", "an", "object"]', "not a JSON object")],
)
def test_a_bad_json_line_is_refused_by_row(raw, tmp_path, line, message):
    lines = _ndjson(raw).splitlines(keepends=True)
    lines[6] = line + "\n"
    path = tmp_path / "bad.json"
    path.write_text("".join(lines))
    with pytest.raises(IngestError) as refused:
        read_all(path)
    assert (refused.value.file, refused.value.row) == (str(path), 7)
    assert message in refused.value.message and "truncated" not in refused.value.message


@needs_shared_data
def test_blank_lines_are_skipped_and_rows_counted_without_them(raw, tmp_path):
    lines = _ndjson(raw).splitlines(keepends=True)
    path = tmp_path / "blank.json"
    path.write_text("".join(lines[:3]) + "\n  \n" + "".join(lines[3:]))
    path_bad = tmp_path / "blank_bad.json"
    record = json.loads(lines[5])
    record["cost"] = "five"
    lines[5] = json.dumps(record) + "\n"
    path_bad.write_text("".join(lines[:3]) + "\n\n" + "".join(lines[3:]))
    assert read_all(path).num_rows == 25
    with pytest.raises(IngestError) as refused:
        read_all(path_bad)
    assert (refused.value.row, refused.value.column) == (6, "cost")


@needs_shared_data
def test_a_compressed_json_file_is_held_to_the_expansion_limits(raw, tmp_path):
    from finops.usage.formats.errors import TooLargeError
    from finops.usage.formats.readers import ExpansionLimits

    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(_ndjson(raw * 40).encode()))
    with pytest.raises(TooLargeError, match="expands to more than 100,000 bytes"):
        read_all(path, limits=ExpansionLimits(max_bytes=100_000, max_ratio=1000))


@needs_shared_data
def test_a_query_flattened_csv_with_underscored_names_reads_the_same(parsed, tmp_path):
    """BigQuery exports no nested record to CSV: a CSV comes from a query, often aliasing service.id as
    service_id. The names are the file's in errors."""
    header, rows = raw_header_and_rows(GCP_SAMPLE)
    aliased = [name.replace(".", "_") for name in header]
    table = read_all(write_csv(tmp_path / "query.csv", aliased, rows))
    for column in ("billed_cost", "effective_cost", "billing_period_start", "service_name", "tags", "region_id"):
        assert table[column].to_pylist() == parsed[column].to_pylist(), column
    rows[2][header.index("invoice.month")] = "11/2020"
    path = write_csv(tmp_path / "query_bad.csv", aliased, rows)
    with pytest.raises(IngestError) as refused:
        read_all(path)
    assert (refused.value.row, refused.value.column) == (3, "invoice_month")


def test_service_category_from_the_converters_lookup_table(raw, parsed):
    """ServiceCategory is the FinOps Foundation converter's lookup of service.description (read here with csv from
    the shipped table); a service the table does not list has none, as in the converter."""
    import csv

    from finops.usage.formats.gcp import CATEGORIES_FILE

    with open(CATEGORIES_FILE, encoding="utf-8", newline="") as handle:
        table = {row["ConsumedService"]: row["ServiceCategory"] for row in csv.DictReader(handle)}
    expected = [table.get(row["service.description"]) for row in raw]
    assert parsed.column("service_category").to_pylist() == expected
    assert {"Databases", "Security"} <= set(expected) and None in expected  # BigQuery, SCC; Stackdriver Logging
