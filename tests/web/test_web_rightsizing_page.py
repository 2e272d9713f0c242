"""The organization-wide rightsizing page and the API's rightsizing filters: who sees which recommendations
(engineers their teams', never the untagged ones), filters by team, account and action, and the savings totals,
checked against sums of the fixture's own numbers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from optimizer.rightsizing.models import RightsizingRecommendation, RightsizingRun
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# resource, owner ("team", "other" or None: untagged), account, action, current type, new type, cost now, savings
ROWS = [
    ("i-1", "team", "111111111111", "resize", "m5.2xlarge", "m5.xlarge", "2801.60", "1400.80"),
    ("i-2", "team", "222222222222", "stop", "t3.large", None, "60.74", "60.74"),
    ("i-3", "team", "111111111111", "keep", "c5.large", "c5.large", "62.05", "0.00"),
    ("i-4", "other", "111111111111", "resize", "m5.large", "t3.large", "70.08", "9.34"),
    ("i-5", None, "333333333333", "stop", "r5.4xlarge", None, "735.84", "735.84"),
    ("i-6", None, "222222222222", "keep", "m5.large", "m5.large", "70.08", "0.00"),
]


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def run(tenants):
    alpha = tenants["alpha"]
    owners = {"team": tenants["team"], "other": tenants["other_team"], None: None}
    run = RightsizingRun.objects.create(
        organization=alpha,
        status=RightsizingRun.Status.SUCCEEDED,
        total_monthly_savings=sum((Decimal(r[7]) for r in ROWS), Decimal(0)),
    )
    for rid, owner, account, action, now, new, cost, savings in ROWS:
        team = owners[owner]
        RightsizingRecommendation.objects.create(
            run=run,
            organization=alpha,
            resource_id=rid,
            team=team,
            team_tag_value=team.tag_value if team else "",
            account_id=account,
            region="us-east-1",
            current_type=now,
            recommended_type=new,
            action=action,
            reason="p95 CPU low",
            current_monthly_cost=Decimal(cost),
            new_monthly_cost=Decimal(cost) - Decimal(savings),
            monthly_savings=Decimal(savings),
        )
    return run


def expected(*, owners=None, account=None, actions=("resize", "stop")):
    rows = [
        r
        for r in ROWS
        if (owners is None or r[1] in owners) and (account is None or r[2] == account) and r[3] in actions
    ]
    return {r[0] for r in rows}, sum((Decimal(r[7]) for r in rows), Decimal(0))


def shown(response) -> tuple[set[str], Decimal]:
    assert response.status_code == 200, response.content[:500]
    return {r.resource_id for r in response.context["rows"]}, response.context["savings"]


@pytest.mark.parametrize(
    ("username", "owners"),
    [("ann", None), ("vic", None), ("eve", {"team"})],  # finance, viewer: everything; engineer: their team
)
def test_page_lists_what_each_role_may_read_with_its_savings(tenants, run, username, owners):
    page = login(username).get("/rightsizing/")
    ids, savings = expected(owners=owners)
    assert shown(page) == (ids, savings)
    html = page.content.decode()
    assert 'id="rightsizing-table"' in html and 'class="table-scroll"' in html
    kpi = re.search(r'id="rightsizing-savings" data-value="([^"]+)"', html)
    assert kpi and Decimal(kpi.group(1)) == savings
    if owners is None:  # the untagged instance to stop appears on this page (and on no team page)
        assert "i-5" in ids and "$2,206.72" in html  # 1400.80 + 60.74 + 9.34 + 735.84, with separators
        assert "Unallocated" in html
    else:
        assert "i-5" not in html and "i-4" not in html
    assert "Resize" in html and "Stop" in html  # labels, not the stored values


@pytest.mark.parametrize(
    ("query", "owners", "account", "actions"),
    [
        ("?action=any", None, None, ("resize", "stop", "keep")),
        ("?action=keep", None, None, ("keep",)),
        ("?action=stop", None, None, ("stop",)),
        ("?account=111111111111", None, "111111111111", ("resize", "stop")),
        ("?account=222222222222&action=any", None, "222222222222", ("resize", "stop", "keep")),
        ("?team=unallocated", {None}, None, ("resize", "stop")),
        ("?team={other}&action=any", {"other"}, None, ("resize", "stop", "keep")),
    ],
)
def test_filters_by_team_account_and_action(tenants, run, query, owners, account, actions):
    query = query.format(other=tenants["other_team"].slug)
    page = login("ann").get(f"/rightsizing/{query}")
    assert shown(page) == expected(owners=owners, account=account, actions=actions)
    assert page.context["accounts"] == ["111111111111", "222222222222", "333333333333"]


def test_engineer_cannot_filter_into_other_teams(tenants, run):
    eve = login("eve")
    refused = eve.get(f"/rightsizing/?team={tenants['other_team'].slug}")
    assert refused.status_code == 400 and "no team" in refused.content.decode()
    assert shown(eve.get("/rightsizing/?team=unallocated")) == (set(), Decimal(0))
    assert eve.get("/rightsizing/").context["accounts"] == ["111111111111", "222222222222"]  # not i-4's, i-5's


def test_page_without_a_run_says_how_to_make_one(tenants):
    html = login("ann").get("/rightsizing/").content.decode()
    assert "recommend_rightsizing --org alpha" in html


def test_page_needs_a_login_and_a_membership(tenants, run):
    assert Client().get("/rightsizing/").status_code == 302
    assert login("bob").get("/rightsizing/?org=alpha").status_code == 404


def test_nav_links_to_the_page_for_every_role(tenants):
    for username in ("ann", "vic", "eve"):
        assert 'href="/rightsizing/"' in login(username).get("/").content.decode(), username


@pytest.mark.parametrize(
    ("username", "query", "owners", "account", "actions"),
    [
        ("ann", "", None, None, ("resize", "stop", "keep")),
        ("ann", "?action=stop", None, None, ("stop",)),
        ("ann", "?team=unallocated&account=333333333333", {None}, "333333333333", ("resize", "stop", "keep")),
        ("eve", "", {"team"}, None, ("resize", "stop", "keep")),
        ("eve", "?account=111111111111", {"team"}, "111111111111", ("resize", "stop", "keep")),
    ],
)
def test_api_filters_match_the_page(tenants, run, username, query, owners, account, actions):
    client = APIClient()
    assert client.login(username=username, password=PASSWORD)
    body = client.get(f"/api/v1/rightsizing{query}").json()
    ids, savings = expected(owners=owners, account=account, actions=actions)
    assert {r["resource_id"] for r in body["recommendations"]} == ids
    assert Decimal(body["total_monthly_savings"]) == savings
    assert {r["account"] for r in body["recommendations"]} <= {r[2] for r in ROWS}


def test_api_refuses_a_team_the_caller_cannot_see_and_an_unknown_action(tenants, run):
    client = APIClient()
    assert client.login(username="eve", password=PASSWORD)
    assert client.get(f"/api/v1/rightsizing?team={tenants['other_team'].slug}").status_code == 400
    assert client.get("/api/v1/rightsizing?action=explode").status_code == 400
