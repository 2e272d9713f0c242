"""The cost-vs-carbon placement model against brute force on tiny instances. No database."""

from __future__ import annotations

import itertools
import random

import pytest

from finops.carbon.tradeoff import (
    RegionOption,
    TradeoffError,
    Workload,
    evaluate,
    pareto_front,
    solve_placement,
)

TOL = 1e-7


def instance(seed: int, workloads: int = 6, regions: tuple[str, ...] = ("a", "b", "c")) -> list[Workload]:
    rng = random.Random(seed)
    out = []
    for i in range(workloads):
        options = tuple(RegionOption(r, rng.uniform(0.05, 0.4), rng.uniform(0.001, 0.02)) for r in regions)
        out.append(Workload(f"w{i}", tuple(rng.uniform(0, 6) for _ in range(24)), options, current_region=regions[0]))
    return out


def brute_force(workloads: list[Workload]) -> list[tuple[float, float, dict[str, str]]]:
    points = []
    for combo in itertools.product(*[[o.region for o in w.options] for w in workloads]):
        regions = {w.name: r for w, r in zip(workloads, combo, strict=True)}
        points.append((*evaluate(workloads, regions), regions))
    return points


def hand_total(workloads: list[Workload], regions: dict[str, str]) -> tuple[float, float]:
    cost = kg = 0.0
    for w in workloads:
        o = next(o for o in w.options if o.region == regions[w.name])
        cost += o.hourly_cost * sum(w.demand)
        kg += o.kg_per_hour * sum(w.demand)
    return cost, kg


def dominated(p: tuple[float, float], by: tuple[float, float]) -> bool:
    return by[0] <= p[0] + TOL and by[1] <= p[1] + TOL and (by[0] < p[0] - TOL or by[1] < p[1] - TOL)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_front_is_non_dominated_monotone_and_matches_brute_force_extremes(seed):
    workloads = instance(seed)
    everything = brute_force(workloads)
    front = pareto_front(workloads, points=9)
    assert len(front) >= 5

    min_cost = min(c for c, _, _ in everything)
    kg_at_min_cost = min(k for c, k, _ in everything if c <= min_cost + TOL)
    min_kg = min(k for _, k, _ in everything)
    cost_at_min_kg = min(c for c, k, _ in everything if k <= min_kg + TOL)
    assert front[0].cost == pytest.approx(min_cost, rel=1e-9)
    assert front[0].kgco2e == pytest.approx(kg_at_min_cost, rel=1e-9)
    assert front[-1].kgco2e == pytest.approx(min_kg, rel=1e-9)
    assert front[-1].cost == pytest.approx(cost_at_min_kg, rel=1e-9)

    for point in front:
        # The reported numbers are the placement's own (checked by hand), and nothing beats it on both axes.
        assert (point.cost, point.kgco2e) == pytest.approx(hand_total(workloads, point.regions), rel=1e-12)
        assert not any(dominated((point.cost, point.kgco2e), (c, k)) for c, k, _ in everything)
    # Monotone: more cost never buys more carbon.
    for cheaper, dearer in itertools.pairwise(front):
        assert dearer.cost > cheaper.cost and dearer.kgco2e < cheaper.kgco2e
    # Percentages are against the cost-optimal placement.
    base = front[0]
    for point in front:
        assert point.cost_pct_vs_cost_optimal == pytest.approx((point.cost - base.cost) / base.cost * 100)
        assert point.carbon_pct_vs_cost_optimal == pytest.approx((point.kgco2e - base.kgco2e) / base.kgco2e * 100)
    assert front[-1].summary().endswith("more cost") and "less carbon" in front[-1].summary()


def test_carbon_price_and_cap_match_brute_force():
    workloads = instance(11, workloads=5)
    everything = brute_force(workloads)
    for price in (0.0, 2.0, 20.0, 500.0):
        placement = solve_placement(workloads, carbon_price=price)
        best = min(c + price * k for c, k, _ in everything)
        assert placement.cost + price * placement.kgco2e == pytest.approx(best, rel=1e-9)
    kgs = sorted(k for _, k, _ in everything)
    cap = kgs[len(kgs) // 3]
    capped = solve_placement(workloads, carbon_cap=cap)
    assert capped.kgco2e <= cap + TOL
    assert capped.cost == pytest.approx(min(c for c, k, _ in everything if k <= cap + TOL), rel=1e-9)


def test_region_capacity_is_respected_hour_by_hour():
    # Two workloads both prefer region "a" but it only fits one of them at their peak hour.
    w1 = Workload("w1", (3, 1), (RegionOption("a", 0.1, 0.001), RegionOption("b", 0.2, 0.002)))
    w2 = Workload("w2", (1, 3), (RegionOption("a", 0.1, 0.001), RegionOption("b", 0.3, 0.002)))
    free = solve_placement([w1, w2])
    assert free.regions == {"w1": "a", "w2": "a"}
    limited = solve_placement([w1, w2], capacity={"a": 3.5})
    assert sorted(limited.regions.values()) == ["a", "b"] and limited.regions["w2"] == "a"  # b is dearer for w2


def test_bad_problems_are_refused_with_a_reason():
    with pytest.raises(TradeoffError, match="no workloads"):
        pareto_front([])
    with pytest.raises(TradeoffError, match="no allowed region"):
        solve_placement([Workload("w", (1.0,), ())])
    with pytest.raises(TradeoffError, match="carbon cap"):
        solve_placement(instance(4, workloads=2), carbon_cap=0.0)
    with pytest.raises(TradeoffError, match="negative"):
        solve_placement([Workload("w", (-1.0,), (RegionOption("a", 1.0, 1.0),))])
