"""Amounts stay exact or are refused: sums are never wrapped around or rounded, a daily sum beyond what the
database stores exactly refuses the delivery (naming column, day and currency), a refused first delivery
leaves no organization behind, and an upload's refusal names the file as uploaded, not the server's path."""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from io import StringIO

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob, LineItem
from finops.usage.services import billing_upload_create, ingest_job_run
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv

pytestmark = pytest.mark.django_db
BIG = "9999999999999999999999.0000000000000001"  # 22 integer digits: the most a stored amount holds


def _rows(n: int) -> list[dict[str, str]]:
    """``n`` rows of BIG, one a day (each daily sum fits; the delivery's total does not fit one amount)."""
    template = read_rows(FOCUS_SAMPLE)[0]
    return [
        {
            **template,
            "BilledCost": BIG,
            "ResourceId": f"r-{i}",
            "ChargePeriodStart": f"2024-09-0{i + 1}T00:00:00Z",
            "ChargePeriodEnd": f"2024-09-0{i + 1}T01:00:00Z",
        }
        for i in range(n)
    ]


def _ingest(path, org: str) -> dict:
    return json.loads(factories.ingest_command(org, path))


def test_totals_of_huge_amounts_are_exact(tmp_path):
    path = write_csv(tmp_path / "huge.csv", _rows(3))
    result = _ingest(path, "huge")
    exact = decimal.Context(prec=60).multiply(Decimal(BIG), 3)  # the default 28 digits would round
    assert Decimal(result["totals"]["USD"]["billed_cost"]) == exact
    assert (
        IngestJob.objects.get(pk=result["job"]).totals["USD"]["billed_cost"] == result["totals"]["USD"]["billed_cost"]
    )
    out = StringIO()
    call_command("cost_report", "--org", "huge", "--group-by", "provider", "--format", "json", stdout=out)
    assert Decimal(json.loads(out.getvalue())["rows"][0]["cost"]) == exact


def test_a_refused_first_delivery_leaves_no_organization(tmp_path):
    path = write_csv(tmp_path / "bad.csv", [{**read_rows(FOCUS_SAMPLE)[0], "BilledCost": "1e999999"}])
    with pytest.raises(CommandError):
        _ingest(path, "brand-new")
    assert not Organization.objects.filter(slug="brand-new").exists()
    assert not IngestJob.objects.exists()


def test_an_uploads_refusal_names_the_uploaded_file_not_the_server_path(tmp_path):
    organization = factories.organization("up")
    rows = [{**read_rows(FOCUS_SAMPLE)[0], "BilledCost": "not-a-number"}]
    content = write_csv(tmp_path / "march.csv", rows).read_bytes()
    job = billing_upload_create(
        organization=organization, files=[SimpleUploadedFile("march.csv", content)], user=None, fmt="auto"
    )
    with pytest.raises(IngestError):
        ingest_job_run(job, followups=False)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED
    assert job.error.startswith("file march.csv, row 1, column BilledCost:")
    assert str(settings.FINOPS_INGEST_DIR) not in job.error


# Values with more decimal places than the 16 stored, each with its value rounded half-even by hand: the
# 17th place decides, a tie goes to the even 16th digit.
FINE = [
    ("0.12345678901234567891", "0.1234567890123457"),
    ("1.00000000000000005", "1.0000000000000000"),
    ("1.00000000000000015", "1.0000000000000002"),
    ("-1.00000000000000015", "-1.0000000000000002"),
    ("0.00000000000000000123", "0"),
    ("123456.12345678901234575", "123456.1234567890123458"),
]
# A GCP-like usage amount with 20 decimal places.
QUANTITY = ("2.12345678901234567891", "2.1234567890123457")


def _fine_rows() -> list[dict[str, str]]:
    template = read_rows(FOCUS_SAMPLE)[0]
    return [
        {**template, "BilledCost": raw, "PricingQuantity": QUANTITY[0], "ResourceId": f"fine-{i}"}
        for i, (raw, _) in enumerate(FINE)
    ]


def _fine_parquet(path):
    rows = _fine_rows()
    columns = {name: pa.array([r[name] for r in rows]) for name in rows[0]}
    columns["BilledCost"] = pa.array([Decimal(raw) for raw, _ in FINE], pa.decimal128(38, 20))
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize(
    "build",
    [lambda tmp: write_csv(tmp / "fine.csv", _fine_rows()), lambda tmp: _fine_parquet(tmp / "fine.parquet")],
    ids=["csv", "parquet-decimal"],
)
def test_values_beyond_16_decimal_places_are_rounded_half_even_and_totals_add_the_stored_values(tmp_path, build):
    result = _ingest(build(tmp_path), "fine")
    stored = dict(LineItem.objects.values_list("resource_id", "billed_cost"))
    assert stored == {f"fine-{i}": Decimal(rounded) for i, (_, rounded) in enumerate(FINE)}
    assert set(LineItem.objects.values_list("pricing_quantity", flat=True)) == {Decimal(QUANTITY[1])}
    total = Decimal(result["totals"]["USD"]["billed_cost"])
    assert total == sum(Decimal(rounded) for _, rounded in FINE)
    # The documented bound: each value moves by at most half a unit of the 16th place.
    exact = sum(Decimal(raw) for raw, _ in FINE)
    assert abs(total - exact) <= len(FINE) * Decimal("0.5e-16")
