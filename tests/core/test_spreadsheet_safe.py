"""Every CSV the product writes is safe to open in a spreadsheet: text that would run as a formula is
written with a leading apostrophe; numbers, negative ones included, stay numbers; the API's JSON keeps the
raw value."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from finops.core.spreadsheet import spreadsheet_cell
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv

HOSTILE = ['=HYPERLINK("https://evil.example","x")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_text_is_neutralised(text):
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-12.34", "+5", "-0.0000000001", "1e-7", "-3E+2", "12", "Amazon EC2", "", "a=b"])
def test_numbers_and_plain_text_are_unchanged(value):
    assert spreadsheet_cell(value) == value


def test_non_text_values_are_unchanged():
    assert spreadsheet_cell(-3) == -3 and spreadsheet_cell(None) is None


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.django_db
def test_explore_api_and_cost_report_exports_neutralise_formulas(tmp_path):
    rows = read_rows(FOCUS_SAMPLE)[:60]
    for index, row in enumerate(rows):
        row["Tags"] = json.dumps({"team": HOSTILE[index % 2]})
        row["ChargeDescription"] = HOSTILE[2]
    rows[0]["BilledCost"] = "-5.25"  # a credit: a negative number must stay a number
    path = write_csv(tmp_path / "formulas.csv", rows)
    factories.ingest_command("formulas", path)
    organization = factories.organization("formulas")
    membership = factories.member(organization, "fin")

    out = StringIO()
    call_command("cost_report", "--org", "formulas", "--group-by", "tag:team", "--format", "csv", stdout=out)
    groups = {r["group"] for r in _csv(out.getvalue())}
    assert {"'" + HOSTILE[0], "'" + HOSTILE[1]} <= groups
    assert all(not g.startswith(("=", "+", "@")) for g in groups)
    costs = [r["cost"] for r in _csv(out.getvalue())]
    assert all(Decimal(cost).is_finite() for cost in costs)  # an apostrophe would make Decimal() raise

    page = Client()
    page.force_login(membership.user)
    response = page.get("/explore/", {"org": "formulas", "group": "tag:team", "granularity": "month", "format": "csv"})
    explore = _csv(response.content.decode())
    assert {"'" + HOSTILE[0], "'" + HOSTILE[1]} <= {r["group"] for r in explore}

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + factories.token_key(membership.user, organization, "t"))
    exported = _csv(b"".join(api.get("/api/v1/line-items/?format=csv").streaming_content).decode())
    assert {r["charge_description"] for r in exported} == {"'" + HOSTILE[2]}
    assert {r["team_tag_value"] for r in exported} == {"'" + HOSTILE[0], "'" + HOSTILE[1]}
    assert "-5.25" in {Decimal(r["billed_cost"]).normalize().to_eng_string() for r in exported}
    # The JSON keeps the raw value.
    listed = api.get("/api/v1/line-items/?page_size=5").json()["results"]
    assert {r["charge_description"] for r in listed} == {HOSTILE[2]}
