"""OptimizationRun lifecycle on a reduced demo-like organization ingested through the real path."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest

import optimizer.services
from finops.accounts.services import organization_get_or_create
from optimizer.models import OptimizationRun, Recommendation
from optimizer.selectors import optimization_run_detail
from optimizer.services import (
    OptimizationError,
    ParametersError,
    optimization_run_create,
    optimization_run_execute,
)
from optimizer.tasks import optimization_run_execute_task
from tests.optimizer.optruns_helpers import DAYS, START, on_demand

pytestmark = pytest.mark.django_db


def _window_sums(rows, start, end):
    """Independent: instance-hours, sunk instance-hours and the on-demand cost of the rest, from the CSV rows."""
    total = sunk = od_cost = 0.0
    for r in rows:
        t = pd.Timestamp(r["ChargePeriodStart"])
        if not (start <= t < end) or r["CommitmentDiscountStatus"] == "Unused":
            continue
        q = float(r["ConsumedQuantity"])
        total += q
        if r["CommitmentDiscountId"]:
            sunk += q
        else:
            od_cost += q * float(on_demand(r["x_InstanceType"], r["RegionId"]))
    return total, sunk, od_cost


def _hourly_net(rows, start, end) -> dict[pd.Timestamp, float]:
    """Independent: instance-hours per hour not covered by existing commitments (what the plan must serve)."""
    out: dict[pd.Timestamp, float] = {}
    for r in rows:
        t = pd.Timestamp(r["ChargePeriodStart"])
        if start <= t < end and r["CommitmentDiscountStatus"] != "Unused" and not r["CommitmentDiscountId"]:
            out[t] = out.get(t, 0.0) + float(r["ConsumedQuantity"])
    return out


def _assert_hourly_layers(hourly, rows, start, hours):
    """results["hourly"] (the coverage chart): one point per hour of the window from its start, demand equal to
    the fixture's uncommitted usage per hour, and the layers stacking to it (values are stored to 4 places)."""
    assert hourly["granularity"] == "hour" and "instance" in hourly["unit"] and "sunk" in hourly["note"]
    expected_hours = [start + timedelta(hours=h) for h in range(hours)]
    assert [pd.Timestamp(h) for h in hourly["hours"]] == expected_hours
    net = _hourly_net(rows, start, start + timedelta(hours=hours))
    assert hourly["demand"] == pytest.approx([net.get(h, 0.0) for h in expected_hours], abs=1e-4)
    layers = ("reservations", "savings_plans", "spot", "on_demand")
    for name in layers:
        assert len(hourly[name]) == hours and min(hourly[name]) >= 0
    stacked = [sum(hourly[name][h] for name in layers) for h in range(hours)]
    assert stacked == pytest.approx(hourly["demand"], abs=5e-4)
    return stacked


_CENTS = re.compile(r"^-?\d+(\.\d{1,2})?$")
_RATE = re.compile(r"^-?\d+(\.\d{1,6})?$")
# The money convention: these keys carry money wherever they appear in results/backtest.
_TOTALS = {
    "all_on_demand", "no_commitment", "objective", "bound", "savings", "cost", "upfront", "upfront_total",
    "monthly_cost", "monthly_recurring", "monthly_savings", "savings_vs_no_commitment", "hindsight_cost", "regret",
    "regret_max",
}  # fmt: skip
_RATES = {"hourly", "hourly_cost", "commitment_per_hour", "price", "quantity"}


def _assert_money_strings(tree, key=None):
    """Every money amount is a decimal string (cents for totals, <= 6 places for rates); no float money."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if key in ("breakdown", "monthly"):
                assert isinstance(v, str) and _CENTS.match(v), (key, k, v)
            elif key in ("rates", "purchases"):
                assert isinstance(v, str) and _RATE.match(v), (key, k, v)
            else:
                _assert_money_strings(v, k)
    elif isinstance(tree, list):
        for v in tree:
            _assert_money_strings(v)
    elif key in _TOTALS and tree is not None:
        assert isinstance(tree, str) and _CENTS.match(tree), (key, tree)
    elif key in _RATES and tree is not None:
        assert isinstance(tree, str) and _RATE.match(tree), (key, tree)


def test_run_lifecycle_and_detail(org):
    run = optimization_run_create(organization=org, parameters={"lookback_days": 7}, enqueue=False)
    assert run.status == OptimizationRun.Status.PENDING
    run = optimization_run_execute(run)
    assert run.status == OptimizationRun.Status.SUCCEEDED, run.error
    assert run.started_at <= run.finished_at
    end = START + timedelta(days=DAYS)
    total, sunk, od_cost = _window_sums(org.fixture_rows, pd.Timestamp(end - timedelta(days=7)), pd.Timestamp(end))
    results = run.results
    assert results["window"]["hours"] == 7 * 24
    assert results["usage_instance_hours"] == pytest.approx(total, rel=1e-9)
    assert results["sunk_instance_hours"] == pytest.approx(sunk, rel=1e-9)
    # Money is decimal strings rounded to cents (totals), counts/shares stay numbers.
    _assert_money_strings(results)
    assert isinstance(results["savings_pct"], float) and isinstance(results["overall_utilization"], float)
    money = {k: Decimal(results[k]) for k in ("all_on_demand", "no_commitment", "objective", "bound", "savings")}
    assert abs(money["all_on_demand"] - Decimal(str(od_cost))) <= Decimal("0.005")
    assert results["status"] == "optimal" and results["gap"] <= 0.001
    assert money["bound"] <= money["objective"] <= money["no_commitment"] <= money["all_on_demand"]
    assert abs(money["savings"] - (money["all_on_demand"] - money["objective"])) <= Decimal("0.01")
    breakdown = sum(Decimal(v) for v in results["breakdown"].values())
    assert abs(breakdown - money["objective"]) <= Decimal("0.005") * len(results["breakdown"])
    assert results["explanation"] and "sunk" in results["explanation"][0]
    _assert_hourly_layers(results["hourly"], org.fixture_rows, pd.Timestamp(end - timedelta(days=7)), 7 * 24)
    # Something bought is used: the committed layers carry part of the demand.
    assert sum(results["hourly"]["reservations"]) + sum(results["hourly"]["savings_plans"]) > 0

    recs = list(run.recommendations.all())
    assert recs, "a growing fleet at on-demand prices should get a commitment"
    # Incremental savings add up to the plan's savings against buying nothing.
    monthly_total = sum(r.monthly_savings for r in recs)
    expected = (money["no_commitment"] - money["objective"]) * 730 / (7 * 24)
    assert abs(monthly_total - expected) <= Decimal("0.01") * len(recs) + Decimal("0.05")
    for r in recs:
        assert r.kind in ("reservation", "savings_plan") and r.term == "1y" and r.payment == "no_upfront"
        assert r.quantity > 0 and r.upfront == 0 and r.derived_price and "derived" in r.provenance

    detail = optimization_run_detail(run)
    assert detail["status"] == "succeeded"
    assert {"objective", "bound", "gap", "solver"} <= set(detail["solver"])
    assert Decimal(detail["solver"]["objective"]) == money["objective"]
    assert [p["offer_id"] for p in detail["purchases"]] == [r.offer_id for r in recs]
    assert isinstance(detail["purchases"][0]["monthly_cost"], str)

    # Rerun is safe: a finished run is not redone.
    finished, count = run.finished_at, Recommendation.objects.count()
    again = optimization_run_execute(OptimizationRun.objects.get(pk=run.pk))
    assert again.finished_at == finished and Recommendation.objects.count() == count


def test_backtest_optimizer_at_or_above_both_baselines(org):
    run = optimization_run_execute(
        optimization_run_create(organization=org, parameters={"lookback_days": 7, "backtest": True}, enqueue=False)
    )
    assert run.status == "succeeded", run.error
    table = {row["strategy"]: row for row in run.backtest["rows"]}
    _assert_money_strings(run.backtest)
    savings = {k: Decimal(v["test"]["savings"]) for k, v in table.items()}
    assert savings["optimizer"] >= savings["p10_reserved"]
    assert savings["optimizer"] >= savings["console_savings_plan"]
    assert savings["optimizer"] > 0
    # The test window's all-on-demand cost, recomputed from the CSV rows (net of the existing RI).
    end = pd.Timestamp(START + timedelta(days=DAYS))
    _, _, od_cost = _window_sums(org.fixture_rows, end - pd.Timedelta(days=7), end)
    for row in table.values():
        test = row["test"]
        assert abs(Decimal(test["all_on_demand"]) - Decimal(str(od_cost))) <= Decimal("0.005")
        assert abs(Decimal(test["savings"]) - (Decimal(test["all_on_demand"]) - Decimal(test["cost"]))) <= Decimal(
            "0.01"
        )
        assert isinstance(test["savings_pct"], float) and isinstance(test["hours"], int)
    assert run.backtest["train_window"]["end"] == run.backtest["test_window"]["start"]
    assert len(run.backtest["explanation"]) == 5 and run.backtest["explanation"][4].startswith("Regret:")
    # Regret against the test window's own optimum (solved on its actual usage): never below it beyond its gap.
    hindsight = run.backtest["hindsight"]
    best, gap = Decimal(hindsight["cost"]), hindsight["gap"]
    assert hindsight["status"] == "optimal" and abs(Decimal(hindsight["all_on_demand"]) - Decimal(str(od_cost))) <= (
        Decimal("0.005")
    )
    assert Decimal(hindsight["bound"]) <= best <= Decimal(hindsight["all_on_demand"])
    for row in table.values():
        assert Decimal(row["hindsight_cost"]) == best
        assert abs(Decimal(row["regret"]) - (Decimal(row["test"]["cost"]) - best)) <= Decimal("0.01")
        assert Decimal(row["regret"]) >= -Decimal(str(gap)) * best - Decimal("0.01")
        assert row["regret_pct"] == pytest.approx(100 * float(row["regret"]) / float(best), abs=1e-3)
    saved = {k: Decimal(v) for k, v in table["optimizer"]["savings_vs"].items()}
    for baseline in ("p10_reserved", "console_savings_plan"):
        assert abs(saved[baseline] - (savings["optimizer"] - savings[baseline])) <= Decimal("0.01")


def test_no_usage_fails_with_the_reason_and_stays_failed(tmp_path):
    empty, _ = organization_get_or_create(slug="empty", name="Empty")
    run = optimization_run_create(organization=empty, parameters={}, enqueue=False)
    with pytest.raises(OptimizationError, match="no compute usage"):
        optimization_run_execute(run)
    run.refresh_from_db()
    assert run.status == "failed" and "no compute usage" in run.error and run.finished_at
    assert not Recommendation.objects.exists()
    # A failed run is finished: executing it again does nothing.
    assert optimization_run_execute(run).status == "failed"


def test_no_commitment_prices_fails(org):
    run = optimization_run_create(organization=org, parameters={"payment": "partial"}, enqueue=False)
    with pytest.raises(OptimizationError, match="no reserved or savings-plan prices for 1y partial_upfront"):
        optimization_run_execute(run)
    assert OptimizationRun.objects.get(pk=run.pk).status == "failed"


def test_parameters_are_validated_field_by_field(org):
    with pytest.raises(ParametersError) as info:
        optimization_run_create(
            organization=org,
            parameters={"lookback_days": 14, "term": "2y", "payment": "some", "max_spot_share": 2,
                        "upfront_budget": "-1", "teams": ["nope"], "backtest": "yes", "colour": "red"},
            enqueue=False,
        )  # fmt: skip
    assert set(info.value.errors) == {
        "lookback_days", "term", "payment", "max_spot_share", "upfront_budget", "teams", "backtest", "colour"
    }  # fmt: skip
    assert "7, 30, 60, 90" in info.value.errors["lookback_days"]
    assert not OptimizationRun.objects.exists()


def test_scope_by_team_and_region(org):
    run = optimization_run_execute(
        optimization_run_create(organization=org, parameters={"lookback_days": 7, "teams": ["checkout"]}, enqueue=False)
    )
    assert run.results["skus"] == ["m5.large@us-east-1"]
    run = optimization_run_execute(
        optimization_run_create(
            organization=org, parameters={"lookback_days": 7, "regions": ["eu-west-1"]}, enqueue=False
        )
    )
    assert run.results["skus"] == ["t3.medium@eu-west-1"]


def test_upfront_budget_limits_all_upfront_purchases(org):
    run = optimization_run_execute(
        optimization_run_create(
            organization=org, parameters={"lookback_days": 7, "payment": "all", "upfront_budget": "1000"},
            enqueue=False,
        )
    )  # fmt: skip
    assert run.status == "succeeded", run.error
    spent = sum(r.upfront for r in run.recommendations.all())
    assert 0 < spent <= Decimal("1000")


def test_rightsize_removes_stopped_capacity(org, monkeypatch):
    changes = {"asg/api": None, "asg/steady": "m5.large"}
    monkeypatch.setattr(optimizer.services, "rightsizing_changes", lambda organization: changes)
    run = optimization_run_execute(
        optimization_run_create(organization=org, parameters={"lookback_days": 7, "rightsize": True}, enqueue=False)
    )
    assert run.status == "succeeded", run.error
    assert "m5.2xlarge@us-east-1" not in run.results["skus"]
    end = pd.Timestamp(START + timedelta(days=DAYS))
    rows = [r for r in org.fixture_rows if r["ResourceId"] == "asg/steady"]
    steady, _, _ = _window_sums(rows, end - pd.Timedelta(days=7), end)
    # m5.large now holds only the resized steady fleet's usage (the api fleet was stopped).
    assert run.results["usage_instance_hours"] - _other_usage(org.fixture_rows, end) == pytest.approx(steady)


def _other_usage(rows, end):
    keep = [r for r in rows if r["ResourceId"] not in ("asg/api", "asg/steady")]
    total, _, _ = _window_sums(keep, end - pd.Timedelta(days=7), end)
    return total


def test_task_runs_the_service_and_create_enqueues_on_commit(org, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(optimization_run_execute_task, "delay", lambda run_id: queued.append(run_id))
    with django_capture_on_commit_callbacks(execute=True):
        run = optimization_run_create(organization=org, parameters={"lookback_days": 7})
    assert queued == [run.pk]
    out = optimization_run_execute_task(run.pk)
    assert out["status"] == "succeeded"
    empty, _ = organization_get_or_create(slug="empty2", name="Empty")
    failed = optimization_run_create(organization=empty, parameters={}, enqueue=False)
    assert optimization_run_execute_task(failed.pk)["status"] == "failed"
