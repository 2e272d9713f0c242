"""Tiny random instances and an independent brute force for the commitment-mix model (pure, no Django)."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
from scipy.optimize import linprog

from optimizer.solver.problem import Problem, parse_problem


def random_problem(seed: int, *, hours: int = 4, skus: int = 2, budget: bool = False) -> Problem:
    rng = random.Random(seed)
    sku_ids = [f"s{k}" for k in range(skus)]
    sku_rows = []
    for sku_id in sku_ids:
        row = {"id": sku_id, "on_demand": round(rng.uniform(0.05, 0.2), 3)}
        if rng.random() < 0.5:
            row["spot"] = round(row["on_demand"] * rng.uniform(0.2, 0.6), 4)
            row["spot_max_share"] = rng.choice([0.0, 0.2, 0.5])
        sku_rows.append(row)
    demand = {sku_id: [rng.choice([0, 0, 1, 1, 2, 3, 1.5]) for _ in range(hours)] for sku_id in sku_ids}
    reservations = []
    for i in range(rng.randint(1, 2)):
        covered = rng.sample(sku_ids, rng.randint(1, skus))
        reservations.append(
            {
                "id": f"r{i}",
                "hourly_cost": round(rng.uniform(0.03, 0.15), 3),
                "upfront": rng.choice([0.0, 1.0, 2.0]),
                "covers": {k: rng.choice([1, 2]) for k in covered},
            }
        )
    plans = []
    if rng.random() < 0.7:
        plans.append({"id": "p0", "rates": {k: round(rng.uniform(0.04, 0.15), 3) for k in sku_ids}})
    data = {
        "hours": hours,
        "skus": sku_rows,
        "demand": demand,
        "reservations": reservations,
        "savings_plans": plans,
        "upfront_budget": rng.choice([0.0, 1.0, 2.0, 3.0]) if budget else None,
    }
    return parse_problem(data)


def best_cost_for_reservations(problem: Problem, x: dict[str, float], c: dict[str, float] | None = None) -> float:
    """Exact optimum over plan commitments c (or with c fixed, when given) and all hourly allocations with
    reservation units fixed to x: one LP over every hour at once (dense, built here independently of the
    solver package)."""
    cols: list[tuple] = [("c", s) for s in range(len(problem.savings_plans))]
    for h in range(problem.hours):
        for k, sku in enumerate(problem.skus):
            if problem.demand[sku.id][h] == 0:
                continue
            cols += [("w", r, k, h) for r, res in enumerate(problem.reservations) if sku.id in res.covers]
            cols += [("u", s, k, h) for s, plan in enumerate(problem.savings_plans) if sku.id in plan.rates]
            if sku.spot is not None:
                cols.append(("z", k, h))
            cols.append(("o", k, h))
    n = len(cols)
    cost = np.zeros(n)
    bounds = [(0.0, None)] * n
    eq_rows, eq_rhs, ub_rows, ub_rhs = [], [], [], []
    pos = {col: j for j, col in enumerate(cols)}
    for j, col in enumerate(cols):
        if col[0] == "c":
            cost[j] = problem.hours
            if c is not None:
                fixed = c.get(problem.savings_plans[col[1]].id, 0.0)
                bounds[j] = (fixed, fixed)
        elif col[0] == "z":
            sku = problem.skus[col[1]]
            cost[j] = sku.spot
            bounds[j] = (0.0, sku.spot_max_share * problem.demand[sku.id][col[2]])
        elif col[0] == "o":
            cost[j] = problem.skus[col[1]].on_demand
    for h in range(problem.hours):
        for k, sku in enumerate(problem.skus):
            if problem.demand[sku.id][h] == 0:
                continue
            row = np.zeros(n)
            for j, col in enumerate(cols):
                if (col[0] in "wu" and col[2:] == (k, h)) or (col[0] in "zo" and col[1:] == (k, h)):
                    row[j] = 1.0
            eq_rows.append(row)
            eq_rhs.append(problem.demand[sku.id][h])
        for r, res in enumerate(problem.reservations):
            row = np.zeros(n)
            for k, sku in enumerate(problem.skus):
                if ("w", r, k, h) in pos:
                    row[pos[("w", r, k, h)]] = res.covers[sku.id]
            ub_rows.append(row)
            ub_rhs.append(x[res.id])
        for s, plan in enumerate(problem.savings_plans):
            row = np.zeros(n)
            row[pos[("c", s)]] = -1.0
            for k, sku in enumerate(problem.skus):
                if ("u", s, k, h) in pos:
                    row[pos[("u", s, k, h)]] = plan.rates[sku.id]
            ub_rows.append(row)
            ub_rhs.append(0.0)
    result = linprog(
        cost,
        A_ub=np.array(ub_rows) if ub_rows else None,
        b_ub=np.array(ub_rhs) if ub_rhs else None,
        A_eq=np.array(eq_rows) if eq_rows else None,
        b_eq=np.array(eq_rhs) if eq_rhs else None,
        bounds=bounds,
        method="highs",
    )
    assert result.status == 0, result.message
    return result.fun + problem.hours * sum(r.hourly_cost * x[r.id] for r in problem.reservations)


def brute_force(problem: Problem) -> tuple[float, dict[str, int]]:
    """Minimum cost over every integer reservation choice. More units than the peak hourly need of a
    reservation (max over hours of sum_k covers_rk * d_kh) are never useful: they cost >= 0 and cover nothing."""
    ranges = []
    for res in problem.reservations:
        peak = max(sum(q * problem.demand[k][h] for k, q in res.covers.items()) for h in range(problem.hours))
        ranges.append(range(math.ceil(peak) + 1))
    best = (math.inf, {})
    for units in itertools.product(*ranges):
        x = {res.id: n for res, n in zip(problem.reservations, units, strict=True)}
        spent = sum(r.upfront * x[r.id] for r in problem.reservations)
        if problem.upfront_budget is not None and spent > problem.upfront_budget + 1e-12:
            continue
        cost = best_cost_for_reservations(problem, x)
        if cost < best[0]:
            best = (cost, x)
    return best
