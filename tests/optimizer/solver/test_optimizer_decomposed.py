"""The decomposed formulation (Benders cuts + vectorised hourly recourse) against the plain model, a brute force
and the evaluator; validity of its cuts (every cut under-estimates the exact hourly cost everywhere)."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimizer_cases import brute_force, random_problem

import optimizer.solver as solver_pkg
from optimizer.solver import ProblemError, evaluate, parse_problem, solve
from optimizer.solver.hourly import build_recourse, hourly_cuts, separable_cut


def _supported(problem) -> bool:
    return build_recourse(problem) is not None


def _decomposed_ran(result) -> bool:
    return any(note.startswith("decomposed: LP bound") for note in result.notes)


def _random_point(problem, rng: random.Random) -> dict:
    x = {r.id: rng.randint(0, 4) for r in problem.reservations}
    c = {s.id: rng.choice([0.0, 0.03, 0.1, 0.25, 0.6]) for s in problem.savings_plans}
    return {"x": x, "c": c}


def _vector(problem, point) -> np.ndarray:
    x = [point["x"][r.id] for r in problem.reservations]
    return np.array(x + [point["c"][s.id] for s in problem.savings_plans])


def _commitment(problem, point) -> float:
    return problem.hours * (
        sum(r.hourly_cost * point["x"][r.id] for r in problem.reservations) + sum(point["c"].values())
    )


@pytest.mark.parametrize("seed", range(30))
def test_cuts_never_exceed_the_exact_cost(seed):
    # Weak duality: a cut taken at point A, evaluated at point B, is <= the evaluator's exact cost at B; with
    # at most one shared capacity the cut is tight at its own point (= the exact cost at A).
    problem = random_problem(300 + seed, hours=6, skus=3)
    rec = build_recourse(problem)
    shared = sum(len(r.covers) > 1 for r in problem.reservations) + len(problem.savings_plans)
    assert (rec is None) == (shared > 2)
    if rec is None:
        return  # beyond the decomposition: solve() falls back to the weighted MILP (tested below)
    rng = random.Random(seed)
    a, b = _random_point(problem, rng), _random_point(problem, rng)
    va, vb = _vector(problem, a), _vector(problem, b)
    cuts = hourly_cuts(rec, va)
    exact_a = evaluate(problem, a["x"], a["c"]) - _commitment(problem, a)
    exact_b = evaluate(problem, b["x"], b["c"]) - _commitment(problem, b)
    at_a = float(rec.weight @ cuts.value)
    assert at_a <= exact_a + 1e-9
    if rec.exact:
        assert at_a == pytest.approx(exact_a, rel=1e-9, abs=1e-9)
    # The same hourly cut, moved to B: constant - rho . R_B - beta . b_B
    r_b = rec.pool_capacity(vb)
    moved = cuts.constant - cuts.rho @ r_b - cuts.beta @ vb[rec.shared]
    assert float(rec.weight @ moved) <= exact_b + 1e-9
    # The separable cut at A (each SKU's dual choice re-optimised for R) is also below the exact cost at B.
    sep = separable_cut(rec, va, cuts, window=1 << 30)
    at_b = sum(
        float(np.max(sep.intercept[k] - sep.slope[k] * r_b[k], initial=0.0)) for k in range(rec.n_pools)
    ) - float(sep.beta @ vb[rec.shared])
    assert at_b <= exact_b + 1e-9
    assert sep.value == pytest.approx(at_a, rel=1e-9, abs=1e-9)  # tight where it was taken


@pytest.mark.parametrize("seed", range(20))
def test_cuts_tight_with_one_plan(seed):
    # One shared capacity: the candidate set is every vertex, so the hourly cut equals the exact cost at its
    # point, including hours whose residual demand sits under the spot cap.
    rng = random.Random(seed)
    demand = {"a": [rng.randint(0, 14) for _ in range(48)], "b": [rng.randint(0, 5) for _ in range(48)]}
    problem = parse_problem(_fleet(48, demand, THREE_PER_SKU, TWO_PLANS[:1]))
    rec = build_recourse(problem)
    assert rec.exact
    point = {
        "x": {r.id: rng.randint(0, 4) for r in problem.reservations},
        "c": {"compute": [0.0, 0.05, 0.2, 0.5][seed % 4]},
    }
    cuts = hourly_cuts(rec, _vector(problem, point))
    exact = evaluate(problem, point["x"], point["c"]) - _commitment(problem, point)
    assert float(rec.weight @ cuts.value) == pytest.approx(exact, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_matches_brute_force(seed):
    problem = random_problem(400 + seed, hours=5, skus=2, budget=seed % 3 == 0)
    expected, _ = brute_force(problem)
    result = solve(problem)  # default: decomposed, gap 0.1%
    assert result.status == "optimal"
    assert expected - 1e-9 <= result.objective <= expected * 1.001 + 1e-9
    assert result.bound <= expected + 1e-9
    assert result.objective == pytest.approx(evaluate(problem, result.reservations, result.savings_plans))
    assert result.objective <= result.no_commitment + 1e-9


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), hours=st.integers(3, 10), skus=st.integers(1, 3), budget=st.booleans())
def test_within_proven_gap_of_plain_optimum(seed, hours, skus, budget):
    problem = random_problem(seed, hours=hours, skus=skus, budget=budget)
    plain = solve(problem, solver="highs", gap=1e-7, formulation="plain")
    assert plain.status == "optimal"
    fast = solve(problem, formulation="decomposed")
    if fast.solver_status != "trivial":  # no demand or no offers: nothing is solved
        assert _decomposed_ran(fast) == _supported(problem)
    assert fast.bound is not None and fast.bound <= plain.objective * (1 + 1e-7) + 1e-9
    assert fast.objective >= plain.bound - 1e-9  # nothing beats the proven optimum
    assert fast.objective == pytest.approx(evaluate(problem, fast.reservations, fast.savings_plans), rel=1e-9)
    if fast.status == "optimal":
        assert fast.objective <= plain.objective * 1.001 + 1e-9
        assert (fast.objective - fast.bound) <= 0.001 * fast.objective + 1e-9
    if problem.upfront_budget is not None:
        spent = sum(r.upfront * fast.reservations[r.id] for r in problem.reservations)
        assert spent <= problem.upfront_budget + 1e-9


def _fleet(hours: int, demand: dict, reservations: list, plans: list, budget=None) -> dict:
    return {
        "hours": hours,
        "skus": [
            {"id": "a", "on_demand": 0.10, "spot": 0.04, "spot_max_share": 0.25},
            {"id": "b", "on_demand": 0.20},
        ],
        "demand": demand,
        "reservations": reservations,
        "savings_plans": plans,
        "upfront_budget": budget,
    }


THREE_PER_SKU = [
    {"id": f"{k}-{term}", "hourly_cost": price * factor, "upfront": upfront, "covers": {k: 1}}
    for k, price in (("a", 0.10), ("b", 0.20))
    for term, factor, upfront in (("1y-nu", 0.62, 0.0), ("1y-au", 0.58, 5.0), ("3y-pu", 0.42, 8.0))
]
TWO_PLANS = [
    {"id": "compute", "rates": {"a": 0.072, "b": 0.144}},
    {"id": "instance-b", "rates": {"b": 0.132}},
]


@pytest.mark.parametrize("budget", [None, 0.0, 13.0, 40.0])
def test_issue_structure_against_plain(budget):
    # The benchmark's offer structure (3 reservations per SKU, a compute and an instance-family plan), small
    # enough for the plain model to prove its optimum.
    rng = random.Random(7)
    demand = {"a": [rng.randint(2, 9) for _ in range(48)], "b": [rng.randint(0, 6) for _ in range(48)]}
    problem = parse_problem(_fleet(48, demand, THREE_PER_SKU, TWO_PLANS, budget))
    plain = solve(problem, gap=1e-7, formulation="plain")
    fast = solve(problem)
    assert _decomposed_ran(fast)
    assert fast.status == "optimal"
    assert fast.bound <= plain.objective + 1e-9
    assert plain.objective - 1e-9 <= fast.objective <= plain.objective * 1.001
    spent = sum(r.upfront * fast.reservations[r.id] for r in problem.reservations)
    assert budget is None or spent <= budget + 1e-9
    if budget == 0.0:  # only the no-upfront reservation is affordable
        assert all(units == 0 for rid, units in fast.reservations.items() if not rid.endswith("1y-nu"))


def test_no_demand_buys_nothing():
    problem = parse_problem(_fleet(3, {}, THREE_PER_SKU, TWO_PLANS))
    result = solve(problem)
    assert result.status == "optimal"
    assert result.objective == 0.0 and result.bound == 0.0
    assert set(result.reservations.values()) == {0} and set(result.savings_plans.values()) == {0.0}


def test_no_offers_is_on_demand_and_spot():
    # a: 4 units for 2 hours, spot 0.04 for 25% -> 2 * (1 * 0.04 + 3 * 0.10) = 0.68; b: 1 unit, 2 h -> 0.40
    problem = parse_problem(_fleet(2, {"a": [4, 4], "b": [1, 1]}, [], []))
    result = solve(problem)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(1.08)
    assert result.reservations == {} and result.savings_plans == {}


def test_flat_demand_reserves_it_all():
    # Constant demand: the cheapest reservation (3y, 0.42 x on-demand) covers every unit, except that a's spot
    # (0.04, 25% share) is cheaper than its 3y rate 0.042, so a keeps 1 of its 4 units on spot.
    # a: 3 x 0.042 + 1 x 0.04 = 0.166/h; b: 2 x 0.084 = 0.168/h; 10 h -> 3.34.
    problem = parse_problem(_fleet(10, {"a": [4] * 10, "b": [2] * 10}, THREE_PER_SKU, TWO_PLANS))
    result = solve(problem, gap=1e-6)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(3.34)
    assert result.reservations["a-3y-pu"] == 3 and result.reservations["b-3y-pu"] == 2


def test_zero_hours_is_rejected():
    with pytest.raises(ProblemError, match="hours: must be a positive integer"):
        parse_problem(_fleet(0, {}, [], []))


def test_many_shared_capacities_fall_back_to_weighted():
    # Three plans: beyond the decomposition's candidate sets; the exact weighted MILP answers instead.
    plans = [{"id": f"p{i}", "rates": {"a": 0.07 + 0.001 * i, "b": 0.15}} for i in range(3)]
    problem = parse_problem(_fleet(4, {"a": [2, 2, 1, 0], "b": [1, 0, 1, 1]}, THREE_PER_SKU, plans))
    result = solve(problem)
    assert result.status == "optimal"
    assert any("used the weighted formulation" in note for note in result.notes)
    plain = solve(problem, gap=1e-7, formulation="plain")
    assert result.objective <= plain.objective * 1.001


def test_cbc_falls_back_to_plain():
    problem = parse_problem(_fleet(4, {"a": [2, 2, 1, 0], "b": [1, 0, 1, 1]}, THREE_PER_SKU, TWO_PLANS))
    result = solve(problem, solver="cbc")
    assert result.solver == "cbc"
    assert any("plain model with CBC" in note for note in result.notes)
    assert result.status == "optimal"


def test_default_without_highspy_uses_cbc(monkeypatch):
    monkeypatch.setattr(solver_pkg, "default_solver", lambda: "cbc")
    problem = parse_problem(_fleet(4, {"a": [2, 2, 1, 0], "b": [1, 0, 1, 1]}, THREE_PER_SKU, TWO_PLANS))
    result = solve(problem)
    assert result.solver == "cbc" and result.status == "optimal"


def test_time_limit_is_reported_honestly(monkeypatch):
    # A bound that proves nothing must not be called optimal: force the decomposition to return a weak bound.
    real = solver_pkg.solve_decomposed

    def weak(problem, *, time_limit, gap):
        result = real(problem, time_limit=time_limit, gap=gap)
        return dataclasses.replace(result, bound=0.5 * result.bound)

    monkeypatch.setattr(solver_pkg, "solve_decomposed", weak)
    problem = parse_problem(_fleet(6, {"a": [3, 4, 5, 4, 3, 2], "b": [1, 2, 2, 1, 0, 0]}, THREE_PER_SKU, TWO_PLANS))
    assert solve(problem, time_limit=5).status == "time_limit"
    assert solve(problem).status == "not_proven"


def test_cli_default_is_decomposed(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    rng = random.Random(3)
    demand = {"a": [rng.randint(2, 9) for _ in range(24)], "b": [rng.randint(0, 6) for _ in range(24)]}
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(_fleet(24, demand, THREE_PER_SKU, TWO_PLANS, 13.0)))
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "solve", str(path), "--json"],
        cwd=Path(__file__).resolve().parents[3], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "optimal"
    assert any(note.startswith("decomposed: LP bound") for note in result["notes"])
    plain = solve(parse_problem(json.loads(path.read_text())), gap=1e-7, formulation="plain")
    assert result["bound"] <= plain.objective + 1e-9 <= result["objective"] + 2e-9
    assert result["objective"] <= plain.objective * 1.001
