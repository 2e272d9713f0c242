"""Size-flexible reservation pools (AWS regional Linux reservations: one family x region x tenancy x OS covers
every size by normalization factor) in the decomposed formulation, against brute force, the plain and the
weighted models and the evaluator."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimizer_cases import best_cost_for_reservations, brute_force

from optimizer.solver import evaluate, evaluate_detail, parse_problem, solve
from optimizer.solver.hourly import build_recourse, hourly_cuts, separable_cut

NF = {"medium": 2, "large": 4, "xlarge": 8, "2xlarge": 16}  # AWS normalization factors


def _decomposed_ran(result) -> bool:
    return any(note.startswith("decomposed: LP bound") for note in result.notes)


def _family(name: str, sizes: list[str], unit_price: float, *, spot: bool = True, skew=None) -> list[dict]:
    """On-demand proportional to the normalization factor (as AWS Linux prices are), or off it by ``skew()``."""
    rows = []
    for size in sizes:
        row = {"id": f"{name}.{size}", "on_demand": round(unit_price * NF[size] * (skew() if skew else 1.0), 6)}
        if spot:
            row |= {"spot": round(0.35 * row["on_demand"], 6), "spot_max_share": 0.2}
        rows.append(row)
    return rows


def _pool_offer(rid: str, name: str, sizes: list[str], unit: str, hourly: float, upfront: float = 0.0) -> dict:
    """One reservation for size ``unit``, covering every size of the family by normalization factor."""
    return {"id": rid, "hourly_cost": hourly, "upfront": upfront,
            "covers": {f"{name}.{size}": NF[size] / NF[unit] for size in sizes}}  # fmt: skip


def test_one_pool_covers_several_sizes_in_the_same_hour():
    # Every hour: 2 x large (4 units each) + 1 x xlarge (8) + 1 x 2xlarge (16) = 32 normalized units = 8 large
    # reservations. At 0.05 $/h per large unit (od 0.1) with no spot, buying exactly 8 serves everything:
    # 10 h x 8 x 0.05 = 4.00; 7 units would leave 4 normalized units (a large) on demand: 3.5 + 1.0 = 4.50.
    sizes = ["large", "xlarge", "2xlarge"]
    data = {
        "hours": 10,
        "skus": _family("m5", sizes, 0.025, spot=False),
        "demand": {"m5.large": [2] * 10, "m5.xlarge": [1] * 10, "m5.2xlarge": [1] * 10},
        "reservations": [_pool_offer("m5-1y", "m5", sizes, "large", 0.05)],
    }
    problem = parse_problem(data)
    result = solve(problem, gap=1e-7)
    assert _decomposed_ran(result)
    assert result.status == "optimal"
    assert result.reservations == {"m5-1y": 8}
    assert result.objective == pytest.approx(4.0)
    assert result.utilization["reservations"]["m5-1y"] == pytest.approx(1.0)
    assert evaluate(problem, {"m5-1y": 7}, {}) == pytest.approx(4.5)
    assert build_recourse(problem).n_pools == 1


def test_offers_in_different_units_pool_together():
    # A large reservation (covers large 1, xlarge 2) and an xlarge one (covers large 0.5, xlarge 1) are the same
    # pool: one xlarge unit is two large units. Demand 3 xlarge each hour = 6 large units; the xlarge offer is
    # cheaper per unit (0.09 < 2 x 0.05), so 3 of it; the evaluator lets a large-unit reservation serve xlarge too.
    sizes = ["large", "xlarge"]
    data = {
        "hours": 4,
        "skus": _family("c5", sizes, 0.03, spot=False),
        "demand": {"c5.xlarge": [3, 3, 3, 3]},
        "reservations": [
            _pool_offer("c5-large", "c5", sizes, "large", 0.05),
            _pool_offer("c5-xlarge", "c5", sizes, "xlarge", 0.09),
        ],
    }
    problem = parse_problem(data)
    rec = build_recourse(problem)
    assert rec.n_pools == 1 and sorted(rec.pool_scale) == [1.0, 2.0]
    result = solve(problem, gap=1e-7)
    assert result.reservations == {"c5-large": 0, "c5-xlarge": 3}
    assert result.objective == pytest.approx(4 * 3 * 0.09)
    # Two large units serve one xlarge instance: 6 large reservations cost 4 x 6 x 0.05 = 1.20 and cover it all.
    assert evaluate(problem, {"c5-large": 6}, {}) == pytest.approx(1.2)


def test_a_sku_without_normalization_factor_is_covered_by_its_own_reservation_only():
    # m5.metal has no factor here: its reservation covers it alone, and the m5 pool (large, xlarge) cannot
    # serve it. Demand only on metal: the cheap pool offer is useless, the metal reservation is bought.
    sizes = ["large", "xlarge"]
    skus = [*_family("m5", sizes, 0.025, spot=False), {"id": "m5.metal", "on_demand": 4.6}]
    data = {
        "hours": 6,
        "skus": skus,
        "demand": {"m5.metal": [2, 1, 1, 1, 1, 2], "m5.xlarge": [1, 0, 1, 0, 1, 0]},
        "reservations": [
            _pool_offer("m5-pool", "m5", sizes, "large", 0.01),
            {"id": "m5.metal-1y", "hourly_cost": 2.9, "covers": {"m5.metal": 1}},
        ],
    }
    problem = parse_problem(data)
    rec = build_recourse(problem)
    metal = [s.id for s in problem.skus].index("m5.metal")
    assert rec.n_pools == 2
    assert np.count_nonzero(rec.pool_of_sku == rec.pool_of_sku[metal]) == 1
    result = solve(problem, gap=1e-7)
    expected, units = brute_force(problem)
    assert result.status == "optimal" and _decomposed_ran(result)
    assert result.objective == pytest.approx(expected, rel=1e-7)
    assert result.reservations["m5.metal-1y"] == units["m5.metal-1y"] == 1  # a 2nd metal unit: 6 h x 2.9 for 2 h x 4.6
    # The pool serves xlarge only: 2 large units, bought for the 3 hours with an xlarge.
    assert result.reservations["m5-pool"] == 2
    plain = solve(problem, gap=1e-7, formulation="plain")
    assert result.objective == pytest.approx(plain.objective, rel=1e-7)


def _two_families(budget: float | None) -> dict:
    rng = random.Random(5)
    a_sizes, b_sizes = ["large", "xlarge"], ["medium", "large", "xlarge"]
    skus = _family("a", a_sizes, 0.025) + _family("b", b_sizes, 0.03)
    demand = {s["id"]: [rng.randint(1, 4) for _ in range(24)] for s in skus}
    reservations = []
    for name, sizes, unit, price in (("a", a_sizes, "large", 0.1), ("b", b_sizes, "medium", 0.06)):
        reservations += [
            _pool_offer(f"{name}-1y-nu", name, sizes, unit, round(0.62 * price, 5)),
            _pool_offer(f"{name}-3y-pu", name, sizes, unit, round(0.42 * price, 5), upfront=1.0),
        ]
    plans = [{"id": "compute", "rates": {s["id"]: round(0.72 * s["on_demand"], 6) for s in skus}}]
    return {"hours": 24, "skus": skus, "demand": demand, "reservations": reservations,
            "savings_plans": plans, "upfront_budget": budget}  # fmt: skip


@pytest.mark.parametrize("budget", [0.0, 9.0, 20.0])
def test_budget_binds_across_pools(budget):
    # Each 3y unit costs 1.0 upfront; unconstrained, the optimum buys more 3y units in the two pools together
    # than the budget allows, so the budget decides how they are shared between the families.
    free = solve(parse_problem(_two_families(None)), gap=1e-7)
    free_3y = free.reservations["a-3y-pu"] + free.reservations["b-3y-pu"]
    assert free_3y > budget
    problem = parse_problem(_two_families(budget))
    fast = solve(problem)
    weighted = solve(problem, gap=1e-7, formulation="weighted")
    plain = solve(problem, gap=1e-7, formulation="plain")
    assert _decomposed_ran(fast) and fast.status == "optimal"
    assert weighted.objective == pytest.approx(plain.objective, rel=1e-6)
    assert fast.reservations["a-3y-pu"] + fast.reservations["b-3y-pu"] <= budget
    assert fast.bound <= plain.objective + 1e-9
    assert plain.objective - 1e-9 <= fast.objective <= plain.objective * 1.001
    assert fast.objective > free.objective  # the budget binds
    # The exact optimum for the decomposed purchase's reservations, plans re-optimised, is no better than plain.
    assert best_cost_for_reservations(problem, fast.reservations) >= plain.bound - 1e-9


def _random_flexible(seed: int, *, hours: int, plans: int, budget: bool, skewed: bool = False) -> dict:
    rng = random.Random(seed)
    skew = (lambda: rng.uniform(0.8, 1.25)) if skewed else None
    skus, demand, reservations = [], {}, []
    for f in range(rng.randint(1, 3)):
        count = rng.randint(1, 3)
        start = rng.randint(0, len(NF) - count)
        sizes = list(NF)[start : start + count]
        unit_price = round(rng.uniform(0.02, 0.04), 4)
        skus += _family(f"f{f}", sizes, unit_price, spot=rng.random() < 0.6, skew=skew)
        for size in sizes:
            demand[f"f{f}.{size}"] = [rng.choice([0, 0, 1, 1, 2, 3]) for _ in range(hours)]
        for i in range(rng.randint(1, 2)):
            unit = rng.choice(sizes)
            reservations.append(
                _pool_offer(f"f{f}-r{i}", f"f{f}", sizes, unit,
                            round(unit_price * NF[unit] * rng.uniform(0.4, 0.7), 5), rng.choice([0.0, 1.0, 2.0]))
            )  # fmt: skip
    offers = []
    for p in range(plans):
        covered = [s["id"] for s in skus if p == 0 or rng.random() < 0.5] or [skus[0]["id"]]
        offers.append({"id": f"p{p}", "rates": {k: round(rng.uniform(0.6, 0.8) * next(
            s["on_demand"] for s in skus if s["id"] == k), 6) for k in covered}})  # fmt: skip
    return {"hours": hours, "skus": skus, "demand": demand, "reservations": reservations,
            "savings_plans": offers, "upfront_budget": rng.choice([0.0, 2.0, 5.0]) if budget else None}  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    hours=st.integers(3, 8),
    plans=st.integers(0, 2),
    budget=st.booleans(),
    skewed=st.booleans(),
)
def test_random_pools_within_proven_gap_of_plain(seed, hours, plans, budget, skewed):
    problem = parse_problem(_random_flexible(seed, hours=hours, plans=plans, budget=budget, skewed=skewed))
    plain = solve(problem, gap=1e-7, formulation="plain")
    assert plain.status == "optimal"
    fast = solve(problem)
    if fast.solver_status != "trivial":
        assert _decomposed_ran(fast)
    assert fast.status == "optimal"
    assert fast.bound <= plain.objective * (1 + 1e-7) + 1e-9
    assert fast.objective >= plain.bound - 1e-9
    assert fast.objective <= plain.objective * 1.001 + 1e-9
    assert fast.objective == pytest.approx(evaluate(problem, fast.reservations, fast.savings_plans), rel=1e-9)
    if problem.upfront_budget is not None:
        spent = sum(r.upfront * fast.reservations[r.id] for r in problem.reservations)
        assert spent <= problem.upfront_budget + 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_random_pools_match_brute_force(seed):
    problem = parse_problem(_random_flexible(700 + seed, hours=3, plans=seed % 2, budget=seed % 3 == 0))
    if len(problem.reservations) > 3:
        problem = problem.restricted({r.id for r in problem.reservations[:3]} | {s.id for s in problem.savings_plans})
    expected, _ = brute_force(problem)
    result = solve(problem)
    assert result.status == "optimal"
    assert expected - 1e-9 <= result.objective <= expected * 1.001 + 1e-9
    assert result.bound <= expected + 1e-9


@pytest.mark.parametrize("seed", range(20))
def test_pool_cuts_never_exceed_the_exact_cost(seed):
    # Weak duality with pools: the hourly and separable cuts taken at A are below the exact cost at B, and with
    # at most one plan they are tight at A (prices off proportional within a family: the pool's fill order then
    # changes with the plan's price, which the candidate set must follow).
    problem = parse_problem(_random_flexible(900 + seed, hours=6, plans=1 + seed % 2, budget=False, skewed=True))
    rec = build_recourse(problem)
    rng = random.Random(seed)

    def point() -> tuple[dict, dict, np.ndarray, float]:
        x = {r.id: rng.randint(0, 5) for r in problem.reservations}
        c = {s.id: rng.choice([0.0, 0.05, 0.2, 0.6]) for s in problem.savings_plans}
        vector = np.array([x[r.id] for r in problem.reservations] + [c[s.id] for s in problem.savings_plans])
        commitment = problem.hours * (sum(r.hourly_cost * x[r.id] for r in problem.reservations) + sum(c.values()))
        return x, c, vector, evaluate(problem, x, c) - commitment

    *_, va, exact_a = point()
    *_, vb, exact_b = point()
    cuts = hourly_cuts(rec, va)
    at_a = float(rec.weight @ cuts.value)
    assert at_a <= exact_a + 1e-9
    if rec.exact:
        assert at_a == pytest.approx(exact_a, rel=1e-9, abs=1e-9)
    p_b = rec.pool_capacity(vb)
    moved = cuts.constant - cuts.rho @ p_b - cuts.beta @ vb[rec.shared]
    assert float(rec.weight @ moved) <= exact_b + 1e-9
    for sparse in (True, False):
        sep = separable_cut(rec, va, cuts, window=2, sparse=sparse)
        at_b = sum(
            float(np.max(sep.intercept[p] - sep.slope[p] * p_b[p], initial=0.0)) for p in range(rec.n_pools)
        ) - float(sep.beta @ vb[rec.shared])
        assert at_b <= exact_b + 1e-9
        assert sep.value == pytest.approx(at_a, rel=1e-9, abs=1e-9)


def test_pool_overlapping_a_dedicated_reservation_is_priced_as_shared():
    # m5.large also has a zonal (single-SKU) reservation: the regional pool then competes with it for large and
    # becomes a shared capacity; the result still matches the plain model.
    sizes = ["large", "xlarge"]
    data = {
        "hours": 8,
        "skus": _family("m5", sizes, 0.025),
        "demand": {"m5.large": [3, 4, 2, 5, 3, 1, 0, 2], "m5.xlarge": [1, 2, 2, 0, 1, 1, 3, 2]},
        "reservations": [
            _pool_offer("m5-regional", "m5", sizes, "large", 0.06),
            {"id": "m5.large-zonal", "hourly_cost": 0.058, "covers": {"m5.large": 1}},
        ],
        "savings_plans": [{"id": "compute", "rates": {"m5.large": 0.072, "m5.xlarge": 0.144}}],
    }
    problem = parse_problem(data)
    rec = build_recourse(problem)
    assert len(rec.shared) == 2  # the regional pool and the plan
    fast = solve(problem)
    plain = solve(problem, gap=1e-7, formulation="plain")
    assert _decomposed_ran(fast) and fast.status == "optimal"
    assert plain.objective - 1e-9 <= fast.objective <= plain.objective * 1.001
    detail = evaluate_detail(problem, fast.reservations, fast.savings_plans)
    assert detail.cost == pytest.approx(fast.objective)
