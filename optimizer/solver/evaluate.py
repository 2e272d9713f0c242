"""Independent evaluator: the exact model cost of a fixed purchase (reservation units, plan $/hour).

With the purchases fixed, the hours no longer interact, so the cost is the commitment cost plus, for each
hour, a small LP over that hour's allocation (reservation, plan, spot, on-demand). Two exact reductions keep
that LP small, and everything is built with numpy (no Python loop over hours):

- A reservation that covers a single SKU k ("dedicated") has no other use, so it is always worth spending it
  on k first: if an optimal allocation left some of it idle while serving k otherwise, moving that demand onto
  it frees plan capacity / spot headroom and costs nothing. So the dedicated units of k serve
  ``min(d_kh, sum_r x_r / covers_rk)`` in closed form, and only the residual demand enters the LP (the spot cap
  stays ``spot_max_share * d_kh`` of the original demand).
- Multi-SKU reservations with proportional ``covers`` (a size-flexible pool: one family, sizes by normalization
  factor) share one capacity row (see :func:`_shared_capacities`).
- Hours with identical demand vectors have identical LPs: each distinct vector is solved once, weighted by its
  count. The remaining LP (residual demand, shared reservations, plans, spot, on-demand) is one block-diagonal
  LP solved by scipy's HiGHS; blocks share no variable, so its optimum is the sum of the hourly optima.

This shares no code with the MILP builders, so tests can use it to check them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from optimizer.solver.problem import Problem

_CHUNK_ENTRIES = 3000  # (hour, SKU) pairs per allocation LP: measured fastest between 1000 and 8000


@dataclass(frozen=True)
class Evaluation:
    cost: float
    breakdown: dict[str, float]  # reservations, savings_plans, spot, on_demand
    utilization: dict[str, dict[str, float | None]]  # {"reservations": {id: share}, "savings_plans": {id: share}}


def _residual_lp(
    problem: Problem,
    demand: np.ndarray,
    residual: np.ndarray,
    counts: np.ndarray,
    x: np.ndarray,
    c: np.ndarray,
    capacities: list[tuple[list[tuple[int, float]], Mapping[str, float], int]],
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Allocate ``residual`` (G x K, after dedicated reservations) of every distinct hour to shared reservations,
    plans, spot (cap ``share * demand``) and on-demand. Returns (spot cost, on-demand cost, capacity used per
    shared resource summed over hours: one entry per reservation then per plan, 0 for dedicated ones, and the
    optimal allocation itself: 4 x G x K SKU units of one hour of each distinct vector on shared reservations,
    plans, spot and on-demand)."""
    skus = problem.skus
    n_r, n_s = len(problem.reservations), len(problem.savings_plans)
    index = {sku.id: k for k, sku in enumerate(skus)}
    owners_of = [members for members, _, _ in capacities]
    amount = np.concatenate([x, c])
    cap_size = np.array([sum(scale * amount[slot] for slot, scale in members) for members in owners_of])
    cap_layer = np.array([layer for _, _, layer in capacities], dtype=int)
    links = [(j, index[k], coef) for j, (_, covers, _) in enumerate(capacities) for k, coef in covers.items()]
    slots = [j for j in range(len(capacities)) if cap_size[j] > 0]
    row_of_slot = {slot: i for i, slot in enumerate(slots)}
    n_g = len(residual)
    g_idx, k_idx = np.nonzero(residual > 0)
    n_e = len(g_idx)
    od = np.array([sku.on_demand for sku in skus])
    spot_ok = np.array([sku.spot is not None and sku.spot_max_share > 0 and sku.spot < sku.on_demand for sku in skus])
    spot_price = np.array([sku.spot if sku.spot is not None else 0.0 for sku in skus])
    share = np.array([sku.spot_max_share for sku in skus])
    layers = np.zeros((4, n_g, len(skus)))  # shared reservations, plans, spot, on-demand (order of LAYERS)

    if not slots:  # nothing shared bought: each entry takes its spot share when spot is cheaper, rest on-demand
        e, d = residual[g_idx, k_idx], demand[g_idx, k_idx]
        z = np.where(spot_ok[k_idx], np.minimum(e, share[k_idx] * d), 0.0)
        w = counts[g_idx]
        layers[2, g_idx, k_idx], layers[3, g_idx, k_idx] = z, e - z
        return float(w @ (z * spot_price[k_idx])), float(w @ ((e - z) * od[k_idx])), np.zeros(n_r + n_s), layers
    costs, uppers, eq_cols, ub_rows, ub_cols, ub_vals, owners = [], [], [], [], [], [], []
    n_cols = 0

    def add(entries: np.ndarray, cost: np.ndarray, upper: np.ndarray, owner: int) -> np.ndarray:
        nonlocal n_cols
        cols = n_cols + np.arange(len(entries))
        n_cols += len(entries)
        costs.append(cost)
        uppers.append(upper)
        eq_cols.append((entries, cols))
        owners.append(np.full(len(entries), owner))
        return cols

    inf = np.full(n_e, np.inf)
    for slot, k, coef in links:
        if slot not in row_of_slot:
            continue
        entries = np.flatnonzero(k_idx == k)
        cols = add(entries, np.zeros(len(entries)), inf[entries], slot)
        ub_rows.append(g_idx[entries] * len(slots) + row_of_slot[slot])
        ub_cols.append(cols)
        ub_vals.append(np.full(len(entries), coef))
    spot_entries = np.flatnonzero(spot_ok[k_idx])
    add(
        spot_entries,
        counts[g_idx[spot_entries]] * spot_price[k_idx[spot_entries]],
        share[k_idx[spot_entries]] * demand[g_idx[spot_entries], k_idx[spot_entries]],
        -1,
    )
    all_entries = np.arange(n_e)
    add(all_entries, counts[g_idx] * od[k_idx], inf, -2)

    if n_cols == 0:
        return 0.0, 0.0, np.zeros(n_r + n_s), layers
    rows = np.concatenate([e for e, _ in eq_cols])
    cols = np.concatenate([col for _, col in eq_cols])
    a_eq = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_e, n_cols))
    a_ub = b_ub = None
    if slots and ub_rows:
        a_ub = sp.csr_matrix(
            (np.concatenate(ub_vals), (np.concatenate(ub_rows), np.concatenate(ub_cols))),
            shape=(n_g * len(slots), n_cols),
        )
        b_ub = np.tile(cap_size[slots], n_g)
    cost = np.concatenate(costs)
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=residual[g_idx, k_idx],
        bounds=np.column_stack([np.zeros(n_cols), np.concatenate(uppers)]),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"hourly allocation LP failed: {result.message}")
    value = result.x
    owner = np.concatenate(owners)
    spot = float(cost[owner == -1] @ value[owner == -1])
    on_demand = float(cost[owner == -2] @ value[owner == -2])
    used = np.zeros(n_r + n_s)
    if a_ub is not None:
        weighted = np.repeat(counts, len(slots)) * (a_ub @ value)  # per (hour, slot) capacity used x hour count
        for slot, total in zip(slots, weighted.reshape(n_g, len(slots)).sum(axis=0), strict=True):
            for member, _ in owners_of[slot]:  # pro rata: every offer of a pool is used to the same share
                used[member] = total * amount[member] / cap_size[slot]
    # Column cols[i] serves entry rows[i]; its owner (same order) names the layer.
    shared_layer = cap_layer[np.maximum(owner, 0)] if len(cap_layer) else np.zeros(len(owner), dtype=int)
    layer = np.where(owner == -2, 3, np.where(owner == -1, 2, shared_layer))
    np.add.at(layers, (layer, g_idx[rows], k_idx[rows]), value[cols])
    return spot, on_demand, used, layers


def _shared_capacities(problem: Problem) -> list[tuple[list[tuple[int, float]], Mapping[str, float], int]]:
    """Capacities the hourly LP allocates: (members as (purchase slot, scale), covers, layer). Multi-SKU
    reservations with proportional ``covers`` (a size-flexible pool) share one row: an allocation to several of
    them can always be re-split in proportion to their capacity, so one row ``sum_k covers_k w_k <= sum_r
    scale_r x_r`` (covers of the pool's first offer, scale_r = that over the offer's own) is exact. Every plan
    is its own capacity (layer 1); slots index x then c."""
    pools: dict[tuple, list[int]] = {}
    for r, res in enumerate(problem.reservations):
        if len(res.covers) > 1:
            items = sorted(res.covers.items())
            key = tuple((sku_id, round(amount / items[0][1], 12)) for sku_id, amount in items)
            pools.setdefault(key, []).append(r)
    out: list[tuple[list[tuple[int, float]], Mapping[str, float], int]] = []
    for members in pools.values():
        covers = problem.reservations[members[0]].covers
        sku_id = next(iter(covers))
        out.append(([(r, covers[sku_id] / problem.reservations[r].covers[sku_id]) for r in members], covers, 0))
    n_r = len(problem.reservations)
    out += [([(n_r + s, 1.0)], plan.rates, 1) for s, plan in enumerate(problem.savings_plans)]
    return out


@dataclass(frozen=True)
class HourLayers:
    """The evaluator's optimal allocation, per hour and SKU, in SKU units (instances): ``layers[l, h, k]`` for
    l in reservations (dedicated and shared), savings_plans, spot, on_demand. Sums over l equal the demand."""

    demand: np.ndarray  # H x K
    layers: np.ndarray  # 4 x H x K


LAYERS = ("reservations", "savings_plans", "spot", "on_demand")


def evaluate_detail(
    problem: Problem, reservations: Mapping[str, float], savings_plans: Mapping[str, float]
) -> Evaluation:
    """Exact cost, cost breakdown and utilization of buying ``reservations`` (units) and ``savings_plans``
    ($/hour); ids not given are bought at 0."""
    return _evaluate(problem, reservations, savings_plans)[0]


def evaluate_hours(
    problem: Problem, reservations: Mapping[str, float], savings_plans: Mapping[str, float]
) -> tuple[Evaluation, HourLayers]:
    """:func:`evaluate_detail` plus the optimal allocation behind its cost, hour by hour (:class:`HourLayers`)."""
    return _evaluate(problem, reservations, savings_plans)


def _evaluate(
    problem: Problem, reservations: Mapping[str, float], savings_plans: Mapping[str, float]
) -> tuple[Evaluation, HourLayers]:
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
    n_r = len(x)
    index = {sku.id: k for k, sku in enumerate(problem.skus)}
    demand = np.array([problem.demand[sku.id] for sku in problem.skus], dtype=float).T.reshape(hours, -1)
    unique, inverse, counts = np.unique(demand, axis=0, return_inverse=True, return_counts=True)
    nonzero = unique.any(axis=1)
    group_of_hour = (np.cumsum(nonzero) - 1)[inverse.reshape(-1)]  # index among non-zero vectors
    zero_hour = ~nonzero[inverse.reshape(-1)]
    unique, counts = unique[nonzero], counts[nonzero].astype(float)

    # Dedicated reservations: capacity per SKU in SKU units, served first in closed form.
    dedicated = np.zeros(len(problem.skus))
    for r, res in enumerate(problem.reservations):
        if len(res.covers) == 1:
            ((sku_id, coef),) = res.covers.items()
            dedicated[index[sku_id]] += x[r] / coef
    served = np.minimum(unique, dedicated)
    residual = unique - served
    # Hours are independent: solving them in chunks keeps each simplex small (its cost grows faster than size).
    spot = on_demand = 0.0
    used = np.zeros(n_r + len(c))
    group_layers = np.zeros((4, len(unique), len(problem.skus)))
    per_chunk = max(1, _CHUNK_ENTRIES // max(1, len(problem.skus)))
    capacities = _shared_capacities(problem)
    for start in range(0, len(unique), per_chunk):
        part = slice(start, start + per_chunk)
        s_cost, o_cost, s_used, layers = _residual_lp(
            problem, unique[part], residual[part], counts[part], x, c, capacities
        )
        spot, on_demand, used = spot + s_cost, on_demand + o_cost, used + s_used
        group_layers[:, part] = layers
    group_layers[0] += served  # dedicated reservations
    served_total = counts @ served  # SKU-hours on dedicated reservations, split pro rata over their capacity
    for r, res in enumerate(problem.reservations):
        if len(res.covers) == 1 and x[r] > 0:
            ((sku_id, coef),) = res.covers.items()
            k = index[sku_id]
            used[r] = served_total[k] * coef * (x[r] / coef) / dedicated[k]

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
            s.id: (min(1.0, used[n_r + i] / (hours * c[i])) if c[i] > 0 else None)
            for i, s in enumerate(problem.savings_plans)
        },
    }
    per_hour = np.zeros((4, hours, len(problem.skus)))  # all-zero hours stay zero
    per_hour[:, ~zero_hour] = group_layers[:, group_of_hour[~zero_hour]]
    evaluation = Evaluation(float(sum(breakdown.values())), breakdown, utilization)
    return evaluation, HourLayers(demand, per_hour)


def evaluate(problem: Problem, reservations: Mapping[str, float], savings_plans: Mapping[str, float]) -> float:
    """Exact model cost of the given purchases (see :func:`evaluate_detail`)."""
    return evaluate_detail(problem, reservations, savings_plans).cost
