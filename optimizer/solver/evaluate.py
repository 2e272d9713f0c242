"""Independent evaluator: the exact model cost of a fixed purchase (reservation units, plan $/hour).

With the purchases fixed, the hours no longer interact, so the cost is the commitment cost plus, for each
hour, a small LP over that hour's allocation (reservation, plan, spot, on-demand). Hours with identical
demand vectors have identical LPs, so each distinct vector is solved once (scipy's HiGHS) and weighted by
its count. This shares no code with the MILP builders, so tests can use it to check them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from optimizer.solver.problem import Problem


@dataclass(frozen=True)
class Evaluation:
    cost: float
    breakdown: dict[str, float]  # reservations, savings_plans, spot, on_demand
    utilization: dict[str, dict[str, float | None]]  # {"reservations": {id: share}, "savings_plans": {id: share}}


def _hour_lp(problem: Problem, d: np.ndarray, x: np.ndarray, c: np.ndarray):
    """Columns: (r,k) w; (s,k) u; k z (spot); k o (on-demand). Returns (column kinds, solution)."""
    skus = problem.skus
    index = {sku.id: i for i, sku in enumerate(skus)}
    cols: list[tuple[str, int, int]] = []  # (kind, owner, sku index)
    for r, res in enumerate(problem.reservations):
        cols += [("w", r, index[k]) for k in res.covers if d[index[k]] > 0]
    for s, plan in enumerate(problem.savings_plans):
        cols += [("u", s, index[k]) for k in plan.rates if d[index[k]] > 0]
    for k, sku in enumerate(skus):
        if d[k] > 0 and sku.spot is not None and sku.spot_max_share > 0:
            cols.append(("z", -1, k))
    for k in range(len(skus)):
        if d[k] > 0:
            cols.append(("o", -1, k))
    n = len(cols)
    cost = np.zeros(n)
    upper = np.full(n, np.inf)
    a_eq = np.zeros((len(skus), n))
    a_ub = np.zeros((len(problem.reservations) + len(problem.savings_plans), n))
    for j, (kind, owner, k) in enumerate(cols):
        a_eq[k, j] = 1.0
        if kind == "w":
            a_ub[owner, j] = problem.reservations[owner].covers[skus[k].id]
        elif kind == "u":
            a_ub[len(problem.reservations) + owner, j] = problem.savings_plans[owner].rates[skus[k].id]
        elif kind == "z":
            cost[j] = skus[k].spot
            upper[j] = skus[k].spot_max_share * d[k]
        else:
            cost[j] = skus[k].on_demand
    b_ub = np.concatenate([x, c])
    result = linprog(
        cost,
        A_ub=a_ub if len(b_ub) else None,
        b_ub=b_ub if len(b_ub) else None,
        A_eq=a_eq,
        b_eq=d,
        bounds=list(zip(np.zeros(n), upper, strict=True)),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"hourly allocation LP failed: {result.message}")
    return cols, result.x


def evaluate_detail(
    problem: Problem, reservations: Mapping[str, float], savings_plans: Mapping[str, float]
) -> Evaluation:
    """Exact cost, cost breakdown and utilization of buying ``reservations`` (units) and ``savings_plans``
    ($/hour); ids not given are bought at 0."""
    known_r = {r.id for r in problem.reservations}
    known_s = {s.id for s in problem.savings_plans}
    unknown = (set(reservations) - known_r) | (set(savings_plans) - known_s)
    if unknown:
        raise KeyError(f"unknown purchase ids: {sorted(unknown)}")
    x = np.array([float(reservations.get(r.id, 0.0)) for r in problem.reservations])
    c = np.array([float(savings_plans.get(s.id, 0.0)) for s in problem.savings_plans])
    if (x < 0).any() or (c < 0).any():
        raise ValueError("purchases must be non-negative")
    hours = problem.hours
    demand = np.array([problem.demand[sku.id] for sku in problem.skus], dtype=float).T  # hours x skus
    unique, counts = np.unique(demand, axis=0, return_counts=True)

    spot = on_demand = 0.0
    used = np.zeros(len(x) + len(c))
    for d, count in zip(unique, counts, strict=True):
        if not d.any():
            continue
        cols, sol = _hour_lp(problem, d, x, c)
        for (kind, owner, k), value in zip(cols, sol, strict=True):
            sku = problem.skus[k]
            if kind == "w":
                used[owner] += count * value * problem.reservations[owner].covers[sku.id]
            elif kind == "u":
                used[len(x) + owner] += count * value * problem.savings_plans[owner].rates[sku.id]
            elif kind == "z":
                spot += count * value * sku.spot
            else:
                on_demand += count * value * sku.on_demand
    breakdown = {
        "reservations": hours * sum(r.hourly_cost * xr for r, xr in zip(problem.reservations, x, strict=True)),
        "savings_plans": hours * float(c.sum()),
        "spot": spot,
        "on_demand": on_demand,
    }
    utilization: dict[str, dict[str, float | None]] = {
        "reservations": {
            r.id: (min(1.0, used[i] / (hours * x[i])) if x[i] > 0 else None) for i, r in enumerate(problem.reservations)
        },
        "savings_plans": {
            s.id: (min(1.0, used[len(x) + i] / (hours * c[i])) if c[i] > 0 else None)
            for i, s in enumerate(problem.savings_plans)
        },
    }
    return Evaluation(float(sum(breakdown.values())), breakdown, utilization)


def evaluate(problem: Problem, reservations: Mapping[str, float], savings_plans: Mapping[str, float]) -> float:
    """Exact model cost of the given purchases (see :func:`evaluate_detail`)."""
    return evaluate_detail(problem, reservations, savings_plans).cost
