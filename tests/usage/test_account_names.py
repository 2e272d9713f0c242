"""Account names come from the billing slices the ingest records (never a scan of line items): a restated slice
replaces its names, the smallest name wins when one id carries several, and the migration backfills old slices."""

import importlib
from pathlib import Path

import pytest
from django.apps import apps

from finops.usage.models import BillingSlice
from finops.usage.selectors import account_names
from tests import factories
from tests.usage.helpers import read_rows, write_csv

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "finops" / "demo" / "samples" / "focus_sample.csv"


def _expected(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"account": {}, "sub_account": {}}
    for row in rows:
        for kind, id_column, name_column in (
            ("account", "BillingAccountId", "BillingAccountName"),
            ("sub_account", "SubAccountId", "SubAccountName"),
        ):
            account, name = row[id_column], row[name_column]
            if account and name and (account not in out[kind] or name < out[kind][account]):
                out[kind][account] = name
    return out


def _september(tmp_path: Path, rename: dict[str, str] | None = None) -> tuple[Path, list[dict[str, str]]]:
    rows = [dict(r) for r in read_rows(SAMPLE) if r["BillingPeriodStart"].startswith("2024-09-01")]
    for row in rows:
        row["SubAccountName"] = (rename or {}).get(row["SubAccountName"], row["SubAccountName"])
    name = "renamed.csv" if rename else "september.csv"
    return write_csv(tmp_path / name, rows), rows


def test_names_are_the_ones_the_rows_carry(tmp_path):
    organization = factories.organization()
    path, rows = _september(tmp_path)
    factories.ingest_files(organization, [path])
    assert account_names(organization=organization) == _expected(rows)
    assert _expected(rows)["sub_account"]  # the sample names its sub-accounts


def test_a_restated_slice_replaces_its_names(tmp_path):
    organization = factories.organization()
    path, rows = _september(tmp_path)
    factories.ingest_files(organization, [path])
    old = sorted({r["SubAccountName"] for r in rows if r["SubAccountName"]})[0]
    renamed_path, renamed_rows = _september(tmp_path, rename={old: "zz-renamed"})
    factories.ingest_files(organization, [renamed_path])
    names = account_names(organization=organization)
    assert names == _expected(renamed_rows)
    assert old not in names["sub_account"].values() and "zz-renamed" in names["sub_account"].values()


def test_the_migration_backfills_names_from_line_items(tmp_path):
    organization = factories.organization()
    path, rows = _september(tmp_path)
    factories.ingest_files(organization, [path])
    BillingSlice.objects.filter(organization=organization).update(account_names={})
    assert account_names(organization=organization) == {"account": {}, "sub_account": {}}
    migration = importlib.import_module("finops.usage.migrations.0008_billingslice_account_names")
    migration.record_names(apps, None)
    assert account_names(organization=organization) == _expected(rows)
