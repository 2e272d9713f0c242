"""FOCUS parsing against the official 1,000-row FOCUS sample; expected values come from reading the raw
file with csv + Decimal, never from the parser."""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import random
import zipfile
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from formats_helpers import (
    FOCUS_SAMPLE,
    SPEC_EXAMPLES,
    dec,
    is_null,
    needs_shared_data,
    raw_dicts,
    raw_header_and_rows,
    read_all,
    write_csv,
)

from finops.usage.formats import FORMATS, IngestError, detect_format, read_chunks
from finops.usage.formats.focus import FOCUS_ALIASES
from finops.usage.formats.schema import CANONICAL_SCHEMA, DECIMAL_COLUMNS, FOCUS_NAMES, TIMESTAMP_COLUMNS

pytestmark = needs_shared_data


@pytest.fixture(scope="module")
def raw() -> list[dict[str, str]]:
    return raw_dicts(FOCUS_SAMPLE)


@pytest.fixture(scope="module")
def parsed() -> pa.Table:
    return read_all(FOCUS_SAMPLE)


def test_formats_constant():
    assert FORMATS == ("focus", "aws-cur", "azure", "gcp-billing", "oci-cost")


def test_sample_is_one_chunk_with_the_canonical_schema():
    chunks = list(read_chunks(FOCUS_SAMPLE))
    assert detect_format(FOCUS_SAMPLE) == "focus"
    assert len(chunks) == 1
    chunk = chunks[0]
    assert chunk.table.schema.equals(CANONICAL_SCHEMA)
    assert chunk.table.num_rows == 1000
    assert (chunk.first_row, chunk.fmt) == (1, "focus")
    assert chunk.bytes_read == chunk.bytes_total == FOCUS_SAMPLE.stat().st_size


@pytest.mark.parametrize("focus_column", ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"])
def test_money_totals_per_currency_are_exact(raw, parsed, focus_column):
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for row in raw:
        if not is_null(row[focus_column]):
            expected[row["BillingCurrency"]] += Decimal(row[focus_column])
    canonical = next(c for c, f in FOCUS_NAMES.items() if f == focus_column)
    got: dict[str, Decimal] = defaultdict(Decimal)
    for currency, value in zip(parsed["billing_currency"].to_pylist(), parsed[canonical].to_pylist(), strict=True):
        if value is not None:
            got[currency] += value
    assert got == expected
    assert expected["USD"] != 0


def test_every_decimal_and_timestamp_value_matches_the_raw_text(raw, parsed):
    for canonical in DECIMAL_COLUMNS:
        focus = FOCUS_NAMES[canonical]
        assert parsed[canonical].to_pylist() == [dec(r[focus]) for r in raw], focus
    for canonical in TIMESTAMP_COLUMNS:
        focus = FOCUS_NAMES[canonical]
        expected = [datetime.strptime(r[focus], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for r in raw]
        assert parsed[canonical].to_pylist() == expected, focus


def test_null_literal_and_empty_string_are_both_null(raw, parsed):
    # ContractedCost is NULL on the 7 Oracle rows; BillingAccountName is "" on them.
    for canonical in (
        "contracted_cost",
        "billing_account_name",
        "charge_class",
        "region_id",
        "commitment_discount_id",
    ):
        focus = FOCUS_NAMES[canonical]
        expected_nulls = sum(1 for r in raw if is_null(r[focus]))
        assert parsed[canonical].null_count == expected_nulls, focus
    assert parsed["contracted_cost"].null_count == 7
    assert parsed["billing_account_name"].null_count == 7


def test_spot_checks(parsed):
    rows = parsed.to_pylist()
    first = rows[0]  # 0.00000080000,"1234567890123","SunBird","USD",... SQS in us-west-2
    assert first["billed_cost"] == Decimal("0.0000008")
    assert first["effective_cost"] == Decimal("0")
    assert first["list_unit_price"] == Decimal("0.0000004")
    assert first["charge_period_start"] == datetime(2024, 9, 18, 22, tzinfo=UTC)
    assert first["service_name"] == "Amazon Simple Queue Service"
    assert first["service_category"] == "Integration"
    assert first["sku_price_id"] == "G95FST5FTYV3JSRX.JRTCKXETXF.VXGXCWQKTY"
    assert first["tags"] is None
    credit = rows[456]  # row 457: AWS credit, BilledCost -2.61370000000, ConsumedQuantity NULL
    assert credit["charge_category"] == "Credit"
    assert credit["billed_cost"] == Decimal("-2.6137")
    assert credit["effective_cost"] == Decimal("-3")
    assert credit["consumed_quantity"] is None
    oracle = rows[925]  # row 926: first Oracle row, ContractedCost NULL, BillingAccountName ""
    assert oracle["provider_name"] == "Oracle"
    assert oracle["contracted_cost"] is None
    assert oracle["billing_account_name"] is None
    assert oracle["region_id"] is None
    assert oracle["consumed_quantity"] == Decimal("8")
    assert oracle["charge_frequency"] == "Usage-Based"  # "Usage-based" in the file
    microsoft = rows[946]  # row 947: PricingQuantity 0.00000003000, ContractedCost 0.00000000150
    assert microsoft["billing_account_id"] == "/providers/Microsoft.Billing/billingAccounts/8611537"
    assert microsoft["pricing_quantity"] == Decimal("0.00000003")
    assert microsoft["contracted_cost"] == Decimal("0.0000000015")
    assert json.loads(microsoft["tags"]) == {
        "env": "prod",
        "org": "trey",
        " org": "trey",
        "Project": "Foo",
        "CostCenter": "1234",
        "CostAllocationTest": "Sameer",
    }
    last = rows[999]  # row 1000: a negative Microsoft usage row
    assert last["billed_cost"] == Decimal("-0.000026")
    assert last["consumed_quantity"] == Decimal("-0.0013")


def test_tags_are_canonical_json_of_the_same_object(raw, parsed):
    for row, tags in zip(raw, parsed["tags"].to_pylist(), strict=True):
        if is_null(row["Tags"]):
            assert tags is None
        else:
            expected = json.loads(row["Tags"])
            assert json.loads(tags) == expected
            assert tags == json.dumps(expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert parsed["tags"].null_count == sum(1 for r in raw if is_null(r["Tags"])) == 289


def test_columns_outside_the_schema_go_to_extras(raw, parsed):
    header, _ = raw_header_and_rows(FOCUS_SAMPLE)
    outside = [c for c in header if c not in FOCUS_NAMES.values()]
    assert outside == ["Id"]
    assert [json.loads(e) for e in parsed["extras"].to_pylist()] == [{"Id": r["Id"]} for r in raw]
    # ChargeFrequency is a canonical column, not an extra; its case variants are normalised.
    expected = Counter("Usage-Based" if r["ChargeFrequency"] == "Usage-based" else r["ChargeFrequency"] for r in raw)
    assert Counter(parsed["charge_frequency"].to_pylist()) == expected


# ----------------------------------------------------------------------------------- same data, other shapes


def _gzip(src: Path, dest: Path) -> Path:
    dest.write_bytes(gzip.compress(src.read_bytes()))
    return dest


def _zip(src: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(src, src.name)
    return dest


def _bom(src: Path, dest: Path) -> Path:
    dest.write_bytes(codecs.BOM_UTF8 + src.read_bytes())
    return dest


def _shuffled(src: Path, dest: Path) -> Path:
    header, rows = raw_header_and_rows(src)
    order = list(range(len(header)))
    random.Random(7).shuffle(order)
    return write_csv(dest, [header[i] for i in order], [[r[i] for i in order] for r in rows])


def _aliased(src: Path, dest: Path) -> Path:
    renames = {"ProviderName": "Provider", "PublisherName": "Publisher", "InvoiceIssuerName": "InvoiceIssuer"}
    renames |= {"EffectiveCost": "AmortizedCost", "SkuPriceId": "skupriceid", "RegionName": "Region"}
    assert all(FOCUS_ALIASES.get(new, old) == old for old, new in renames.items())
    header, rows = raw_header_and_rows(src)
    return write_csv(dest, [renames.get(h, h) for h in header], rows)


def _parquet_text(src: Path, dest: Path) -> Path:
    header, rows = raw_header_and_rows(src)
    table = pa.table({name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(header)})
    pq.write_table(table, dest, row_group_size=300)
    return dest


def _parquet_typed(src: Path, dest: Path) -> Path:
    """Typed the way a Parquet FOCUS export is: decimals, timestamps, a map for Tags, an integer Id."""
    header, rows = raw_header_and_rows(src)
    columns = {}
    for i, name in enumerate(header):
        values = [None if is_null(r[i]) else r[i] for r in rows]
        if name in {FOCUS_NAMES[c] for c in DECIMAL_COLUMNS}:
            columns[name] = pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 15))
        elif name in ("BillingPeriodStart", "BillingPeriodEnd"):  # naive: taken as UTC
            columns[name] = pa.array([datetime.fromisoformat(v) for v in values], pa.timestamp("ns"))
        elif name in ("ChargePeriodStart", "ChargePeriodEnd"):
            aware = [datetime.fromisoformat(v).replace(tzinfo=UTC) for v in values]
            columns[name] = pa.array(aware, pa.timestamp("ms", tz="UTC"))
        elif name == "Tags":
            maps = [None if v is None else list(json.loads(v).items()) for v in values]
            columns[name] = pa.array(maps, pa.map_(pa.string(), pa.string()))
        elif name == "Id":
            columns[name] = pa.array([int(v) for v in values], pa.int64())
        else:
            columns[name] = pa.array(values, pa.string())
    pq.write_table(pa.table(columns), dest, row_group_size=256)
    return dest


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("focus.csv.gz", _gzip),
        ("really_gzip.csv", _gzip),
        ("focus.zip", _zip),
        ("bom.csv", _bom),
        ("shuffled.csv", _shuffled),
        ("aliased.csv", _aliased),
        ("text.parquet", _parquet_text),
        ("typed.parquet", _parquet_typed),
    ],
)
def test_same_file_in_other_shapes_gives_identical_rows(tmp_path, parsed, name, make):
    path = make(FOCUS_SAMPLE, tmp_path / name)
    assert detect_format(path) == "focus"
    table = read_all(path, chunk_rows=333)
    assert table.schema.equals(CANONICAL_SCHEMA)
    assert table.to_pylist() == parsed.to_pylist()


def test_alias_shadowed_by_the_real_column_is_an_extra(tmp_path, parsed):
    header, rows = raw_header_and_rows(FOCUS_SAMPLE)
    renamed = ["Region" if h == "RegionName" else h for h in header]
    path = write_csv(tmp_path / "both.csv", [*renamed, "RegionName"], [[*r, "Elsewhere"] for r in rows])
    table = read_all(path)
    assert table["region_name"].to_pylist() == ["Elsewhere"] * len(rows)
    assert json.loads(table["extras"][0].as_py()) == {
        "Id": rows[0][header.index("Id")],
        "Region": rows[0][header.index("RegionName")],
    }


def test_service_provider_name_wins_over_the_deprecated_provider_name(tmp_path, parsed):
    """FOCUS 1.3 deprecates ProviderName, "replaced by ServiceProviderName": with both, the newer one is the
    provider and the deprecated value is kept in extras."""
    header, rows = raw_header_and_rows(FOCUS_SAMPLE)
    path = write_csv(tmp_path / "both.csv", [*header, "ServiceProviderName"], [[*r, "Other Co"] for r in rows])
    table = read_all(path)
    assert table["provider_name"].to_pylist() == ["Other Co"] * len(rows)
    assert json.loads(table["extras"][0].as_py()) == {
        "Id": rows[0][header.index("Id")],
        "ProviderName": rows[0][header.index("ProviderName")],
    }


def test_focus_1_3_provider_alias(tmp_path, parsed):
    header, rows = raw_header_and_rows(FOCUS_SAMPLE)
    path = write_csv(tmp_path / "v13.csv", ["ServiceProviderName" if h == "ProviderName" else h for h in header], rows)
    assert read_all(path)["provider_name"].to_pylist() == parsed["provider_name"].to_pylist()


def test_explicit_format_is_honoured(parsed):
    assert read_all(FOCUS_SAMPLE, fmt="focus").to_pylist() == parsed.to_pylist()
    with pytest.raises(IngestError, match="missing AWS CUR columns"):
        read_all(FOCUS_SAMPLE, fmt="aws-cur")


# ---------------------------------------------------------------------------------------- spec examples

SPEC_FILES = sorted(SPEC_EXAMPLES.rglob("*.csv")) if SPEC_EXAMPLES.is_dir() else []


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_spec_examples_are_refused_with_a_precise_reason(path):
    """The spec's worked examples are partial (columns left out) or use display formats
    ("$10,000.00 ", "5/1/25"): each is refused, naming the file and what is wrong."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    mandatory_missing = [
        c
        for c in ("BillingAccountId", "ChargeClass", "ServiceCategory", "ServiceName", "PricingUnit")
        if c not in header
    ]
    with pytest.raises(IngestError) as caught:
        read_all(path)
    error = caught.value
    assert error.file and Path(error.file).name == path.name
    if mandatory_missing:
        assert "missing mandatory FOCUS columns" in str(error)
        for column in mandatory_missing:
            assert column in str(error)
    else:  # complete header: the first bad value is named by row and column
        assert error.row == 1
        assert error.column in header
        assert ("not a date/time" in error.message) or ("not a number" in error.message)


def test_parquet_float_costs_read_as_their_shortest_text(tmp_path):
    """AWS's Parquet FOCUS export types costs as double: 2.675 is stored as 2.67499999999999982...
    but means 2.675; a 17th decimal digit (0.1 + 0.2) is rounded half-even to 16 places."""
    header, rows = raw_header_and_rows(FOCUS_SAMPLE)
    rows = rows[:3]
    columns = {name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(header)}
    columns["BilledCost"] = pa.array([2.675, 0.1 + 0.2, -1e-7])
    path = tmp_path / "floats.parquet"
    pq.write_table(pa.table(columns), path)
    assert read_all(path)["billed_cost"].to_pylist() == [
        Decimal("2.675"),
        Decimal("0.3"),
        Decimal("-0.0000001"),
    ]


def test_provider_instance_type_column_fills_instance_type(tmp_path):
    with open(FOCUS_SAMPLE, encoding="utf-8", newline="") as handle:
        rows = [dict(r) for r, _ in zip(csv.DictReader(handle), range(3), strict=False)]
    for row, value in zip(rows, ["m5.large", "NULL", "c5.xlarge"], strict=True):
        row["x_InstanceType"] = value
    path = tmp_path / "with-instance.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = next(read_chunks(path)).table
    assert table["instance_type"].to_pylist() == ["m5.large", None, "c5.xlarge"]
    assert all("x_InstanceType" not in (extras or "") for extras in table["extras"].to_pylist())
