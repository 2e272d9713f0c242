"""Optimizer pages: the form creates a run (finance/admin), the run page shows the stored results."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from finops.accounts.services import membership_set, organization_get_or_create
from finops.web import figures
from finops.web.views_optimizer import run_view
from optimizer.models import OptimizationRun
from optimizer.selectors import optimization_run_detail
from optimizer.services import optimization_run_create, optimization_run_execute
from tests.optimizer.optruns_helpers import DAYS, START, ingest_fixture, seed_catalog
from tests.web.conftest import PASSWORD


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def acme(db, tmp_path):
    organization, _ = organization_get_or_create(slug="acme", name="Acme")
    organization.fixture_rows = ingest_fixture(organization, tmp_path)
    seed_catalog()
    membership_set(username="fin", organization=organization, role="finance", password=PASSWORD)
    membership_set(username="view", organization=organization, role="viewer", password=PASSWORD)
    membership_set(username="eng", organization=organization, role="engineer", password=PASSWORD)
    other, _ = organization_get_or_create(slug="other", name="Other")
    membership_set(username="stranger", organization=other, role="finance", password=PASSWORD)
    return organization


def test_waterfall_adds_the_layers_and_draws_the_reference():
    fig = figures.cost_waterfall(
        [("On-demand", Decimal("350.41")), ("Reservations", 0), ("Savings plans", "956.6"), ("Spot", 159.24)],
        reference=("All on-demand", Decimal("2128.59")),
        title="t",
        currency="USD",
    )
    waterfall, reference = fig["data"]
    assert waterfall["measure"] == ["relative"] * 4 + ["total"]
    assert waterfall["y"] == [350.41, 0.0, 956.6, 159.24, 1466.25]
    assert reference["y"] == [2128.59, 2128.59]


def test_coverage_and_carbon_front_figures():
    hourly = {"hours": ["h0", "h1", "h2"], "demand": [3, 4, 5], "savings_plans": [2, 2, 2], "on_demand": [1, 2, 3]}
    fig = figures.coverage_layers(hourly, title="t")
    assert [t["name"] for t in fig["data"]] == ["Savings plans", "On-demand", "Demand"]
    assert all(len(t["x"]) == 3 for t in fig["data"])
    assert fig["layout"]["xaxis"]["title"]["text"] == "Hour (UTC)"
    daily = figures.coverage_layers({**hourly, "granularity": "day", "unit": "instance-hours per day"}, title="t")
    assert daily["layout"]["xaxis"]["title"]["text"] == "Day (UTC)"
    assert daily["layout"]["yaxis"]["title"]["text"] == "instance-hours per day"
    front = figures.carbon_front([(10.0, 5.0, "a"), (12.0, 3.0, "b")], current={"cost": 11, "kgco2e": 6}, title="t")
    assert front["data"][0]["x"] == [5.0, 3.0] and front["data"][0]["y"] == [10.0, 12.0]
    assert front["data"][1]["y"] == [11.0]


def test_run_view_reads_decimal_strings():
    detail = {
        "purchases": [],
        "backtest": None,
        "results": {
            "breakdown": {"reservations": "1.1", "savings_plans": "2.2", "spot": "0", "on_demand": "3"},
            "all_on_demand": "10.5",
            "objective": "6.3",
            "savings": "4.2",
        },
    }
    view = run_view(detail)
    assert view["breakdown"] == [
        ("On-demand", Decimal(3)),
        ("Reservations", Decimal("1.1")),
        ("Savings plans", Decimal("2.2")),
        ("Spot", Decimal(0)),
    ]
    assert view["plan_cost"] == Decimal("6.3") and view["savings"] == Decimal("4.2")
    assert "coverage_figure" not in view and "carbon_figure" not in view


def test_form_creates_a_run_and_the_run_page_shows_it(acme):
    fin = login("fin")
    bad = fin.post(
        "/optimizer/",
        {
            "lookback_days": "7",
            "term": "5y",
            "payment": "no_upfront",
            "max_spot_share_percent": "20",
            "upfront_budget": "-3",
        },
    )
    assert bad.status_code == 400
    assert bad.context["errors"]["term"] == "must be 1y or 3y, got '5y'"
    assert "upfront_budget" in bad.context["errors"] and OptimizationRun.objects.count() == 0
    response = fin.post(
        "/optimizer/",
        {"lookback_days": "7", "term": "1y", "payment": "no_upfront", "max_spot_share_percent": "20", "backtest": "on"},
    )
    run = OptimizationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/optimizer/runs/{run.pk}/"
    assert run.parameters["lookback_days"] == 7 and run.parameters["backtest"] is True
    assert run.parameters["max_spot_share"] == 0.2
    pending = fin.get(f"/optimizer/runs/{run.pk}/")
    assert f'data-run-status-url="/optimizer/runs/{run.pk}/status"' in pending.content.decode()
    assert fin.get(f"/optimizer/runs/{run.pk}/status").json()["done"] is False
    optimization_run_execute(run)
    assert fin.get(f"/optimizer/runs/{run.pk}/status").json() | {"started_at": None, "finished_at": None} == {
        "id": run.pk,
        "status": "succeeded",
        "done": True,
        "error": None,
        "started_at": None,
        "finished_at": None,
    }
    page = fin.get(f"/optimizer/runs/{run.pk}/")
    detail = optimization_run_detail(OptimizationRun.objects.get(pk=run.pk))
    results = detail["results"]
    waterfall = page.context["waterfall_figure"]["data"][0]
    layers = [Decimal(str(results["breakdown"][k])) for k in ("on_demand", "reservations", "savings_plans", "spot")]
    assert waterfall["y"][:4] == [round(float(v), 2) for v in layers]
    # The layers add up to the plan's cost (the evaluator's objective), to the cent.
    assert abs(Decimal(str(waterfall["y"][4])) - Decimal(str(results["objective"]))) <= Decimal("0.02")
    assert len(page.context["purchases"]) == len(detail["purchases"]) > 0
    monthly_savings = sum(Decimal(str(p["monthly_savings"])) for p in detail["purchases"])
    assert sum(p["monthly_savings"] for p in page.context["purchases"]) == monthly_savings
    strategies = [r["strategy"] for r in page.context["backtest_rows"]]
    assert strategies[0] == "optimizer" and len(strategies) == len(detail["backtest"]["rows"]) >= 3
    # Regret against the test window's hindsight optimum, as stored, next to each strategy.
    for shown, stored in zip(page.context["backtest_rows"], detail["backtest"]["rows"], strict=True):
        assert shown["regret"] == Decimal(stored["regret"]) and shown["regret_pct"] == stored["regret_pct"]
        assert f'data-value="{stored["regret"]}"' in page.content.decode()
    html = page.content.decode()
    assert 'id="coverage-missing"' not in html and 'id="chart-coverage"' in html
    _assert_coverage_chart(page.context["coverage_figure"], acme.fixture_rows)
    assert 'id="figure-coverage"' in html  # the figure JSON the chart is drawn from
    assert 'id="coverage-note"' in html and "sunk" in html


def _assert_coverage_chart(figure, rows):
    """One point per hour of the 7-day window (ending at the fixture's last hour), the demand line equal to the
    fixture's usage not covered by its existing RI, hour by hour, and the stacked layers adding up to it."""
    end = START + timedelta(days=DAYS)
    hours = [end - timedelta(days=7) + timedelta(hours=h) for h in range(7 * 24)]
    demand = dict.fromkeys(hours, 0.0)
    for r in rows:
        t = datetime.fromisoformat(r["ChargePeriodStart"].replace("Z", "+00:00"))
        if t in demand and r["CommitmentDiscountStatus"] != "Unused" and not r["CommitmentDiscountId"]:
            demand[t] += float(r["ConsumedQuantity"])
    traces = {t["name"]: t for t in figure["data"]}
    assert list(traces) == ["Reservations", "Savings plans", "Spot", "On-demand", "Demand"]
    assert "instance" in figure["layout"]["yaxis"]["title"]["text"]
    for trace in traces.values():
        assert [datetime.fromisoformat(x) for x in trace["x"]] == hours
    assert traces["Demand"]["y"] == pytest.approx([demand[h] for h in hours], abs=1e-3)
    stacked = [sum(traces[n]["y"][i] for n in ("Reservations", "Savings plans", "Spot", "On-demand")) for i in
               range(len(hours))]  # fmt: skip
    assert stacked == pytest.approx([demand[h] for h in hours], abs=1e-3)
    assert all(t.get("stackgroup") == "layers" for n, t in traces.items() if n != "Demand")


def test_optimizer_access(acme):
    run = optimization_run_create(organization=acme, parameters={"lookback_days": 7}, enqueue=False)
    view, eng, stranger = login("view"), login("eng"), login("stranger")
    page = view.get("/optimizer/")
    assert page.status_code == 200 and 'id="optimizer-form"' not in page.content.decode()
    assert view.get(f"/optimizer/runs/{run.pk}/").status_code == 200
    assert view.post("/optimizer/", {"lookback_days": "7"}).status_code == 403
    assert eng.get("/optimizer/").status_code == 403 and eng.get(f"/optimizer/runs/{run.pk}/status").status_code == 403
    assert stranger.get(f"/optimizer/runs/{run.pk}/").status_code == 404
    assert stranger.get(f"/optimizer/runs/{run.pk}/status").status_code == 404
    strict = Client(enforce_csrf_checks=True)
    assert strict.login(username="fin", password=PASSWORD)
    assert strict.post("/optimizer/", {"lookback_days": "7"}).status_code == 403
    assert OptimizationRun.objects.count() == 1
