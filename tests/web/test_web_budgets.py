"""Budget pages: list status, burn-down numbers, forms with field errors, access rules, CSRF."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.test import Client

from finops.budgets import calc
from finops.budgets.models import Budget, BudgetAlert
from finops.budgets.services import budget_create
from finops.forecasting.calc.projection import project_spend
from finops.web import figures
from finops.web.burndown import burn_down
from tests.web.conftest import PASSWORD

CENT = Decimal("0.01")


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


# --- Pure -------------------------------------------------------------------------------------


def _burn_down(daily: dict, start: date, end: date, as_of: date):
    projection = project_spend(daily, period_start=start, period_end=end, as_of=as_of)
    return burn_down(projection=projection, daily=daily)


def test_burn_down_cumulates_and_ends_on_the_evaluators_interval():
    rng = np.random.default_rng(7)
    start = date(2024, 1, 1)
    daily = {
        start + timedelta(days=i): Decimal(f"{100 + 10 * np.sin(i / 3) + rng.normal(0, 3):.2f}") for i in range(75)
    }
    as_of = date(2024, 3, 15)
    chart = _burn_down(daily, date(2024, 3, 1), date(2024, 3, 31), as_of)
    march = [daily[date(2024, 3, d)] for d in range(1, 16)]
    assert len(chart.actual) == 15 and len(chart.forecast) == 16
    assert list(chart.actual["cumulative"]) == [sum(march[: i + 1], Decimal(0)) for i in range(15)]
    assert chart.forecast["day"].iloc[0] == date(2024, 3, 16) and chart.forecast["day"].iloc[-1] == date(2024, 3, 31)
    assert (chart.forecast["lower"] <= chart.forecast["point"]).all()
    assert (chart.forecast["point"] <= chart.forecast["upper"]).all()
    ev = calc.evaluate_budget(daily=daily, amount=Decimal(3000), period="monthly", today=as_of, as_of=as_of)
    last = chart.forecast.iloc[-1]
    assert abs(Decimal(f"{last['point']:.2f}") - ev.forecast) <= CENT
    assert abs(Decimal(f"{last['lower']:.2f}") - ev.lower[0.8]) <= CENT
    assert abs(Decimal(f"{last['upper']:.2f}") - ev.upper[0.8]) <= CENT


def test_burn_down_without_days_left_has_no_band():
    daily = {date(2024, 9, d): Decimal(1) for d in range(1, 31)}
    chart = _burn_down(daily, date(2024, 9, 1), date(2024, 9, 30), date(2024, 9, 30))
    assert chart.forecast.empty and chart.actual["cumulative"].iloc[-1] == Decimal(30)


def test_burn_down_figure_has_one_trace_per_line():
    daily = {date(2024, 1, 1) + timedelta(days=i): Decimal(10) for i in range(40)}
    chart = _burn_down(daily, date(2024, 2, 1), date(2024, 2, 29), date(2024, 2, 9))
    figure = figures.burn_down(
        chart.actual,
        chart.forecast,
        limits=[("Budget amount", 300), ("80%", 240)],
        start="2024-02-01",
        end="2024-02-29",
        title="t",
        currency="USD",
    )
    names = [t["name"] for t in figure["data"]]
    assert names[0] == "Actual (cumulative)" and names[-2:] == ["Budget amount", "80%"]
    assert len(figure["data"][0]["y"]) == 9 and figure["data"][0]["y"][-1] == 90.0
    assert all(len(t["x"]) == 20 for t in figure["data"][1:4])  # Feb 10..29
    assert figure["data"][-1]["y"] == [240.0, 240.0]


# --- Pages ------------------------------------------------------------------------------------


def _budget(org, name, amount, **extra) -> Budget:
    data = {"name": name, "period": "annual", "amount": str(amount), **extra}
    return budget_create(organization=org, data=data)


@pytest.mark.django_db
def test_list_and_detail_numbers(tenants):
    frame = tenants["frame"]
    total = sum(frame["BilledCost"], Decimal(0))  # all of 2024's data (September)
    breached = _budget(tenants["alpha"], "Half", (total / 2).quantize(CENT))
    roomy = _budget(tenants["alpha"], "Roomy", (total * 1000).quantize(CENT))
    ann = login("ann")
    rows = {r["name"]: r for r in ann.get("/budgets/").context["rows"]}
    assert rows["Half"]["actual"] == total and rows["Half"]["status"] == "breached"
    assert rows["Half"]["probability"] == 1.0
    assert rows["Roomy"]["status"] == "ok" and rows["Roomy"]["probability"] < 0.5
    assert rows["Roomy"]["period_label"] == "2024" and rows["Roomy"]["days_elapsed"] == 274

    page = ann.get(f"/budgets/{roomy.pk}/")
    assert page.status_code == 200
    figure = page.context["figure"]
    actual = figure["data"][0]
    assert len(actual["x"]) == 274 and actual["x"][0] == "2024-01-01" and actual["x"][-1] == "2024-09-30"
    assert actual["y"][-1] == float(total.quantize(CENT))
    by_day = frame.groupby("day")["BilledCost"].apply(lambda s: sum(s, Decimal(0)))
    assert actual["y"][244 + 14] == float(sum(by_day.iloc[:15], Decimal(0)).quantize(CENT))  # Sep 15
    band = [t for t in figure["data"] if t["name"].startswith("Forecast")]
    assert [len(t["x"]) for t in band] == [92, 92, 92] and band[0]["x"][-1] == "2024-12-31"
    assert figure["data"][-1]["name"] == "Budget amount"
    assert f"/budgets/{breached.pk}/" in ann.get("/budgets/").content.decode()


@pytest.mark.django_db
def test_alert_history_is_listed(tenants):
    budget = _budget(
        tenants["alpha"],
        "Alerted",
        "10",
        thresholds=[{"percent": "80", "kind": "actual"}],
        recipient_emails=["fin@example.com"],
    )
    BudgetAlert.objects.create(
        organization=tenants["alpha"],
        budget=budget,
        period_start=date(2024, 1, 1),
        threshold_percent=Decimal(80),
        kind="actual",
        recipients=["fin@example.com"],
        subject="Budget Alerted at 80%",
        body_text="x",
        body_html="x",
    )
    page = login("vic").get(f"/budgets/{budget.pk}/").content.decode()
    assert "Budget Alerted at 80%" in page and "fin@example.com" in page


@pytest.mark.django_db
def test_create_with_field_errors_then_success(tenants):
    ann = login("ann")
    assert ann.get("/budgets/new").status_code == 200
    bad = ann.post(
        "/budgets/new",
        {
            "name": "",
            "amount": "-5",
            "period": "monthly",
            "currency": "USD",
            "cost_metric": "billed",
            "threshold_percent": ["80"],
            "threshold_kind": ["actual"],
            "scope_service_name": ["No Such Service"],
        },
    )
    assert bad.status_code == 400
    errors = bad.context["errors"]
    assert errors["name"] == ["A name is required."]
    assert errors["amount"] == ["Amount must be greater than zero, got -5."]
    assert "No Such Service" in errors["scope.service_name"][0]
    assert "recipient" in errors["recipient_emails"][0]
    html = bad.content.decode()
    assert 'data-field="amount"' in html and 'data-field="scope.service_name"' in html
    assert Budget.objects.count() == 0
    team = tenants["team"]
    ok = ann.post(
        "/budgets/new",
        {
            "name": "Team budget",
            "amount": "1234.50",
            "period": "monthly",
            "currency": "USD",
            "cost_metric": "effective",
            "scope_team": [team.slug],
            "threshold_percent": ["90", ""],
            "threshold_kind": ["forecast", "actual"],
            "recipient_emails": "a@example.com, b@example.com",
            "active": "on",
        },
    )
    budget = Budget.objects.get(name="Team budget")
    assert ok.status_code == 302 and ok["Location"] == f"/budgets/{budget.pk}/"
    assert budget.amount == Decimal("1234.50") and budget.scope == {"team": [team.slug]}
    assert budget.thresholds == [{"percent": "90", "kind": "forecast"}]
    assert budget.recipient_emails == ["a@example.com", "b@example.com"] and budget.cost_metric == "effective"
    # Edit: the form comes back filled; a name clash is a field error and changes nothing.
    _budget(tenants["alpha"], "Other", "5")
    edit = ann.get(f"/budgets/{budget.pk}/edit")
    assert edit.context["values"]["amount"] == "1234.50"
    clash = ann.post(
        f"/budgets/{budget.pk}/edit",
        {"name": "Other", "amount": "1", "period": "monthly", "currency": "USD", "cost_metric": "billed"},
    )
    assert clash.status_code == 400 and "already exists" in clash.context["errors"]["name"][0]
    budget.refresh_from_db()
    assert budget.name == "Team budget" and budget.amount == Decimal("1234.50")


@pytest.mark.django_db
def test_access_rules(tenants):
    team, other = tenants["team"], tenants["other_team"]
    org_wide = _budget(tenants["alpha"], "Org", "100")
    mine = _budget(tenants["alpha"], "Mine", "100", scope={"team": [team.slug]})
    theirs = _budget(tenants["alpha"], "Theirs", "100", scope={"team": [other.slug]})
    beta = _budget(tenants["beta"], "Beta", "100")
    eve, vic, bob = login("eve"), login("vic"), login("bob")
    assert [r["name"] for r in eve.get("/budgets/").context["rows"]] == ["Mine"]
    assert eve.get(f"/budgets/{mine.pk}/").status_code == 200
    assert eve.get(f"/budgets/{theirs.pk}/").status_code == 404
    assert eve.get(f"/budgets/{org_wide.pk}/").status_code == 404
    assert {r["name"] for r in vic.get("/budgets/").context["rows"]} == {"Org", "Mine", "Theirs"}
    assert bob.get(f"/budgets/{org_wide.pk}/").status_code == 404  # another organization's budget
    assert login("ann").get(f"/budgets/{beta.pk}/?org=alpha").status_code == 404
    for client in (eve, vic):
        assert client.get("/budgets/new").status_code == 403
        assert client.post("/budgets/new", {"name": "X", "amount": "1"}).status_code == 403
        assert client.post(f"/budgets/{mine.pk}/edit", {"name": "X", "amount": "1"}).status_code == 403
    assert 'id="new-budget"' not in vic.get("/budgets/").content.decode()
    assert not Budget.objects.filter(name="X").exists()
    strict = Client(enforce_csrf_checks=True)
    assert strict.login(username="ann", password=PASSWORD)
    assert strict.post("/budgets/new", {"name": "X", "amount": "1"}).status_code == 403
    assert "csrfmiddlewaretoken" in strict.get("/budgets/new").content.decode()
    assert not Budget.objects.filter(name="X").exists()


@pytest.mark.django_db
def test_list_reuses_the_daily_evaluation_when_current(tenants, monkeypatch):
    from finops.budgets.services import budget_evaluate
    from finops.web import budget_rows

    frame = tenants["frame"]
    total = sum(frame["BilledCost"], Decimal(0))
    budget = _budget(tenants["alpha"], "Stored", (total * 3).quantize(CENT))
    computed = login("ann").get("/budgets/").context["rows"][0]
    budget_evaluate(budget=budget, today=date(2024, 9, 30))  # what the daily task stores
    from django.core.cache import cache

    cache.clear()

    def refuse(**kwargs):
        raise AssertionError("the list recomputed a stored evaluation")

    monkeypatch.setattr(budget_rows, "budget_state", refuse)
    (row,) = login("ann").get("/budgets/").context["rows"]
    assert row.get("stored") is True
    for key in ("actual", "amount", "forecast", "lower80", "upper80", "status", "days_elapsed", "period_end"):
        assert row[key] == computed[key], key
    assert row["probability"] == pytest.approx(computed["probability"], abs=1e-4)
    # An edit after the evaluation makes the stored result stale: recomputed (here: refused).
    Budget.objects.filter(pk=budget.pk).update(amount=Decimal(1))
    budget.refresh_from_db()
    budget.save()
    cache.clear()
    with pytest.raises(AssertionError, match="recomputed"):
        login("ann").get("/budgets/")
