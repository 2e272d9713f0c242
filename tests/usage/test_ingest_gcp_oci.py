"""Google Cloud billing exports and OCI cost reports ingested end to end, through the command and the upload
service: rows and per-currency totals equal Decimal sums of the raw file at full precision, a second delivery
is a duplicate, and bad input is refused by file, row and column with nothing written."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.core.money import MoneySum
from finops.usage.formats.errors import IngestError
from finops.usage.models import BillingSlice, DailyCost, IngestJob, LineItem
from finops.usage.services import billing_upload_create, ingest_job_run
from tests import factories
from tests.usage.formats.formats_helpers import GCP_SAMPLE, OCI_COST_SAMPLE, gcp_effective, gcp_json_record
from tests.usage.helpers import read_rows, write_csv

pytestmark = pytest.mark.django_db

ORG = "multicloud"
Totals = dict[str, dict[str, Decimal]]


def gcp_expected(rows: list[dict[str, str]]) -> Totals:
    totals: Totals = defaultdict(lambda: {"billed_cost": Decimal(0), "effective_cost": Decimal(0)})
    for r in rows:
        totals[r["currency"]]["billed_cost"] += Decimal(r["cost"])
        totals[r["currency"]]["effective_cost"] += gcp_effective(r)
    return dict(totals)


def oci_expected(rows: list[dict[str, str]]) -> Totals:
    """BilledCost the overage cost, EffectiveCost myCost; a row without currency (and without cost) counts in
    the currency the file names first."""
    first = next(r["cost/currencyCode"] for r in rows if r["cost/currencyCode"])
    totals: Totals = defaultdict(lambda: {"billed_cost": Decimal(0), "effective_cost": Decimal(0)})
    for r in rows:
        currency = r["cost/currencyCode"] or first
        totals[currency]["billed_cost"] += Decimal(r["cost/myCostOverage"] or 0)
        totals[currency]["effective_cost"] += Decimal(r["cost/myCost"])
    return dict(totals)


def gcp_ndjson(tmp_path: Path) -> Path:
    path = tmp_path / "gcp_billing_export.json"
    path.write_text("".join(json.dumps(gcp_json_record(r)) + "\n" for r in read_rows(GCP_SAMPLE)))
    return path


SAMPLES: dict[str, tuple[Callable[[Path], Path], Callable[[], list[dict[str, str]]], Callable, str]] = {
    "gcp-csv": (lambda _: GCP_SAMPLE, lambda: read_rows(GCP_SAMPLE), gcp_expected, "gcp-billing"),
    "gcp-ndjson": (gcp_ndjson, lambda: read_rows(GCP_SAMPLE), gcp_expected, "gcp-billing"),
    "oci-cost": (lambda _: OCI_COST_SAMPLE, lambda: read_rows(OCI_COST_SAMPLE), oci_expected, "oci-cost"),
}


def through_the_command(path: Path) -> dict:
    result = json.loads(factories.ingest_command(ORG, path))
    return {**{k: result[k] for k in ("status", "rows", "totals", "billing_periods")}, "format": None}


def through_an_upload(path: Path) -> dict:
    organization, _ = Organization.objects.get_or_create(slug=ORG, defaults={"name": ORG})
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    job = ingest_job_run(billing_upload_create(organization=organization, files=[upload], user=None), followups=False)
    return {
        "status": job.status,
        "rows": job.rows_written,
        "totals": job.totals,
        "billing_periods": job.billing_periods,
        "format": job.format,
    }


def snapshot() -> tuple:
    return (
        LineItem.objects.count(),
        LineItem.objects.aggregate(t=MoneySum("billed_cost"))["t"],
        DailyCost.objects.count(),
        sorted(BillingSlice.objects.values_list("provider_name", "billing_account_id", "rows")),
        sorted(IngestJob.objects.filter(status="succeeded").values_list("pk", flat=True)),
    )


@pytest.fixture
def ingest_dir(settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"


@pytest.mark.parametrize("via", [through_the_command, through_an_upload], ids=["command", "upload"])
@pytest.mark.parametrize("sample", list(SAMPLES))
def test_a_sample_is_ingested_with_the_files_totals(ingest_dir, tmp_path, sample, via):
    build, rows_of, expected_of, fmt = SAMPLES[sample]
    rows = rows_of()
    expected = expected_of(rows)
    result = via(build(tmp_path))
    assert result["status"] == "succeeded"
    assert result["rows"] == len(rows)
    assert result["format"] in (None, fmt)
    # One slice per (provider, billing account, billing period) of the file.
    provider = {"gcp-billing": "Google Cloud", "oci-cost": "Oracle"}[fmt]
    account = {"gcp-billing": "billing_account_id", "oci-cost": "cost/subscriptionId"}[fmt]
    slices = sorted(BillingSlice.objects.values_list("provider_name", "billing_account_id", "rows"))
    assert slices == sorted((provider, a, sum(r[account] == a for r in rows)) for a in {r[account] for r in rows})
    assert result["billing_periods"] == {"gcp-billing": ["2020-11-01"], "oci-cost": ["2022-04-01"]}[fmt]
    assert set(result["totals"]) == set(expected)
    for currency, sums in expected.items():
        for column, total in sums.items():
            assert Decimal(result["totals"][currency][column]) == total, (currency, column)
    # Stored at full precision: the line items and the rollups sum to the file's totals too.
    billed = sum(s["billed_cost"] for s in expected.values())
    effective = sum(s["effective_cost"] for s in expected.values())
    assert LineItem.objects.aggregate(t=MoneySum("billed_cost"))["t"] == billed
    assert LineItem.objects.aggregate(t=MoneySum("effective_cost"))["t"] == effective
    assert DailyCost.objects.aggregate(t=MoneySum("billed_cost"))["t"] == billed
    assert LineItem.objects.count() == len(rows)


def test_the_samples_exact_numbers():
    """The same totals, read off the files by eye: the free-trial credits cover every GCP cost."""
    assert gcp_expected(read_rows(GCP_SAMPLE)) == {"USD": {"billed_cost": Decimal("0.000032"), "effective_cost": 0}}
    oci = oci_expected(read_rows(OCI_COST_SAMPLE))
    assert oci == {"GBP": {"billed_cost": Decimal("0.000040641"), "effective_cost": Decimal("0.000040641")}}


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_the_same_delivery_twice_is_a_duplicate(ingest_dir, tmp_path, sample):
    path = SAMPLES[sample][0](tmp_path)
    first = json.loads(factories.ingest_command(ORG, path))
    before = snapshot()
    second = json.loads(factories.ingest_command(ORG, path))
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["job"]
    assert snapshot() == before


def test_mixed_currencies_in_one_billing_account_are_refused_and_nothing_written(ingest_dir, tmp_path):
    """A billing account is invoiced in one currency (every format): a second one names its first row."""
    rows = read_rows(GCP_SAMPLE)
    for r in rows[5:10]:
        r["currency"] = "EUR"
    path = write_csv(tmp_path / "mixed.csv", rows)
    account = rows[0]["billing_account_id"]
    with pytest.raises(CommandError) as caught:
        factories.ingest_command(ORG, path)
    assert str(caught.value).startswith(
        f"file {path}, row 6, column BillingCurrency: billing account {account} is billed in USD (row 1) and in EUR"
    )
    assert not LineItem.objects.exists()


def test_two_billing_accounts_in_two_currencies_are_kept_apart(ingest_dir, tmp_path):
    """Each currency is totalled on its own, nothing is converted."""
    rows = read_rows(GCP_SAMPLE)
    for r in rows[:10]:
        r["currency"], r["billing_account_id"] = "EUR", "0ABC12-EU0001-EU0001"
    path = write_csv(tmp_path / "two.csv", rows)
    result = json.loads(factories.ingest_command(ORG, path))
    assert result["status"] == "succeeded"
    assert {c: {k: Decimal(v) for k, v in t.items() if k != "list_cost"} for c, t in result["totals"].items()} == (
        gcp_expected(rows)
    )
    assert set(LineItem.objects.values_list("billing_currency", flat=True)) == {"EUR", "USD"}


# ----------------------------------------------------------------------------------------- bad input


def _gcp_with(row: int, column: str, value: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        rows = read_rows(GCP_SAMPLE)
        rows[row - 1][column] = value
        return write_csv(folder / "gcp_bad.csv", rows)

    return build


def _oci_with(row: int, column: str, value: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        rows = read_rows(OCI_COST_SAMPLE)
        rows[row - 1][column] = value
        return write_csv(folder / "oci_bad.csv", rows)

    return build


def _cut(source: Path | Callable[[Path], Path], name: str, drop: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        text = (source if isinstance(source, Path) else source(folder)).read_text()
        path = folder / name
        path.write_text(text[: len(text) - drop])
        return path

    return build


BAD = [
    ("gcp-wrong-type", _gcp_with(3, "cost", "five cents"), "gcp_bad.csv", ("row 3", "column cost", "not a number")),
    (
        "gcp-bad-labels",
        _gcp_with(4, "labels", "[{'key': 'a'"),
        "gcp_bad.csv",
        ("row 4", "column labels", "invalid JSON"),
    ),
    ("gcp-bad-credits", _gcp_with(2, "credits", '[{"amount": }]'), "gcp_bad.csv", ("row 2", "column credits", "JSON")),
    ("gcp-truncated-csv", _cut(GCP_SAMPLE, "gcp_cut.csv", 200), "gcp_cut.csv", ("row 25", "truncated")),
    ("gcp-truncated-ndjson", _cut(gcp_ndjson, "gcp_cut.json", 40), "gcp_cut.json", ("row 25", "truncated")),
    (
        "oci-wrong-type",
        _oci_with(4, "cost/myCost", "abc"),
        "oci_bad.csv",
        ("row 4", "column cost/myCost", "not a number"),
    ),
    ("oci-no-currency", _oci_with(4, "cost/currencyCode", ""), "oci_bad.csv", ("row 4", "column cost/currencyCode")),
    ("oci-truncated", _cut(OCI_COST_SAMPLE, "oci_cut.csv", 60), "oci_cut.csv", ("row 5", "truncated")),
]


def _refused_by_the_command(path: Path) -> str:
    with pytest.raises(CommandError) as refused:
        factories.ingest_command(ORG, path)
    assert refused.value.returncode == 2
    return str(refused.value)


def _refused_by_an_upload(path: Path) -> str:
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    job = billing_upload_create(organization=Organization.objects.get(slug=ORG), files=[upload], user=None)
    with pytest.raises(IngestError):
        ingest_job_run(job, followups=False)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED and job.rows_written == 0
    return job.error


@pytest.mark.parametrize("via", [_refused_by_the_command, _refused_by_an_upload], ids=["command", "upload"])
@pytest.mark.parametrize(("name", "build", "file", "expected"), BAD, ids=[case[0] for case in BAD])
def test_bad_input_is_refused_by_name_and_writes_nothing(ingest_dir, tmp_path, via, name, build, file, expected):
    factories.ingest_command(ORG, OCI_COST_SAMPLE)  # something already there, to prove it is left alone
    before = snapshot()
    folder = tmp_path / "in"
    folder.mkdir()
    message = via(build(folder))
    for fragment in (f"file {file}" if via is _refused_by_an_upload else file, *expected):
        assert fragment in message
    assert snapshot() == before
