"""Vectorised hourly recourse: lower-bounding cuts of the cost of every hour at once, for fixed purchases.

Reservations form *pools*: offers whose ``covers`` are proportional (same SKUs, same ratios) share one capacity
exactly, because an allocation to several such offers can always be re-split among them (the evaluator's LP
allocates continuously). A pool's capacity is ``P_p = sum_{r in p} scale_r x_r`` in pool units and one hour of
SKU k consumes ``nf_k`` of them: a single-SKU reservation makes a pool of one SKU (nf 1, capacity in SKU units);
AWS size-flexible regional reservations make a pool per family with nf the normalization factors. A pool becomes
a *shared* capacity instead (priced by its own dual, like a plan) when one of its SKUs is also covered by a
different multi-SKU offer; SKUs no pool covers get an empty pool (capacity 0). Every SKU is in one pool.

For fixed purchases each hour h is a small LP::

    Q_h(P, b) = min  sum_k spot_k z_k + od_k o_k
        s.t.  w_k + sum_j u_jk + z_k + o_k = d_k          (pi_k, free)
              sum_{k in p} nf_k w_k <= P_p                (rho_p >= 0)    pools
              sum_k a_jk u_jk <= b_j                      (beta_j >= 0)   shared capacity: plans, other res.
              z_k <= s_k = spot_max_share_k d_k           (gamma_k >= 0)

Relaxing the shared rows with prices beta (Lagrangian, weak duality: valid for every beta >= 0) leaves one
continuous knapsack per pool: SKU k's residual costs mu_k = min(od_k, min_j a_jk beta_j) per instance above its
spot cap and p1_k = min(mu_k, spot_k) under it, so the pool's capacity serves the pieces (length nf_k (d_k - s_k)
at density mu_k / nf_k, then nf_k s_k at p1_k / nf_k) greedily by density. That gives, for the hour's beta,
``Q_h(P, b) >= sum_p sum_i delta_i (c_i - P_p)^+ - beta . b`` with c_i the cumulative piece lengths in density
order and delta_i >= 0 the density drops: convex piecewise linear in each P_p alone, exact in P for that beta.

beta is chosen per hour to maximise that value at the current point over a finite candidate set: the vertices of
the arrangement of the lines where two of the densities (constants v_l / nf_l and a_jk beta_j / nf_k within a
pool) cross. With one shared capacity the candidates are exactly those vertices, so the cut is tight (equals
Q_h); with two, near-equal vertex coordinates are merged to keep the set small, which can only loosen a cut,
never invalidate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.solver.problem import Problem

MAX_SHARED = 2  # more shared capacities than this: no candidate set here, use another formulation
MAX_CANDIDATES = 400  # beyond this many beta candidates, merge coarser (looser cuts, still valid)


@dataclass(frozen=True)
class Recourse:
    """Static data of the hourly LPs: distinct non-zero demand hours and the offer structure."""

    demand: np.ndarray  # G x K distinct non-zero demand vectors
    weight: np.ndarray  # G, hours per vector
    od: np.ndarray  # K on-demand price
    spot: np.ndarray  # K spot price (0 where no spot)
    spot_ok: np.ndarray  # K, spot allowed and cheaper than on-demand
    share: np.ndarray  # K spot cap share (0 where not spot_ok)
    pool_of_sku: np.ndarray  # K: pool index (every SKU is in exactly one pool)
    nf: np.ndarray  # K: pool units one instance-hour of the SKU consumes
    pool_of_res: np.ndarray  # n_r: pool of a pooled reservation, -1 for a shared one
    pool_scale: np.ndarray  # n_r: pool units per reservation unit, 0 for shared ones
    shared: np.ndarray  # m: index into the first-stage vector (x then c) of each shared capacity
    coef: np.ndarray  # m x K: a_jk, inf where capacity j does not cover SKU k
    candidates: np.ndarray  # N x m candidate beta vectors

    @property
    def exact(self) -> bool:
        """True when the candidate set holds every vertex, so the cuts are tight (cut value = Q_h)."""
        return len(self.shared) <= 1

    @property
    def n_pools(self) -> int:
        return int(self.pool_of_sku.max()) + 1 if len(self.pool_of_sku) else 0

    def pool_capacity(self, first_stage: np.ndarray) -> np.ndarray:
        """P_p for a first-stage vector (x then c)."""
        n_r = len(self.pool_of_res)
        mask = self.pool_of_res >= 0
        return np.bincount(
            self.pool_of_res[mask], weights=first_stage[:n_r][mask] * self.pool_scale[mask], minlength=self.n_pools
        )

    def pool_demand(self) -> np.ndarray:
        """G x n_pools: pool units needed to cover every instance of the pool's SKUs."""
        out = np.zeros((len(self.demand), self.n_pools))
        np.add.at(out.T, self.pool_of_sku, (self.demand * self.nf).T)
        return out


def _dedupe(values: np.ndarray, rel: float) -> np.ndarray:
    values = np.unique(values[np.isfinite(values)])
    if rel <= 0 or len(values) < 2:
        return values
    keep = [values[0]]
    for value in values[1:]:
        if value > keep[-1] * (1 + rel) + 1e-15:
            keep.append(value)
    return np.array(keep)


def _ratio_key(covers: dict[str, float]) -> tuple:
    """Offers with equal keys have proportional ``covers`` (same SKUs, same ratios): one capacity."""
    items = sorted(covers.items())
    ref = items[0][1]
    return tuple((sku_id, float(f"{amount / ref:.12g}")) for sku_id, amount in items)


def build_recourse(problem: Problem, *, merge_rel: float = 2e-3) -> Recourse | None:
    """Recourse data for ``problem``, or None when it has more than ``MAX_SHARED`` shared capacities."""
    skus = problem.skus
    index = {sku.id: k for k, sku in enumerate(skus)}
    n_k, n_r = len(skus), len(problem.reservations)
    demand = np.array([problem.demand[sku.id] for sku in skus], dtype=float).T.reshape(problem.hours, n_k)
    groups, counts = np.unique(demand, axis=0, return_counts=True)
    keep = groups.any(axis=1)
    od = np.array([sku.on_demand for sku in skus])
    spot_ok = np.array([sku.spot is not None and sku.spot_max_share > 0 and sku.spot < sku.on_demand for sku in skus])
    spot = np.array([sku.spot if ok else 0.0 for sku, ok in zip(skus, spot_ok, strict=True)])
    share = np.array([sku.spot_max_share if ok else 0.0 for sku, ok in zip(skus, spot_ok, strict=True)])

    offers: dict[tuple, list[int]] = {}
    for r, res in enumerate(problem.reservations):
        offers.setdefault(_ratio_key(res.covers), []).append(r)
    covering: dict[str, int] = {}  # SKU -> number of offer groups covering it
    for key in offers:
        for sku_id, _ in key:
            covering[sku_id] = covering.get(sku_id, 0) + 1
    pool_of_sku = np.full(n_k, -1)
    nf = np.ones(n_k)
    pool_of_res = np.full(n_r, -1)
    pool_scale = np.zeros(n_r)
    shared, rows = [], []
    n_pools = 0
    for key, members in offers.items():
        if len(key) > 1 and any(covering[sku_id] > 1 for sku_id, _ in key):
            for r in members:  # overlaps another multi-SKU group: priced by its own dual
                shared.append(r)
                rows.append(problem.reservations[r].covers)
            continue
        # Pool units: those of the group's first offer for several SKUs; SKU units for a single-SKU pool.
        first = problem.reservations[members[0]].covers
        unit = {sku_id: (first[sku_id] if len(key) > 1 else 1.0) for sku_id, _ in key}
        for sku_id, _ in key:
            pool_of_sku[index[sku_id]], nf[index[sku_id]] = n_pools, unit[sku_id]
        for r in members:
            sku_id, amount = next(iter(problem.reservations[r].covers.items()))
            pool_of_res[r], pool_scale[r] = n_pools, unit[sku_id] / amount
        n_pools += 1
    for k in np.flatnonzero(pool_of_sku < 0):
        pool_of_sku[k] = n_pools
        n_pools += 1
    for s, plan in enumerate(problem.savings_plans):
        shared.append(n_r + s)
        rows.append(plan.rates)
    if len(shared) > MAX_SHARED:
        return None
    coef = np.full((len(shared), n_k), np.inf)
    for j, row in enumerate(rows):
        for sku_id, amount in row.items():
            coef[j, index[sku_id]] = amount
    spot_value = np.where(spot_ok, spot, od)
    candidates = _candidates(od, spot_value, coef, nf, pool_of_sku, merge_rel)
    rel = merge_rel
    while len(candidates) > MAX_CANDIDATES and len(shared) > 1:
        rel *= 2
        candidates = _candidates(od, spot_value, coef, nf, pool_of_sku, rel)
    return Recourse(
        groups[keep], counts[keep].astype(float), od, spot, spot_ok, share, pool_of_sku, nf, pool_of_res,
        pool_scale, np.array(shared, dtype=int), coef, candidates,
    )  # fmt: skip


def _same_pool_pairs(pool_of_sku: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, l) index pairs of SKUs in the same pool, k == l included."""
    order = np.argsort(pool_of_sku, kind="stable")
    pools = pool_of_sku[order]
    starts = np.flatnonzero(np.r_[True, pools[1:] != pools[:-1]])
    ends = np.r_[starts[1:], len(order)]
    ks, ls = [], []
    for a, b in zip(starts, ends, strict=True):
        members = order[a:b]
        ks.append(np.repeat(members, len(members)))
        ls.append(np.tile(members, len(members)))
    return np.concatenate(ks), np.concatenate(ls)


def _candidates(
    od: np.ndarray, spot_value: np.ndarray, coef: np.ndarray, nf: np.ndarray, pool_of_sku: np.ndarray, merge_rel: float
) -> np.ndarray:
    m = len(coef)
    if m == 0:
        return np.zeros((1, 0))
    k, other = _same_pool_pairs(pool_of_sku)
    # Density a_jk beta_j / nf_k meets the constant v_l / nf_l (v: on-demand, or spot under the cap).
    with np.errstate(divide="ignore", invalid="ignore"):
        lines = [
            np.concatenate(
                [
                    [0.0],
                    od[other] * nf[k] / (nf[other] * coef[j, k]),
                    spot_value[other] * nf[k] / (nf[other] * coef[j, k]),
                ]
            )
            for j in range(m)
        ]
    if m == 1:
        return _dedupe(lines[0], 0.0)[:, None]
    t1, t2 = _dedupe(lines[0], merge_rel), _dedupe(lines[1], merge_rel)
    both = np.isfinite(coef[0, k]) & np.isfinite(coef[1, other])
    # Rays where a_1k beta_1 / nf_k = a_2l beta_2 / nf_l: beta_2 = slope beta_1.
    slopes = _dedupe(coef[0, k[both]] * nf[other[both]] / (coef[1, other[both]] * nf[k[both]]), merge_rel)
    points = [np.array(np.meshgrid(t1, t2)).reshape(2, -1).T]
    for slope in slopes:
        points.append(np.column_stack([t1, slope * t1]))
        points.append(np.column_stack([t2 / slope, t2]))
    return np.unique(np.concatenate(points), axis=0)


@dataclass(frozen=True)
class _Pieces:
    """Per candidate beta: the 2K pieces (above the spot cap, then under it, per SKU) sorted by pool, then by
    density descending; ``rho`` the densities in that order."""

    order: np.ndarray  # N x 2K permutation of the pieces
    rho: np.ndarray  # N x 2K densities ($ per pool unit) in that order
    pool: np.ndarray  # 2K pool of each sorted position (the same for every candidate)
    first: np.ndarray  # 2K position of the first piece of the same pool
    last: np.ndarray  # 2K whether the next position starts another pool


def _pieces(rec: Recourse, beta: np.ndarray) -> _Pieces:
    n_k = rec.od.size
    if rec.coef.shape[0]:
        a = np.where(np.isfinite(rec.coef), rec.coef, 0.0)
        priced = np.where(np.isfinite(rec.coef)[None], beta[:, :, None] * a[None], np.inf)  # N x m x K
        mu = np.minimum(rec.od, priced.min(axis=1))
    else:
        mu = np.broadcast_to(rec.od, (len(beta), n_k))
    p1 = np.where(rec.spot_ok, np.minimum(mu, rec.spot), mu)
    density = np.concatenate([mu, p1], axis=1) / np.concatenate([rec.nf, rec.nf])[None]
    pool = np.concatenate([rec.pool_of_sku, rec.pool_of_sku])
    # Pool ascending, density descending, the piece above the cap first on ties.
    span = float(density.max(initial=0.0)) + 1.0
    order = np.argsort(pool[None] * span - density, axis=1, kind="stable")
    rho = np.take_along_axis(density, order, axis=1)
    pool_sorted = pool[order[0]]
    starts = np.r_[True, pool_sorted[1:] != pool_sorted[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(2 * n_k), 0))
    last = np.r_[pool_sorted[1:] != pool_sorted[:-1], True]
    return _Pieces(order, rho, pool_sorted, first, last)


def _lengths(rec: Recourse, demand: np.ndarray) -> np.ndarray:
    """G x 2K piece lengths in pool units: above the spot cap, then under it."""
    s = rec.share * demand
    return np.concatenate([(demand - s) * rec.nf, s * rec.nf], axis=1)


def _fill(length: np.ndarray, pieces: _Pieces, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy pool fill for candidate n: (lengths in sorted order, start of each piece within its pool)."""
    return _fill_order(length, pieces, pieces.order[n])


def _fill_order(length: np.ndarray, pieces: _Pieces, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sorted_len = length[:, order]
    end = np.cumsum(sorted_len, axis=1)
    start = end - sorted_len
    start -= start[:, pieces.first]
    return sorted_len, start


@dataclass(frozen=True)
class Cuts:
    """Per distinct hour: the cut's value at the evaluated point and its slopes (weights not applied)."""

    value: np.ndarray  # G: dual value at the point (= Q_h when Recourse.exact)
    constant: np.ndarray  # G: the tangent's value at P = 0, b = 0
    rho: np.ndarray  # G x n_pools: minus the slope in P_p
    beta: np.ndarray  # G x m: minus the slope in b_j
    choice: np.ndarray  # G: index of the chosen candidate beta


def hourly_cuts(rec: Recourse, first_stage: np.ndarray, *, chunk: int = 1024) -> Cuts:
    """Dual-feasible cuts of every distinct hour at the first-stage point (x then c)."""
    capacity = rec.pool_capacity(first_stage)
    b = first_stage[rec.shared]
    cand = rec.candidates
    pieces = _pieces(rec, cand)
    fixed = cand @ b if len(b) else np.zeros(len(cand))
    cap = capacity[pieces.pool][None]
    n_g, n_p, m = len(rec.demand), rec.n_pools, len(b)
    out_value, out_const = np.empty(n_g), np.empty(n_g)
    out_rho, out_beta = np.empty((n_g, n_p)), np.empty((n_g, m))
    out_choice = np.empty(n_g, dtype=int)
    pool_starts = np.flatnonzero(np.r_[True, pieces.pool[1:] != pieces.pool[:-1]])
    # Candidates that rank the pieces alike fill the pools alike: one fill per distinct order.
    orders, order_of = np.unique(pieces.order, axis=0, return_inverse=True)
    order_of = order_of.reshape(-1)
    for lo in range(0, n_g, chunk):
        length = _lengths(rec, rec.demand[lo : lo + chunk])
        values = np.empty((len(length), len(cand)))
        for o, order in enumerate(orders):
            sorted_len, start = _fill_order(length, pieces, order)
            left = np.clip(start + sorted_len - cap, 0.0, sorted_len)  # the part the pool does not serve
            same = np.flatnonzero(order_of == o)
            values[:, same] = left @ pieces.rho[same].T - fixed[same][None]
        best = values.argmax(axis=1)
        rho = np.zeros((len(length), n_p))
        for n in np.unique(best):
            rows = np.flatnonzero(best == n)
            sorted_len, start = _fill(length[rows], pieces, n)
            unserved = start + sorted_len > cap + 1e-12 * (1.0 + cap)
            marginal = np.where(unserved, pieces.rho[n][None], 0.0)  # first unserved piece has the top density
            rho[rows] = np.maximum.reduceat(marginal, pool_starts, axis=1)  # segments are pools 0, 1, ...
        part = slice(lo, lo + len(length))
        out_value[part] = values[np.arange(len(length)), best]
        out_beta[part] = cand[best]
        out_rho[part] = rho
        out_const[part] = out_value[part] + rho @ capacity + (cand[best] @ b if m else 0.0)
        out_choice[part] = best
    return Cuts(out_value, out_const, out_rho, out_beta, out_choice)


@dataclass(frozen=True)
class SeparableCut:
    """A cut family valid everywhere: total recourse >= sum_p F_p(P_p) - beta . b, where each F_p is convex
    piecewise linear, F_p(P) = max(0, max_i (intercept[p][i] - slope[p][i] P))."""

    beta: np.ndarray  # m: weighted sum over hours of each hour's beta
    intercept: list[np.ndarray]  # per pool
    slope: list[np.ndarray]  # per pool
    value: float  # the cut at the evaluated point (= the weighted sum of Cuts.value)


def separable_cut(
    rec: Recourse, first_stage: np.ndarray, cuts: Cuts, *, window: int = 6, sparse: bool = True
) -> SeparableCut:
    """Fix each hour's beta from ``cuts`` and keep the pool's response free: for that beta, hour h's pool p
    costs sum_i delta_i (c_i - P)^+ for every P (the greedy knapsack, see the module docstring). Summing over
    hours gives a convex piecewise-linear F_p in P_p alone; its ``window`` linear pieces on each side of the
    current P_p are returned. Each piece sums ``w (c - P)`` over a subset of the knots, so it is a valid lower
    bound whatever the subset."""
    capacity = rec.pool_capacity(first_stage)
    b = first_stage[rec.shared]
    n_p = rec.n_pools
    pieces = _pieces(rec, rec.candidates)
    pool_parts, knot_parts, weight_parts = [], [], []
    for n in np.unique(cuts.choice):
        rows = np.flatnonzero(cuts.choice == n)
        sorted_len, start = _fill(_lengths(rec, rec.demand[rows]), pieces, n)
        rho = pieces.rho[n]
        drop = rho - np.where(pieces.last, 0.0, np.r_[rho[1:], 0.0])  # density drop after each piece, >= 0
        weight = rec.weight[rows, None] * drop[None]
        keep = (weight > 0) & (start + sorted_len > 0)  # a knot at 0 adds w (0 - P)^+ = 0
        pool_parts.append(np.broadcast_to(pieces.pool, weight.shape)[keep])
        knot_parts.append((start + sorted_len)[keep])
        weight_parts.append(weight[keep])
    pool = np.concatenate(pool_parts) if pool_parts else np.zeros(0, dtype=int)
    knot = np.concatenate(knot_parts) if knot_parts else np.zeros(0)
    weight = np.concatenate(weight_parts) if weight_parts else np.zeros(0)
    # Sort by pool ascending, knot descending; piece j (after the knots up to j) is w . (knot - P) over them.
    span = float(knot.max(initial=0.0)) + 1.0
    order = np.argsort(pool * span - knot, kind="stable")
    pool, knot, weight = pool[order], knot[order], weight[order]
    starts = np.r_[True, pool[1:] != pool[:-1]] if len(pool) else np.zeros(0, dtype=bool)
    seg = np.cumsum(starts) - 1
    seg_first = np.flatnonzero(starts)
    slope = np.cumsum(weight)
    intercept = np.cumsum(weight * knot)
    slope_base = (slope - weight)[seg_first][seg]
    intercept_base = (intercept - weight * knot)[seg_first][seg]
    slope, intercept = slope - slope_base, intercept - intercept_base
    # Piece j is distinct when the next knot of its pool is strictly lower (or it is the pool's last).
    next_knot = np.r_[knot[1:], -np.inf]
    last = np.r_[pool[1:] != pool[:-1], True] if len(pool) else np.zeros(0, dtype=bool)
    distinct = last | (next_knot < knot)
    rank = np.cumsum(distinct) - distinct  # distinct pieces before j (global)
    rank = rank - rank[seg_first][seg] if len(pool) else rank
    above = knot > capacity[pool]
    active = np.zeros(n_p, dtype=int)  # distinct rank of the piece holding every knot above P_p (-1: none)
    active_value = np.zeros(n_p)
    if len(pool):
        count_above = np.bincount(pool, weights=above, minlength=n_p).astype(int)
        has = count_above > 0
        first_of = np.full(n_p, -1)
        first_of[pool[seg_first]] = seg_first
        j = first_of[has] + count_above[has] - 1
        active[:] = -1
        active[has] = rank[j]
        active_value[has] = intercept[j] - slope[j] * capacity[has]
    else:
        active[:] = -1
    # Every piece near P_p, then ever sparser ones (offsets 2w, 2.5w, 3w, 4w, 5w, 6w, 8w, ...: three per octave),
    # so that one cut outlines F_p over its whole range.
    offset = np.abs(rank - active[pool])
    octave = np.exp2(np.floor(np.log2(np.maximum(offset, 1) / max(window, 1))))
    step = np.maximum(1, (octave * max(window, 1) / 3).astype(int))
    keep = distinct & ((offset <= window) | (offset % step == 0) if sparse else (offset <= window))
    counts = np.bincount(pool[keep], minlength=n_p)
    splits = np.cumsum(counts)[:-1]
    beta = rec.weight @ cuts.beta if rec.coef.shape[0] else np.zeros(0)
    total = float(active_value.sum())
    return SeparableCut(beta, np.split(intercept[keep], splits), np.split(slope[keep], splits), total - float(beta @ b))
