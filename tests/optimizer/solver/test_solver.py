"""Correctness of the commitment-mix solver against hand-computed optima and a brute force (no Django)."""

from __future__ import annotations

import random

import pytest
from optimizer_cases import best_cost_for_reservations, brute_force, random_problem

import optimizer.solver as solver_pkg
from optimizer.solver import evaluate, evaluate_detail, parse_problem, solve

SOLVERS = ["highs", "cbc"]


def one_sku(**extra) -> dict:
    data = {
        "hours": 4,
        "skus": [{"id": "a", "on_demand": 0.1}],
        "demand": {"a": [2, 2, 1, 0]},
        "reservations": [],
        "savings_plans": [],
        "upfront_budget": None,
    }
    data.update(extra)
    return data


RESERVATION = [{"id": "r", "hourly_cost": 0.06, "upfront": 10.0, "covers": {"a": 1}}]


@pytest.mark.parametrize("solver", SOLVERS)
def test_hand_example_reservation(solver):
    # Demand [2,2,1,0], on-demand 0.1, one reservation unit costs 0.06/h for all 4 hours:
    #   x=0: 5 unit-hours on demand             = 0.50
    #   x=1: 4*0.06 + (1+1+0+0)*0.1 = 0.24+0.20 = 0.44   <- optimum
    #   x=2: 8*0.06 + 0                          = 0.48
    #   x=3: 12*0.06                             = 0.72
    result = solve(parse_problem(one_sku(reservations=RESERVATION)), solver=solver)
    assert result.status == "optimal"
    assert result.reservations == {"r": 1}
    assert result.objective == pytest.approx(0.44, abs=1e-9)
    assert result.bound == pytest.approx(0.44, abs=1e-6)
    assert result.breakdown == pytest.approx({"reservations": 0.24, "savings_plans": 0, "spot": 0, "on_demand": 0.2})
    assert result.all_on_demand == pytest.approx(0.5)
    assert result.savings_pct == pytest.approx(12.0)
    assert result.utilization["reservations"]["r"] == pytest.approx(3 / 4)  # 3 of 4 unit-hours used


@pytest.mark.parametrize("solver", SOLVERS)
def test_hand_example_savings_plan(solver):
    # Plan rate 0.07 per unit; commit c $/h covers y = c/0.07 units each hour.
    # cost(y) = 4*0.07*y + 0.1*sum_h max(0, d_h - y) = 0.28y + 0.1*sum(...)
    # slope for 0<y<1: 0.28 - 0.1*3 < 0; for 1<y<2: 0.28 - 0.1*2 > 0  => y=1, c=0.07,
    # cost = 0.28 + 0.1*(1+1+0+0) = 0.48.
    problem = parse_problem(one_sku(savings_plans=[{"id": "p", "rates": {"a": 0.07}}]))
    result = solve(problem, solver=solver)
    assert result.status == "optimal"
    assert result.savings_plans["p"] == pytest.approx(0.07, abs=1e-7)
    assert result.objective == pytest.approx(0.48, abs=1e-6)


def test_spot_only_is_trivially_optimal():
    # Spot 0.03 for at most half of each hour's demand: spot 0.03*(1+1+0.5) + on-demand 0.1*(1+1+0.5) = 0.325.
    problem = parse_problem(one_sku(skus=[{"id": "a", "on_demand": 0.1, "spot": 0.03, "spot_max_share": 0.5}]))
    result = solve(problem)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(0.325)
    assert result.breakdown["spot"] == pytest.approx(0.075)
    assert result.all_on_demand == pytest.approx(0.5)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("budget, units, cost", [(5.0, 0, 0.5), (10.0, 1, 0.44), (None, 1, 0.44)])
def test_upfront_budget(solver, budget, units, cost):
    # Each unit needs 10 upfront: a budget of 5 allows none (all on-demand, 0.50), 10 allows the optimum.
    result = solve(parse_problem(one_sku(reservations=RESERVATION, upfront_budget=budget)), solver=solver)
    assert result.status == "optimal"
    assert result.reservations == {"r": units}
    assert result.objective == pytest.approx(cost)


def test_evaluate_hand_values():
    problem = parse_problem(one_sku(reservations=RESERVATION, savings_plans=[{"id": "p", "rates": {"a": 0.07}}]))
    assert evaluate(problem, {}, {}) == pytest.approx(0.5)
    assert evaluate(problem, {"r": 2}, {}) == pytest.approx(0.48)
    # 1 reservation unit + plan 0.07 (1 more unit): 0.24 + 0.28 + 0 on-demand = 0.52
    assert evaluate(problem, {"r": 1}, {"p": 0.07}) == pytest.approx(0.52)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", range(25))
def test_matches_brute_force(solver, seed):
    problem = random_problem(seed, budget=seed % 3 == 0)
    expected, _ = brute_force(problem)
    result = solve(problem, solver=solver, gap=1e-6)  # CBC writes its objective to ~10 digits
    assert result.status == "optimal"
    assert expected - 1e-9 <= result.objective <= expected * (1 + 1e-6) + 1e-9
    assert result.bound <= result.objective + 1e-9
    assert result.objective == pytest.approx(evaluate(problem, result.reservations, result.savings_plans))
    assert result.objective <= result.no_commitment + 1e-9 <= result.all_on_demand + 2e-9
    assert sum(result.breakdown.values()) == pytest.approx(result.objective)


@pytest.mark.parametrize("seed", range(25, 35))
def test_default_gap_within_tolerance(seed):
    problem = random_problem(seed, hours=6, skus=3)
    expected, _ = brute_force(problem)
    result = solve(problem)  # default gap 0.1%
    assert result.status == "optimal"
    assert expected - 1e-9 <= result.objective <= expected * 1.001 + 1e-9
    assert result.bound <= expected + 1e-9


def test_worse_than_nothing_falls_back_to_empty_plan(monkeypatch):
    # A solver stopped on a time limit with a terrible incumbent (MEASURED.md: 15-113% above buying nothing):
    # the plan must be replaced by the empty plan and not be called optimal.
    def fake_run(model, solver, time_limit, gap):
        for var in model.x.values():
            var.varValue = 50
        return "Time limit reached", 0.1, True

    monkeypatch.setattr(solver_pkg, "_run", fake_run)
    result = solve(parse_problem(one_sku(reservations=RESERVATION)), time_limit=1, formulation="plain")
    assert result.reservations == {"r": 0}
    assert result.objective == pytest.approx(0.5)
    assert result.bound == pytest.approx(0.1)
    assert result.gap == pytest.approx(0.8)
    assert result.status == "time_limit"
    assert any("empty plan" in note for note in result.notes)


def test_no_bound_is_never_optimal(monkeypatch):
    # CBC stopped on time: PuLP gives no bound, so even a good plan is "time_limit".
    def fake_run(model, solver, time_limit, gap):
        model.x["r"].varValue = 1
        return "Integer Feasible", None, True

    monkeypatch.setattr(solver_pkg, "_run", fake_run)
    result = solve(parse_problem(one_sku(reservations=RESERVATION)), time_limit=1, solver="cbc", formulation="plain")
    assert result.status == "time_limit"
    assert result.bound is None and result.gap is None
    assert result.objective == pytest.approx(0.44)


def test_unknown_solver():
    with pytest.raises(ValueError, match="solver must be one of"):
        solve(parse_problem(one_sku()), solver="gurobi")


@pytest.mark.parametrize("seed", range(40))
def test_weighted_matches_plain_and_brute_force(seed):
    # 8 hours drawn from a few demand levels, so many hours repeat and get merged.
    problem = random_problem(100 + seed, hours=8, skus=2, budget=seed % 4 == 0)
    expected, _ = brute_force(problem)
    plain = solve(problem, solver="highs", gap=1e-7)
    weighted = solve(problem, solver="highs", gap=1e-7, formulation="weighted")
    assert plain.status == weighted.status == "optimal"
    assert weighted.objective == pytest.approx(plain.objective, rel=1e-6, abs=1e-9)
    assert expected - 1e-9 <= weighted.objective <= expected * (1 + 1e-6) + 1e-9
    assert weighted.bound <= expected + 1e-9
    assert weighted.objective == pytest.approx(evaluate(problem, weighted.reservations, weighted.savings_plans))


def test_weighted_merges_hours():
    # [2,2,1,0] has distinct non-zero hours {2, 1}: the hand optimum 0.44 (see above) must survive the merge.
    result = solve(parse_problem(one_sku(reservations=RESERVATION)), formulation="weighted")
    assert result.status == "optimal"
    assert result.reservations == {"r": 1}
    assert result.objective == pytest.approx(0.44)
    assert "2 distinct non-zero demand hours" in result.notes[0]


def test_weighted_needs_highs():
    with pytest.raises(ValueError, match="weighted formulation needs"):
        solve(parse_problem(one_sku(reservations=RESERVATION)), solver="cbc", formulation="weighted")


@pytest.mark.parametrize("seed", range(30))
def test_evaluate_matches_independent_lp_on_random_purchases(seed):
    # The evaluator (distinct hours, one block-diagonal sparse LP) against a dense all-hours LP from the tests.
    problem = random_problem(200 + seed, hours=6, skus=3)
    rng = random.Random(seed)
    x = {r.id: rng.randint(0, 4) for r in problem.reservations}
    c = {s.id: rng.choice([0.0, 0.05, 0.13, 0.4]) for s in problem.savings_plans}
    detail = evaluate_detail(problem, x, c)
    assert detail.cost == pytest.approx(best_cost_for_reservations(problem, x, c), rel=1e-9, abs=1e-12)
    assert sum(detail.breakdown.values()) == pytest.approx(detail.cost)
    for share in [*detail.utilization["reservations"].values(), *detail.utilization["savings_plans"].values()]:
        assert share is None or 0.0 <= share <= 1.0


def test_evaluate_rejects_unknown_and_negative_purchases():
    problem = parse_problem(one_sku(reservations=RESERVATION))
    with pytest.raises(KeyError, match="nope"):
        evaluate(problem, {"nope": 1}, {})
    with pytest.raises(ValueError, match="non-negative"):
        evaluate(problem, {"r": -1}, {})


def test_zero_demand_buys_nothing():
    problem = parse_problem(one_sku(demand={"a": [0, 0, 0, 0]}, reservations=RESERVATION))
    result = solve(problem)
    assert result.status == "optimal"
    assert result.objective == 0.0 and result.bound == 0.0 and result.gap == 0.0
    assert result.reservations == {"r": 0}
    assert result.savings_pct == 0.0


@pytest.mark.parametrize("kwargs, message", [({"gap": -0.1}, "gap must be"), ({"time_limit": 0}, "time_limit must")])
def test_bad_solve_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        solve(parse_problem(one_sku()), **kwargs)
