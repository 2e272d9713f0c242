"""FOCUS 1.3 and 1.4 files end to end: the command and the upload ingest them with exact totals per currency, the
job records the FOCUS version, bad allocation or contract values leave nothing behind, and allocated cost is
grouped by AllocatedResourceId and by an AllocatedTags key in the cost report, the API and Explore."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.api.services import token_create
from finops.core.amounts import quantize_money
from finops.core.money import MoneySum
from finops.usage.models import BillingSlice, DailyCost, IngestJob, LineItem
from finops.usage.selectors import cost_breakdown
from finops.usage.services import billing_upload_create, ingest_job_run
from tests.usage.focus_v13 import COLUMNS_1_3, COLUMNS_1_4, focus13_rows, totals, write_focus

pytestmark = pytest.mark.django_db


def ingest(path: Path, org: str = "acme") -> dict:
    out = StringIO()
    call_command("ingest_usage", str(path), "--org", org, "--json", stdout=out)
    return json.loads(out.getvalue())


def snapshot() -> tuple:
    return (
        LineItem.objects.count(),
        LineItem.objects.aggregate(t=MoneySum("billed_cost"))["t"],
        DailyCost.objects.count(),
        sorted(BillingSlice.objects.values_list("provider_name", "billing_account_id", "job_id", "rows")),
    )


def expected_totals(rows: list[dict[str, str]]) -> dict[str, dict[str, Decimal]]:
    currencies = {r["BillingCurrency"] for r in rows}
    return {
        currency: {
            metric: totals(rows, column)[(currency, "")]
            for metric, column in (("billed_cost", "BilledCost"), ("effective_cost", "EffectiveCost"))
        }
        for currency in currencies
    }


def stored_totals(job_totals: dict) -> dict[str, dict[str, Decimal]]:
    return {
        currency: {metric: Decimal(metrics[metric]) for metric in ("billed_cost", "effective_cost")}
        for currency, metrics in job_totals.items()
    }


def test_the_command_ingests_a_1_3_file_with_exact_totals_and_records_its_version(tmp_path):
    rows = focus13_rows()
    result = ingest(write_focus(tmp_path / "focus-1.3.csv", rows))
    assert (result["status"], result["rows"], result["focus_version"]) == ("succeeded", len(rows), "1.3")
    assert stored_totals(result["totals"]) == expected_totals(rows)
    job = IngestJob.objects.get(pk=result["job"])
    assert job.focus_version == "1.3"
    assert [f.focus_version for f in job.files.all()] == ["1.3"]
    item = LineItem.objects.filter(allocated_resource_id="pod/api").order_by("charge_period_start").first()
    assert (item.provider_name, item.host_provider_name, item.allocated_resource_name) == (
        "Contoso Cloud",
        "Contoso Cloud",
        "api",
    )
    assert item.allocated_tags == {"app": "api"}
    assert item.allocated_method_id == "cpu-memory-requests"
    assert item.allocated_method_details["Elements"][0]["UsageUnit"] == "CPU"
    assert item.contract_applied["Elements"][0]["ContractCommitmentID"] == "cc-1"
    assert LineItem.objects.filter(allocated_resource_id__isnull=True).count() == len(rows) // 3


def test_an_uploaded_1_4_file_without_provider_or_publisher_name_ingests(settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    organization = Organization.objects.create(slug="up", name="Up")
    membership, _ = membership_set(username="up-finance", organization=organization, role="finance")
    rows = focus13_rows()
    content = write_focus(tmp_path / "f.csv", rows, COLUMNS_1_4).read_bytes()
    header = content.decode().splitlines()[0].split(",")
    assert "ProviderName" not in header and "PublisherName" not in header
    job = billing_upload_create(
        organization=organization, files=[SimpleUploadedFile("focus-1.4.csv", content)], user=membership.user
    )
    job = ingest_job_run(job, followups=False)
    assert (job.status, job.rows_read, job.focus_version) == ("succeeded", len(rows), "1.4")
    assert stored_totals(job.totals) == expected_totals(rows)
    assert set(LineItem.objects.filter(organization=organization).values_list("provider_name", flat=True)) == {
        "Contoso Cloud"
    }
    assert not LineItem.objects.filter(organization=organization, publisher_name__isnull=False).exists()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("AllocatedTags", '{"app": "api"'),
        ("ContractApplied", '{"Elements": [{"ContractCommitmentID": "cc-1", "ContractCommitmentAppliedCost": "1,5"}]}'),
    ],
)
def test_a_bad_1_3_value_fails_the_command_naming_file_row_and_column_and_writes_nothing(tmp_path, column, value):
    ingest(write_focus(tmp_path / "good.csv", focus13_rows()))
    before = snapshot()
    rows = focus13_rows()
    for row in rows:
        row["BillingAccountId"] = "ba-2"  # a new slice: a partial write would show
    rows[9][column] = value
    path = write_focus(tmp_path / "bad.csv", rows)
    with pytest.raises(CommandError) as caught:
        ingest(path)
    message = str(caught.value)
    assert str(path) in message and "row 10" in message and column in message
    assert snapshot() == before
    assert IngestJob.objects.order_by("-pk").first().status == IngestJob.Status.FAILED


def test_a_bad_uploaded_1_3_file_is_refused_with_nothing_written(settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    organization = Organization.objects.create(slug="up2", name="Up")
    rows = focus13_rows()
    rows[4]["AllocatedTags"] = "[1, 2]"
    content = write_focus(tmp_path / "f.csv", rows).read_bytes()
    job = billing_upload_create(organization=organization, files=[SimpleUploadedFile("alloc.csv", content)], user=None)
    with pytest.raises(Exception, match="not a JSON object"):
        ingest_job_run(job, followups=False)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED
    assert "alloc.csv" in job.error and "row 5" in job.error and "AllocatedTags" in job.error
    assert not LineItem.objects.filter(organization=organization).exists()


# ------------------------------------------------------------------------------------- allocated cost


@pytest.fixture
def allocated(tmp_path) -> tuple[Organization, list[dict[str, str]]]:
    rows = focus13_rows(18)
    ingest(write_focus(tmp_path / "focus-1.3.csv", rows, COLUMNS_1_3))
    return Organization.objects.get(slug="acme"), rows


def _by(rows: list[dict[str, str]], key) -> dict[tuple, Decimal]:
    sums: dict[tuple, Decimal] = {}
    for row in rows:
        group = (key(row) or "(none)", row["BillingCurrency"])
        sums[group] = sums.get(group, Decimal(0)) + Decimal(row["BilledCost"])
    return sums


def _allocated_app(row: dict[str, str]) -> str:
    return json.loads(row["AllocatedTags"])["app"] if row["AllocatedTags"] else ""


def test_cost_breakdown_groups_by_allocated_resource_and_allocated_tag(allocated):
    organization, rows = allocated
    by_resource = cost_breakdown(organization=organization, group_by=["allocated_resource"])
    assert {(r.group, r.currency): r.cost for r in by_resource} == _by(rows, lambda r: r["AllocatedResourceId"])
    by_app = cost_breakdown(organization=organization, group_by=["allocated_tag:app"])
    assert {(r.group, r.currency): r.cost for r in by_app} == _by(rows, _allocated_app)
    two = cost_breakdown(organization=organization, group_by=["service", "allocated_resource"], granularity="month")
    expected = _by(rows, lambda r: f"Kubernetes Service / {r['AllocatedResourceId'] or '(none)'}")
    assert {(r.group, r.currency): r.cost for r in two} == expected
    # the split is a view of the same charges: every group-by adds up to the file's totals
    assert sum(r.cost for r in by_resource if r.currency == "USD") == totals(rows)[("USD", "")]


def test_the_api_and_explore_group_by_allocated_resource(allocated, settings):
    organization, rows = allocated
    membership, _ = membership_set(username="alloc-finance", organization=organization, role="finance")
    key = token_create(user=membership.user, organization=organization, name="ci", scope="read").key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.get("/api/v1/costs/summary", {"group_by": "allocated_resource"})
    assert response.status_code == 200, response.content
    payload = response.json()
    assert payload["group_by"] == "allocated_resource"
    got = {(r["group"], r["currency"]): Decimal(r["cost"]) for r in payload["rows"]}
    assert got == _by(rows, lambda r: r["AllocatedResourceId"])
    assert set(payload["rows"][0]) == {"group", "groups", "currency", "cost"}
    response = api.get("/api/v1/costs/timeseries", {"group_by": "allocated_tag:app", "granularity": "month"})
    assert response.status_code == 200, response.content
    got = {(r["group"], r["currency"]): Decimal(r["cost"]) for r in response.json()["rows"]}
    assert got == _by(rows, _allocated_app)
    assert api.get("/api/v1/costs/summary", {"group_by": "allocated_tag:"}).status_code == 400

    web = Client()
    web.force_login(membership.user)
    period = {"start": "2026-05-01", "end": "2026-05-31", "granularity": "month"}
    page = web.get("/explore/", {**period, "group": "allocated_resource"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "pod/api" in html and "pod/web" in html and "Allocated resource" in html
    page = web.get("/explore/", {**period, "group": "allocated_tag", "tag_key": "app", "format": "csv"})
    assert page.status_code == 200
    lines = page.content.decode().splitlines()
    got = {(line.split(",")[1], line.split(",")[2]): Decimal(line.split(",")[3]) for line in lines[1:]}
    assert got == {group: quantize_money(cost) for group, cost in _by(rows, _allocated_app).items()}
