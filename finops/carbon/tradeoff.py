"""Cost-vs-carbon placement of region-movable workloads: a PuLP model and its Pareto front.

Pure module: no Django. Each workload has an hourly demand (instances running per hour) and the regions it
may run in, each with a real hourly price and the kgCO2e one instance-hour emits there. The model picks one
region per workload and minimises ``cost + carbon_price x kgCO2e``, or cost under a carbon cap. Optional
region capacities (instances per hour) couple the workloads hour by hour.

The Pareto front is traced by the epsilon-constraint method: the cost-optimal and the carbon-optimal
placements are the two ends; caps evenly spaced between their emissions are each solved for the least cost,
then for the least carbon at that cost (so every point is non-dominated, not just weakly so).
:func:`carbon_tradeoff` reports a front and, under a carbon price or cap, the chosen placement, with the moves
each point makes (the optimizer's runs use it on their compute demand).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulp

from finops.core.quiet import quiet_native_stdout

# Relative slack on the phase-2 bound so that solver round-off never turns a feasible bound infeasible.
_TIE = 1e-9


class TradeoffError(ValueError):
    """The problem is malformed or infeasible; the message says which workload/region."""


@dataclass(frozen=True)
class RegionOption:
    region: str
    hourly_cost: float  # USD per instance-hour
    kg_per_hour: float  # kgCO2e per instance-hour (operational + embodied)


@dataclass(frozen=True)
class Workload:
    name: str
    demand: tuple[float, ...]  # instances running, per hour
    options: tuple[RegionOption, ...]
    current_region: str | None = None

    @property
    def hours(self) -> float:
        return float(sum(self.demand))


@dataclass(frozen=True)
class Placement:
    regions: dict[str, str]  # workload -> region
    cost: float
    kgco2e: float
    status: str


@dataclass(frozen=True)
class ParetoPoint:
    cost: float
    kgco2e: float
    cost_pct_vs_cost_optimal: float  # +x% more cost than the cost-optimal placement
    carbon_pct_vs_cost_optimal: float  # -y% less carbon than the cost-optimal placement
    regions: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        less = max(0.0, -self.carbon_pct_vs_cost_optimal)
        more = max(0.0, self.cost_pct_vs_cost_optimal)
        if less < 0.05 and more < 0.05:
            return "cost-optimal placement"
        return f"{less:.1f}% less carbon for {more:.1f}% more cost"


def evaluate(workloads: Sequence[Workload], regions: Mapping[str, str]) -> tuple[float, float]:
    """(cost, kgCO2e) of a placement, computed directly (never from the solver's objective)."""
    cost = kg = 0.0
    for w in workloads:
        option = next((o for o in w.options if o.region == regions[w.name]), None)
        if option is None:
            raise TradeoffError(f"workload {w.name!r} cannot run in {regions[w.name]!r}")
        cost += option.hourly_cost * w.hours
        kg += option.kg_per_hour * w.hours
    return cost, kg


def _validate(workloads: Sequence[Workload]) -> None:
    if not workloads:
        raise TradeoffError("no workloads to place")
    names = [w.name for w in workloads]
    if len(set(names)) != len(names):
        raise TradeoffError("workload names must be unique")
    for w in workloads:
        if not w.options:
            raise TradeoffError(f"workload {w.name!r} has no allowed region")
        if any(d < 0 for d in w.demand):
            raise TradeoffError(f"workload {w.name!r} has a negative hourly demand")
        if len({o.region for o in w.options}) != len(w.options):
            raise TradeoffError(f"workload {w.name!r} lists a region twice")


def _solver(time_limit: float | None) -> pulp.LpSolver:
    if pulp.HiGHS(msg=False).available():
        return pulp.HiGHS(msg=False, timeLimit=time_limit)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)


class _Model:
    """One binary per (workload, region). Each solve builds a fresh problem (they are small) with its own
    objective weights and bounds on total cost / kgCO2e."""

    def __init__(self, workloads: Sequence[Workload], capacity: Mapping[str, float] | None, time_limit: float | None):
        self.workloads = list(workloads)
        self.time_limit = time_limit
        self.capacity = dict(capacity or {})

    def solve(self, cost_weight: float, kg_weight: float, bounds: Sequence[tuple[str, float]] = ()) -> Placement | None:
        problem = pulp.LpProblem("carbon_placement", pulp.LpMinimize)
        x: dict[tuple[str, str], pulp.LpVariable] = {}
        cost_terms, kg_terms = [], []
        for i, w in enumerate(self.workloads):
            for j, o in enumerate(w.options):
                var = problem.add_variable(f"x_{i}_{j}", cat=pulp.LpBinary)
                x[(w.name, o.region)] = var
                cost_terms.append((var, o.hourly_cost * w.hours))
                kg_terms.append((var, o.kg_per_hour * w.hours))
        cost = pulp.LpAffineExpression(cost_terms)
        kg = pulp.LpAffineExpression(kg_terms)
        problem += cost_weight * cost + kg_weight * kg
        for i, w in enumerate(self.workloads):
            problem += pulp.lpSum(x[(w.name, o.region)] for o in w.options) == 1, f"one_{i}"
        horizon = max((len(w.demand) for w in self.workloads), default=0)
        for r, (region, limit) in enumerate(self.capacity.items()):
            for t in range(horizon):
                terms = [
                    w.demand[t] * x[(w.name, region)]
                    for w in self.workloads
                    if t < len(w.demand) and (w.name, region) in x and w.demand[t]
                ]
                if terms:
                    problem += pulp.lpSum(terms) <= limit, f"cap_{r}_{t}"
        for b, (kind, value) in enumerate(bounds):
            problem += (kg if kind == "kg" else cost) <= value, f"bound_{b}"
        with quiet_native_stdout():
            problem.solve(_solver(self.time_limit))
        status = pulp.LpStatus[problem.status]
        if status != "Optimal":
            return None
        regions = {}
        for w in self.workloads:
            chosen = max(w.options, key=lambda o, w=w: x[(w.name, o.region)].value() or 0.0)
            regions[w.name] = chosen.region
        total_cost, total_kg = evaluate(self.workloads, regions)
        return Placement(regions=regions, cost=total_cost, kgco2e=total_kg, status=status)

    def lexicographic(self, first: str, bounds: Sequence[tuple[str, float]] = ()) -> Placement | None:
        """Minimise ``first`` ("cost" or "kg"), then the other without worsening the first."""
        weights = (1.0, 0.0) if first == "cost" else (0.0, 1.0)
        best = self.solve(*weights, bounds)
        if best is None:
            return None
        value = best.cost if first == "cost" else best.kgco2e
        limit = value + abs(value) * _TIE + 1e-9
        refined = self.solve(*reversed(weights), [*bounds, (first, limit)])
        return refined or best


def solve_placement(
    workloads: Sequence[Workload],
    *,
    carbon_price: float = 0.0,
    carbon_cap: float | None = None,
    capacity: Mapping[str, float] | None = None,
    time_limit: float | None = 60.0,
) -> Placement:
    """Least ``cost + carbon_price x kgCO2e`` (USD per kg), optionally with total kgCO2e <= ``carbon_cap``."""
    _validate(workloads)
    if carbon_price < 0:
        raise TradeoffError("carbon price must not be negative")
    model = _Model(workloads, capacity, time_limit)
    bounds = [("kg", carbon_cap)] if carbon_cap is not None else []
    result = model.solve(1.0, carbon_price, bounds)
    if result is None:
        if carbon_cap is not None:
            raise TradeoffError(f"no placement meets the carbon cap {carbon_cap} kgCO2e")
        raise TradeoffError("no feasible placement")
    return result


def _dominates(q: Placement, p: Placement, tol: float = 1e-9) -> bool:
    no_worse = q.cost <= p.cost + tol and q.kgco2e <= p.kgco2e + tol
    return no_worse and (q.cost < p.cost - tol or q.kgco2e < p.kgco2e - tol)


def pareto_front(
    workloads: Sequence[Workload],
    *,
    points: int = 7,
    capacity: Mapping[str, float] | None = None,
    time_limit: float | None = 60.0,
) -> list[ParetoPoint]:
    """Non-dominated (cost, kgCO2e) placements from the cost-optimal one to the carbon-optimal one.

    ``points`` caps are tried (the two ends included); equal placements are reported once, so a problem with
    fewer distinct trade-offs returns fewer points. Sorted by cost, ascending (carbon descending).
    """
    _validate(workloads)
    if points < 2:
        raise TradeoffError("a front needs at least 2 points")
    model = _Model(workloads, capacity, time_limit)
    cheapest = model.lexicographic("cost")
    greenest = model.lexicographic("kg")
    if cheapest is None or greenest is None:
        raise TradeoffError("no feasible placement")
    found = [cheapest, greenest]
    span = cheapest.kgco2e - greenest.kgco2e
    if span > 0:
        for k in range(1, points - 1):
            cap = greenest.kgco2e + span * (points - 1 - k) / (points - 1)
            placement = model.lexicographic("cost", [("kg", cap + abs(cap) * _TIE)])
            if placement is not None:
                found.append(placement)
    unique: dict[tuple[float, float], Placement] = {}
    for p in found:
        unique.setdefault((round(p.cost, 6), round(p.kgco2e, 6)), p)
    # Drop anything dominated (possible only through solver tolerance).
    front = [p for p in unique.values() if not any(_dominates(q, p) for q in unique.values())]
    front.sort(key=lambda p: (p.cost, p.kgco2e))
    base_cost, base_kg = cheapest.cost, cheapest.kgco2e
    return [
        ParetoPoint(
            cost=p.cost,
            kgco2e=p.kgco2e,
            cost_pct_vs_cost_optimal=(p.cost - base_cost) / base_cost * 100 if base_cost else 0.0,
            carbon_pct_vs_cost_optimal=(p.kgco2e - base_kg) / base_kg * 100 if base_kg else 0.0,
            regions=dict(p.regions),
        )
        for p in front
    ]


def _moves(workloads: Sequence[Workload], regions: Mapping[str, str]) -> dict[str, str]:
    return {w.name: regions[w.name] for w in workloads if regions[w.name] != w.current_region}


def _point(p: ParetoPoint, workloads: Sequence[Workload]) -> dict[str, Any]:
    return {
        "cost": p.cost,
        "kgco2e": p.kgco2e,
        "cost_pct_vs_cost_optimal": p.cost_pct_vs_cost_optimal,
        "carbon_pct_vs_cost_optimal": p.carbon_pct_vs_cost_optimal,
        "summary": p.summary(),
        "moves": _moves(workloads, p.regions),
    }


def carbon_tradeoff(
    workloads: Sequence[Workload],
    *,
    points: int = 9,
    carbon_price: float | None = None,
    carbon_cap: float | None = None,
    time_limit: float | None = 60.0,
) -> dict[str, Any]:
    """The Pareto front (cheapest first) and, with a carbon price or cap, the chosen placement, as JSON-able
    floats: ``{"front": [...], "current": {...}, "placement": {...} | None}``. Each point has cost (USD,
    on-demand), kgco2e, % vs the cost-optimal placement, its summary sentence and the moves (SKU -> region).
    Raises :class:`TradeoffError` for an empty problem; an unmeetable cap is reported in ``placement``."""
    front = pareto_front(workloads, points=points, time_limit=time_limit)
    base = front[0]
    here = {w.name: w.current_region or w.options[0].region for w in workloads}
    current_cost, current_kg = evaluate(workloads, here)
    out: dict[str, Any] = {
        "front": [_point(p, workloads) for p in front],
        "current": {"cost": current_cost, "kgco2e": current_kg},
        "placement": None,
    }
    if carbon_price is None and carbon_cap is None:
        return out
    chosen: dict[str, Any] = {"carbon_price": carbon_price, "carbon_cap": carbon_cap}
    try:
        placement = solve_placement(
            workloads, carbon_price=carbon_price or 0.0, carbon_cap=carbon_cap, time_limit=time_limit
        )
    except TradeoffError as error:
        chosen["error"] = str(error)
        out["placement"] = chosen
        return out
    point = ParetoPoint(
        cost=placement.cost,
        kgco2e=placement.kgco2e,
        cost_pct_vs_cost_optimal=(placement.cost - base.cost) / base.cost * 100 if base.cost else 0.0,
        carbon_pct_vs_cost_optimal=(placement.kgco2e - base.kgco2e) / base.kgco2e * 100 if base.kgco2e else 0.0,
        regions=placement.regions,
    )
    out["placement"] = chosen | _point(point, workloads)
    return out
