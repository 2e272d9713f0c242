"""Independent evaluator: the exact model cost of a fixed purchase (reservation units, plan $/hour).

With the purchases fixed, the hours no longer interact, so the cost is the commitment cost plus, for each
hour, a small LP over that hour's allocation (reservation, plan, spot, on-demand). Hours with identical
demand vectors have identical LPs, so each distinct vector is solved once, weighted by its count (all of them
in one block-diagonal LP through scipy's HiGHS). This shares no code with the MILP builders, so tests can use
it to check them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from optimizer.solver.problem import Problem


@dataclass(frozen=True)
class Evaluation:
    cost: float
    breakdown: dict[str, float]  # reservations, savings_plans, spot, on_demand
    utilization: dict[str, dict[str, float | None]]  # {"reservations": {id: share}, "savings_plans": {id: share}}


def _allocation_lp(problem: Problem, groups: np.ndarray, counts: np.ndarray, x: np.ndarray, c: np.ndarray):
    """Solve every distinct hour's allocation LP at once, as one block-diagonal LP whose blocks are weighted
    by their hour counts (blocks share no variable, so its optimum is the sum of the hourly optima).
    Columns per hour g: (r,k) w; (s,k) u; k z (spot); k o (on-demand). Returns (columns, solution)."""
    skus = problem.skus
    n_k, n_r = len(skus), len(problem.reservations)
    n_cap = n_r + len(problem.savings_plans)
    index = {sku.id: i for i, sku in enumerate(skus)}
    offers = [("w", r, index[k], coef) for r, res in enumerate(problem.reservations) for k, coef in res.covers.items()]
    offers += [
        ("u", s, index[k], rate) for s, plan in enumerate(problem.savings_plans) for k, rate in plan.rates.items()
    ]
    cols: list[tuple[str, int, int, int]] = []  # (kind, owner, sku index, group)
    cost, upper, ub_rows, ub_vals, ub_cols = [], [], [], [], []
    for g, (d, count) in enumerate(zip(groups, counts, strict=True)):
        for kind, owner, k, coef in offers:
            if d[k] > 0:
                ub_rows.append(g * n_cap + (owner if kind == "w" else n_r + owner))
                ub_vals.append(coef)
                ub_cols.append(len(cols))
                cols.append((kind, owner, k, g))
                cost.append(0.0)
                upper.append(np.inf)
        for k, sku in enumerate(skus):
            if d[k] <= 0:
                continue
            if sku.spot is not None and sku.spot_max_share > 0:
                cols.append(("z", -1, k, g))
                cost.append(count * sku.spot)
                upper.append(sku.spot_max_share * d[k])
            cols.append(("o", -1, k, g))
            cost.append(count * sku.on_demand)
            upper.append(np.inf)
    n = len(cols)
    eq_rows = [g * n_k + k for _, _, k, g in cols]
    n_g = len(groups)
    a_eq = sp.csr_matrix((np.ones(n), (eq_rows, np.arange(n))), shape=(n_g * n_k, n))
    a_ub = sp.csr_matrix((ub_vals, (ub_rows, ub_cols)), shape=(n_g * n_cap, n)) if n_cap else None
    result = linprog(
        np.array(cost),
        A_ub=a_ub,
        b_ub=np.tile(np.concatenate([x, c]), n_g) if n_cap else None,
        A_eq=a_eq,
        b_eq=groups.reshape(-1),
        bounds=np.column_stack([np.zeros(n), np.array(upper)]),
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
    if not x.any() and not c.any():
        # Nothing bought: SKUs decouple; each hour takes the allowed spot share when spot is cheaper.
        for k, sku in enumerate(problem.skus):
            total = float(demand[:, k].sum())
            if sku.spot is not None and sku.spot < sku.on_demand:
                spot += sku.spot * sku.spot_max_share * total
                on_demand += sku.on_demand * (1 - sku.spot_max_share) * total
            else:
                on_demand += sku.on_demand * total
        unique, counts = unique[:0], counts[:0]
    nonzero = unique.any(axis=1)
    unique, counts = unique[nonzero], counts[nonzero]
    if len(unique):
        cols, sol = _allocation_lp(problem, unique, counts, x, c)
        for (kind, owner, k, g), value in zip(cols, sol, strict=True):
            sku, amount = problem.skus[k], counts[g] * value
            if kind == "w":
                used[owner] += amount * problem.reservations[owner].covers[sku.id]
            elif kind == "u":
                used[len(x) + owner] += amount * problem.savings_plans[owner].rates[sku.id]
            elif kind == "z":
                spot += amount * sku.spot
            else:
                on_demand += amount * sku.on_demand
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
