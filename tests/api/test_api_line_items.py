"""line-items: filters, cursor pagination and the streaming CSV export, checked against the fixture file."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.http import StreamingHttpResponse

from finops.usage.models import LineItem
from tests.api import api_fixtures
from tests.usage.helpers import NULLS, team_of

pytestmark = pytest.mark.django_db
world = api_fixtures.world  # the module-scoped fixture, re-exported for pytest


def _dec(text: str) -> Decimal | None:
    return None if text in NULLS else Decimal(text)


def test_pages_cover_every_row_once(world):
    client = world.client("token_read")
    seen, url, pages = [], "/api/v1/line-items/?page_size=300", 0
    while url:
        page = client.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url, pages = page["next"], pages + 1
    assert pages == 4 and len(seen) == len(set(seen)) == len(world.rows)
    assert set(seen) == set(LineItem.objects.filter(organization=world.org).values_list("id", flat=True))


def test_filters_match_the_file(world):
    rows = world.rows
    service = "Amazon Simple Queue Service"
    expected = [r for r in rows if r["ServiceName"] == service and r["ChargePeriodStart"][:10] <= "2024-09-15"]
    got = world.client("admin").get("/api/v1/line-items/", {"service": service, "end": "2024-09-15", "page_size": 1000})
    results = got.json()["results"]
    assert len(results) == len(expected) > 0
    assert sorted(Decimal(r["billed_cost"]) for r in results) == sorted(Decimal(r["BilledCost"]) for r in expected)
    assert all(isinstance(r["billed_cost"], str) for r in results)


@pytest.mark.parametrize("how", ["accept", "format"])
def test_csv_export_streams_every_row_with_the_files_values(world, how):
    client = world.client("finance")
    if how == "accept":
        response = client.get("/api/v1/line-items/", HTTP_ACCEPT="text/csv")
    else:
        response = client.get("/api/v1/line-items/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == len(world.rows)

    # Match each exported row to the file by (charge start, resource, billed cost, description): exact values.
    def key(start, resource, billed, description):
        return (start[:19].replace("T", " "), resource or "", _dec(billed), description or "")

    expected = sorted(
        (
            key(
                r["ChargePeriodStart"],
                r["ResourceId"] if r["ResourceId"] not in NULLS else "",
                r["BilledCost"],
                r["ChargeDescription"] if r["ChargeDescription"] not in NULLS else "",
            ),
            _dec(r["EffectiveCost"]),
            r["ServiceName"] if r["ServiceName"] not in NULLS else "",
        )
        for r in world.rows
    )
    got = sorted(
        (
            key(r["charge_period_start"], r["resource_id"], r["billed_cost"], r["charge_description"]),
            _dec(r["effective_cost"]),
            r["service_name"],
        )
        for r in exported
    )
    assert got == expected


def test_csv_export_respects_filters_and_team_scope(world):
    team = world.engineer_team
    response = world.client("engineer").get("/api/v1/line-items/", {"format": "csv"})
    exported = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = sum(1 for r in world.rows if team_of(r, settings.FINOPS_TEAM_TAG_KEYS) == team.tag_value)
    assert len(exported) == expected > 0
    assert {r["team_tag_value"] for r in exported} == {team.tag_value}


def test_csv_errors_are_json(world):
    response = world.client("admin").get("/api/v1/line-items/", {"format": "csv", "start": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["start"]
