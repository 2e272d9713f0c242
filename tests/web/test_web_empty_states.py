"""Empty states say what to do next (issue 18): every page of an organization with no data, and of a young one
(one month of data: no budgets, forecasts, anomalies, optimizer or rightsizing runs, carbon estimates, price
catalogs, tokens), for each role. Every empty state (``.empty``, ``.empty-state``) holds a next step: a link, a
command to run, or whom to ask. A young organization's month axes are months, not timestamps."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
from django.test import Client

from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db

EMPTY_STATE = re.compile(
    r'<p class="empty"[^>]*>(?P<p>.*?)</p>|<section class="card empty-state"[^>]*>(?P<section>.*?)</section>', re.S
)
# A next step: a link to follow, a command to run, or the person to ask (a role that may not act itself).
NEXT_STEP = re.compile(r'<a\s[^>]*href="[^"]+"|<code>[^<]+</code>|\bask\b', re.I)
ACCOUNT_PAGES = ["/account/tokens/", "/account/alerts/"]
# The pages that show costs: with no data, each must show an empty state (the others are forms, texts, or lists
# of what people created, such as budgets and team mappings).
DATA_PAGES = {"/", "/explore/", "/teams/", "/anomalies/", "/optimizer/", "/commitments/", "/rightsizing/", "/carbon/"}
DATA_PAGES |= {"/data/", "/pricing/", "/account/tokens/"}


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def empty_states(body: str) -> list[str]:
    return [m.group("p") or m.group("section") for m in EMPTY_STATE.finditer(body)]


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def pages_of(client: Client, org: str) -> list[str]:
    """The pages a member reaches: the header's links (as the app renders them), the account menu, and the
    detail pages those link to that exist here (every team, every budget)."""
    body = client.get(f"/?org={org}").content.decode()
    header = body[body.index("<header") : body.index("</header>")]
    nav = re.findall(r"<nav[^>]*>(.*?)</nav>", header, re.S)[0]
    links = [html.unescape(h) for h in re.findall(r'<a[^>]*href="([^"]+)"', nav)]
    teams = re.findall(r'<a href="(/teams/[^"/]+/)"', client.get(f"/teams/?org={org}").content.decode())
    budgets = re.findall(r'<a href="(/budgets/\d+/)"', client.get(f"/budgets/?org={org}").content.decode())
    extra = ["/carbon/methodology/", "/budgets/new", "/team-mappings/"]
    return list(dict.fromkeys([*links, *ACCOUNT_PAGES, *extra, *teams[:3], *budgets]))


def walk(client: Client, org: str) -> dict[str, list[str]]:
    """Each page that answers 200 -> its empty states; a page the role may not open answers 403, not 500."""
    found = {}
    for page in pages_of(client, org):
        response = client.get(page, {"org": org})
        assert response.status_code in (200, 403), (org, page, response.status_code)
        if response.status_code == 200:
            found[page] = empty_states(response.content.decode())
    return found


def assert_every_empty_state_has_a_next_step(found: dict[str, list[str]], who: str) -> int:
    missing = [
        f"{who} {page}: {text(state)!r}"
        for page, states in found.items()
        for state in states
        if not NEXT_STEP.search(state)
    ]
    assert missing == [], "empty states without a next step:\n" + "\n".join(missing)
    return sum(len(states) for states in found.values())


@pytest.fixture
def void():
    """An organization without any data, with a team (created by an admin before any ingest) and a budget."""
    from finops.accounts.models import Team
    from finops.accounts.services import membership_set, organization_get_or_create
    from finops.budgets.models import Budget

    organization, _ = organization_get_or_create(slug="void", name="Void")
    team = Team.objects.create(organization=organization, slug="lonely", name="Lonely", tag_value="lonely")
    membership_set(username="nil", organization=organization, role="finance", password=PASSWORD)
    membership_set(username="vnil", organization=organization, role="viewer", password=PASSWORD)
    membership_set(
        username="enil", organization=organization, role="engineer", password=PASSWORD, team_slugs=["lonely"]
    )
    Budget.objects.create(organization=organization, name="Cloud", amount=Decimal(100), currency="USD")
    return {"organization": organization, "team": team}


@pytest.mark.parametrize("username", ["nil", "vnil", "enil"])
def test_an_organization_without_data_says_what_to_do_on_every_page(void, username):
    found = walk(login(username), "void")
    assert {"/", "/explore/", "/teams/", "/budgets/", "/carbon/", "/rightsizing/"} <= set(found), sorted(found)
    # Every page that shows data has an empty state here; each says what to do next.
    blank = [
        page for page, states in found.items() if not states and (page in DATA_PAGES or page.startswith("/teams/"))
    ]
    assert blank == [], f"{username}: pages with no data and no empty state: {blank}"
    assert assert_every_empty_state_has_a_next_step(found, username) >= len(set(found) & DATA_PAGES)
    # What the data-less pages tell a finance member to do is the ingest itself.
    if username == "nil":
        for page in ("/", "/explore/", "/teams/", "/teams/lonely/", "/data/"):
            assert any("ingest_usage FILE --org void" in text(s) for s in found[page]), page


def test_the_explore_empty_states_tell_no_data_from_no_match(tenants, void):
    no_data = login("nil").get("/explore/?org=void").content.decode()
    assert 'id="explore-no-data"' in no_data and 'href="/data/"' in no_data
    no_match = login("ann").get("/explore/?org=alpha&start=2020-01-01&end=2020-01-31").content.decode()
    (state,) = empty_states(no_match)
    assert "No costs match these filters" in text(state) and 'href="/explore/"' in state
    assert 'id="explore-no-data"' not in no_match


def test_teams_without_data_do_not_claim_an_unallocated_zero(void):
    void["team"].delete()
    body = login("nil").get("/teams/?org=void").content.decode()
    assert 'id="unallocated-row"' not in body
    assert "unallocated" not in text(" ".join(empty_states(body))).lower()
    assert "No teams yet: no billing data is ingested" in text(body)


@pytest.mark.parametrize("username", ["ann", "vic", "eve"])
def test_a_one_month_organization_says_what_to_do_on_every_page(tenants, username):
    found = walk(login(username), "alpha")
    assert "/teams/" in found and any(page.startswith("/teams/") and page != "/teams/" for page in found)
    count = assert_every_empty_state_has_a_next_step(found, username)
    # alpha has no budget, forecast run, anomaly, optimizer or rightsizing run, carbon estimate or token yet.
    assert count >= 5, (username, count)


def test_a_one_month_organization_draws_month_axes_as_months(tenants):
    body = login("ann").get("/?org=alpha").content.decode()
    figure = json.loads(re.search(r'<script id="figure-spend" type="application/json">(.*?)</script>', body, re.S)[1])
    xaxis = figure["layout"]["xaxis"]
    assert (xaxis["type"], xaxis["tickformat"]) == ("date", "%b %Y")
    months = {x for trace in figure["data"] for x in trace["x"]}
    frame = tenants["frame"]
    assert months == {f"{day[:7]}-01" for day in frame["day"]} == {"2024-09-01"}  # the one month, at its start
