"""Hour-by-hour allocation by layer (the optimizer page's coverage chart): a hand-computed case, layers that stack
to demand, and the allocation's cost recomputed from prices equal to the evaluator's cost (pure, no Django)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from optimizer.solver import evaluate, parse_problem
from optimizer.solver.allocation import UNIT, Allocation, coverage_series, hourly_allocation
from tests.optimizer.solver.optimizer_cases import random_problem

# a: on-demand 0.10, spot 0.04 for up to 25% of the hour's demand; b: on-demand 0.20, no spot.
# r_a: a reservation for a only at 0.06/h; p: a plan charging 0.08 $/h per a and 0.15 $/h per b.
TINY = {
    "hours": 3,
    "skus": [{"id": "a", "on_demand": 0.10, "spot": 0.04, "spot_max_share": 0.25}, {"id": "b", "on_demand": 0.20}],
    "demand": {"a": [4, 2, 0], "b": [1, 3, 0]},
    "reservations": [{"id": "r_a", "hourly_cost": 0.06, "covers": {"a": 1}}],
    "savings_plans": [{"id": "p", "rates": {"a": 0.08, "b": 0.15}}],
}


def recomputed_cost(problem, allocation: Allocation, reservations, savings_plans) -> float:
    """Commitments for every hour + spot and on-demand list prices of what the allocation sends there."""
    committed = problem.hours * (
        sum(r.hourly_cost * reservations.get(r.id, 0) for r in problem.reservations) + sum(savings_plans.values())
    )
    variable = 0.0
    for k, sku in enumerate(problem.skus):
        variable += (sku.spot or 0.0) * allocation.by_sku["spot"][:, k].sum()
        variable += sku.on_demand * allocation.by_sku["on_demand"][:, k].sum()
    return committed + variable


def test_hand_computed_tiny_case():
    problem = parse_problem(TINY)
    allocation = hourly_allocation(problem, {"r_a": 2}, {"p": 0.25})
    # Hour 0 (a=4, b=1): 2 a on r_a. The plan's $ is worth more on b (0.20/0.15 per $) than on a (0.10/0.08):
    # 0.15 serves b=1, the other 0.10 serves 1.25 a; the last 0.75 a goes to spot (cap 0.25 x 4 = 1).
    # Hour 1 (a=2, b=3): r_a serves both a; the plan serves 0.25/0.15 = 5/3 b, the other 4/3 b on demand.
    # Hour 2: nothing.
    assert allocation.demand == pytest.approx([5, 5, 0])
    assert allocation.reservations == pytest.approx([2, 2, 0])
    assert allocation.savings_plans == pytest.approx([2.25, 5 / 3, 0])
    assert allocation.spot == pytest.approx([0.75, 0, 0], abs=1e-9)
    assert allocation.on_demand == pytest.approx([0, 4 / 3, 0], abs=1e-9)
    assert allocation.by_sku["savings_plans"][0] == pytest.approx([1.25, 1.0])
    # 3 h x (2 x 0.06 + 0.25) + 0.75 x 0.04 + 4/3 x 0.20
    expected = 3 * (2 * 0.06 + 0.25) + 0.75 * 0.04 + 4 / 3 * 0.20
    assert allocation.evaluation.cost == pytest.approx(expected)
    assert evaluate(problem, {"r_a": 2}, {"p": 0.25}) == pytest.approx(expected)
    assert recomputed_cost(problem, allocation, {"r_a": 2}, {"p": 0.25}) == pytest.approx(expected)


def test_nothing_bought_is_spot_share_then_on_demand():
    problem = parse_problem(TINY)
    allocation = hourly_allocation(problem, {}, {})
    assert allocation.reservations == pytest.approx([0, 0, 0]) and allocation.savings_plans == pytest.approx([0, 0, 0])
    assert allocation.spot == pytest.approx([1.0, 0.5, 0])  # 25% of a's 4 and 2
    assert allocation.on_demand == pytest.approx([4.0, 4.5, 0])


@pytest.mark.parametrize("seed", range(12))
def test_layers_stack_to_demand_and_cost_matches_the_evaluator(seed):
    problem = random_problem(seed, hours=6, skus=3)
    rng = random.Random(seed)
    reservations = {r.id: rng.choice([0, 1, 2, 3]) for r in problem.reservations}
    plans = {s.id: rng.choice([0.0, 0.05, 0.2, 0.5]) for s in problem.savings_plans}
    allocation = hourly_allocation(problem, reservations, plans)
    demand = np.array([problem.demand[s.id] for s in problem.skus]).T  # independent of the allocation's copy
    stacked = sum(allocation.by_sku[name] for name in ("reservations", "savings_plans", "spot", "on_demand"))
    assert stacked == pytest.approx(demand, abs=1e-7)  # per hour and SKU
    assert allocation.demand == pytest.approx(demand.sum(axis=1))
    for name in ("reservations", "savings_plans", "spot", "on_demand"):
        assert (allocation.layer(name) >= 0).all()
    for k, sku in enumerate(problem.skus):  # spot never above its cap, and only where there is a spot price
        cap = sku.spot_max_share * demand[:, k] if sku.spot is not None else np.zeros(len(demand))
        assert (allocation.by_sku["spot"][:, k] <= cap + 1e-9).all()
    expected = evaluate(problem, reservations, plans)
    assert recomputed_cost(problem, allocation, reservations, plans) == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_coverage_series_hourly_and_daily():
    problem = parse_problem(TINY)
    allocation = hourly_allocation(problem, {"r_a": 2}, {"p": 0.25})
    series = coverage_series(allocation, pd.Timestamp("2026-03-01T22:00:00Z"))
    assert series["hours"] == ["2026-03-01T22:00:00+00:00", "2026-03-01T23:00:00+00:00", "2026-03-02T00:00:00+00:00"]
    assert series["granularity"] == "hour" and series["unit"] == UNIT
    assert series["demand"] == [5.0, 5.0, 0.0]
    assert series["on_demand"] == [0.0, 1.3333, 0.0]
    # Over the limit: summed per UTC day (22:00 and 23:00 on the 1st, 00:00 on the 2nd).
    daily = coverage_series(allocation, pd.Timestamp("2026-03-01T22:00:00Z"), max_points=2)
    assert daily["hours"] == ["2026-03-01T00:00:00+00:00", "2026-03-02T00:00:00+00:00"]
    assert daily["granularity"] == "day" and "per day" in daily["unit"]
    assert daily["demand"] == [10.0, 0.0] and daily["savings_plans"] == pytest.approx([2.25 + 5 / 3, 0.0], abs=1e-4)


def test_unknown_purchase_is_refused():
    with pytest.raises(KeyError, match="unknown purchase ids"):
        hourly_allocation(parse_problem(TINY), {"nope": 1}, {})
