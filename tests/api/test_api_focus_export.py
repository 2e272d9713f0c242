"""focus-export: the export_focus command's CSV, streamed, under the cost endpoints' access policy."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from tests.api import api_fixtures
from tests.api.api_fixtures import OTHER_ACCOUNT, ROLES
from tests.usage.helpers import team_of

pytestmark = pytest.mark.django_db
world = api_fixtures.world  # the module-scoped fixture, re-exported for pytest
URL = "/api/v1/focus-export"


def _rows(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("version", ["1.0", "1.2", "1.3"])
def test_the_api_streams_the_commands_csv(world, version):
    response = world.client("finance").get(URL, {"version": version})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'filename="focus-{version}-t-acme.csv"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    out = StringIO()
    call_command("export_focus", "-", "--org", world.org.slug, "--version", version, stdout=out, stderr=StringIO())
    assert body == out.getvalue()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == len(world.rows)
    assert sum(Decimal(r["BilledCost"]) for r in rows) == sum(Decimal(r["BilledCost"]) for r in world.rows)


def test_default_version_and_date_range(world):
    rows = _rows(world.client("admin").get(URL, {"start": "2024-09-10", "end": "2024-09-10"}))
    expected = [r for r in world.rows if r["ChargePeriodStart"][:10] == "2024-09-10"]
    assert len(rows) == len(expected) > 0
    assert "CapacityReservationId" in rows[0] and "ServiceProviderName" not in rows[0]  # 1.2


def test_an_engineer_gets_their_teams_rows_only(world):
    team = world.engineer_team
    rows = _rows(world.client("engineer").get(URL))
    expected = [r for r in world.rows if team_of(r, settings.FINOPS_TEAM_TAG_KEYS) == team.tag_value]
    assert len(rows) == len(expected) > 0
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == sum(Decimal(r["EffectiveCost"]) for r in expected)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_its_own_organization_only(world, role):
    response = world.client(role).get(URL, {"org": "t-other"} if role.startswith("token_") else {})
    assert response.status_code == 200
    accounts = {r["BillingAccountId"] for r in _rows(response)}
    assert accounts and OTHER_ACCOUNT not in accounts


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"version": "1.1"}, "version"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2024-09-12", "end": "2024-09-10"}, "start"),
    ],
)
def test_bad_parameters_are_json_errors(world, params, field):
    response = world.client("admin").get(URL, params, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["fields"][field]


def test_anonymous_is_401_and_another_organization_is_404(world):
    assert APIClient().get(URL).status_code == 401
    response = world.client("admin").get(URL, {"org": "t-other"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_schema_documents_it(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"version", "start", "end"}
    version = next(p for p in operation["parameters"] if p["name"] == "version")
    assert version["schema"]["enum"] == ["1.0", "1.2", "1.3"]
    assert "text/csv" in operation["responses"]["200"]["content"]
