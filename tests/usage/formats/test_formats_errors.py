"""Bad input: every case raises IngestError (never a raw pyarrow/pandas error) naming the file and, where
it applies, the data row (1-based, header not counted) and the column."""

from __future__ import annotations

import codecs
import gzip
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from formats_helpers import read_all, write_csv

from finops.usage.formats import IngestError, UnknownFormatError, detect_format, read_chunks
from finops.usage.formats.errors import TooLargeError
from finops.usage.formats.focus import MANDATORY_COLUMNS
from finops.usage.formats.readers import ExpansionLimits

HEADER = [*MANDATORY_COLUMNS, "Tags"]


def focus_row(i: int = 1, **values: str) -> list[str]:
    row = {
        "BilledCost": "1.25",
        "BillingAccountId": "acct-1",
        "BillingAccountName": "Main",
        "BillingCurrency": "USD",
        "BillingPeriodStart": "2024-09-01T00:00:00Z",
        "BillingPeriodEnd": "2024-10-01T00:00:00Z",
        "ChargePeriodStart": "2024-09-02T00:00:00Z",
        "ChargePeriodEnd": "2024-09-03T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": f"line {i}",
        "ContractedCost": "1.25",
        "EffectiveCost": "1.25",
        "ListCost": "1.50",
        "InvoiceIssuerName": "Cloud Inc.",
        "ProviderName": "Cloud",
        "PublisherName": "Cloud",
        "PricingQuantity": "1",
        "PricingUnit": "Hours",
        "ServiceCategory": "Compute",
        "ServiceName": "VMs",
        "Tags": '{"team": "web"}',
    }
    row.update(values)
    return [row[c] for c in HEADER]


def focus_file(tmp_path: Path, rows: list[list[str]], name: str = "focus.csv", header=HEADER) -> Path:
    return write_csv(tmp_path / name, list(header), rows)


def refused(path: Path, **kwargs) -> IngestError:
    with pytest.raises(IngestError) as caught:
        read_all(path, **kwargs)
    error = caught.value
    assert error.file == str(path)
    assert str(path) in str(error)
    return error


def test_valid_minimal_file_parses(tmp_path):
    table = read_all(focus_file(tmp_path, [focus_row(1), focus_row(2)]))
    assert table.num_rows == 2
    assert table["tags"].to_pylist() == ['{"team":"web"}'] * 2


def test_missing_mandatory_columns_are_all_named(tmp_path):
    keep = [i for i, c in enumerate(HEADER) if c not in ("BillingCurrency", "ServiceName")]
    path = focus_file(tmp_path, [[focus_row()[i] for i in keep]], header=[HEADER[i] for i in keep])
    error = refused(path)
    assert "missing mandatory FOCUS columns: BillingCurrency, ServiceName" in str(error)
    assert error.row is None


def test_header_only_file(tmp_path):
    error = refused(focus_file(tmp_path, []))
    assert "no data rows" in str(error)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty file" in str(refused(path))
    with pytest.raises(IngestError, match="empty file"):
        detect_format(path)


def test_gzip_of_nothing(tmp_path):
    path = tmp_path / "nothing.csv.gz"
    path.write_bytes(gzip.compress(b""))
    assert "empty file" in str(refused(path))


def _big_focus_gz(tmp_path: Path) -> bytes:
    plain = focus_file(tmp_path, [focus_row(i) for i in range(1, 20_001)], name="big.csv")
    return gzip.compress(plain.read_bytes())


def test_truncated_gzip(tmp_path):
    data = _big_focus_gz(tmp_path)
    path = tmp_path / "truncated.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt gzip" in str(refused(path))


def test_gzip_cut_inside_its_header(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(_big_focus_gz(tmp_path)[:12])
    assert "truncated or corrupt gzip" in str(refused(path))


def test_corrupt_gzip(tmp_path):
    data = bytearray(_big_focus_gz(tmp_path))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path = tmp_path / "corrupt.csv.gz"
    path.write_bytes(bytes(data))
    assert "truncated or corrupt gzip" in str(refused(path))


def test_gz_name_on_a_file_that_is_not_gzip(tmp_path):
    path = tmp_path / "plain.csv.gz"
    path.write_bytes(focus_file(tmp_path, [focus_row()]).read_bytes())
    assert "truncated or corrupt gzip" in str(refused(path))


def test_latin1_byte_names_row_and_column(tmp_path):
    path = focus_file(tmp_path, [focus_row(1), focus_row(2), focus_row(3)])
    path.write_bytes(path.read_bytes().replace(b"line 3", b"caf\xe9 3"))
    error = refused(path)
    assert (error.row, error.column) == (3, "ChargeDescription")
    assert "UTF-8" in error.message


def test_latin1_byte_in_the_header(tmp_path):
    path = tmp_path / "header.csv"
    path.write_bytes(focus_file(tmp_path, [focus_row()]).read_bytes().replace(b"Tags", b"T\xe4gs", 1))
    assert "header is not UTF-8" in str(refused(path))


def test_utf16_file(tmp_path):
    plain = focus_file(tmp_path, [focus_row()]).read_text(encoding="utf-8")
    path = tmp_path / "utf16.csv"
    path.write_bytes(plain.encode("utf-16"))
    assert "UTF-16" in str(refused(path))
    with pytest.raises(IngestError, match="UTF-16"):
        detect_format(path)


def test_utf8_bom_is_accepted(tmp_path):
    path = focus_file(tmp_path, [focus_row()])
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    assert read_all(path)["billed_cost"].to_pylist() == [Decimal("1.25")]


@pytest.mark.parametrize("value", ["2024-13-45 00:00:00", "yesterday", "5/1/25", "2023-02-01T30:00:00Z"])
def test_unparseable_date(tmp_path, value):
    path = focus_file(tmp_path, [focus_row(1), focus_row(2, ChargePeriodStart=value)])
    error = refused(path)
    assert (error.row, error.column) == (2, "ChargePeriodStart")
    assert repr(value) in error.message


@pytest.mark.parametrize("value", ["12,50", "$1.00", "1.2.3", "NaN", "1e5x"])
def test_unparseable_number(tmp_path, value):
    rows = [focus_row(i) for i in range(1, 4)] + [focus_row(4, BilledCost=value)]
    error = refused(focus_file(tmp_path, rows))
    assert (error.row, error.column) == (4, "BilledCost")
    assert repr(value) in error.message


@pytest.mark.parametrize(
    ("column", "value"), [("BillingCurrency", ""), ("EffectiveCost", "NULL"), ("ProviderName", "")]
)
def test_null_in_a_required_column(tmp_path, column, value):
    error = refused(focus_file(tmp_path, [focus_row(1), focus_row(2, **{column: value})]))
    assert (error.row, error.column) == (2, column)
    assert "missing value" in error.message


def test_null_allowed_in_optional_columns(tmp_path):
    table = read_all(focus_file(tmp_path, [focus_row(1, ContractedCost="NULL", ChargeDescription="", Tags="")]))
    row = table.to_pylist()[0]
    assert (row["contracted_cost"], row["charge_description"], row["tags"]) == (None, None, None)


@pytest.mark.parametrize("found", [len(HEADER) + 1, len(HEADER) - 1])
def test_row_with_the_wrong_number_of_fields(tmp_path, found):
    bad = [*focus_row(3), "surplus"][:found]
    rows = [focus_row(1), focus_row(2), bad, focus_row(4)]
    error = refused(focus_file(tmp_path, rows))
    assert error.row == 3
    assert f"expected {len(HEADER)} fields, found {found}" in error.message


def test_unterminated_quote(tmp_path):
    path = focus_file(tmp_path, [focus_row(1), focus_row(2)])
    path.write_bytes(path.read_bytes() + b'3.5,"acct-1,Main\n')
    error = refused(path)
    assert error.row == 3


def test_unknown_header(tmp_path):
    path = write_csv(tmp_path / "sales.csv", ["date", "region", "amount"], [["2024-01-01", "EU", "3"]])
    with pytest.raises(UnknownFormatError) as caught:
        read_all(path)
    assert caught.value.file == str(path)
    assert "tried: focus, aws-cur" in str(caught.value)
    assert "date, region, amount" in str(caught.value)
    with pytest.raises(UnknownFormatError):
        detect_format(path)


def test_duplicate_column_names(tmp_path):
    path = focus_file(tmp_path, [[*focus_row(), "x"]], header=[*HEADER, "BilledCost"])
    assert "duplicate column names in the header: BilledCost" in str(refused(path))


def test_unknown_requested_format(tmp_path):
    with pytest.raises(IngestError, match="unknown format 'gcp'"):
        list(read_chunks(focus_file(tmp_path, [focus_row()]), "gcp"))


def test_numbers_negative_scientific_and_rounded(tmp_path):
    rows = [
        focus_row(1, BilledCost="-1.5"),
        focus_row(2, BilledCost="9.984E-7"),
        focus_row(3, BilledCost="0.12345678901234565"),  # 17 places: half-even to ...56
        focus_row(4, BilledCost="0.12345678901234575"),  # ... to ...58
        focus_row(5, BilledCost="1.99999999999999999"),
        focus_row(6, BilledCost=" 2.5 "),
        focus_row(7, BilledCost="-0.000000000000000049"),
        # more digits than decimal128 holds: pyarrow's own cast reads this as 0
        focus_row(8, BilledCost="0.0000000000000008666434069112564625469159295573622089203"),
    ]
    table = read_all(focus_file(tmp_path, rows))
    assert table["billed_cost"].to_pylist() == [
        Decimal("-1.5"),
        Decimal("0.0000009984"),
        Decimal("0.1234567890123456"),
        Decimal("0.1234567890123458"),
        Decimal("2"),
        Decimal("2.5"),
        Decimal("0"),
        Decimal("0.0000000000000009"),
    ]


def test_timestamps_with_offsets_are_converted_to_utc(tmp_path):
    END = "2024-09-19T00:00:00Z"
    rows = [
        focus_row(1, ChargePeriodStart="2024-09-18T22:00:00+02:00", ChargePeriodEnd=END),
        focus_row(2, ChargePeriodStart="2024-09-18 22:00:00", ChargePeriodEnd=END),
        focus_row(3, ChargePeriodStart="2024-09-18T22:00:00.1234567Z", ChargePeriodEnd=END),
        focus_row(4, ChargePeriodStart="2024-09-18", ChargePeriodEnd=END),
    ]
    table = read_all(focus_file(tmp_path, rows))
    assert table["charge_period_start"].to_pylist() == [
        datetime(2024, 9, 18, 20, tzinfo=UTC),
        datetime(2024, 9, 18, 22, tzinfo=UTC),
        datetime(2024, 9, 18, 22, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 9, 18, tzinfo=UTC),
    ]


@pytest.mark.parametrize(("tags", "problem"), [("{not json", "invalid JSON"), ("[1, 2]", "not a JSON object")])
def test_bad_tags(tmp_path, tags, problem):
    error = refused(focus_file(tmp_path, [focus_row(1), focus_row(2), focus_row(3, Tags=tags)]))
    assert (error.row, error.column) == (3, "Tags")
    assert problem in error.message


def test_zip_must_hold_exactly_one_csv(tmp_path):
    member = focus_file(tmp_path, [focus_row()])
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.write(member, "a.csv")
        archive.write(member, "b.csv")
    assert "exactly one CSV file; found 2: a.csv, b.csv" in str(refused(two))
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    assert "not a valid zip" in str(refused(empty)) or "exactly one CSV" in str(refused(empty))


def test_corrupt_zip(tmp_path):
    member = focus_file(tmp_path, [focus_row(i) for i in range(1, 5000)])
    path = tmp_path / "cut.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(member, "a.csv")
    path.write_bytes(path.read_bytes()[:-200])  # central directory gone
    assert "zip" in str(refused(path))


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"BilledCost": ["1"]}), buffer)
    path.write_bytes(buffer.getvalue().to_pybytes()[:-30])
    assert "Parquet" in str(refused(path))


def test_error_deep_in_a_file_names_the_absolute_row(tmp_path):
    rows = [focus_row(i) for i in range(1, 50_001)]
    rows[39_999] = focus_row(40_000, EffectiveCost="oops")
    path = focus_file(tmp_path, rows)
    chunks = read_chunks(path, chunk_rows=10_000)
    first_rows = []
    with pytest.raises(IngestError) as caught:
        for chunk in chunks:
            first_rows.append(chunk.first_row)
    assert (caught.value.row, caught.value.column) == (40_000, "EffectiveCost")
    assert first_rows == [1, 10_001, 20_001]  # streamed: earlier chunks came out before the error


def test_tags_json_text_round_trip(tmp_path):
    table = read_all(focus_file(tmp_path, [focus_row(1, Tags='{"b": "2", "a": {"x": [1, 2]}, "c": null}')]))
    assert json.loads(table["tags"][0].as_py()) == {"a": {"x": [1, 2]}, "b": "2", "c": None}


def test_latin1_byte_deep_in_a_file(tmp_path):
    """Past the first blocks the reader has already handed out rows: the row is still exact."""
    rows = [focus_row(i) for i in range(1, 30_001)]
    path = focus_file(tmp_path, rows)
    path.write_bytes(path.read_bytes().replace(b"line 29876,", b"line \xff29876,"))
    error = refused(path)
    assert (error.row, error.column) == (29_876, "ChargeDescription")


@pytest.mark.parametrize("value", ["123456789012345678901234567", "1e22", "-99999999999999999999999.5"])
def test_number_too_large_to_store_is_refused_not_garbled(tmp_path, value):
    """pyarrow's own text -> decimal128 cast returns a wrong number for the first of these."""
    error = refused(focus_file(tmp_path, [focus_row(1), focus_row(2, ListCost=value)]))
    assert (error.row, error.column) == (2, "ListCost")
    assert "out of range" in error.message


def test_parquet_decimal_too_large_is_refused(tmp_path):
    header = list(HEADER)
    rows = [focus_row(1), focus_row(2)]
    columns = {name: pa.array([r[i] for r in rows]) for i, name in enumerate(header)}
    big = Decimal("123456789012345678901234567")
    columns["BilledCost"] = pa.array([Decimal("1.25"), big], pa.decimal128(38, 2))
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table(columns), path)
    error = refused(path)
    assert (error.row, error.column) == (2, "BilledCost")


# --- FOCUS value rules, for every format (the canonical table) ------------------------------------------


def test_a_lower_case_currency_is_the_same_currency(tmp_path):
    table = read_all(focus_file(tmp_path, [focus_row(1), focus_row(2, BillingCurrency="usd")]))
    assert table["billing_currency"].to_pylist() == ["USD", "USD"]


@pytest.mark.parametrize(
    ("values", "column", "message"),
    [
        ({"BillingCurrency": "US Dollar"}, "BillingCurrency", "not an ISO 4217 currency code: 'US Dollar'"),
        ({"BillingCurrency": "U$D"}, "BillingCurrency", "not an ISO 4217 currency code: 'U$D'"),
        (
            {"ChargeCategory": "Bogus"},
            "ChargeCategory",
            "'Bogus' is not one of Usage, Purchase, Tax, Credit, Adjustment",
        ),
        ({"ChargeClass": "Refund"}, "ChargeClass", "'Refund' is not one of Correction"),
        (
            {"ChargePeriodStart": "2024-09-05T00:00:00Z", "ChargePeriodEnd": "2024-09-04T00:00:00Z"},
            "ChargePeriodEnd",
            "2024-09-04 00:00:00+00:00 is before ChargePeriodStart 2024-09-05 00:00:00+00:00",
        ),
        (
            {"BillingPeriodStart": "2024-10-01T00:00:00Z", "BillingPeriodEnd": "2024-09-01T00:00:00Z"},
            "BillingPeriodEnd",
            "is not after BillingPeriodStart",
        ),
        (
            {"ChargePeriodStart": "1900-01-01T00:00:00Z", "ChargePeriodEnd": "1900-01-02T00:00:00Z"},
            "ChargePeriodStart",
            "1900-01-01 00:00:00+00:00 is before 2000: not a real charge date",
        ),
        (
            {"ChargePeriodStart": "9999-12-30T00:00:00Z", "ChargePeriodEnd": "9999-12-31T00:00:00Z"},
            "ChargePeriodStart",
            "is after its billing period",
        ),
        (
            {"ChargePeriodStart": "2024-07-02T00:00:00Z", "ChargePeriodEnd": "2024-07-03T00:00:00Z"},
            "ChargePeriodStart",
            "only corrections, credits and adjustments may refer to an earlier period",
        ),
    ],
    ids=["currency-name", "currency-symbol", "category", "class", "charge-end", "billing-end", "1900", "9999", "early"],
)
def test_values_focus_forbids_are_refused_naming_row_column_and_value(tmp_path, values, column, message):
    error = refused(focus_file(tmp_path, [focus_row(1), focus_row(2), focus_row(3, **values)]))
    assert (error.row, error.column) == (3, column)
    assert message in error.message


def test_corrections_and_credits_may_refer_to_an_earlier_period_and_time_zones_may_skew(tmp_path):
    earlier = {"ChargePeriodStart": "2024-07-02T00:00:00Z", "ChargePeriodEnd": "2024-07-03T00:00:00Z"}
    rows = [
        focus_row(1, ChargeCategory="Credit", BilledCost="-2", EffectiveCost="-2", **earlier),
        focus_row(2, ChargeClass="Correction", **earlier),
        # Charges dated a few hours before their billing period, as in the FinOps Foundation's sample.
        focus_row(3, ChargePeriodStart="2024-08-31T22:00:00Z", ChargePeriodEnd="2024-08-31T23:00:00Z"),
        # Usage reported late, billed in the next period.
        focus_row(4, ChargePeriodStart="2024-08-10T00:00:00Z", ChargePeriodEnd="2024-08-10T01:00:00Z"),
    ]
    # A provider's virtual pricing currency (FOCUS 1.2) beside the ISO billing currency.
    rows = [[*row, "Credits"] for row in rows]
    table = read_all(focus_file(tmp_path, rows, header=[*HEADER, "PricingCurrency"]))
    assert table.num_rows == 4


# --- What a compressed file may expand to ------------------------------------------------------------------


def _bomb(tmp_path: Path, rows: int, kind: str) -> Path:
    """A file whose rows are all the same line: it compresses several hundred times."""
    text = ",".join(HEADER) + "\n" + (",".join(_quoted(focus_row(1))) + "\n") * rows
    if kind == "gzip":
        path = tmp_path / "bomb.csv.gz"
        path.write_bytes(gzip.compress(text.encode(), 9))
    else:
        path = tmp_path / "bomb.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            archive.writestr("bomb.csv", text)
    return path


def _quoted(values: list[str]) -> list[str]:
    return ['"' + v.replace('"', '""') + '"' for v in values]


@pytest.mark.parametrize("kind", ["gzip", "zip"])
def test_a_file_expanding_past_the_ratio_is_refused_as_a_zip_bomb(tmp_path, kind):
    path = _bomb(tmp_path, 60_000, kind)
    limits = ExpansionLimits(max_bytes=10**12, max_ratio=20, min_bytes=1024 * 1024)
    error = refused(path, limits=limits)
    assert isinstance(error, TooLargeError)
    assert "expands more than 20x its size on disk" in error.message and "zip bomb" in error.message
    # The same file within generous limits parses.
    assert read_all(path, limits=ExpansionLimits(max_bytes=10**12, max_ratio=10_000)).num_rows == 60_000


def test_a_file_expanding_past_the_byte_limit_is_refused(tmp_path):
    path = _bomb(tmp_path, 60_000, "gzip")
    error = refused(path, limits=ExpansionLimits(max_bytes=2 * 1024 * 1024, max_ratio=10_000))
    assert "expands to more than 2,097,152 bytes (FINOPS_MAX_DECOMPRESSED_BYTES)" in error.message


def test_a_damaged_gzip_is_named_as_such_even_when_a_bad_row_shows_first(tmp_path):
    """Row 3 has too many fields, and the gzip is cut short near its end: the refusal names the damage (a
    damaged stream's garbage is what makes rows look malformed), not the row."""
    rows = [focus_row(i) for i in range(1, 20_001)]
    rows[2] = [*rows[2], "extra"]
    plain = focus_file(tmp_path, rows, name="bad-row.csv")
    data = gzip.compress(plain.read_bytes())
    path = tmp_path / "bad-row.csv.gz"
    path.write_bytes(data[:-64])
    assert "truncated or corrupt gzip" in str(refused(path))
    # Intact, the same file is refused for its row.
    path.write_bytes(data)
    assert refused(path).row == 3


def _repeated_parquet(tmp_path: Path, rows: int, **options) -> Path:
    row = focus_row(1)
    table = pa.table({name: pa.array([row[i]] * rows, pa.string()) for i, name in enumerate(HEADER)})
    path = tmp_path / "repeated.parquet"
    pq.write_table(table, path, **options)
    return path


def test_a_parquet_file_decoding_past_the_ratio_is_refused_as_a_zip_bomb(tmp_path):
    """Dictionary and run-length encoding: the pages are small, the decoded table is not."""
    path = _repeated_parquet(tmp_path, 60_000)
    decoded = len(",".join(focus_row(1))) * 60_000  # the same table as CSV text, a lower bound of its Arrow size
    assert decoded > 20 * path.stat().st_size
    error = refused(path, limits=ExpansionLimits(max_bytes=10**12, max_ratio=20, min_bytes=1024 * 1024))
    assert isinstance(error, TooLargeError)
    assert "expands more than 20x its size on disk" in error.message and "zip bomb" in error.message
    assert read_all(path, limits=ExpansionLimits(max_bytes=10**12, max_ratio=10_000)).num_rows == 60_000


def test_a_parquet_file_declaring_more_than_the_byte_limit_is_refused_before_a_page_is_decoded(tmp_path):
    """Pages compressed many times over: refused from the sizes its footer declares. Its pages are damaged
    here, so reading any of them would fail differently."""
    path = _repeated_parquet(tmp_path, 20_000, use_dictionary=False, compression="zstd")
    metadata = pq.ParquetFile(path).metadata
    assert sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)) > 2 * 1024 * 1024
    data = bytearray(path.read_bytes())
    data[4:1004] = bytes(range(250)) * 4  # past the leading "PAR1": the first pages
    path.write_bytes(bytes(data))
    error = refused(path, limits=ExpansionLimits(max_bytes=1024 * 1024, max_ratio=10_000))
    assert isinstance(error, TooLargeError)
    assert "expands to more than 1,048,576 bytes (FINOPS_MAX_DECOMPRESSED_BYTES)" in error.message
    assert "corrupt Parquet data" in refused(path, limits=ExpansionLimits(max_bytes=10**12, max_ratio=10_000)).message


def test_a_parquet_decimal_whose_rounding_carries_past_its_precision_is_read(tmp_path):
    """decimal128(38, 17) holds 21 integer digits; rounded to 16 places this value needs 22, which the stored
    amount holds."""
    header = list(HEADER)
    rows = [focus_row(1), focus_row(2)]
    columns = {name: pa.array([r[i] for r in rows]) for i, name in enumerate(header)}
    nines = Decimal("999999999999999999999.99999999999999999")
    columns["BilledCost"] = pa.array([Decimal("1.25"), nines], pa.decimal128(38, 17))
    path = tmp_path / "carry.parquet"
    pq.write_table(pa.table(columns), path)
    assert read_all(path)["billed_cost"].to_pylist() == [Decimal("1.25"), Decimal(10) ** 21]
