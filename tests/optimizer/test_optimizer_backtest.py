"""Backtest numbers and the two baselines on tiny instances, worked out by hand; the plan's money figures."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from optimizer.backtest import backtest, console_plan, p10_plan, realised
from optimizer.offers import CatalogPrice, SkuCatalog, build_offers, build_problem
from optimizer.plan import break_even_month, plan_report

SKU = "m5.large@us-east-1"
# One SKU at $1/h on demand; a reservation at $0.60/h; a compute savings plan at $0.70 per instance-hour.
CATALOG = {
    SKU: SkuCatalog(
        SKU,
        Decimal("1.0"),
        commitments=(
            CatalogPrice("reservation", 1, "no_upfront", Decimal(0), Decimal("0.6"), offering_class="standard"),
            CatalogPrice("savings_plan", 1, "no_upfront", Decimal(0), Decimal("0.7"), plan_type="compute"),
        ),
    )
}
RI, SP = "ri:m5@us-east-1:1y:standard:no_upfront", "sp:compute:1y:no_upfront"
OFFERS = build_offers(CATALOG, lease_years=1, purchase_option="no_upfront")
TRAIN = build_problem(pd.DataFrame({SKU: [2.0, 2.0, 4.0, 4.0]}), OFFERS)
TEST = build_problem(pd.DataFrame({SKU: [3.0, 3.0, 3.0, 3.0]}), OFFERS)


def test_p10_baseline_by_hand():
    # p10 of [2, 2, 4, 4] (linear interpolation): position 0.3 between 2 and 2 -> 2 units of the reservation.
    assert p10_plan(TRAIN, OFFERS) == {RI: 2.0}
    # Rounded down: p10 of [1.5]*4 is 1.5 -> 1 unit.
    assert p10_plan(build_problem(pd.DataFrame({SKU: [1.5] * 4}), OFFERS), OFFERS) == {RI: 1.0}


def test_console_baseline_is_the_best_single_plan_commitment():
    plan, how = console_plan(TRAIN)
    # By hand: covering level L costs 4 x 0.7 L + sum(max(0, d - L)); slope 2.8 - #(d > L) -> L = 2, c = $1.40/h.
    assert plan[SP] == pytest.approx(1.4, abs=1e-6)
    assert SP in how
    # Brute force over a grid of commitments agrees.
    demand = np.array(TRAIN.demand[SKU])
    grid = np.linspace(0, 4, 401)
    costs = [4 * c + np.maximum(demand - c / 0.7, 0).sum() for c in grid]
    assert grid[int(np.argmin(costs))] == pytest.approx(1.4, abs=0.011)


def test_realised_numbers_by_hand():
    # 2 reservation units on the test window's flat 3 instances: 4h x 2 x 0.6 + 4h x 1 on demand = 8.8.
    out = realised(TEST, OFFERS, {RI: 2.0})
    assert out["cost"] == pytest.approx(8.8)
    assert out["all_on_demand"] == pytest.approx(12.0)
    assert out["savings"] == pytest.approx(3.2)
    assert out["savings_pct"] == pytest.approx(100 * 3.2 / 12)
    assert out["utilization"] == pytest.approx(1.0)
    assert out["monthly_savings"] == pytest.approx(3.2 * 730 / 4)
    # $1.40/h of plan covers 2 instances an hour: 4 x 1.4 + 4 x 1 = 9.6.
    assert realised(TEST, OFFERS, {SP: 1.4})["cost"] == pytest.approx(9.6)
    # 4 units on the test window: 4h x 4 x 0.6 = 9.6, a quarter unused.
    over = realised(TEST, OFFERS, {RI: 4.0})
    assert over["cost"] == pytest.approx(9.6) and over["utilization"] == pytest.approx(0.75)


def test_backtest_table_by_hand():
    table = backtest(TRAIN, TEST, OFFERS, time_limit=30)
    rows = {r["strategy"]: r for r in table["rows"]}
    assert list(rows) == ["optimizer", "p10_reserved", "console_savings_plan"]
    # Optimal on train: a 3rd reservation unit costs 2.4 and saves 2 -> 2 units; the plan is dearer per unit.
    assert rows["optimizer"]["purchases"] == {RI: 2.0}
    # Train: 4h x 2 units x 0.6 = 4.8, plus on demand 0 + 0 + 2 + 2 = 4 -> 8.8.
    assert rows["optimizer"]["train"]["cost"] == pytest.approx(8.8)
    assert rows["optimizer"]["test"]["cost"] == pytest.approx(8.8)
    assert rows["p10_reserved"]["test"]["cost"] == pytest.approx(8.8)
    assert rows["console_savings_plan"]["test"]["cost"] == pytest.approx(9.6)
    assert rows["console_savings_plan"]["commitment_per_hour"] == pytest.approx(1.4, abs=1e-6)
    assert table["test_hours"] == 4


def test_spot_share_in_the_no_commitment_cost():
    catalog = {SKU: SkuCatalog(SKU, Decimal("1.0"), spot=0.3, commitments=CATALOG[SKU].commitments)}
    offers = build_offers(catalog, lease_years=1, purchase_option="no_upfront", spot_max_share=0.5)
    problem = build_problem(pd.DataFrame({SKU: [2.0, 4.0]}), offers)
    # Nothing bought: half of each hour on spot at 0.3, half on demand at 1.0: 6 x (0.15 + 0.5) = 3.9.
    assert realised(problem, offers, {})["cost"] == pytest.approx(3.9)


def test_plan_report_adds_up():
    report = plan_report(TRAIN, OFFERS, {RI: 2.0, SP: 0.7})
    # By hand: 2 RI units (4h x 1.2 = 4.8) + $0.70/h plan (2.8, covers 1 more) + on demand: 0,0,1,1 = 9.6.
    assert report.cost == pytest.approx(9.6)
    assert report.no_commitment == pytest.approx(12.0)
    rows = {p["offer_id"]: p for p in report.purchases}
    assert [p["offer_id"] for p in report.purchases] == [RI, SP]  # deepest discount first
    # Incremental: the RI saves 12 - 8.8 = 3.2, then the plan 8.8 - 9.6 = -0.8; per month x 730 / 4.
    assert rows[RI]["monthly_savings"] == pytest.approx(3.2 * 730 / 4)
    assert rows[SP]["monthly_savings"] == pytest.approx(-0.8 * 730 / 4)
    assert sum(p["monthly_savings"] for p in report.purchases) == pytest.approx(
        (report.no_commitment - report.cost) * 730 / 4
    )
    assert rows[RI]["monthly_cost"] == pytest.approx(2 * 0.6 * 730)
    assert rows[RI]["expected_utilization"] == pytest.approx(1.0)
    # Coverage: 8 unit-hours used of 12 instance-hours eligible.
    assert rows[RI]["coverage"] == pytest.approx(8 / 12)
    # The plan covers 1 instance in hours 3-4 only: used $1.40 of $2.80.
    assert rows[SP]["expected_utilization"] == pytest.approx(0.5)
    assert rows[SP]["break_even_month"] is None  # it loses money
    assert rows[RI]["break_even_month"] == 1


@pytest.mark.parametrize(
    ("upfront", "recurring", "avoided", "term", "expected"),
    [
        (0.0, 50.0, 80.0, 12, 1),
        (1000.0, 0.0, 300.0, 12, 4),  # 1000 / 300 = 3.33 -> month 4
        (900.0, 0.0, 300.0, 12, 3),
        (1000.0, 100.0, 100.0, 12, None),  # never recovers
        (10000.0, 0.0, 100.0, 12, None),  # not within the term
    ],
)
def test_break_even_month(upfront, recurring, avoided, term, expected):
    assert break_even_month(upfront=upfront, monthly_recurring=recurring, monthly_avoided=avoided,
                            term_months=term) == expected  # fmt: skip


def _random_problem(seed: int, level: float) -> dict:
    rng = np.random.default_rng(seed)
    demand = {
        "m5.large@us-east-1": list(np.round(level * rng.uniform(0.5, 1.5, 12), 2)),
        "m5.xlarge@us-east-1": list(np.round(level * rng.uniform(0.2, 1.0, 12), 2)),
    }
    return {
        "hours": 12,
        "skus": [
            {"id": "m5.large@us-east-1", "on_demand": 0.096, "spot": 0.04, "spot_max_share": 0.1},
            {"id": "m5.xlarge@us-east-1", "on_demand": 0.192},
        ],
        "demand": demand,
        "reservations": [
            {"id": "ri-std", "hourly_cost": 0.059, "upfront": 0.0,
             "covers": {"m5.large@us-east-1": 1, "m5.xlarge@us-east-1": 2}},
            {"id": "ri-xl", "hourly_cost": 0.125, "upfront": 0.0, "covers": {"m5.xlarge@us-east-1": 1}},
        ],
        "savings_plans": [{"id": "sp", "rates": {"m5.large@us-east-1": 0.071, "m5.xlarge@us-east-1": 0.142}}],
        "upfront_budget": None,
    }  # fmt: skip


@pytest.mark.parametrize("degraded", [False, True])
@pytest.mark.parametrize(("seed", "level"), [(1, 40.0), (2, 60.0), (3, 1.7)])
def test_solve_plan_matches_the_plain_solver(seed, level, degraded, monkeypatch):
    """solve_plan returns the solver's optimum; when the solver gives up (simulated: it returns the empty plan,
    unproven), the LP-relaxation fallback still returns a valid bound and, for large quantities, a plan within
    the 0.1% gap of the optimum."""
    from dataclasses import replace

    import optimizer.backtest as bt
    from optimizer.solver import evaluate, parse_problem, solve

    problem = _random_problem(seed, level)
    reference = solve(parse_problem(problem))
    assert reference.status == "optimal"
    if degraded:
        real, calls = bt._solve, []

        def give_up(parsed, time_limit, gap):
            result = real(parsed, time_limit, gap)
            calls.append(parsed)
            if len(calls) > 1:
                return result  # the relaxation LP runs normally
            empty = {k: 0 for k in result.reservations}, dict.fromkeys(result.savings_plans, 0.0)
            return replace(result, status="time_limit", bound=None, gap=None, reservations=empty[0],
                           savings_plans=empty[1], objective=result.no_commitment)  # fmt: skip

        monkeypatch.setattr(bt, "_solve", give_up)
    ours = bt.solve_plan(parse_problem(problem), time_limit=60)
    assert ours.bound <= reference.objective + 1e-6
    assert evaluate(parse_problem(problem), ours.reservations, ours.savings_plans) == pytest.approx(ours.objective)
    assert all(float(v).is_integer() for v in ours.reservations.values())
    if ours.status == "optimal":
        assert ours.gap <= 0.001 + 1e-9
    if not degraded or level > 10:  # large quantities: rounding the relaxation is within the gap
        assert ours.status == "optimal"
        assert ours.objective <= reference.objective * 1.001 + 1e-9
    else:
        assert ours.objective <= reference.no_commitment + 1e-9
        assert ours.status in ("optimal", "time_limit")


# --- regret against the perfect-hindsight optimum of the test window ---------------------------------------
RI_RATE, SP_RATE, ON_DEMAND = 0.6, 0.7, 1.0  # CATALOG's prices per instance-hour


def _brute_force_optimum(demand: list[float]) -> float:
    """The cheapest purchase on one SKU, found by enumeration, independent of the solver: reservation units r in
    0..max(demand); for each, the plan's cost is convex piecewise linear in its commitment c with kinks where it
    exactly covers an hour's remainder, so the optimum over c is at c = 0 or one of those kinks."""
    d = np.asarray(demand, dtype=float)
    best = float("inf")
    for r in range(int(d.max()) + 1):
        rest = np.maximum(d - r, 0.0)
        for c in {0.0, *(SP_RATE * x for x in rest)}:
            cost = len(d) * (r * RI_RATE + c) + ON_DEMAND * np.maximum(rest - c / SP_RATE, 0.0).sum()
            best = min(best, float(cost))
    return best


def _problem(values: list[float]):
    return build_problem(pd.DataFrame({SKU: values}), OFFERS)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_hindsight_cost_is_the_brute_force_optimum_and_every_regret_is_nonnegative(seed):
    rng = np.random.default_rng(seed)
    train = [float(v) for v in rng.integers(0, 7, 24)]
    test = [float(v) for v in rng.integers(0, 7, 24)]
    table = backtest(_problem(train), _problem(test), OFFERS, time_limit=30)
    best = table["hindsight"]
    optimum = _brute_force_optimum(test)
    assert best["status"] == "optimal"
    # The hindsight cost is proven within its gap of the optimum, and the enumeration's optimum lies there.
    assert best["bound"] - 1e-6 <= optimum <= best["cost"] + 1e-6
    assert best["cost"] <= optimum * (1 + best["gap"]) + 1e-6
    assert best["cost"] == pytest.approx(realised(_problem(test), OFFERS, best["purchases"])["cost"])
    for row in table["rows"]:
        cost = row["test"]["cost"]
        assert row["hindsight_cost"] == best["cost"]
        assert row["regret"] == pytest.approx(cost - best["cost"])
        assert row["regret_pct"] == pytest.approx(100 * (cost - best["cost"]) / best["cost"])
        assert row["regret_max"] == pytest.approx(cost - best["bound"])
        # No plan bought on another window beats the test window's optimum (up to its proven gap).
        assert cost >= optimum - 1e-6
        assert row["regret"] >= -best["gap"] * best["cost"] - 1e-6


def test_regret_by_hand():
    table = backtest(TRAIN, TEST, OFFERS, time_limit=30)
    rows = {r["strategy"]: r for r in table["rows"]}
    # Test demand is a flat 3: 3 reservation units cost 4h x 3 x 0.6 = 7.2, the cheapest way to serve it.
    assert table["hindsight"]["cost"] == pytest.approx(7.2)
    assert table["hindsight"]["purchases"] == {RI: 3.0}
    # The optimizer (2 units: 8.8) and p10 (2 units: 8.8) regret 1.6; the console plan (9.6) 2.4.
    assert rows["optimizer"]["regret"] == pytest.approx(1.6)
    assert rows["optimizer"]["regret_pct"] == pytest.approx(100 * 1.6 / 7.2)
    assert rows["console_savings_plan"]["regret"] == pytest.approx(2.4)
    # What the optimizer saves against each baseline on the test window.
    assert rows["optimizer"]["savings_vs"] == {
        "p10_reserved": pytest.approx(0.0),
        "console_savings_plan": pytest.approx(0.8),
    }
    assert rows["p10_reserved"]["savings_vs"] == {"console_savings_plan": pytest.approx(0.8)}


def test_a_strategy_buying_the_hindsight_plan_has_no_regret():
    test = _problem([1.0, 3.0, 5.0, 2.0, 4.0, 4.0])
    table = backtest(TRAIN, test, OFFERS, time_limit=30)
    given = backtest(TRAIN, test, OFFERS, time_limit=30, optimizer_purchases=table["hindsight"]["purchases"])
    assert {r["strategy"]: r["regret"] for r in given["rows"]}["optimizer"] == pytest.approx(0.0, abs=1e-9)
    # Trained on the test window itself, the optimizer is the hindsight optimum (both proven within the gap).
    same = backtest(test, test, OFFERS, time_limit=30)
    row = next(r for r in same["rows"] if r["strategy"] == "optimizer")
    assert abs(row["regret"]) <= same["hindsight"]["gap"] * same["hindsight"]["cost"] + 1e-6


def test_lookbacks_train_on_the_hours_just_before_one_test_window():
    from optimizer.backtest import backtest_lookbacks, lookback_table

    # 12 hours at 1 instance, then 4 at 2, then the 4-hour test window at 3.
    values = [1.0] * 12 + [2.0] * 4 + [3.0] * 4
    net = pd.DataFrame({SKU: values})
    result = backtest_lookbacks(net, OFFERS, [4, 16, 24], test_hours=4)
    by_hours = {t["lookback_hours"]: t for t in result["lookbacks"]}
    assert result["hindsight"]["cost"] == pytest.approx(7.2)  # 3 units x 4h x 0.6
    # 4-hour lookback sees only the 2s: 2 units; 16 hours: p10 of twelve 1s and four 2s is 1 unit.
    assert _purchases(by_hours[4], "p10_reserved") == {RI: 2.0}
    assert _purchases(by_hours[16], "p10_reserved") == {RI: 1.0}
    assert by_hours[4]["train_hours"] == 4 and by_hours[16]["train_hours"] == 16
    # 1 unit on the flat 3: 4 x 0.6 + 4 x 2 x 1.0 = 10.4, regret 3.2.
    p10_16 = next(r for r in by_hours[16]["rows"] if r["strategy"] == "p10_reserved")
    assert p10_16["regret"] == pytest.approx(10.4 - 7.2)
    assert by_hours[24]["error"] == "not enough history: 16 hours before the test window"
    text = lookback_table(result)
    assert "| 0.666667 d | p10_reserved | 10.40 |" in text
    with pytest.raises(ValueError, match="longer history"):
        backtest_lookbacks(net, OFFERS, [4], test_hours=20)


def _purchases(table: dict, strategy: str) -> dict:
    return next(r["purchases"] for r in table["rows"] if r["strategy"] == strategy)
