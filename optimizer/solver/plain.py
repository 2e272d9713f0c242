"""The plain commitment-mix MILP in PuLP: one set of allocation variables per (SKU, hour).

Variables: x_r integer >= 0 (reservation units), c_s >= 0 ($/hour plan commitment), and for every hour h
w_rkh (demand of k covered by r), u_skh (by plan s), z_kh (spot), o_kh (on-demand), all >= 0.
(k, h) pairs with zero demand get no allocation variables: the demand row would force them to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulp

from optimizer.solver.problem import Problem


@dataclass
class PlainModel:
    lp: pulp.LpProblem
    x: dict[str, pulp.LpVariable]
    c: dict[str, pulp.LpVariable]


def build_plain(problem: Problem) -> PlainModel:
    lp = pulp.LpProblem("commitment_mix", pulp.LpMinimize)
    x = {r.id: lp.add_variable(f"x_{i}", lowBound=0, cat=pulp.LpInteger) for i, r in enumerate(problem.reservations)}
    c = {s.id: lp.add_variable(f"c_{i}", lowBound=0) for i, s in enumerate(problem.savings_plans)}
    hours = problem.hours
    objective = [(x[r.id], hours * r.hourly_cost) for r in problem.reservations]
    objective += [(c[s.id], float(hours)) for s in problem.savings_plans]

    for h in range(hours):
        res_terms: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
        plan_terms: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
        for k, sku in enumerate(problem.skus):
            d = problem.demand[sku.id][h]
            if d <= 0:
                continue
            row = []
            for ri, res in enumerate(problem.reservations):
                if sku.id in res.covers:
                    w = lp.add_variable(f"w_{ri}_{k}_{h}", lowBound=0)
                    row.append((w, 1.0))
                    res_terms.setdefault(ri, []).append((w, res.covers[sku.id]))
            for si, plan in enumerate(problem.savings_plans):
                if sku.id in plan.rates:
                    u = lp.add_variable(f"u_{si}_{k}_{h}", lowBound=0)
                    row.append((u, 1.0))
                    plan_terms.setdefault(si, []).append((u, plan.rates[sku.id]))
            if sku.spot is not None and sku.spot_max_share > 0:
                z = lp.add_variable(f"z_{k}_{h}", lowBound=0, upBound=sku.spot_max_share * d)
                row.append((z, 1.0))
                objective.append((z, sku.spot))
            o = lp.add_variable(f"o_{k}_{h}", lowBound=0)
            row.append((o, 1.0))
            objective.append((o, sku.on_demand))
            lp += pulp.LpAffineExpression(row) == d, f"demand_{k}_{h}"
        for ri, terms in res_terms.items():
            lp += pulp.LpAffineExpression(terms) - x[problem.reservations[ri].id] <= 0, f"res_{ri}_{h}"
        for si, terms in plan_terms.items():
            lp += pulp.LpAffineExpression(terms) - c[problem.savings_plans[si].id] <= 0, f"plan_{si}_{h}"

    if problem.upfront_budget is not None and problem.reservations:
        lp += (
            pulp.LpAffineExpression([(x[r.id], r.upfront) for r in problem.reservations]) <= problem.upfront_budget,
            "upfront_budget",
        )
    lp += pulp.LpAffineExpression(objective)
    return PlainModel(lp, x, c)
