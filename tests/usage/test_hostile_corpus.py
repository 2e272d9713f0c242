"""The hostile-input corpus: every bad file a user or an attacker may send, generated here (no committed
binaries) and ingested, through the ingest command and through the upload service the Data page and the API
share, into an organization that already holds a good delivery.

Each case asserts that the refusal names the problem (file, and row, column and value where there is one),
that the failed job keeps the same message, and that line items, rollups, slices, succeeded jobs and
organizations are exactly as before.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.core.money import MoneySum
from finops.usage.formats.errors import IngestError
from finops.usage.models import BillingSlice, DailyCost, DailyTagCost, IngestJob, LineItem
from finops.usage.services import billing_upload_create, ingest_job_run
from tests import factories
from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE, SHARED_DATA
from tests.usage.helpers import decimal_sum, read_rows, write_csv

pytestmark = pytest.mark.django_db

ORG = "kept"
FOCUS_ROWS = read_rows(FOCUS_SAMPLE)
GOOD_ROWS = FOCUS_ROWS[180:220]  # with non-zero effective costs too
# The hostile FOCUS files are other rows of the sample, so none is a duplicate of the good delivery.
OTHER_ROWS = FOCUS_ROWS[40:60]
AZURE_EA_ACTUAL = SHARED_DATA / "azure" / "EA_ActualCost_Small.csv"
BIG = "9999999999999999999999"  # 22 integer digits: the largest whole amount stored exactly
# Fits before rounding; rounded half-even to the 16 stored places it becomes 10^22, one digit too many.
ROUNDS_PAST_22_DIGITS = "9999999999999999999999.99999999999999999"


# ----------------------------------------------------------------------------------------- builders


def csv_bytes(rows: list[dict[str, str]], fieldnames: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames or list(rows[0]), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def with_row(row: int, **values: str) -> Callable[[], bytes]:
    """OTHER_ROWS with data row ``row`` (1-based) changed."""

    def build() -> bytes:
        rows = [dict(r) for r in OTHER_ROWS]
        rows[row - 1].update(values)
        return csv_bytes(rows)

    return build


def overflowing() -> bytes:
    """Three identical rows of BIG on one day: each fits, their daily sum does not."""
    return csv_bytes([{**OTHER_ROWS[0], "BilledCost": BIG} for _ in range(3)])


def cut_mid_row() -> bytes:
    text = csv_bytes(OTHER_ROWS)
    last_line = text.rstrip(b"\n").rfind(b"\n") + 1
    return text[: last_line + 40]  # the last row stops after 40 bytes


def cut_inside_quotes() -> bytes:
    rows = [dict(r) for r in OTHER_ROWS]
    rows[-1]["ChargeDescription"] = "Compute, per hour"  # the comma makes the writer quote it
    text = csv_bytes(rows)
    return text[: text.rindex(b'"Compute, per') + 8]


def gzip_cut() -> bytes:
    return gzip.compress(csv_bytes(OTHER_ROWS))[:-40]


def gzip_damaged() -> bytes:
    data = bytearray(gzip.compress(csv_bytes(OTHER_ROWS * 20)))
    data[300:340] = bytes(40)
    return bytes(data)


def repeated_rows(rows: int) -> bytes:
    """The same line again and again: text that compresses several hundred times."""
    lines = csv_bytes([OTHER_ROWS[0]]).split(b"\n")
    return lines[0] + b"\n" + (lines[1] + b"\n") * rows


def gzip_bomb() -> bytes:
    # Past the 16 MiB every file may expand to before the ratio is checked, at the default ratio of 100.
    return gzip.compress(repeated_rows(60_000), 9)


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bomb.csv", repeated_rows(60_000))
    return buffer.getvalue()


def gzip_over_one_mib() -> bytes:
    return gzip.compress(repeated_rows(5_000), 9)


def zip_damaged() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bill.csv", csv_bytes(OTHER_ROWS))
    return buffer.getvalue()[:-60]  # the central directory is at the end


def utf16() -> bytes:
    return csv_bytes(OTHER_ROWS).decode("utf-8").encode("utf-16")


def utf16_without_bom() -> bytes:
    return csv_bytes(OTHER_ROWS).decode("utf-8").encode("utf-16-le")


def latin1_value() -> bytes:
    rows = [dict(r) for r in OTHER_ROWS]
    rows[4]["ChargeDescription"] = "Caf\N{LATIN SMALL LETTER E WITH ACUTE} hours"
    return csv_bytes(rows).replace("Caf\N{LATIN SMALL LETTER E WITH ACUTE}".encode(), b"Caf\xe9")


def latin1_header() -> bytes:
    text = csv_bytes(OTHER_ROWS)
    return text.replace(b"ChargeDescription", b"ChargeDescripci\xf3n", 1)


def binary_noise() -> bytes:
    return random.Random(14).randbytes(8_000)


def png_named_csv() -> bytes:
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
    return header + random.Random(7).randbytes(4_000)


def header_only() -> bytes:
    return csv_bytes(OTHER_ROWS).split(b"\n", 1)[0] + b"\n"


def duplicate_column() -> bytes:
    text = csv_bytes(OTHER_ROWS)
    header, body = text.split(b"\n", 1)
    return header.replace(b",Tags", b",BilledCost") + b"\n" + body


def cur_missing_columns() -> bytes:
    rows = read_rows(CUR_SAMPLE)[:10]
    fields = [f for f in rows[0] if f not in ("lineItem/UnblendedCost", "lineItem/UsageStartDate")]
    return csv_bytes(rows, fields)


def azure_rows(row: int = 0, **values: str) -> Callable[[], bytes]:
    """Microsoft's EA actual cost sample with data row ``row`` (1-based) changed."""

    def build() -> bytes:
        rows = read_rows(AZURE_EA_ACTUAL)
        if row:
            rows[row - 1].update(values)
        return csv_bytes(rows)

    return build


def azure_cut_mid_row() -> bytes:
    text = azure_rows()()
    return text[: text.rstrip(b"\n").rfind(b"\n") + 60]


def azure_missing_cost() -> bytes:
    rows = read_rows(AZURE_EA_ACTUAL)
    return csv_bytes(rows, [f for f in rows[0] if f != "Cost"])


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def parquet_unknown_schema() -> bytes:
    return parquet_bytes(pa.table({"account": ["a", "b"], "amount": [1.5, 2.5]}))


def parquet_focus_missing_columns() -> bytes:
    columns = {name: [r[name] for r in OTHER_ROWS] for name in OTHER_ROWS[0] if name != "BilledCost"}
    return parquet_bytes(pa.table(columns))


def parquet_wrong_type() -> bytes:
    columns = {name: pa.array([r[name] for r in OTHER_ROWS]) for name in OTHER_ROWS[0]}
    columns["BilledCost"] = pa.array([True] * len(OTHER_ROWS))
    return parquet_bytes(pa.table(columns))


def parquet_repeated(rows: int, **options: object) -> bytes:
    """The same FOCUS row again and again as Parquet: a few KB on disk, megabytes once decoded."""
    table = pa.table({name: pa.array([value] * rows, pa.string()) for name, value in OTHER_ROWS[0].items()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def parquet_bomb() -> bytes:
    # Dictionary and run-length encoded: the pages themselves are small, the decoded table is not.
    return parquet_repeated(60_000)


def parquet_over_one_mib() -> bytes:
    return parquet_repeated(5_000, use_dictionary=False, compression="zstd")


def parquet_rounding_past_22_digits() -> bytes:
    columns = {name: pa.array([r[name] for r in OTHER_ROWS]) for name in OTHER_ROWS[0]}
    costs = [Decimal(r["BilledCost"]) for r in OTHER_ROWS]
    costs[8] = Decimal(ROUNDS_PAST_22_DIGITS)
    columns["BilledCost"] = pa.array(costs, pa.decimal256(40, 17))
    return parquet_bytes(pa.table(columns))


def parquet_cut() -> bytes:
    data = parquet_bytes(pa.table({name: [r[name] for r in OTHER_ROWS] for name in OTHER_ROWS[0]}))
    return data[: len(data) // 2]


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    build: Callable[[], bytes]
    expected: tuple[str, ...]  # fragments the refusal must hold (the file name is always checked)
    settings: dict[str, int] = field(default_factory=dict)


def _value_case(name: str, row: int, column: str, values: dict[str, str], *problem: str) -> Case:
    return Case(name, f"{name}.csv", with_row(row, **values), (f"row {row}", f"column {column}", *problem))


CASES = [
    _value_case("currency-name", 3, "BillingCurrency", {"BillingCurrency": "US Dollar"}, "'US Dollar'", "ISO 4217"),
    _value_case("category", 5, "ChargeCategory", {"ChargeCategory": "Bogus"}, "'Bogus' is not one of Usage, Purchase"),
    _value_case(
        "charge-end-before-start",
        2,
        "ChargePeriodEnd",
        {"ChargePeriodStart": "2024-09-05 00:00:00", "ChargePeriodEnd": "2024-09-04 00:00:00"},
        "2024-09-04 00:00:00+00:00 is before ChargePeriodStart 2024-09-05 00:00:00+00:00",
    ),
    _value_case(
        "billing-end-before-start",
        7,
        "BillingPeriodEnd",
        {"BillingPeriodStart": "2024-10-01 00:00:00", "BillingPeriodEnd": "2024-09-01 00:00:00"},
        "2024-09-01 00:00:00+00:00 is not after BillingPeriodStart",
    ),
    _value_case(
        "year-1900",
        4,
        "ChargePeriodStart",
        {"ChargePeriodStart": "1900-01-01 00:00:00", "ChargePeriodEnd": "1900-01-01 01:00:00"},
        "1900-01-01 00:00:00+00:00 is before 2000",
    ),
    _value_case(
        "year-9999",
        6,
        "ChargePeriodStart",
        {"ChargePeriodStart": "9999-12-30 00:00:00", "ChargePeriodEnd": "9999-12-31 00:00:00"},
        "9999-12-30 00:00:00+00:00",
        "after its billing period",
    ),
    Case(
        "sum-overflow",
        "overflow.csv",
        overflowing,
        ("column BilledCost", "adds up to 29999999999999999999997", "beyond the 22 integer digits stored exactly"),
    ),
    _value_case(
        "rounds-past-22-digits",
        3,
        "BilledCost",
        {"BilledCost": ROUNDS_PAST_22_DIGITS},
        f"number out of range: '{ROUNDS_PAST_22_DIGITS}'",
        "23 integer digits",
    ),
    Case(
        "parquet-rounds-past-22-digits",
        "decimal256.parquet",
        parquet_rounding_past_22_digits,
        ("row 9", "column BilledCost", "number out of range", "23 integer digits"),
    ),
    Case("csv-cut-mid-row", "cut.csv", cut_mid_row, (f"row {len(OTHER_ROWS)}", "expected 44 fields", "truncated")),
    Case(
        "csv-cut-in-quotes",
        "cutq.csv",
        cut_inside_quotes,
        (f"row {len(OTHER_ROWS)}", "unterminated quoted value", "truncated"),
    ),
    Case("gzip-cut", "cut.csv.gz", gzip_cut, ("truncated or corrupt gzip",)),
    Case("gzip-damaged", "damaged.csv.gz", gzip_damaged, ("truncated or corrupt gzip",)),
    Case(
        "gzip-bomb", "bomb.csv.gz", gzip_bomb, ("expands more than 100x", "zip bomb", "FINOPS_MAX_DECOMPRESSION_RATIO")
    ),
    Case("zip-bomb", "bomb.zip", zip_bomb, ("expands more than 100x", "zip bomb")),
    Case(
        "decompressed-over-limit",
        "large.csv.gz",
        gzip_over_one_mib,
        ("expands to more than 1,048,576 bytes", "FINOPS_MAX_DECOMPRESSED_BYTES"),
        {"FINOPS_MAX_DECOMPRESSED_BYTES": 1024 * 1024},
    ),
    Case("zip-damaged", "damaged.zip", zip_damaged, ("truncated or corrupt zip",)),
    Case("utf-16", "utf16.csv", utf16, ("UTF-16", "UTF-8")),
    Case("utf-16-without-bom", "utf16le.csv", utf16_without_bom, ("UTF-16", "UTF-8")),
    Case(
        "latin-1-value",
        "latin1.csv",
        latin1_value,
        ("row 5", "column ChargeDescription", "not valid UTF-8 text (byte 0xe9 at byte 4 of the value)", "Latin-1"),
    ),
    Case("latin-1-header", "latin1-header.csv", latin1_header, ("header is not UTF-8", "b'\\xf3'")),
    Case("binary-noise", "noise.csv", binary_noise, ("binary", "not CSV text")),
    Case("png-named-csv", "picture.csv", png_named_csv, ("binary", "not CSV text")),
    Case("empty", "empty.csv", bytes, ("empty file",)),
    Case("header-only", "header.csv", header_only, ("no data rows",)),
    Case("duplicate-column", "duplicate.csv", duplicate_column, ("duplicate column names in the header: BilledCost",)),
    Case(
        "cur-missing-columns",
        "cur.csv",
        cur_missing_columns,
        ("missing AWS CUR columns", "lineItem/UnblendedCost", "lineItem/UsageStartDate"),
    ),
    Case("azure-text-cost", "azure.csv", azure_rows(7, Cost="n/a"), ("row 7", "column Cost", "not a number: 'n/a'")),
    Case(
        "azure-two-currencies",
        "azure.csv",
        azure_rows(5, BillingCurrency="EUR"),
        ("row 5", "column BillingCurrency", "billing account 8611537 is billed in USD (row 1) and in EUR"),
    ),
    Case("azure-cut-mid-row", "azure.csv", azure_cut_mid_row, ("row 11", "expected 55 fields", "truncated")),
    Case("azure-missing-cost", "azure.csv", azure_missing_cost, ("missing Azure cost export columns", "a cost")),
    Case("parquet-unknown-schema", "other.parquet", parquet_unknown_schema, ("no known billing export format",)),
    Case(
        "parquet-missing-column",
        "nocost.parquet",
        parquet_focus_missing_columns,
        ("missing mandatory FOCUS columns: BilledCost",),
    ),
    Case("parquet-wrong-type", "booleans.parquet", parquet_wrong_type, ("row 1", "column BilledCost")),
    Case("parquet-cut", "cut.parquet", parquet_cut, ("not a readable Parquet file",)),
    Case("parquet-bomb", "bomb.parquet", parquet_bomb, ("expands more than 100x", "zip bomb")),
    Case(
        "parquet-over-limit",
        "large.parquet",
        parquet_over_one_mib,
        ("expands to more than 1,048,576 bytes", "FINOPS_MAX_DECOMPRESSED_BYTES"),
        {"FINOPS_MAX_DECOMPRESSED_BYTES": 1024 * 1024},
    ),
]


# ---------------------------------------------------------------------------------------------- state


def snapshot() -> tuple:
    """Everything an ingest writes, and the organizations and finished jobs there are."""
    return (
        LineItem.objects.count(),
        LineItem.objects.aggregate(t=MoneySum("billed_cost"))["t"],
        LineItem.objects.aggregate(t=MoneySum("effective_cost"))["t"],
        DailyCost.objects.count(),
        DailyCost.objects.aggregate(t=MoneySum("billed_cost"))["t"],
        DailyTagCost.objects.count(),
        sorted(BillingSlice.objects.values_list("provider_name", "billing_account_id", "job_id", "rows")),
        sorted(Organization.objects.values_list("slug", flat=True)),
        sorted(IngestJob.objects.filter(status="succeeded").values_list("pk", "rows_read")),
    )


@pytest.fixture(scope="class")
def kept(django_db_setup, django_db_blocker, tmp_path_factory):
    """An organization holding a good delivery, checked against sums of the file itself: ingested once for the
    class and committed (each test's own writes roll back with its transaction), deleted after its last test."""
    with django_db_blocker.unblock():
        factories.ingest_command(ORG, write_csv(tmp_path_factory.mktemp("kept") / "good.csv", GOOD_ROWS))
        assert LineItem.objects.count() == len(GOOD_ROWS)
        assert LineItem.objects.aggregate(t=MoneySum("billed_cost"))["t"] == decimal_sum(GOOD_ROWS, "BilledCost")
        effective = DailyCost.objects.aggregate(t=MoneySum("effective_cost"))["t"]
        assert effective == decimal_sum(GOOD_ROWS, "EffectiveCost")
        before = snapshot()
    yield before
    with django_db_blocker.unblock():
        factories.delete_organizations(list(Organization.objects.filter(slug=ORG)))
        assert not (Organization.objects.exists() or IngestJob.objects.exists() or LineItem.objects.exists())


def _through_the_command(path: Path) -> str:
    with pytest.raises(CommandError) as refused:
        factories.ingest_command(ORG, path)
    assert refused.value.returncode == 2
    return str(refused.value)


def _through_an_upload(path: Path) -> str:
    """The Data page's and the API's path: the upload service, then the job (as the worker runs it)."""
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    job = billing_upload_create(organization=Organization.objects.get(slug=ORG), files=[upload], user=None)
    with pytest.raises(IngestError):
        ingest_job_run(job, followups=False)
    job.refresh_from_db()
    return job.error


class TestIntoAnOrganizationWithAGoodDelivery:
    """The organization ``kept`` holds a good delivery (the class fixture); a refused file changes nothing in it."""

    @pytest.mark.parametrize("via", [_through_the_command, _through_an_upload], ids=["command", "upload"])
    @pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
    def test_a_hostile_file_is_refused_by_name_and_changes_nothing(self, kept, case, via, tmp_path, settings):
        settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
        for name, value in case.settings.items():
            setattr(settings, name, value)
        path = tmp_path / "in" / case.file
        path.parent.mkdir()
        path.write_bytes(case.build())
        message = via(path)
        for fragment in (case.file, *case.expected):
            assert fragment in message
        assert snapshot() == kept
        failed = IngestJob.objects.get(status="failed")
        assert failed.error == message and failed.rows_written == 0
        if via is _through_an_upload:
            # Named as uploaded, never by the server's folders; the upload is deleted with its ended job.
            assert message.startswith(f"file {case.file}") and str(tmp_path) not in message
            assert list((tmp_path / "ingest" / "uploads").iterdir()) == []

    def test_a_lower_case_currency_is_the_same_currency_not_a_second_one(self, kept, tmp_path):
        rows = [{**r, "BillingCurrency": r["BillingCurrency"].lower()} for r in OTHER_ROWS]
        factories.ingest_command(ORG, write_csv(tmp_path / "lower.csv", rows))
        assert set(LineItem.objects.values_list("billing_currency", flat=True)) == {"USD"}
        # The same billing slice: the later delivery replaces the good one.
        expected = decimal_sum(OTHER_ROWS, "BilledCost")
        assert DailyCost.objects.filter(billing_currency="USD").aggregate(t=MoneySum("billed_cost"))["t"] == expected


@pytest.mark.parametrize("name", ["currency-name", "sum-overflow", "decompressed-over-limit"])
def test_a_hostile_first_delivery_leaves_no_organization_and_no_job(name, tmp_path, settings):
    case = next(c for c in CASES if c.name == name)
    for name, value in case.settings.items():
        setattr(settings, name, value)
    path = tmp_path / case.file
    path.write_bytes(case.build())
    with pytest.raises(CommandError):
        factories.ingest_command("newcomer", path)
    assert not Organization.objects.exists() and not IngestJob.objects.exists() and not LineItem.objects.exists()
