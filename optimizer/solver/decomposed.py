"""Decomposed formulation: Benders cutting planes on the purchases, hourly recourse vectorised in numpy.

The hours interact only through the first-stage purchases (x: reservation units, c: plan $/hour), so the model
is ``min H (p.x + sum c) + sum_h Q_h(x, c)`` with Q_h the cost of hour h's allocation LP, convex in (x, c).
Reservations form pools (:mod:`optimizer.solver.hourly`): a single-SKU reservation's pool is its SKU, an AWS
size-flexible family x region x tenancy x OS is one pool whose capacity is counted in normalized units. A small
master LP (highspy) holds x, c, the capacity P_p of every pool and theta (the total hourly cost), and collects
*separable* cuts theta >= sum_p F_p(P_p) - beta . b (:func:`optimizer.solver.hourly.separable_cut`): the plans'
(and overlapping reservations') prices beta come from each hour's dual at the separation point, and given them
the pools are independent (families only meet through the plans), so one cut describes the cost in every P_p
direction exactly for those prices. Each cut keeps every piece of F_p near the current P_p and ever sparser ones
farther out, so that a cut outlines the whole curve: about ten rounds at 50-500 SKUs.

Bounds (each a valid lower bound on the MILP optimum): the master LP's optimal value (every cut under-estimates
the hourly costs by weak duality); the integer-rounded Lagrangian bound of :func:`_integer_bound`; the proven
MILP bound of the master with integer x (phase 3). Incumbents are integer purchases; :func:`optimizer.solver.solve`
re-evaluates the returned purchase exactly and computes the gap from the evaluator's cost, never from the cuts.

Phases: (1) cutting planes on the LP relaxation, stabilised by also separating at the midpoint between the
master's point and the best point so far (in-out); (2) two roundings of the reservations (see :func:`_round`),
each with its plans re-optimised for the fixed x; (3) only if the cut model's gap is still above the target, the
master with integer x, re-solved while its solutions add cuts, for at most as long as phases 1-2 took.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from optimizer.solver.hourly import Recourse, SeparableCut, build_recourse, hourly_cuts, separable_cut
from optimizer.solver.problem import Problem

BOUND_SAFETY = 5e-10  # relative: the master's reported optimum is shaved by this for simplex tolerances
CONVERGED = 4 * BOUND_SAFETY  # relative: estimate and bound this close are equal up to the shave (gap 0 asked)


@dataclass
class DecomposedResult:
    solver_status: str
    bound: float | None
    reservations: dict[str, float]
    savings_plans: dict[str, float]
    build_seconds: float
    solve_seconds: float
    iterations: int
    notes: list[str] = field(default_factory=list)


class _Master:
    """Columns: x (n_r), c (n_s), P (one capacity per reservation pool), theta (total recourse), then one phi per
    pool per cut round (phi_p >= F_p(P_p) of that round's separable cut)."""

    def __init__(self, problem: Problem, rec: Recourse) -> None:
        import highspy

        self.highspy = highspy
        self.n_r, self.n_s = len(problem.reservations), len(problem.savings_plans)
        self.n1 = self.n_r + self.n_s
        self.n_k = rec.n_pools
        self.budget_row: int | None = None
        hours = problem.hours
        self.cost1 = np.array([hours * r.hourly_cost for r in problem.reservations] + [float(hours)] * self.n_s)
        # Buying more than the peak need never helps (cost >= 0, nothing left to cover), so these caps keep the
        # master bounded without cutting off an optimum.
        demand = rec.demand
        index = {sku.id: k for k, sku in enumerate(problem.skus)}
        upper = []
        for offer in [*problem.reservations, *problem.savings_plans]:
            amounts = offer.covers if hasattr(offer, "covers") else offer.rates
            need = sum(demand[:, index[k]] * a for k, a in amounts.items())
            upper.append(float(np.max(need)) if len(demand) else 0.0)
        self.upper = np.array(upper)
        self.upper[: self.n_r] = np.ceil(self.upper[: self.n_r] - 1e-9)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")  # each re-solve warm-starts dual simplex from the previous basis
        self.theta = self.n1 + self.n_k
        n = self.theta + 1
        h.addVars(n, np.zeros(n), np.concatenate([self.upper, np.full(self.n_k + 1, np.inf)]))
        h.changeColsCost(self.n1, np.arange(self.n1, dtype=np.int32), self.cost1)
        h.changeColCost(self.theta, 1.0)
        # P_p - sum_{r in pool p} scale_r x_r = 0
        for k in range(self.n_k):
            mine = np.flatnonzero(rec.pool_of_res == k)
            idx = np.concatenate([[self.n1 + k], mine]).astype(np.int32)
            h.addRow(0.0, 0.0, len(idx), idx, np.concatenate([[1.0], -rec.pool_scale[mine]]))
        if problem.upfront_budget is not None and self.n_r:
            upfront = np.array([r.upfront for r in problem.reservations])
            idx = np.flatnonzero(upfront > 0)
            if len(idx):
                self.budget_row = h.getNumRow()
                h.addRow(-np.inf, problem.upfront_budget, len(idx), idx.astype(np.int32), upfront[idx])
        self.h = h
        self.shared = rec.shared
        self.cuts: list[tuple[int, SeparableCut]] = []  # (theta row, cut)

    def solve(self) -> tuple[bool, float, np.ndarray, float]:
        self.h.run()
        ok = self.h.getModelStatus() == self.highspy.HighsModelStatus.kOptimal
        values = np.asarray(self.h.getSolution().col_value)
        return ok, float(self.h.getInfo().objective_function_value), values[: self.n1], float(values[self.theta])

    def add_cut(self, cut: SeparableCut) -> None:
        h = self.h
        first_phi = h.getNumCol()
        h.addVars(self.n_k, np.zeros(self.n_k), np.full(self.n_k, np.inf))
        # theta - sum_k phi_k + beta . b >= 0
        idx = np.concatenate([[self.theta], first_phi + np.arange(self.n_k), self.shared]).astype(np.int32)
        val = np.concatenate([[1.0], -np.ones(self.n_k), cut.beta])
        self.cuts.append((h.getNumRow(), cut))
        h.addRow(0.0, np.inf, len(idx), idx, val)
        # phi_p + slope_i P_p >= intercept_i for every kept piece
        counts = np.array([len(v) for v in cut.slope])
        n = int(counts.sum())
        if n:
            phi = np.repeat(first_phi + np.arange(self.n_k), counts)
            r_col = np.repeat(self.n1 + np.arange(self.n_k), counts)
            index = np.column_stack([phi, r_col]).reshape(-1).astype(np.int32)
            value = np.column_stack([np.ones(n), np.concatenate(cut.slope)]).reshape(-1)
            h.addRows(n, np.concatenate(cut.intercept), np.full(n, np.inf), 2 * n,
                      np.arange(0, 2 * n, 2, dtype=np.int32), index, value)  # fmt: skip


def _integer_bound(problem: Problem, rec: Recourse, master: _Master) -> float | None:
    """A valid MILP lower bound from the master's cuts with integer reservations, without branching.

    Every cut is valid, so is any convex combination of them (weights mu >= 0 summing to 1, here the master LP's
    duals of its cut rows, renormalised); each is separable: sum_k G_k(R_k) - beta . b. Relaxing the upfront
    budget with a multiplier lambda >= 0 (its row dual) leaves, per pool, min over integer units of
    sum_r (H p_r + lambda u_r) x_r + G_p(sum_r scale_r x_r), and linear terms in the plans and shared
    reservations, minimised at 0 or their cap. By weak duality the sum is <= the MILP optimum whatever mu and
    lambda are; good multipliers make it the LP bound plus the cost of rounding every pool."""
    if not master.cuts:
        return None
    duals = np.asarray(master.h.getSolution().row_dual)
    if len(duals) != master.h.getNumRow():
        return None
    mu = np.array([max(0.0, duals[row]) for row, _ in master.cuts])
    if mu.sum() <= 0:
        return None
    mu /= mu.sum()
    lam = max(0.0, -duals[master.budget_row]) if master.budget_row is not None else 0.0
    n_r = master.n_r
    upfront = np.array([r.upfront for r in problem.reservations] + [0.0] * master.n_s)
    price = master.cost1 + lam * upfront  # per unit of each first-stage column
    total = -lam * problem.upfront_budget if master.budget_row is not None else 0.0
    # Linear part: shared capacities (plans, multi-SKU reservations) carry -sum_t mu_t beta_t.
    linear = price.copy()
    for weight, (_, cut) in zip(mu, master.cuts, strict=True):
        linear[rec.shared] -= weight * cut.beta
    for j in rec.shared:
        if linear[j] < 0:
            top = master.upper[j]
            total += linear[j] * (np.floor(top + 1e-9) if j < n_r else top)
    # Separable part: per pool, the cheapest capacity unit and G_p on the integers up to the cap.
    for k in range(master.n_k):
        mine = np.flatnonzero(rec.pool_of_res == k)
        levels = np.arange(0.0, 1.0 + (max((master.upper[r] * rec.pool_scale[r] for r in mine), default=0.0)))
        g = np.zeros_like(levels)
        for weight, (_, cut) in zip(mu, master.cuts, strict=True):
            if weight > 0 and len(cut.slope[k]):
                g += weight * np.maximum(
                    np.max(cut.intercept[k][None, :] - cut.slope[k][None, :] * levels[:, None], axis=1), 0.0
                )
        if not len(mine):
            total += float(g[0])
            continue
        unit = price[mine] / rec.pool_scale[mine]  # $ per pool unit of capacity
        if np.allclose(rec.pool_scale[mine], 1.0):
            total += float(np.min(unit.min() * levels + g))
        else:  # fractional capacity steps: relax to real capacity; G_k is linear between knots, so knots suffice
            knots = np.unique(np.concatenate([[0.0, levels[-1]], *[c for c in _knots(master, k)]]))
            knots = knots[(knots >= 0) & (knots <= levels[-1])]
            gk = np.zeros_like(knots)
            for weight, (_, cut) in zip(mu, master.cuts, strict=True):
                if weight > 0 and len(cut.slope[k]):
                    gk += weight * np.maximum(
                        np.max(cut.intercept[k][None, :] - cut.slope[k][None, :] * knots[:, None], axis=1), 0.0
                    )
            total += float(np.min(unit.min() * knots + gk))
    return total


def _knots(master: _Master, k: int) -> list[np.ndarray]:
    """Breakpoints of every cut's F_p: where two consecutive pieces meet."""
    out = []
    for _, cut in master.cuts:
        a, b = cut.intercept[k], cut.slope[k]
        if len(a) > 1:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = (a[1:] - a[:-1]) / (b[1:] - b[:-1])
            out.append(x[np.isfinite(x)])
    return out


def _round(problem: Problem, rec: Recourse, master: _Master, point: np.ndarray) -> list[np.ndarray]:
    """Two integer reservation vectors near the LP point (units that cost most upfront given back while the
    budget is broken): every count rounded to nearest; and shared ones to nearest, pooled ones down, then
    units added back one at a time, best first by the change they make to hours * price + F_p(P_p) under the
    exact separable cut at the rounded-down point (plans held at their LP values), up to the LP's capacity
    rounded up."""
    n_r = master.n_r
    upfront = np.array([r.upfront for r in problem.reservations])
    hourly = master.cost1[:n_r]
    dedicated = rec.pool_of_res >= 0
    budget = problem.upfront_budget

    def within_budget(x: np.ndarray) -> np.ndarray:
        if budget is not None:
            for r in np.argsort(-upfront):  # give back the units that cost most upfront until the budget holds
                while upfront @ x > budget + 1e-9 and x[r] > 0 and upfront[r] > 0:
                    x[r] -= 1
        return x

    nearest = within_budget(np.round(point[:n_r]))
    x = within_budget(np.where(dedicated, np.floor(point[:n_r] + 1e-9), np.round(point[:n_r])))
    base = np.concatenate([x, point[n_r:]])
    cut = separable_cut(rec, base, hourly_cuts(rec, base), window=1 << 30)  # every piece: exact F_k
    capacity = rec.pool_capacity(base)

    def f(k: int, level: float) -> float:
        return float(np.max(cut.intercept[k] - cut.slope[k] * level, initial=0.0))

    # Greedy: add the unit with the most negative change while one exists and the budget allows it.
    offers = {k: np.flatnonzero(rec.pool_of_res == k) for k in np.unique(rec.pool_of_res[dedicated])}
    spent = upfront @ x
    ceiling = np.ceil(rec.pool_capacity(point) - 1e-9) + 1e-9  # stay within the LP's rounded-up capacity
    while True:
        best = (0.0, -1, -1)
        for k, mine in offers.items():
            now = f(k, capacity[k])
            for r in mine:
                if capacity[k] + rec.pool_scale[r] > ceiling[k] or (
                    budget is not None and spent + upfront[r] > budget + 1e-9
                ):
                    continue
                delta = hourly[r] + f(k, capacity[k] + rec.pool_scale[r]) - now
                if delta < best[0] - 1e-12:
                    best = (delta, r, k)
        delta, r, k = best
        if r < 0:
            break
        x[r] += 1
        spent += upfront[r]
        capacity[k] += rec.pool_scale[r]
    return [nearest, x]


def solve_decomposed(problem: Problem, *, time_limit: float | None, gap: float) -> DecomposedResult | None:
    """Run the decomposition; None when the structure is not supported (more than two shared capacities)."""
    start = time.perf_counter()
    deadline = start + time_limit if time_limit is not None else math.inf
    rec = build_recourse(problem)
    if rec is None:
        return None
    master = _Master(problem, rec)
    n_r, n1 = master.n_r, master.n1
    ded = np.flatnonzero(rec.pool_of_res >= 0)
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    notes: list[str] = []

    def add_cut(point: np.ndarray, theta: float | None) -> float:
        """Add the separable cut at ``point`` unless the master already meets it there; return the cut
        model's estimate of the total cost at ``point`` (exact when the candidate set is, else a lower one)."""
        hourly = hourly_cuts(rec, point)
        value = float(rec.weight @ hourly.value)
        if theta is None or theta < value - 1e-9 * max(1.0, abs(value)):
            master.add_cut(separable_cut(rec, point, hourly))
        return float(master.cost1 @ point) + value

    # Seed cuts: pool capacity at quantiles of the pool's demand, plans off and half way.
    if len(rec.demand):
        pool_demand = rec.pool_demand()
        for q in (0.0, 0.25, 0.5, 0.75):
            level = np.quantile(pool_demand, q, axis=0)
            point = np.zeros(n1)
            for k in range(rec.n_pools):
                mine = ded[rec.pool_of_res[ded] == k]
                if len(mine):
                    point[mine[0]] = level[k] / rec.pool_scale[mine[0]]
            point[n_r:] = master.upper[n_r:] * q / 2
            add_cut(np.minimum(point, master.upper), None)

    bound = -math.inf
    best_point, best_estimate = None, math.inf
    iterations, status = 0, "iteration limit"
    # Phase 1: the LP relaxation.
    while iterations < 500:
        iterations += 1
        ok, obj, point, theta = master.solve()
        if not ok:
            status = f"master LP: {master.h.modelStatusToString(master.h.getModelStatus())}"
            break
        bound = max(bound, obj - BOUND_SAFETY * abs(obj))
        estimate = add_cut(point, theta)
        if estimate < best_estimate:
            best_estimate, best_point = estimate, point
        if best_estimate - bound <= max(gap / 3, CONVERGED) * abs(best_estimate):
            status = "lp converged"
            break
        if time.perf_counter() > deadline:
            status = "time limit"
            break
        add_cut(0.5 * (point + best_point), None)  # in-out stabilisation
    lp_bound = bound
    notes.append(
        f"decomposed: LP bound {lp_bound:.8g} after {iterations} rounds ({status}, {time.perf_counter() - start:.2f}s)"
    )
    if best_point is None:
        return DecomposedResult(status, None, {}, {}, build_seconds, time.perf_counter() - start, iterations, notes)
    if status == "lp converged":  # the master's duals are those of its last (optimal) solve
        integer_bound = _integer_bound(problem, rec, master)
        if integer_bound is not None:
            notes.append(f"decomposed: integer-rounded Lagrangian bound {integer_bound:.8g}")
            bound = max(bound, integer_bound - BOUND_SAFETY * abs(integer_bound))

    def fix_and_price_plans(x: np.ndarray) -> tuple[np.ndarray, float]:
        """Optimal plan commitments for integer x under the cut model, refined by cuts; (point, estimate)."""
        h = master.h
        idx = np.arange(n_r, dtype=np.int32)
        h.changeColsBounds(n_r, idx, x, x)
        point, estimate = np.concatenate([x, best_point[n_r:]]), math.inf
        for _ in range(50):
            ok, obj, candidate, theta = master.solve()
            if not ok:
                break
            candidate[:n_r] = x
            value = add_cut(candidate, theta)
            if value < estimate:
                point, estimate = candidate, value
            if value - obj <= gap / 20 * abs(value) or time.perf_counter() > deadline:
                break
        h.changeColsBounds(n_r, idx, np.zeros(n_r), master.upper[:n_r])
        return point, estimate

    # Phase 2: round the LP point, price the plans for it.
    incumbent, estimate = best_point, math.inf
    for x in _round(problem, rec, master, best_point):
        candidate, value = fix_and_price_plans(x)
        if value < estimate:
            incumbent, estimate = candidate, value
    status = "rounded"
    notes.append(f"decomposed: rounded plan estimated at {estimate:.8g} ({time.perf_counter() - start:.2f}s)")

    # Phase 3: integer master, while the gap (estimated by the cut model) is above target.
    # The estimate is a lower estimate when the candidate set was merged: keep a margin below the target gap;
    # the integer master gets at most as long as everything before it (2 s at least).
    phase3_deadline = min(deadline, time.perf_counter() + max(2.0, time.perf_counter() - start))
    if estimate - bound > max(0.95 * gap, CONVERGED) * abs(estimate) and n_r and time.perf_counter() < deadline:
        h = master.h
        h.changeColsIntegrality(n_r, np.arange(n_r, dtype=np.int32), np.full(n_r, 1, dtype=np.uint8))
        h.setOptionValue("mip_rel_gap", gap / 4)
        h.setOptionValue("presolve", "choose")  # the MIP is solved from scratch: presolve pays off
        for _ in range(30):
            remaining = phase3_deadline - time.perf_counter()
            if remaining <= 0:
                break
            if math.isfinite(remaining):
                h.setOptionValue("time_limit", remaining)
            h.run()
            info = h.getInfo()
            if info.primal_solution_status != 2:
                break
            mip_bound = info.mip_dual_bound
            if math.isfinite(mip_bound):
                bound = max(bound, mip_bound - BOUND_SAFETY * abs(mip_bound))
            values = np.asarray(h.getSolution().col_value)
            candidate = values[:n1].copy()
            candidate[:n_r] = np.round(candidate[:n_r])
            value = add_cut(candidate, float(values[master.theta]))
            if value < estimate:
                incumbent, estimate, status = candidate, value, "integer master"
            if estimate - bound <= max(0.95 * gap, CONVERGED) * abs(estimate):
                break
        h.changeColsIntegrality(n_r, np.arange(n_r, dtype=np.int32), np.zeros(n_r, dtype=np.uint8))
        h.setOptionValue("time_limit", math.inf)
        notes.append(
            f"decomposed: integer master: bound {bound:.8g}, estimate {estimate:.8g} "
            f"({time.perf_counter() - start:.2f}s)"
        )

    reservations = {r.id: float(incumbent[i]) for i, r in enumerate(problem.reservations)}
    plans = {s.id: float(incumbent[n_r + i]) for i, s in enumerate(problem.savings_plans)}
    return DecomposedResult(
        status, bound if math.isfinite(bound) else None, reservations, plans, build_seconds,
        time.perf_counter() - start, iterations, notes,
    )  # fmt: skip
