"""Vectorised hourly recourse: lower-bounding cuts of the cost of every hour at once, for fixed purchases.

For fixed purchases each hour h is a small LP (the allocation part of the model)::

    Q_h(R, b) = min  sum_k spot_k z_k + od_k o_k
        s.t.  w_k + sum_j u_jk + z_k + o_k = d_k       (pi_k, free)
              w_k <= R_k                               (rho_k >= 0)    dedicated reservations of SKU k
              sum_k a_jk u_jk <= b_j                   (beta_j >= 0)   shared capacity: plans, multi-SKU res.
              z_k <= s_k = spot_max_share_k d_k        (gamma_k >= 0)

where ``R_k = sum_{r dedicated to k} x_r / covers_rk`` (a reservation covering one SKU only) and ``b`` are the
units of the shared reservations and the plans' $/hour. Its dual is feasible for *every* right-hand side, so by
weak duality any dual-feasible (pi, rho, beta, gamma) gives a cut valid everywhere::

    Q_h(R', b') >= sum_k (d_k pi_k - s_k gamma_k) - R' . rho - b' . beta

Any beta >= 0 extends to a dual-feasible point: pi_k <= min(od_k, min_j a_jk beta_j), pi_k <= rho_k and
pi_k <= spot_k + gamma_k; per SKU we pick the pi, rho, gamma that maximise the cut at the current point
(pi_k = that minimum when the residual demand e_k = (d_k - R_k)^+ exceeds the spot cap s_k, capped at spot_k
when 0 < e_k <= s_k, 0 when e_k = 0). beta is chosen per hour to maximise the resulting dual value over a
finite candidate set: with the cut value written as U_h - D_h(beta), D_h(beta) = beta . b + sum_p L_p
(v_p - min_j a_jp beta_j)^+ over "pieces" p (the residual above the spot cap, value od; the part under it,
value min(spot, od)), a convex piecewise-linear function whose minimum over beta >= 0 is attained at a vertex of
the arrangement of the lines a_jp beta_j = v_p and a_1p beta_1 = a_2p beta_2. With one shared capacity the
candidates are exactly those vertices, so the cut is tight (equals Q_h); with two, near-equal vertex
coordinates are merged to keep the set small, which can only loosen a cut, never invalidate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.solver.problem import Problem

MAX_SHARED = 2  # more shared capacities than this: no candidate set here, use another formulation


@dataclass(frozen=True)
class Recourse:
    """Static data of the hourly LPs: distinct non-zero demand hours and the offer structure."""

    demand: np.ndarray  # G x K distinct non-zero demand vectors
    weight: np.ndarray  # G, hours per vector
    od: np.ndarray  # K on-demand price
    spot: np.ndarray  # K spot price (0 where no spot)
    spot_ok: np.ndarray  # K, spot allowed and cheaper than on-demand
    share: np.ndarray  # K spot cap share (0 where not spot_ok)
    dedicated_sku: np.ndarray  # n_r: SKU index of a single-SKU reservation, -1 for a shared one
    dedicated_coef: np.ndarray  # n_r: 1 / covers (SKU units per reservation unit), 0 for shared ones
    shared: np.ndarray  # m: index into the first-stage vector (x then c) of each shared capacity
    coef: np.ndarray  # m x K: a_jk, inf where capacity j does not cover SKU k
    candidates: np.ndarray  # N x m candidate beta vectors

    @property
    def exact(self) -> bool:
        """True when the candidate set holds every vertex, so the cuts are tight (cut value = Q_h)."""
        return len(self.shared) <= 1

    def dedicated_capacity(self, first_stage: np.ndarray) -> np.ndarray:
        """R_k for a first-stage vector (x then c)."""
        n_r = len(self.dedicated_sku)
        mask = self.dedicated_sku >= 0
        return np.bincount(
            self.dedicated_sku[mask], weights=first_stage[:n_r][mask] * self.dedicated_coef[mask],
            minlength=len(self.od),
        )  # fmt: skip


def _dedupe(values: np.ndarray, rel: float) -> np.ndarray:
    values = np.unique(values[np.isfinite(values)])
    if rel <= 0 or len(values) < 2:
        return values
    keep = [values[0]]
    for value in values[1:]:
        if value > keep[-1] * (1 + rel) + 1e-15:
            keep.append(value)
    return np.array(keep)


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
    dedicated_sku = np.full(n_r, -1)
    dedicated_coef = np.zeros(n_r)
    shared, rows = [], []
    for r, res in enumerate(problem.reservations):
        if len(res.covers) == 1:
            ((sku_id, amount),) = res.covers.items()
            dedicated_sku[r], dedicated_coef[r] = index[sku_id], 1.0 / amount
        else:
            shared.append(r)
            rows.append(res.covers)
    for s, plan in enumerate(problem.savings_plans):
        shared.append(n_r + s)
        rows.append(plan.rates)
    if len(shared) > MAX_SHARED:
        return None
    coef = np.full((len(shared), n_k), np.inf)
    for j, row in enumerate(rows):
        for sku_id, amount in row.items():
            coef[j, index[sku_id]] = amount
    return Recourse(
        groups[keep], counts[keep].astype(float), od, spot, spot_ok, share, dedicated_sku, dedicated_coef,
        np.array(shared, dtype=int), coef, _candidates(od, np.where(spot_ok, spot, od), coef, merge_rel),
    )  # fmt: skip


def _candidates(od: np.ndarray, spot_value: np.ndarray, coef: np.ndarray, merge_rel: float) -> np.ndarray:
    m = len(coef)
    if m == 0:
        return np.zeros((1, 0))
    values = np.concatenate([od, spot_value])
    a = np.concatenate([coef, coef], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lines = [np.concatenate([[0.0], values / a[j]]) for j in range(m)]
    if m == 1:
        return _dedupe(lines[0], 0.0)[:, None]
    t1, t2 = _dedupe(lines[0], merge_rel), _dedupe(lines[1], merge_rel)
    both = np.isfinite(a[0]) & np.isfinite(a[1])
    slopes = _dedupe(a[0][both] / a[1][both], merge_rel)  # rays a_1 beta_1 = a_2 beta_2: beta_2 = slope beta_1
    points = [np.array(np.meshgrid(t1, t2)).reshape(2, -1).T]
    for slope in slopes:
        points.append(np.column_stack([t1, slope * t1]))
        points.append(np.column_stack([t2 / slope, t2]))
    return np.unique(np.concatenate(points), axis=0)


@dataclass(frozen=True)
class Cuts:
    """Per distinct hour: the cut's value at the evaluated point and its slopes (weights not applied)."""

    value: np.ndarray  # G: dual value at the point (= Q_h when Recourse.exact)
    constant: np.ndarray  # G: sum_k d pi - s gamma
    rho: np.ndarray  # G x K: minus the slope in R_k
    beta: np.ndarray  # G x m: minus the slope in b_j


def hourly_cuts(rec: Recourse, first_stage: np.ndarray, *, chunk: int = 2048) -> Cuts:
    """Dual-feasible cuts of every distinct hour at the first-stage point (x then c)."""
    capacity_r = rec.dedicated_capacity(first_stage)
    b = first_stage[rec.shared]
    m, n_k = rec.coef.shape
    cand = rec.candidates
    values = np.concatenate([rec.od, np.where(rec.spot_ok, rec.spot, rec.od)])
    a = np.concatenate([rec.coef, rec.coef], axis=1)  # m x P
    if m:
        finite = np.isfinite(a)
        priced = np.where(finite[None], np.where(finite, a, 0.0)[None] * cand[:, :, None], np.inf)  # N x m x P
        lowest = priced.min(axis=1)  # N x P: min_j a_jp beta_j
    else:
        lowest = np.full((1, 2 * n_k), np.inf)
    phi = np.maximum(values[None, :] - lowest, 0.0)  # N x P
    fixed = cand @ b if m else np.zeros(1)

    n_g = len(rec.demand)
    out_value, out_const = np.empty(n_g), np.empty(n_g)
    out_rho, out_beta = np.empty((n_g, n_k)), np.empty((n_g, m))
    for start in range(0, n_g, chunk):
        d = rec.demand[start : start + chunk]
        e = np.maximum(d - capacity_r, 0.0)
        s = rec.share * d
        above = np.maximum(e - s, 0.0)
        pieces = np.concatenate([above, e - above], axis=1)  # G x P
        dual = fixed[None, :] + pieces @ phi.T  # G x N: D_h(beta)
        best = dual.argmin(axis=1)
        low = lowest[best]  # G x P
        pi_top = np.minimum(rec.od, low[:, :n_k])
        pi_spot = np.minimum(values[n_k:], low[:, n_k:])
        pi = np.where(e > s, pi_top, np.where(e > 0, pi_spot, 0.0))
        gamma = np.where(rec.spot_ok, np.maximum(pi - rec.spot, 0.0), 0.0)
        const = (d * pi - s * gamma).sum(axis=1)
        beta = cand[best]
        out_const[start : start + chunk] = const
        out_rho[start : start + chunk] = pi
        out_beta[start : start + chunk] = beta
        out_value[start : start + chunk] = const - pi @ capacity_r - (beta @ b if m else 0.0)
    return Cuts(out_value, out_const, out_rho, out_beta)


@dataclass(frozen=True)
class SeparableCut:
    """A cut family valid everywhere: total recourse >= sum_k F_k(R_k) - beta . b, where each F_k is convex
    piecewise linear, F_k(R) = max_i (intercept[k][i] - slope[k][i] R)."""

    beta: np.ndarray  # m: weighted sum over hours of each hour's beta
    intercept: list[np.ndarray]  # per SKU
    slope: list[np.ndarray]  # per SKU
    value: float  # the cut at the evaluated point (= the weighted sum of Cuts.value)


def separable_cut(rec: Recourse, first_stage: np.ndarray, cuts: Cuts, *, window: int = 6) -> SeparableCut:
    """Fix each hour's beta from ``cuts`` and keep every dual choice per (hour, SKU) free: by weak duality, for
    any R the best dual of SKU k in hour h given beta is a valid lower bound, and it is
    f_hk(R) = p1 (d - R)^+ + (mu - p1) (d - s - R)^+ with mu = min(od, min_j a_jk beta_j), p1 = min(mu, spot)
    (the three dual choices pi = 0, p1, mu). Summing over hours gives a convex piecewise-linear F_k in R_k alone;
    its ``window`` linear pieces on each side of the current R_k are returned (each one a valid lower bound)."""
    capacity_r = rec.dedicated_capacity(first_stage)
    b = first_stage[rec.shared]
    n_k = rec.od.size
    w = rec.weight
    if rec.coef.shape[0]:
        a = np.where(np.isfinite(rec.coef), rec.coef, 0.0)
        priced = np.where(np.isfinite(rec.coef)[None], cuts.beta[:, :, None] * a[None], np.inf)  # G x m x K
        mu = np.minimum(rec.od, priced.min(axis=1))
    else:
        mu = np.broadcast_to(rec.od, rec.demand.shape)
    p1 = np.where(rec.spot_ok, np.minimum(mu, rec.spot), mu)
    d, s = rec.demand, rec.share * rec.demand
    # All SKUs at once: column k holds SKU k's knots (d, d - s) with their weights; zero-weight knots go to
    # -inf so they never start a piece. Sorted descending, piece i (0 <= i <= 2G) covers R in
    # [knot_i, knot_{i-1}] with slope = the weights of the knots above and intercept = sum weight * knot.
    knots = np.concatenate([d, d - s])
    weights = np.concatenate([w[:, None] * p1, w[:, None] * (mu - p1)])
    knots = np.where(weights > 0, knots, -np.inf)
    order = np.argsort(-knots, axis=0, kind="stable")
    knots = np.take_along_axis(knots, order, axis=0)
    weights = np.take_along_axis(weights, order, axis=0)
    zero = np.zeros((1, n_k))
    slope = np.concatenate([zero, np.cumsum(weights, axis=0)])
    intercept = np.concatenate([zero, np.cumsum(weights * np.where(weights > 0, knots, 0.0), axis=0)])
    # Keep one piece per distinct knot (equal knots give zero-length pieces) and only the ``window`` distinct
    # pieces on each side of the one active at the current R_k.
    upper_knot = np.concatenate([np.full((1, n_k), np.inf), knots])  # piece i lies below upper_knot[i]
    lower_knot = np.concatenate([knots, np.full((1, n_k), -np.inf)])
    distinct = upper_knot > lower_knot
    rank = np.cumsum(distinct, axis=0)
    here = (knots > capacity_r[None, :]).sum(axis=0)  # index of the active piece
    here_rank = rank[here, np.arange(n_k)]
    keep = distinct & (np.abs(rank - here_rank[None, :]) <= window)
    total = float((intercept[here, np.arange(n_k)] - slope[here, np.arange(n_k)] * capacity_r).sum())
    rows, cols = np.nonzero(keep.T)  # SKU-major
    splits = np.cumsum(np.bincount(rows, minlength=n_k))[:-1]
    intercepts = np.split(intercept.T[rows, cols], splits)
    slopes = np.split(slope.T[rows, cols], splits)
    beta = w @ cuts.beta if rec.coef.shape[0] else np.zeros(0)
    return SeparableCut(beta, intercepts, slopes, total - float(beta @ b))
