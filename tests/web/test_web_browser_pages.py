"""The budget, anomaly and optimizer pages in a real browser (chromium via Playwright): each chart's
Plotly data has the expected number of points, forms work with the keyboard-free happy path."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finops.budgets.models import Budget
from finops.budgets.services import budget_create
from tests.web.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_budget_pages_in_the_browser(tenants, browser_page):
    total = sum(tenants["frame"]["BilledCost"], Decimal(0))
    budget_create(
        organization=tenants["alpha"],
        data={
            "name": "Annual",
            "period": "annual",
            "amount": str((total * 2).quantize(Decimal("0.01"))),
            "thresholds": [{"percent": "80", "kind": "actual"}],
            "recipient_emails": ["f@example.com"],
        },
    )
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    page.goto("/budgets/?org=alpha")
    page.click("#budget-table a")
    traces = browser_page.plot_traces("#chart-burndown")
    by_name = {t["name"]: t for t in traces}
    assert len(by_name["Actual (cumulative)"]["x"]) == 274  # 2024-01-01 .. 2024-09-30
    assert len(by_name["Forecast"]["x"]) == 92  # 2024-10-01 .. 2024-12-31
    assert by_name["Budget amount"]["y"] == [float((total * 2).quantize(Decimal("0.01")))] * 2
    assert len(by_name["80% threshold (actual)"]["x"]) == 2
    # Create a budget through the form: an error first, then a valid one.
    page.goto("/budgets/new")
    page.fill("#id_name", "Browser budget")
    page.fill("#id_amount", "abc")
    page.click("#budget-form button[type=submit]")
    assert "Amount must be a decimal number" in page.text_content("[data-field=amount]")
    page.fill("#id_amount", "500")
    page.fill("#id_emails", "x@example.com")
    page.click("#budget-form button[type=submit]")
    page.wait_for_selector("#chart-burndown")
    assert Budget.objects.get(name="Browser budget").amount == Decimal(500)
    # The refused form is answered 400 (chromium logs that status); nothing else went wrong.
    assert [e for e in browser_page.errors if "status of 400" not in e] == []


def test_overview_projection_and_anomaly_feedback_in_the_browser(tenants, browser_page):
    from datetime import date

    from finops.forecasting.models import Anomaly
    from finops.forecasting.services import forecast_refresh_inline

    forecast_refresh_inline(organization=tenants["alpha"], send_alerts=False)
    anomaly = Anomaly.objects.create(
        organization=tenants["alpha"],
        metric="billed",
        currency="USD",
        dimension="total",
        key="",
        day=date(2024, 9, 13),
        expected=Decimal("1.10"),
        actual=Decimal("2.19"),
        lower=Decimal("0.40"),
        upper=Decimal("1.80"),
        impact=Decimal("1.09"),
        impact_pct=0.99,
        direction="spike",
        model="ets",
        root_cause=[
            {
                "dimension": "service",
                "key": "Virtual Machines",
                "actual": "1.5",
                "baseline": "0.5",
                "delta": "1.0",
                "share": 0.9,
            }
        ],
    )
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    page.goto("/?org=alpha&metric=effective")
    traces = {t["name"]: t for t in browser_page.plot_traces("#chart-forecast")}
    assert len(traces["Forecast"]["x"]) == 31 and len(traces["80% interval"]["x"]) == 31
    page.goto("/anomalies/")
    timeline = browser_page.plot_traces("#chart-timeline")
    assert [len(t["x"]) for t in timeline] == [27, 1, 1]  # Sep 1..27 (window to day + 14); one anomalous day
    assert len(browser_page.plot_traces("#chart-rootcause")[0]["x"]) == 1
    page.click("button[data-verdict=expected]")
    page.wait_for_selector("#anomaly-verdict")
    assert page.text_content("#anomaly-verdict").strip() == "Expected"
    anomaly.refresh_from_db()
    assert anomaly.verdict == "expected"
    assert browser_page.errors == []


def test_optimizer_run_page_follows_the_run_in_the_browser(browser_page, tmp_path):
    from finops.accounts.services import membership_set, organization_get_or_create
    from optimizer.models import OptimizationRun
    from optimizer.services import optimization_run_execute
    from tests.optimizer.optruns_helpers import ingest_fixture, seed_catalog

    acme, _ = organization_get_or_create(slug="acme", name="Acme")
    ingest_fixture(acme, tmp_path)
    seed_catalog()
    membership_set(username="fin", organization=acme, role="finance", password=PASSWORD)
    browser_page.login("fin", PASSWORD)
    page = browser_page.page
    page.goto("/optimizer/")
    page.select_option("#id_lookback", "7")
    page.check("#id_backtest")
    page.click("#optimizer-form button[type=submit]")
    page.wait_for_selector("#run-progress[data-status]")
    run = OptimizationRun.objects.get()
    optimization_run_execute(run)  # the worker's job, inline; the page polls its status and reloads
    page.wait_for_selector("#plan-cost", timeout=30_000)
    waterfall = browser_page.plot_traces("#chart-waterfall")
    assert waterfall[0]["type"] == "waterfall" and len(waterfall[0]["x"]) == 5
    assert len(waterfall[1]["x"]) == 2  # the all on-demand reference
    rows = page.eval_on_selector_all("#backtest-table tbody tr", "rows => rows.map(r => r.dataset.strategy)")
    assert rows[0] == "optimizer" and len(rows) >= 3
    assert page.eval_on_selector_all("#purchase-table tbody tr", "rows => rows.length") > 0
    assert browser_page.errors == []


def test_optimizer_what_if_form_in_the_browser(browser_page, tmp_path):
    import json

    from finops.accounts.services import membership_set, organization_get_or_create
    from optimizer.services import optimization_run_create, optimization_run_execute
    from tests.optimizer.optruns_helpers import ingest_fixture, seed_catalog

    acme, _ = organization_get_or_create(slug="acme", name="Acme")
    ingest_fixture(acme, tmp_path)
    seed_catalog()
    run = optimization_run_execute(
        optimization_run_create(organization=acme, parameters={"lookback_days": 7}, enqueue=False)
    )
    membership_set(username="view", organization=acme, role="viewer", password=PASSWORD)
    browser_page.login("view", PASSWORD)
    page = browser_page.page
    page.goto(f"/optimizer/runs/{run.pk}/")
    offer = run.results["purchases"][0]["offer_id"]
    assert offer in page.input_value("#what-if-text")  # the form starts as the run's own plan
    page.fill(
        "#what-if-text", json.dumps({"reservations": [{"offer": "ri:c5@us-east-1:1y:standard:no_upfront", "count": 2}]})
    )
    page.click("#what-if button[type=submit]")
    page.wait_for_selector("#what-if-table")
    rows = page.eval_on_selector_all("#what-if-table tbody tr", "rows => rows.map(r => r.dataset.strategy)")
    assert rows == ["what_if", "optimizer", "p10_reserved", "console_savings_plan"]
    assert "more than the optimal plan" in page.inner_text("#what-if-verdict")
    assert browser_page.errors == []
    page.locator("#what-if").screenshot(path=str(tmp_path / "what-if.png"))
    page.fill(
        "#what-if-text",
        json.dumps({"reservations": [{"offer": "ri:c5@us-east-1:1y:standard:no_upfront", "count": 0.5}]}),
    )
    page.click("#what-if button[type=submit]")
    assert "reservations[0].count" in page.inner_text("#what-if-errors")
    assert [e for e in browser_page.errors if "400 (Bad Request)" not in e] == []  # the refused list's status


def test_carbon_and_team_pages_in_the_browser(tenants, browser_page):
    from finops.carbon.models import CarbonDaily
    from finops.carbon.services import carbon_recompute

    carbon_recompute(organization=tenants["alpha"])
    regions = {
        r or "(none)"
        for r in CarbonDaily.objects.filter(organization=tenants["alpha"]).values_list("region_id", flat=True)
    }
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    page.goto("/carbon/?org=alpha")
    assert [len(t["x"]) for t in browser_page.plot_traces("#chart-carbon-month")] == [1, 1]
    assert len(browser_page.plot_traces("#chart-carbon-intensity")[0]["x"]) == 1
    assert len(browser_page.plot_traces("#chart-carbon-region")[0]["x"]) == len(regions)
    assert browser_page.plot_traces("#chart-carbon-service")
    page.click("#methodology-link")
    page.wait_for_selector("#coefficient-version")
    page.goto(f"/teams/{tenants['team'].slug}/")
    assert [len(t["x"]) for t in browser_page.plot_traces("#chart-team-carbon")] == [1, 1]
    assert browser_page.errors == []
