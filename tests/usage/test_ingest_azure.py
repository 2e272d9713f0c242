"""Azure cost details end to end, through the ingest_usage command and the upload service: rows and totals per
currency checked against Decimal sums of the raw files, re-delivery, refusals that leave nothing behind."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.core.money import MoneySum
from finops.usage.formats.errors import IngestError
from finops.usage.models import BillingSlice, DailyCost, IngestJob, LineItem
from finops.usage.tasks import ingest_job_run_task
from tests.usage.formats.azure_expected import (
    EA_ACTUAL,
    EA_AMORTIZED,
    KOKU_PAYG,
    expected_totals,
    is_amortized_commitment_usage,
    is_commitment_purchase,
    rows_of,
    stored,
)
from tests.usage.helpers import write_csv

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not EA_ACTUAL.is_file(), reason=f"shared data not found at {EA_ACTUAL.parent}"),
]


def ingest(*paths: Path, org: str = "contoso") -> dict:
    out = StringIO()
    call_command("ingest_usage", *map(str, paths), "--org", org, "--json", stdout=out)
    return json.loads(out.getvalue())


def as_decimals(job_totals: dict) -> dict[str, dict[str, Decimal]]:
    return {
        currency: {"billed": Decimal(t["billed_cost"]), "effective": Decimal(t["effective_cost"])}
        for currency, t in job_totals.items()
    }


def stored_totals() -> dict[str, Decimal]:
    return LineItem.objects.aggregate(billed=MoneySum("billed_cost"), effective=MoneySum("effective_cost"))


def nothing_written() -> bool:
    return not (LineItem.objects.exists() or DailyCost.objects.exists() or BillingSlice.objects.exists())


@pytest.mark.parametrize(
    ("path", "currency_column"),
    [(EA_ACTUAL, "BillingCurrency"), (EA_AMORTIZED, "BillingCurrency"), (KOKU_PAYG, "Currency")],
    ids=["ea-actual", "ea-amortized", "legacy-payg"],
)
def test_command_ingests_each_sample_with_the_files_totals(path, currency_column):
    rows = rows_of(path)
    expected = expected_totals(rows, currency_column)
    result = ingest(path)
    assert (result["status"], result["format"], result["rows"]) == ("succeeded", "azure", len(rows))
    assert as_decimals(result["totals"]) == expected
    (currency,) = expected
    assert stored_totals() == {"billed": expected[currency]["billed"], "effective": expected[currency]["effective"]}
    rolled = DailyCost.objects.aggregate(b=MoneySum("billed_cost"), e=MoneySum("effective_cost"))
    assert rolled == {"b": expected[currency]["billed"], "e": expected[currency]["effective"]}
    assert set(BillingSlice.objects.values_list("provider_name", flat=True)) == {"Microsoft"}
    again = ingest(path)
    assert (again["status"], again["duplicate_of"]) == ("duplicate", result["job"])
    assert LineItem.objects.count() == len(rows)


def test_actual_and_amortized_files_in_one_delivery():
    actual, amortized = rows_of(EA_ACTUAL), rows_of(EA_AMORTIZED)
    result = ingest(EA_ACTUAL, EA_AMORTIZED)
    purchases = [r for r in actual if is_commitment_purchase(r)]
    assert result["rows"] == len(amortized) + len(purchases) == 29
    amortized_cost = sum((stored(Decimal(r["Cost"])) for r in amortized), Decimal(0))
    commitment_usage = sum((Decimal(r["Cost"]) for r in amortized if is_amortized_commitment_usage(r)), Decimal(0))
    billed = amortized_cost - commitment_usage + sum(Decimal(r["Cost"]) for r in purchases)
    assert as_decimals(result["totals"]) == {"USD": {"billed": billed, "effective": amortized_cost}}
    assert stored_totals() == {"billed": billed, "effective": amortized_cost}
    job = IngestJob.objects.get(pk=result["job"])
    assert sorted(job.files.values_list("name", "rows")) == [
        ("EA_ActualCost_Small.csv", 1),
        ("EA_AmortizedCost_Small.csv", 28),
    ]
    assert ingest(EA_AMORTIZED, EA_ACTUAL)["status"] == "duplicate"  # the same delivery, in any order


def test_upload_service_ingests_an_azure_export(settings, tmp_path, monkeypatch):
    from finops.usage.services import billing_upload_create, ingest_job_run

    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    monkeypatch.setattr(ingest_job_run_task, "delay", lambda job_id: None)
    organization = Organization.objects.create(slug="upload-azure", name="Upload Azure")
    rows = rows_of(EA_AMORTIZED)

    def upload() -> IngestJob:
        files = [SimpleUploadedFile(EA_AMORTIZED.name, EA_AMORTIZED.read_bytes())]
        return ingest_job_run(billing_upload_create(organization=organization, files=files, user=None), followups=False)

    job = upload()
    assert (job.status, job.format, job.rows_read) == (IngestJob.Status.SUCCEEDED, "azure", 28)
    assert as_decimals(job.totals) == expected_totals(rows, "BillingCurrency")
    assert upload().status == IngestJob.Status.DUPLICATE

    # Both datasets in one upload: the amortized rows and the actual file's one reservation purchase.
    both = [SimpleUploadedFile(p.name, p.read_bytes()) for p in (EA_ACTUAL, EA_AMORTIZED)]
    job = ingest_job_run(billing_upload_create(organization=organization, files=both, user=None), followups=False)
    assert (job.status, job.rows_read, job.rows_replaced) == (IngestJob.Status.SUCCEEDED, 29, 28)
    purchase = Decimal(next(r["Cost"] for r in rows_of(EA_ACTUAL) if is_commitment_purchase(r)))
    assert (
        Decimal(job.totals["USD"]["billed_cost"])
        == expected_totals(rows, "BillingCurrency")["USD"]["billed"] + purchase
    )


def refused(path: Path, org: str = "contoso") -> CommandError:
    with pytest.raises(CommandError) as caught:
        ingest(path, org=org)
    assert caught.value.returncode == 2
    assert nothing_written()
    assert not Organization.objects.filter(slug=org).exists()  # a refused first delivery creates nothing
    return caught.value


def test_text_in_a_cost_column_is_refused_and_nothing_written(tmp_path):
    rows = rows_of(EA_AMORTIZED)
    rows[11]["Cost"] = "twelve"
    bad = write_csv(tmp_path / "bad.csv", rows)
    assert str(refused(bad)) == f"file {bad}, row 12, column Cost: not a number: 'twelve'"


def test_a_truncated_export_is_refused_and_nothing_written(tmp_path):
    cut = tmp_path / "cut.csv"
    text = EA_ACTUAL.read_bytes()
    cut.write_bytes(text[: len(text) - 400])
    message = str(refused(cut))
    assert message.startswith(f"file {cut}, row 11: ") and "truncated" in message


def test_mixed_currencies_in_one_billing_account_are_refused_and_nothing_written(tmp_path):
    rows = rows_of(EA_ACTUAL)
    rows[9]["BillingCurrency"] = "GBP"
    mixed = write_csv(tmp_path / "mixed.csv", rows)
    message = str(refused(mixed))
    assert message.startswith(f"file {mixed}, row 10, column BillingCurrency: billing account 8611537 is billed in USD")


def test_upload_refusal_names_the_uploaded_file(settings, tmp_path, monkeypatch):
    from finops.usage.services import billing_upload_create, ingest_job_run

    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    monkeypatch.setattr(ingest_job_run_task, "delay", lambda job_id: None)
    organization = Organization.objects.create(slug="upload-bad", name="Upload bad")
    rows = rows_of(EA_ACTUAL)
    rows[2]["Cost"] = "0,000011139"  # a decimal comma: text, not a number
    bad = write_csv(tmp_path / "azure-actual.csv", rows)
    job = billing_upload_create(
        organization=organization, files=[SimpleUploadedFile(bad.name, bad.read_bytes())], user=None
    )
    with pytest.raises(IngestError):
        ingest_job_run(job, followups=False)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED
    assert job.error == "file azure-actual.csv, row 3, column Cost: not a number: '0,000011139'"
    assert nothing_written()


def test_the_command_leaves_its_files_alone(tmp_path):
    copy = tmp_path / "EA_ActualCost_Small.csv"
    shutil.copy(EA_ACTUAL, copy)
    ingest(copy)
    assert copy.read_bytes() == EA_ACTUAL.read_bytes()


def test_part_files_billing_one_account_in_two_currencies_are_refused(tmp_path):
    rows = rows_of(EA_AMORTIZED)
    first = write_csv(tmp_path / "part_1.csv", rows[:20])
    second = write_csv(tmp_path / "part_2.csv", [{**r, "BillingCurrency": "JPY"} for r in rows[20:]])
    with pytest.raises(CommandError) as caught:
        ingest(first, second)
    assert str(caught.value).startswith(
        f"file {second}, row 1, column BillingCurrency: billing account 8611537 is billed in USD (file {first}, row 1)"
    )
    assert nothing_written()
