"""Allocation you can see: teams only from the team tag keys, the admins' mapping, and the Unallocated row.

Expected sums are computed from the FOCUS sample's CSV rows with the documented team rule (first configured
key present wins), apart from the ingest."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from finops import settings as production_settings
from finops.accounts.access import policy_for_user
from finops.accounts.models import Organization, Team, TeamTagMapping
from finops.accounts.services import organization_get_or_create
from finops.core.money import MoneySum
from finops.usage.models import DailyCost, LineItem
from finops.usage.teams import TeamMappingError, team_tag_mapping_set
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import grouped_sum, read_rows, team_of

pytestmark = pytest.mark.django_db


def _ingest(slug: str = "acme") -> Organization:
    factories.ingest_command(slug, FOCUS_SAMPLE)
    return Organization.objects.get(slug=slug)


def _team_cost(organization: Organization, team: Team | None) -> Decimal:
    rows = DailyCost.objects.filter(organization=organization)
    rows = rows.filter(team__isnull=True) if team is None else rows.filter(team=team)
    return rows.aggregate(t=MoneySum("billed_cost"))["t"] or Decimal(0)


def _policy(organization: Organization, role: str):
    factories.member(organization, f"u-{role}", role, password="pw-map-1")
    return policy_for_user(factories.user(f"u-{role}"), organization_slug=organization.slug)


def test_default_team_keys_make_no_team_flood_from_the_focus_sample(settings):
    rows = read_rows(FOCUS_SAMPLE)
    units = {json.loads(r["Tags"]).get("business_unit") for r in rows if r["Tags"] not in ("", "NULL")} - {None}
    assert len(units) == 301  # what made 301 teams when business_unit was a team key
    settings.FINOPS_TEAM_TAG_KEYS = production_settings.FINOPS_TEAM_TAG_KEYS
    assert production_settings.FINOPS_TEAM_TAG_KEYS == ["team", "Team"]
    expected = {team_of(r, settings.FINOPS_TEAM_TAG_KEYS) for r in rows} - {""}
    organization = _ingest()
    assert set(Team.objects.filter(organization=organization).values_list("tag_value", flat=True)) == expected
    assert len(expected) == 0
    total = sum(grouped_sum(rows, lambda r: "", "BilledCost").values(), Decimal(0))
    assert _team_cost(organization, None) == total  # all of it unallocated, and said so


def test_only_the_configured_keys_make_teams(settings):
    settings.FINOPS_TEAM_TAG_KEYS = ["CostCenter"]
    rows = read_rows(FOCUS_SAMPLE)
    organization = _ingest()
    teams = {t.tag_value: t for t in Team.objects.filter(organization=organization)}
    assert set(teams) == {"1234"}  # the one CostCenter value; business_unit, application... make nothing
    expected = grouped_sum(rows, lambda r: team_of(r, ["CostCenter"]), "BilledCost")
    assert _team_cost(organization, teams["1234"]) == expected["1234"]
    assert _team_cost(organization, None) == expected[""]


def test_admin_mapping_merges_ignores_and_restores_with_costs_reattributed():
    rows = read_rows(FOCUS_SAMPLE)
    organization = _ingest()
    keys = ["team", "Team", "cost_center", "CostCenter", "business_unit"]
    cost = grouped_sum(rows, lambda r: team_of(r, keys), "BilledCost")
    a, b = sorted((v for v in cost if v and cost[v] > 0), key=lambda v: -cost[v])[:2]
    admin = _policy(organization, "admin")
    team_a = Team.objects.get(organization=organization, tag_value=a)
    team_b = Team.objects.get(organization=organization, tag_value=b)
    unallocated = _team_cost(organization, None)
    assert unallocated == cost[""]

    team_tag_mapping_set(policy=admin, tag_value=a, action="merge", team=team_b.slug)
    assert _team_cost(organization, team_b) == cost[a] + cost[b]
    assert _team_cost(organization, team_a) == 0
    assert LineItem.objects.filter(organization=organization, team_tag_value=a).count() == 0

    team_tag_mapping_set(policy=admin, tag_value=b, action="ignore")
    assert _team_cost(organization, team_b) == cost[a]  # a still counts for b's team; b's own rows do not
    assert _team_cost(organization, None) == cost[""] + cost[b]

    team_tag_mapping_set(policy=admin, tag_value=a, action="team")
    assert _team_cost(organization, team_a) == cost[a]
    assert _team_cost(organization, None) == cost[""] + cost[b]
    assert dict(TeamTagMapping.objects.values_list("tag_value", "action")) == {a: "team", b: "ignore"}
    total = DailyCost.objects.filter(organization=organization).aggregate(t=MoneySum("billed_cost"))["t"]
    assert total == sum(cost.values(), Decimal(0))  # nothing lost or counted twice


def test_ingest_reads_the_mapping_made_before_the_delivery():
    rows = read_rows(FOCUS_SAMPLE)
    keys = ["team", "Team", "cost_center", "CostCenter", "business_unit"]
    cost = grouped_sum(rows, lambda r: team_of(r, keys), "BilledCost")
    ignored, merged, into = sorted(v for v in cost if v)[:3]
    organization, _ = organization_get_or_create(slug="acme", name="Acme")
    admin = _policy(organization, "admin")
    team_tag_mapping_set(policy=admin, tag_value=into, action="team")
    team_tag_mapping_set(policy=admin, tag_value=ignored, action="ignore")
    target = Team.objects.get(organization=organization, tag_value=into)
    team_tag_mapping_set(policy=admin, tag_value=merged, action="merge", team=target.slug)
    _ingest()
    values = set(Team.objects.filter(organization=organization).values_list("tag_value", flat=True))
    assert ignored not in values and merged not in values
    assert values == {v for v in cost if v} - {ignored, merged}
    assert _team_cost(organization, target) == cost[into] + cost[merged]
    assert _team_cost(organization, None) == cost[""] + cost[ignored]


def test_mapping_refuses_bad_input_and_non_admins_and_writes_nothing():
    organization = _ingest()
    team = Team.objects.filter(organization=organization).order_by("slug").first()
    before = list(LineItem.objects.filter(organization=organization).values_list("team_tag_value", flat=True))
    with pytest.raises(PermissionDenied):
        team_tag_mapping_set(policy=_policy(organization, "finance"), tag_value=team.tag_value, action="ignore")
    admin = _policy(organization, "admin")
    with pytest.raises(TeamMappingError) as caught:
        team_tag_mapping_set(policy=admin, tag_value=" ", action="split")
    assert caught.value.errors == {
        "tag_value": "must be a non-empty tag value",
        "action": "must be one of team, merge, ignore, got 'split'",
    }
    with pytest.raises(TeamMappingError) as caught:
        team_tag_mapping_set(policy=admin, tag_value="x", action="merge", team="no-such-team")
    assert caught.value.errors == {"team": "no team 'no-such-team' in acme"}
    with pytest.raises(TeamMappingError) as caught:
        team_tag_mapping_set(policy=admin, tag_value=team.tag_value, action="merge", team=team.slug)
    assert caught.value.errors == {"team": "a value cannot be merged into its own team"}
    assert not TeamTagMapping.objects.exists()
    after = list(LineItem.objects.filter(organization=organization).values_list("team_tag_value", flat=True))
    assert after == before


def test_teams_page_lists_unallocated_and_the_mapping_page_and_api_edit_it():
    organization = _ingest()
    _policy(organization, "admin")
    _policy(organization, "finance")
    admin, finance = Client(), Client()
    assert admin.login(username="u-admin", password="pw-map-1")
    assert finance.login(username="u-finance", password="pw-map-1")
    page = admin.get("/teams/")
    html = page.content.decode()
    assert 'id="unallocated-row"' in html
    context = page.context
    listed = sum((r["mtd"] or Decimal(0) for r in context["rows"]), Decimal(0)) + context["unallocated"]
    assert listed == context["total"] > 0
    last = max(DailyCost.objects.filter(organization=organization).values_list("day", flat=True))
    month = DailyCost.objects.filter(organization=organization, day__gte=last.replace(day=1), day__lte=last)
    assert context["unallocated"] == month.filter(team__isnull=True).aggregate(t=MoneySum("billed_cost"))["t"]

    overview = admin.get("/?stack=team")
    movers = {m["mover"].group: m["url"] for m in overview.context["movers"]}
    assert "Unallocated" in movers, movers  # the sample's unallocated cost moves month over month
    assert "team=%28none%29" in movers["Unallocated"]  # Explore's filter for cost without a team

    team = Team.objects.filter(organization=organization).order_by("slug").first()
    assert finance.post("/team-mappings/", {"tag_value": team.tag_value, "action": "ignore"}).status_code == 403
    bad = admin.post("/team-mappings/", {"tag_value": "", "action": "ignore"})
    assert bad.status_code == 400 and bad.context["errors"] == {"tag_value": "must be a non-empty tag value"}
    done = admin.post("/team-mappings/", {"tag_value": team.tag_value, "action": "ignore"})
    assert done.status_code == 302
    assert TeamTagMapping.objects.get().action == "ignore"
    assert _team_cost(organization, team) == 0

    key = factories.token_key(factories.user("u-admin"), organization, "map", scope="write")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    listed_rows = {r["tag_value"]: r for r in api.get("/api/v1/team-mappings").json()}
    assert listed_rows[team.tag_value] == {"tag_value": team.tag_value, "action": "ignore", "team": None,
                                           "explicit": True}  # fmt: skip
    restored = api.post("/api/v1/team-mappings", {"tag_value": team.tag_value, "action": "team"},
                        content_type="application/json")  # fmt: skip
    assert restored.status_code == 200 and _team_cost(organization, team) > 0
    refused = api.post("/api/v1/team-mappings", {"tag_value": "v", "action": "merge"}, content_type="application/json")
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"team"}
    fin_key = factories.token_key(factories.user("u-finance"), organization, "fin", scope="write")
    fin_api = Client(HTTP_AUTHORIZATION=f"Token {fin_key}")
    assert fin_api.post("/api/v1/team-mappings", {"tag_value": "v", "action": "ignore"},
                        content_type="application/json").status_code == 403  # fmt: skip
