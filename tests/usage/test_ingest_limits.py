"""Amounts stay exact or are refused: sums are never wrapped around or rounded, a daily sum beyond what the
database stores exactly refuses the delivery (naming column, day and currency), a refused first delivery
leaves no organization behind, and an upload's refusal names the file as uploaded, not the server's path."""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob
from finops.usage.services import billing_upload_create, ingest_job_run
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv

pytestmark = pytest.mark.django_db
BIG = "9999999999999999999999.0000000000000001"  # 22 integer digits: the most a stored amount holds


def _rows(n: int, *, same_day: bool) -> list[dict[str, str]]:
    template = read_rows(FOCUS_SAMPLE)[0]
    rows = []
    for i in range(n):
        row = {**template, "BilledCost": BIG, "ResourceId": f"r-{i}"}
        if not same_day:
            row["ChargePeriodStart"] = f"2024-09-0{i + 1}T00:00:00Z"
            row["ChargePeriodEnd"] = f"2024-09-0{i + 1}T01:00:00Z"
        rows.append(row)
    return rows


def _ingest(path, org: str) -> dict:
    return json.loads(factories.ingest_command(org, path))


def test_totals_of_huge_amounts_are_exact(tmp_path):
    path = write_csv(tmp_path / "huge.csv", _rows(3, same_day=False))
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
