"""OCI cost report parsing: the real cost-csv sample against sums of the raw file, the usage report left
unclaimed, and bad input refused by file, row and column."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from formats_helpers import (
    OCI_COST_SAMPLE,
    OCI_USAGE_SAMPLE,
    dec,
    needs_shared_data,
    raw_dicts,
    raw_header_and_rows,
    read_all,
    write_csv,
)

from finops.usage.formats import IngestError, UnknownFormatError, detect_format
from finops.usage.formats.detect import format_of_columns
from finops.usage.formats.schema import CANONICAL_SCHEMA


@pytest.fixture(scope="module")
def raw() -> list[dict[str, str]]:
    return raw_dicts(OCI_COST_SAMPLE)


@pytest.fixture(scope="module")
def parsed() -> pa.Table:
    return read_all(OCI_COST_SAMPLE)


@needs_shared_data
def test_sample_is_detected_and_parsed_row_for_row(raw, parsed):
    assert detect_format(OCI_COST_SAMPLE) == "oci-cost"
    assert parsed.schema.equals(CANONICAL_SCHEMA)
    assert parsed.num_rows == len(raw) == 5
    assert set(parsed["provider_name"].to_pylist()) == {"Oracle"}
    assert parsed["billing_account_id"].to_pylist() == [r["cost/subscriptionId"] for r in raw]
    assert parsed["sub_account_id"].to_pylist() == [r["lineItem/tenantId"] for r in raw]
    assert parsed["service_name"].to_pylist() == [r["product/service"] for r in raw]
    assert parsed["sku_id"].to_pylist() == [r["cost/productSku"] for r in raw]
    assert parsed["resource_id"].to_pylist() == [r["product/resourceId"] for r in raw]
    assert parsed["region_id"].to_pylist() == [r["product/region"] for r in raw]
    assert parsed["availability_zone"].to_pylist() == [r["product/availabilityDomain"] or None for r in raw]
    assert parsed["consumed_quantity"].to_pylist() == [Decimal(r["usage/billedQuantity"]) for r in raw]
    assert parsed["pricing_unit"].to_pylist() == [r["cost/skuUnitDescription"] for r in raw]
    assert parsed["charge_period_start"][3].as_py() == datetime(2022, 4, 21, 9, tzinfo=UTC)
    assert set(parsed["billing_period_start"].to_pylist()) == {datetime(2022, 4, 1, tzinfo=UTC)}
    assert set(parsed["billing_period_end"].to_pylist()) == {datetime(2022, 5, 1, tzinfo=UTC)}


@needs_shared_data
def test_costs_are_exact(raw, parsed):
    # The FinOps Foundation's rule: BilledCost is the overage cost (empty: none), EffectiveCost myCost.
    assert parsed["effective_cost"].to_pylist() == [Decimal(r["cost/myCost"]) for r in raw]
    assert parsed["billed_cost"].to_pylist() == [dec(r["cost/myCostOverage"]) or Decimal(0) for r in raw]
    assert sum(parsed["effective_cost"].to_pylist()) == sum(Decimal(r["cost/myCost"]) for r in raw)
    assert sum(parsed["effective_cost"].to_pylist()) == Decimal("0.000040641")


@needs_shared_data
def test_rows_without_currency_take_the_files_whatever_the_chunk_size(raw, parsed):
    # The sample's first two rows name no currency and cost nothing; the others are in GBP.
    assert [r["cost/currencyCode"] for r in raw] == ["", "", "GBP", "GBP", "GBP"]
    assert parsed["billing_currency"].to_pylist() == ["GBP"] * 5
    for chunk_rows in (1, 2):
        assert read_all(OCI_COST_SAMPLE, chunk_rows=chunk_rows).equals(parsed)


@needs_shared_data
def test_tag_columns_become_tags(raw, parsed):
    for row, tags in zip(raw, parsed["tags"].to_pylist(), strict=True):
        expected = {
            name.removeprefix("tags/"): value for name, value in row.items() if name.startswith("tags/") and value
        }
        assert (json.loads(tags) if tags else {}) == expected
    extras = json.loads(parsed["extras"][0].as_py())
    assert extras["product/compartmentName"] == "testing" and extras["lineItem/referenceNo"] == "my-resource-no1"


@needs_shared_data
def test_the_usage_report_is_not_claimed():
    header, _ = raw_header_and_rows(OCI_USAGE_SAMPLE)
    assert format_of_columns(header) != "oci-cost"
    with pytest.raises(UnknownFormatError):
        read_all(OCI_USAGE_SAMPLE, fmt="auto")


@needs_shared_data
def test_a_correction_is_marked(tmp_path):
    header, rows = raw_header_and_rows(OCI_COST_SAMPLE)
    rows[3][header.index("lineItem/isCorrection")] = "true"
    table = read_all(write_csv(tmp_path / "correction.csv", header, rows))
    assert table["charge_class"].to_pylist() == [None, None, None, "Correction", None]


# ----------------------------------------------------------------------------------------- bad input


def _with(tmp_path, row: int, **values: str):
    header, rows = raw_header_and_rows(OCI_COST_SAMPLE)
    for column, value in values.items():
        rows[row - 1][header.index(column)] = value
    return write_csv(tmp_path / "bad.csv", header, rows)


@needs_shared_data
@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (4, "cost/myCost", "abc", "not a number: 'abc'"),
        (5, "cost/myCostOverage", "1,5", "not a number: '1,5'"),
        (3, "lineItem/intervalUsageStart", "yesterday", "not a date/time"),
        (4, "cost/currencyCode", "", "a row with a cost names no currency"),
        (4, "cost/currencyCode", "Pounds", "not an ISO 4217 currency code"),
    ],
)
def test_a_bad_value_is_refused_by_row_and_column(tmp_path, row, column, value, message):
    path = _with(tmp_path, row, **{column: value})
    with pytest.raises(IngestError) as refused:
        read_all(path)
    assert (refused.value.file, refused.value.row, refused.value.column) == (str(path), row, column)
    assert message in refused.value.message


@needs_shared_data
def test_a_file_naming_no_currency_is_refused(tmp_path):
    header, rows = raw_header_and_rows(OCI_COST_SAMPLE)
    rows = rows[:2]  # the two rows without currency (and without cost)
    with pytest.raises(IngestError) as refused:
        read_all(write_csv(tmp_path / "nocurrency.csv", header, rows))
    assert (refused.value.row, refused.value.column) == (1, "cost/currencyCode")
    assert "no row of the file names its currency" in refused.value.message


@needs_shared_data
def test_a_truncated_file_is_refused_at_its_last_row(tmp_path):
    text = OCI_COST_SAMPLE.read_text()
    path = tmp_path / "cut.csv"
    path.write_text(text[: len(text) - 60])
    with pytest.raises(IngestError) as refused:
        read_all(path)
    assert refused.value.row == 5 and "truncated" in refused.value.message
