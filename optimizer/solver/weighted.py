"""Weighted-hours formulation: the same MILP with hours of identical demand vectors merged, built with
numpy and passed to highspy as a column-wise sparse matrix (no PuLP objects).

Why it is exact: the hourly variables of different hours interact only through x (reservation units) and
c (plan $/hour). Take any feasible plain solution and, within each group of hours with the same demand
vector, replace every hour's allocation by the group's average allocation: each hour's constraints are
linear with the same right-hand sides and the same x, c, so the average is feasible, and the total cost is
unchanged. So restricting the hours of a group to share one allocation, counted ``n_g`` times in the
objective, loses nothing; conversely every weighted solution expands to a plain one of the same cost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optimizer.solver.problem import Problem


@dataclass(frozen=True)
class WeightedResult:
    solver_status: str
    bound: float | None
    reservations: dict[str, float] | None  # None: no usable solution
    savings_plans: dict[str, float] | None
    groups: int
    build_seconds: float
    solve_seconds: float


def build_weighted(problem: Problem):
    """Return (highspy.HighsLp, number of distinct non-zero hours)."""
    import highspy

    skus = problem.skus
    n_r, n_s = len(problem.reservations), len(problem.savings_plans)
    demand = np.array([problem.demand[sku.id] for sku in skus], dtype=float).T  # hours x K
    groups, counts = np.unique(demand, axis=0, return_counts=True)
    keep = groups.any(axis=1)
    groups, counts = groups[keep], counts[keep].astype(float)
    n_g, n_k = groups.shape
    positive = groups > 0  # G x K

    # Rows: demand (k, g) where positive, then reservation capacity (r, g), plan capacity (s, g), budget.
    demand_row = np.full((n_g, n_k), -1, dtype=np.int64)
    demand_row[positive] = np.arange(int(positive.sum()))
    n_dem = int(positive.sum())
    res_row0, plan_row0 = n_dem, n_dem + n_r * n_g
    n_rows = plan_row0 + n_s * n_g
    row_lo = [groups[positive]] if n_dem else []
    row_hi = [groups[positive]] if n_dem else []
    row_lo.append(np.full(n_r * n_g + n_s * n_g, -np.inf))
    row_hi.append(np.zeros(n_r * n_g + n_s * n_g))

    hours = problem.hours
    cost = [np.array([hours * r.hourly_cost for r in problem.reservations]), np.full(n_s, float(hours))]
    col_lo = [np.zeros(n_r + n_s)]
    col_hi = [np.full(n_r + n_s, np.inf)]
    rows, cols, vals = [], [], []
    g_all = np.arange(n_g)
    # x_r and c_s appear with -1 in every capacity row of their offer.
    for r in range(n_r):
        rows.append(res_row0 + r * n_g + g_all)
        cols.append(np.full(n_g, r))
        vals.append(np.full(n_g, -1.0))
    for s in range(n_s):
        rows.append(plan_row0 + s * n_g + g_all)
        cols.append(np.full(n_g, n_r + s))
        vals.append(np.full(n_g, -1.0))
    next_col = n_r + n_s

    def add_block(k: int, obj: np.ndarray, upper: np.ndarray, cap_row: np.ndarray | None, coef: float) -> None:
        nonlocal next_col
        g = np.flatnonzero(positive[:, k])
        new = next_col + np.arange(len(g))
        next_col += len(g)
        cost.append(obj[g])
        col_lo.append(np.zeros(len(g)))
        col_hi.append(upper[g])
        rows.append(demand_row[g, k])
        cols.append(new)
        vals.append(np.ones(len(g)))
        if cap_row is not None:
            rows.append(cap_row[g])
            cols.append(new)
            vals.append(np.full(len(g), coef))

    zero, inf = np.zeros(n_g), np.full(n_g, np.inf)
    index = {sku.id: k for k, sku in enumerate(skus)}
    for r, res in enumerate(problem.reservations):
        for sku_id, coef in res.covers.items():
            add_block(index[sku_id], zero, inf, res_row0 + r * n_g + g_all, coef)
    for s, plan in enumerate(problem.savings_plans):
        for sku_id, coef in plan.rates.items():
            add_block(index[sku_id], zero, inf, plan_row0 + s * n_g + g_all, coef)
    for k, sku in enumerate(skus):
        if sku.spot is not None and sku.spot_max_share > 0:
            add_block(k, counts * sku.spot, sku.spot_max_share * groups[:, k], None, 0.0)
        add_block(k, counts * sku.on_demand, inf, None, 0.0)

    if problem.upfront_budget is not None and n_r:
        rows.append(np.full(n_r, n_rows))
        cols.append(np.arange(n_r))
        vals.append(np.array([r.upfront for r in problem.reservations]))
        row_lo.append(np.array([-np.inf]))
        row_hi.append(np.array([problem.upfront_budget]))
        n_rows += 1

    matrix = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, next_col)
    )
    matrix.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = next_col, n_rows
    lp.col_cost_ = np.concatenate(cost)
    lp.col_lower_, lp.col_upper_ = np.concatenate(col_lo), np.concatenate(col_hi)
    lp.row_lower_, lp.row_upper_ = np.concatenate(row_lo), np.concatenate(row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = next_col, n_rows
    if n_r:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_r + [highspy.HighsVarType.kContinuous] * (next_col - n_r)
    return lp, n_g


def solve_weighted(problem: Problem, *, time_limit: float | None, gap: float) -> WeightedResult:
    import highspy

    start = time.perf_counter()
    lp, n_groups = build_weighted(problem)
    build_seconds = time.perf_counter() - start

    start = time.perf_counter()
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("mip_rel_gap", gap)
    if time_limit is not None:
        highs.setOptionValue("time_limit", float(time_limit))
    highs.passModel(lp)
    highs.run()
    solve_seconds = time.perf_counter() - start

    status = highs.getModelStatus()
    info = highs.getInfo()
    n_r, n_s = len(problem.reservations), len(problem.savings_plans)
    if n_r:
        bound: float | None = info.mip_dual_bound
    else:
        bound = info.objective_function_value if status == highspy.HighsModelStatus.kOptimal else None
    if bound is not None and not math.isfinite(bound):
        bound = None
    reservations = plans = None
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        values = np.asarray(highs.getSolution().col_value)
        reservations = {r.id: float(values[i]) for i, r in enumerate(problem.reservations)}
        plans = {s.id: float(values[n_r + i]) for i, s in enumerate(problem.savings_plans[:n_s])}
    return WeightedResult(
        highs.modelStatusToString(status), bound, reservations, plans, n_groups, build_seconds, solve_seconds
    )
