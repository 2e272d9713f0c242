"""Browser tests: Debian's chromium driven by Playwright for Python (never a downloaded browser).

A test marked ``browser`` uses the ``browser_page`` fixture. Without /usr/bin/chromium or Playwright it skips
with a loud BROWSER MISSING reason (tests/conftest.py); with FINOPS_REQUIRE_BROWSER=1 (CI) the run refuses to
start instead."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import CHROMIUM, browser_missing

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    reason = browser_missing()
    if reason is not None:  # a test using the browser without the ``browser`` marker (which skips it here)
        pytest.fail(f"the browser is missing: {reason}; mark the test with @pytest.mark.browser")
    # Playwright's sync API runs an event loop in this thread; Django would then refuse ORM calls made
    # by the test itself (it thinks it is in async code). The test is synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserPage:
    """A fresh page (no cookies) on the live server, recording console errors."""

    def __init__(self, context: object) -> None:
        self.context = context
        self.context.clear_cookies()
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def login(self, username: str, password: str) -> None:
        self.page.goto("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: "/accounts/login/" not in url)

    def plot_traces(self, selector: str) -> list[dict]:
        """The traces Plotly actually drew in a chart div (its .data), waiting until it has rendered."""
        self.page.wait_for_function(
            "sel => { const el = document.querySelector(sel); return el && el.data && el.data.length > 0; }",
            arg=selector,
        )
        return self.page.evaluate(
            "sel => document.querySelector(sel).data.map(t => ({name: t.name, type: t.type, x: t.x, y: t.y}))",
            selector,
        )


@pytest.fixture(scope="session")
def browser_context(chromium, live_server) -> Iterator[object]:
    # One context for the session: its HTTP and compiled-script caches keep the 4.8 MB plotly.min.js from
    # being fetched and parsed again on every test. Cookies are cleared per test.
    context = chromium.new_context(base_url=live_server.url, accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def browser_page(browser_context) -> Iterator[BrowserPage]:
    page = BrowserPage(browser_context)
    yield page
    page.page.close()


# --- Data fixtures shared by the web tests ------------------------------------------------------

PASSWORD = "pw-web-test-1"


def focus_frame():
    """The FOCUS sample read independently with pandas (money as Decimal), with the documented team rule."""
    from decimal import Decimal

    import pandas as pd
    from django.conf import settings

    from tests.conftest import FOCUS_SAMPLE
    from tests.usage.helpers import team_of

    frame = pd.read_csv(FOCUS_SAMPLE, dtype=str, keep_default_na=False)
    for column in ("BilledCost", "EffectiveCost", "ListCost"):
        frame[column] = frame[column].map(lambda v: Decimal(v) if v not in ("", "NULL") else Decimal(0))
    frame["day"] = frame["ChargePeriodStart"].str.slice(0, 10)
    frame["team_value"] = [team_of({"Tags": t}, settings.FINOPS_TEAM_TAG_KEYS) for t in frame["Tags"]]
    return frame


def _transactional(node: pytest.Item | pytest.Module) -> bool:
    marker = node.get_closest_marker("django_db")
    return marker is not None and bool(marker.kwargs.get("transaction", marker.args[0] if marker.args else False))


@pytest.fixture(scope="module")
def _module_tenants(request, django_db_setup, django_db_blocker):
    """The tenants built and committed once for a module whose tests each run in a transaction that rolls back,
    so every test starts from the same rows; None in a transactional module (its tests empty the database)."""
    if _transactional(request.node):
        yield None
        return
    from tests import factories

    with django_db_blocker.unblock():
        built = build_tenants()
    yield built
    with django_db_blocker.unblock():
        factories.delete_organizations([built["alpha"], built["beta"]], usernames=TENANT_USERS)


@pytest.fixture
def tenants(request, db, _module_tenants):
    """alpha holds the FOCUS sample, beta the CUR sample. Users: ann (alpha finance + beta viewer),
    eve (alpha engineer of one team), vic (alpha viewer), bob (beta finance only)."""
    if _module_tenants is None:
        return build_tenants()
    if _transactional(request.node):
        pytest.fail("a transactional test would empty the module's tenants: move it to a transactional module")
    # Fresh instances and a copy of the frame: what a test changes in memory stays in that test.
    fresh = {
        key: value if value is None else type(value).objects.get(pk=value.pk)
        for key, value in _module_tenants.items()
        if key != "frame"
    }
    return fresh | {"frame": _module_tenants["frame"].copy()}


TENANT_USERS = ["ann", "eve", "vic", "bob"]


def build_tenants() -> dict:
    from finops.accounts.models import Organization, Team
    from tests import factories
    from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE

    factories.ingest_command("alpha", FOCUS_SAMPLE)
    factories.ingest_command("beta", CUR_SAMPLE)
    alpha, beta = Organization.objects.get(slug="alpha"), Organization.objects.get(slug="beta")
    frame = focus_frame()
    tagged = frame[frame["team_value"] != ""]
    # The engineer's team: the tag value with the most rows (ties by name), so the scoping is visible.
    counts = tagged.groupby("team_value").size().reset_index(name="n").sort_values(["n", "team_value"])
    team_value = counts.iloc[-1]["team_value"]
    team = Team.objects.get(organization=alpha, tag_value=team_value)
    other = Team.objects.filter(organization=alpha).exclude(pk=team.pk).order_by("slug").first()
    factories.member(alpha, "ann", "finance", password=PASSWORD)
    factories.member(beta, "ann", "viewer")
    factories.member(alpha, "eve", "engineer", password=PASSWORD, teams=[team])
    factories.member(alpha, "vic", "viewer", password=PASSWORD)
    factories.member(beta, "bob", "finance", password=PASSWORD)
    beta_team = Team.objects.filter(organization=beta).order_by("slug").first() or Team.objects.create(
        organization=beta, slug="beta-only", name="beta-only", tag_value="beta-only"
    )
    return {
        "alpha": alpha,
        "beta": beta,
        "team": team,
        "other_team": other,
        "beta_team": beta_team,
        "frame": frame,
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The cache is a file cache under FINOPS_VAR_DIR that outlives test databases (whose ids repeat)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
