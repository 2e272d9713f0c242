"""The pages and the API list the same budgets, anomalies, forecasts (and month-end projections) and rightsizing
recommendations to the same user; an engineer sees those of their own team and none of another team's. For each
role (admin, finance, an engineer of one team, viewer) of an organization holding organization-wide, own-team,
other-team and tag-scoped budgets, anomalies on organization-wide and team series (one suppressed by "expected"
feedback), series forecasts and rightsizing recommendations of several teams."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from finops.accounts.models import Team
from finops.budgets.services import budget_create
from finops.forecasting.models import Anomaly
from finops.forecasting.services import anomaly_feedback_set
from finops.usage.models import DailyCost, DailyTagCost
from optimizer.rightsizing.models import RightsizingRecommendation, RightsizingRun
from tests.api import api_fixtures

pytestmark = pytest.mark.django_db
world = api_fixtures.world  # the module-scoped fixture, re-exported for pytest

ROLES = ["admin", "finance", "engineer", "viewer"]


def _copy(anomaly: Anomaly, **changes) -> Anomaly:
    """Another stored anomaly like ``anomaly`` (as a forecast run stores them), with ``changes``."""
    fields = {
        f.name: getattr(anomaly, f.name)
        for f in Anomaly._meta.concrete_fields
        if f.name not in ("id", "created_at", "updated_at")
    }
    return Anomaly.objects.create(**{**fields, "verdict": "", **changes})


@pytest.fixture(scope="module")
def parity(world, django_db_blocker):
    """``build_domain`` (own-team and organization-wide objects) plus other-team and tag-scoped ones. Everything
    belongs to the world's organizations, so the world's teardown removes it."""
    with django_db_blocker.unblock():
        domain = api_fixtures.build_domain(world)
        org, team = world.org, world.engineer_team
        other = Team.objects.filter(organization=org).exclude(pk=team.pk).order_by("slug").first()
        if other is None:
            other = Team.objects.create(organization=org, slug="parity-other", name="Other", tag_value="parity-other")
        tag = DailyTagCost.objects.filter(organization=org).order_by("tag_key", "tag_value").first()
        assert tag is not None, "the world's data has tagged costs"
        budget_create(
            organization=org,
            data={"name": "Other team", "period": "quarterly", "amount": "100", "scope": {"team": [other.slug]}},
        )
        budget_create(
            organization=org,
            data={
                "name": "Tagged",
                "period": "annual",
                "amount": "100",
                "scope": {"tags": {tag.tag_key: [tag.tag_value]}},
            },
        )
        budget_create(organization=org, data={"name": "Monthly team", "amount": "50", "scope": {"team": [team.slug]}})

        mine = domain.own["anomalies"]
        _copy(mine, dimension="team", key=other.slug)
        engineer = get_user_model().objects.get(username="t-engineer")
        anomaly_feedback_set(anomaly=mine, user=engineer, verdict="expected", note="launch week")
        # The next day's anomaly of the same series and top cause: what the forecast run suppresses.
        _copy(mine, day=mine.day + timedelta(days=1), suppressed_by=mine)

        run = RightsizingRun.objects.get(organization=org)
        for resource, owner, action, savings in (("i-other", other, "resize", "20.00"), ("i-kept", team, "keep", "0")):
            RightsizingRecommendation.objects.create(
                run=run,
                organization=org,
                resource_id=f"{resource}-{org.slug}",
                team=owner,
                team_tag_value=owner.tag_value,
                region="us-east-1",
                current_type="m5.xlarge",
                recommended_type="m5.large" if action == "resize" else "m5.xlarge",
                action=action,
                reason="p95 cpu 20%",
                monthly_savings=Decimal(savings),
            )
    return domain


def _web(role: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=f"t-{role}"))
    return client


def _api_ids(client, url: str, params: dict | None = None) -> set[int]:
    ids: set[int] = set()
    response = client.get(url, params or {})
    while True:
        assert response.status_code == 200, response.content
        page = response.json()
        ids |= {row["id"] for row in page["results"]}
        if not page["next"]:
            return ids
        response = client.get(page["next"])


@pytest.mark.parametrize("role", ROLES)
def test_budgets_are_the_same_on_the_page_and_in_the_api(world, parity, role):
    page = _web(role).get("/budgets/")
    assert page.status_code == 200
    web = {row["id"] for row in page.context["rows"]}
    api = _api_ids(world.client(role), "/api/v1/budgets/")
    assert web == api
    names = {row["name"] for row in page.context["rows"]}
    if role == "engineer":  # only budgets limited to their own team
        assert names == {f"{world.engineer_team.slug} budget", "Monthly team"}
    else:
        assert {"whole org", "Other team", "Tagged", "Monthly team"} <= names


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("suppressed", [False, True], ids=["default", "with-suppressed"])
def test_anomalies_are_the_same_on_the_page_and_in_the_api(world, parity, role, suppressed):
    params = {"suppressed": "1"} if suppressed else {}
    page = _web(role).get("/anomalies/", params)
    assert page.status_code == 200
    web = {a.pk for a in page.context["rows"]}
    api = _api_ids(world.client(role), "/api/v1/anomalies/", params)
    assert web == api
    stored = Anomaly.objects.filter(pk__in=web)
    assert stored.exclude(suppressed_by=None).exists() == suppressed
    if role == "engineer":
        assert set(stored.values_list("dimension", "key").distinct()) == {("team", world.engineer_team.slug)}
    else:
        assert {"total", "team"} <= set(stored.values_list("dimension", flat=True))
        assert stored.filter(dimension="team").exclude(key=world.engineer_team.slug).exists()


@pytest.mark.parametrize("role", ROLES)
def test_forecasts_are_the_same_on_the_overview_and_in_the_api(world, parity, role):
    """The overview projects what the caller sees (the organization; an engineer's own teams) and shows month to
    date against the monthly budgets; the API lists the same stored series and budgets, and its projection
    endpoint gives the same month-end number."""
    page = _web(role).get("/", {"metric": "effective"})
    assert page.status_code == 200
    slot = page.context.get("slot") or {}
    projection = slot["projection"]
    currency = page.context.get("currency") or "USD"
    client = world.client(role)
    slug = world.engineer_team.slug
    if role == "engineer":  # their team's series, never the organization's total
        assert projection["teams"] == [slug]
        query = {"dimension": "team", "key": slug}
    else:
        assert projection["teams"] == []
        query = {"dimension": "total"}
    api = _api_ids(client, "/api/v1/forecasts/", {**query, "metric": "effective", "currency": currency})
    assert api == {projection["forecast_id"]}
    total = _api_ids(client, "/api/v1/forecasts/", {"dimension": "total"})
    assert (total == set()) == (role == "engineer")  # the organization's series stay hidden from engineers
    body = client.get("/api/v1/forecasts/projection/", {"metric": "effective", "currency": currency}).json()
    assert body["scope"] == ({"team": [slug]} if role == "engineer" else {})
    assert Decimal(body["total"]) == projection["total"]
    assert [Decimal(v) for v in body["interval"]["80"]] == [projection["lower_80"], projection["upper_80"]]
    # The actual part is the visible rows' sum, computed here from the rollups.
    rows = DailyCost.objects.filter(
        organization=world.org,
        billing_currency=currency,
        day__gte=projection["period_start"],
        day__lte=projection["as_of"],
    )
    if role == "engineer":
        rows = rows.filter(team=world.engineer_team)
    assert Decimal(body["actual"]) == sum((r.effective_cost for r in rows), Decimal(0))
    budgets = client.get("/api/v1/budgets/").json()["results"]
    monthly = sorted((b["name"], b["id"]) for b in budgets if b["period"] == "monthly" and b["active"])
    assert [row["id"] for row in slot.get("budgets", [])] == [pk for _, pk in monthly[:6]]


def test_an_engineer_cannot_project_another_team(world, parity):
    other = Team.objects.filter(organization=world.org).exclude(pk=world.engineer_team.pk).order_by("slug").first()
    client = world.client("engineer")
    assert client.get("/api/v1/forecasts/projection/", {"team": other.slug}).status_code == 404
    own = client.get("/api/v1/forecasts/projection/", {"team": world.engineer_team.slug})
    assert own.status_code == 200 and own.json()["scope"] == {"team": [world.engineer_team.slug]}
    assert _api_ids(client, "/api/v1/forecasts/", {"dimension": "team", "key": other.slug}) == set()
    assert _web("engineer").get(f"/teams/{other.slug}/").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_the_team_page_shows_the_teams_projection_budgets_and_anomalies(world, parity, role):
    """An engineer's own team page shows the team's month-end projection (the API's number for that team), the
    budgets limited to the team and the anomalies of its series, as every other role sees them."""
    slug = world.engineer_team.slug
    page = _web(role).get(f"/teams/{slug}/", {"metric": "effective"})
    assert page.status_code == 200
    outlook = page.context["outlook"]
    body = world.client(role).get("/api/v1/forecasts/projection/", {"metric": "effective", "team": slug}).json()
    assert outlook["projection"].total == Decimal(body["total"])
    assert {b["name"] for b in outlook["budgets"]} == {f"{slug} budget", "Monthly team"}
    visible = Anomaly.objects.filter(organization=world.org, dimension="team", key=slug, suppressed_by=None)
    assert {a.pk for a in outlook["anomalies"]} == set(visible.values_list("pk", flat=True)) != set()


@pytest.mark.parametrize("role", ROLES)
def test_rightsizing_is_the_same_on_the_team_pages_and_in_the_api(world, parity, role):
    """The team pages show each team's recommendations that change something (keep rows and resources without
    a team have no page); the API lists every recommendation the caller may read."""
    client = _web(role)
    web: set[str] = set()
    run = RightsizingRun.objects.get(organization=world.org)
    for team in Team.objects.filter(pk__in=run.recommendations.values("team_id")):  # the other pages show none
        page = client.get(f"/teams/{team.slug}/")
        if page.status_code == 404:
            assert role == "engineer" and team != world.engineer_team
            continue
        assert page.status_code == 200
        rightsizing = page.context["rightsizing"]
        assert not rightsizing["more"]
        web |= {r.resource_id for r in rightsizing["rows"]}
    body = world.client(role).get("/api/v1/rightsizing").json()
    api = {r["resource_id"] for r in body["recommendations"] if r["team"] and r["action"] != "keep"}
    assert web == api
    listed = {r["resource_id"] for r in body["recommendations"]}
    if role == "engineer":
        assert listed == {f"i-team-{world.org.slug}", f"i-kept-{world.org.slug}"}
    else:
        assert {f"i-other-{world.org.slug}", f"i-wide-{world.org.slug}"} <= listed
