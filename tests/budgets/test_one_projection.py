"""One projection: for the same scope, metric and data day, the overview, the budget pages, the budget email,
``evaluate_budgets --json`` and the API (the projection endpoint, a budget's state and the forecast run's stored
projections) show the same month-end forecast and interval, to the cent; and that number is actual + the
summed forecast of the scope's whole history, computed here from the fixture frame."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from finops.budgets.services import budget_create
from finops.forecasting.calc.select import forecast_series
from finops.forecasting.services import forecast_refresh_inline
from tests.budgets.budget_helpers import TODAY, add_user, build_org, cost_frame, period_sum

pytestmark = pytest.mark.django_db
MARCH = date(2026, 3, 1)
AS_OF = TODAY - timedelta(days=1)
CENT = Decimal("0.01")


@pytest.fixture(autouse=True)
def fresh_cache():
    """Pages cache by organization id and ingest: ids come back in each test's database, so start empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def frame():
    # Longer than the 182 days budgets forecast from, while forecast runs used the whole history: their month-end
    # numbers differed (the demo's $237,437 vs $271,487).
    return cost_frame(first=date(2025, 6, 1))


def expected_forecast(frame: pd.DataFrame, column: str, **filters) -> Decimal:
    """March actual + the summed point forecast of the rest of March, from the scope's last 182 days."""
    mask = pd.Series(True, index=frame.index)
    for key, values in filters.items():
        mask &= frame[key].isin(values)
    daily = frame[mask].groupby("day")[column].apply(lambda s: float(sum(s, Decimal(0))))
    daily = daily[daily.index >= AS_OF - timedelta(days=181)]
    fc = forecast_series(daily.to_numpy(), daily.index[0], horizon=(date(2026, 3, 31) - AS_OF).days)
    actual = period_sum(frame, MARCH, AS_OF, column, **filters)
    return (actual + Decimal(repr(float(fc.point.sum())))).quantize(CENT)


def _money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _email_forecast(budget_name: str) -> Decimal:
    (message,) = [m for m in mail.outbox if f'"{budget_name}"' in m.subject]
    found = re.search(r"Forecast at period end:\s+USD ([\d,]+\.\d\d)", message.body)
    assert found, message.body
    return _money(found.group(1))


@pytest.mark.parametrize(
    ("scope", "metric", "filters"),
    [({}, "effective", {}), ({"team": ["checkout"]}, "effective", {"team": ["checkout"]})],
    ids=["organization", "team"],
)
def test_every_surface_shows_the_same_month_end_projection(frame, settings, scope, metric, filters):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    org = build_org(frame)
    user = add_user(org, "fin", "fin@example.com")
    budget = budget_create(
        organization=org,
        data={
            "name": "Watched",
            "amount": "100000",
            "scope": scope,
            "cost_metric": metric,
            "thresholds": [{"percent": "1", "kind": "forecast"}],  # crossed: an email is sent
            "recipient_users": ["fin"],
        },
    )
    forecast_refresh_inline(organization=org, send_alerts=False)
    expected = expected_forecast(frame, metric, **filters)
    expected_actual = period_sum(frame, MARCH, AS_OF, metric, **filters)

    # evaluate_budgets --json (and the email it sends)
    out = StringIO()
    call_command("evaluate_budgets", "--org", "acme", "--json", "--today", TODAY.isoformat(), stdout=out)
    (row,) = json.loads(out.getvalue())["budgets"]
    command = Decimal(row["forecast"])
    interval = [Decimal(v) for v in row["forecast_interval"]["80"]]
    assert Decimal(row["actual"]) == expected_actual
    email = _email_forecast("Watched")

    client = Client()
    client.force_login(user)
    # The budget page (its row and the burn-down's last day) and the budget list.
    detail = client.get(f"/budgets/{budget.pk}/").context
    page = detail["row"]["forecast"]
    traces = {t["name"]: t for t in detail["figure"]["data"]}
    band_end = traces["Forecast 80% interval (low)"]["y"][-1]  # the band's lower edge on period end
    listed = {r["id"]: r for r in client.get("/budgets/").context["rows"]}[budget.pk]["forecast"]
    # The API: the projection endpoint, the budget's state.
    params = {"metric": metric, "period": "monthly", "today": TODAY.isoformat(), **scope}
    api = client.get("/api/v1/forecasts/projection/", params).json()
    state = client.get(f"/api/v1/budgets/{budget.pk}/state/", {"today": TODAY.isoformat()}).json()

    surfaces = {
        "evaluate_budgets --json": command,
        "email": email,
        "budget page": page,
        "budget list": listed,
        "API projection": Decimal(api["total"]),
        "API budget state": Decimal(state["forecast"]),
    }
    if scope:  # the team page: the same selector on the team
        outlook = client.get("/teams/checkout/", {"metric": metric}).context["outlook"]
        surfaces["team page"] = outlook["projection"].total
        stored_key = {"dimension": "team", "key": "checkout"}
    else:  # the overview: the organization's projection
        slot = client.get("/", {"metric": metric}).context["slot"]["projection"]
        surfaces["overview"] = slot["total"]
        assert [slot["lower_80"], slot["upper_80"]] == interval
        stored_key = {"dimension": "total"}
    stored = client.get("/api/v1/forecasts/", {**stored_key, "metric": metric}).json()["results"]
    (month,) = [p for s in stored for p in s["projections"] if p["period"] == "month"]
    surfaces["API stored forecast run"] = Decimal(month["total"])

    assert surfaces == dict.fromkeys(surfaces, expected), surfaces
    assert [Decimal(v) for v in api["interval"]["80"]] == interval
    assert [Decimal(month["lower_80"]), Decimal(month["upper_80"])] == interval
    assert abs(Decimal(repr(band_end)) - interval[0]) <= CENT  # the chart's float, rounded once for display
