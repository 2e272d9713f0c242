"""Team page slots (rightsizing, carbon, share of commitments) and the carbon page in the shared layout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from finops.accounts.models import Team
from finops.carbon.models import CarbonDaily
from finops.carbon.services import carbon_recompute
from optimizer.rightsizing.models import RightsizingRecommendation, RightsizingRun
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _rightsizing(org, team, other):
    run = RightsizingRun.objects.create(organization=org, status=RightsizingRun.Status.SUCCEEDED)
    rows = [
        ("i-1", team, "resize", "m5.2xlarge", "m5.xlarge", "120.50"),
        ("i-2", team, "stop", "t3.large", None, "60.00"),
        ("i-3", team, "keep", "c5.large", "c5.large", "0"),
        ("i-4", other, "resize", "m5.large", "t3.large", "30.00"),
    ]
    for rid, owner, action, now, new, savings in rows:
        RightsizingRecommendation.objects.create(
            run=run,
            organization=org,
            resource_id=rid,
            team=owner,
            region="us-east-1",
            current_type=now,
            recommended_type=new,
            action=action,
            reason="p95 CPU low",
            monthly_savings=Decimal(savings),
        )
    return run


def test_team_slots(tenants):
    alpha, team, other = tenants["alpha"], tenants["team"], tenants["other_team"]
    _rightsizing(alpha, team, other)
    carbon_recompute(organization=alpha)
    eve = login("eve")
    page = eve.get(f"/teams/{team.slug}/")
    rs = page.context["rightsizing"]
    assert [r.resource_id for r in rs["rows"]] == ["i-1", "i-2"]  # not kept, not another team's; biggest first
    assert rs["savings"] == Decimal("180.50")
    # Carbon: the team's rollup rows by month, summed independently.
    rows = CarbonDaily.objects.filter(organization=alpha, team=team)
    expected = sum((r.operational_kgco2e + r.embodied_kgco2e for r in rows), Decimal(0))
    assert rows.exists() and page.context["carbon_total"] == expected
    figure = page.context["carbon_figure"]
    assert [t["name"] for t in figure["data"]] == ["Operational", "Embodied"]
    assert all(len(t["x"]) == 1 for t in figure["data"])  # September only
    # Share of commitments: a team's Used list cost over the organization's, from the fixture file.
    frame = tenants["frame"]
    used = frame[(frame["CommitmentDiscountStatus"] == "Used") & (frame["ChargeCategory"] == "Usage")]
    org_used = sum(used["ListCost"], Decimal(0))
    by_team = {k: sum(part["ListCost"], Decimal(0)) for k, part in used.groupby("team_value")}
    assert by_team.get(team.tag_value, Decimal(0)) == 0  # eve's team: nothing covered, a 0% share
    assert [r["share"] for r in page.context["commitment_share"]] == [0.0]
    covered = next(k for k, v in sorted(by_team.items()) if k and v > 0)
    covered_team = Team.objects.get(organization=alpha, tag_value=covered)
    (row,) = login("ann").get(f"/teams/{covered_team.slug}/").context["commitment_share"]
    assert row["covered_list"] == by_team[covered] and row["share"] == float(by_team[covered] / org_used)
    html = page.content.decode()
    assert 'id="rightsizing-table"' in html and "i-4" not in html


def test_team_slots_empty_states(tenants):
    page = login("ann").get(f"/teams/{tenants['team'].slug}/").content.decode()
    assert "recommend_rightsizing --org alpha" in page and "carbon_recompute --org alpha" in page


def test_carbon_page_numbers_and_scope(tenants):
    alpha, team = tenants["alpha"], tenants["team"]
    carbon_recompute(organization=alpha)
    rows = list(CarbonDaily.objects.filter(organization=alpha))
    total = sum((r.operational_kgco2e + r.embodied_kgco2e for r in rows), Decimal(0))
    cost = sum((r.effective_cost for r in rows), Decimal(0))
    ann = login("ann")
    page = ann.get("/carbon/")
    assert page.status_code == 200
    ctx = page.context
    assert ctx["total_kg"] == total and ctx["total_cost"] == cost
    (month,) = ctx["by_month"]
    assert month["intensity"] == float(total / cost)
    regions = {}
    for r in rows:
        key = r.region_id or "(none)"
        kg, c = regions.get(key, (Decimal(0), Decimal(0)))
        regions[key] = (kg + r.operational_kgco2e + r.embodied_kgco2e, c + r.effective_cost)
    scatter = ctx["region_figure"]["data"][0]
    assert len(scatter["x"]) == len(regions)
    assert {t: (x, y) for t, x, y in zip(scatter["text"], scatter["x"], scatter["y"], strict=True)} == {
        k: (round(float(c), 2), round(float(kg), 3)) for k, (kg, c) in regions.items()
    }
    services = {r.service_name or "(none)" for r in rows}
    assert len(ctx["service_figure"]["data"]) == min(len(services), 9)
    assert [len(t["x"]) for t in ctx["month_figure"]["data"]] == [1, 1]
    html = page.content.decode()
    assert 'href="/carbon/methodology/"' in html
    assert 'id="carbon-moves"' in html or "No movable compute" in html
    # An engineer sees their teams' carbon only, and no organization-wide region moves.
    eve = login("eve").get("/carbon/")
    mine = sum((r.operational_kgco2e + r.embodied_kgco2e for r in rows if r.team_id == team.pk), Decimal(0))
    assert eve.context["total_kg"] == mine and "Region moves" not in eve.content.decode()
    # Another organization sees none of it.
    assert login("bob").get("/carbon/").context.get("empty") is True
