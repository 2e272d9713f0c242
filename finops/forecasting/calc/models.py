"""Forecast candidates for one daily cost series (weekly season, m = 7).

Every candidate takes the history ``values`` (1-D float array, oldest first, no NaN) and returns a
``CandidateForecast`` for days 1..horizon after the last value. Each also states its forecast errors in
linear innovations form, e_{n+h} = sum_{j<h} psi_j * eps_{n+h-j} with psi_0 = 1 and eps ~ iid(0, sigma^2);
``projection`` uses (psi, sigma) to get the variance of a sum of days, which daily intervals alone cannot give.

- ``seasonal_naive``: y_{n+h} = y_{n+h-7k}, k = ceil(h/7). Intervals are empirical quantiles of the
  in-sample k-week differences y_t - y_{t-7k} (its own in-sample seasonal errors). Model: seasonal random walk,
  psi_j = 1 when j is a multiple of 7.
- ``ets``: ETS(A,Ad,A), additive error, damped additive trend, additive weekly season (Hyndman et al. 2008,
  error-correction form). Implemented here in numpy rather than with statsmodels because a statsmodels fit
  costs 170-1400 ms per series on this machine, and the backtest needs five fits per series (the budget is
  ~120 ms of CPU per series). The smoothing parameters are chosen by a vectorised grid search on the in-sample
  one-step squared error (initial states from a least-squares trend + weekday fit of the first 4 weeks);
  ``tests/forecasting`` checks the recursion and the analytic variance against statsmodels' ETSModel.
  Intervals are Gaussian with the analytic variance sigma^2 * (1 + sum_{j<h} c_j^2),
  c_j = alpha + beta * (phi + ... + phi^j) + gamma * [j % 7 == 0].
- ``fallback``: for short or sparse history. Point = median of the last min(14, n) days; intervals are the
  empirical quantiles of the one-step errors of that same rule over the history (constant over the horizon:
  the model is "iid noise around a level", psi_j = 0 for j >= 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from finops.core.normal import norm

SEASON = 7

# Grid for the ETS smoothing parameters (alpha, beta = alpha * r, gamma = (1 - alpha) * g, phi).
_ALPHAS = (0.03, 0.08, 0.15, 0.25, 0.4, 0.6, 0.8)
_BETA_RATIOS = (0.0, 0.02, 0.08, 0.25)
_GAMMA_RATIOS = (0.0, 0.05, 0.15, 0.35)
_PHIS = (0.85, 0.93, 0.98)
ETS_INIT_DAYS = 28


@dataclass(frozen=True)
class CandidateForecast:
    """Forecast of one candidate for days 1..horizon after the history. ``lower``/``upper`` map each level."""

    point: np.ndarray
    lower: dict[float, np.ndarray] = field(default_factory=dict)
    upper: dict[float, np.ndarray] = field(default_factory=dict)
    psi: np.ndarray = field(default_factory=lambda: np.zeros(0))  # innovation weights psi_0..psi_{horizon-1}
    sigma: float = 0.0  # innovation standard deviation
    params: dict[str, float] = field(default_factory=dict)


# candidate(values, horizon, levels=()) -> CandidateForecast
Candidate = Callable[..., CandidateForecast]


def _as_history(values: np.ndarray | Sequence[float], minimum: int) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("values must be finite (fill missing days with 0 before forecasting)")
    if y.size < minimum:
        raise ValueError(f"need at least {minimum} days of history, got {y.size}")
    return y


def _check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    for level in levels:
        if not 0.0 < level < 1.0:
            raise ValueError(f"interval levels must be in (0, 1), got {level}")
    return tuple(levels)


def _empirical_band(errors: np.ndarray, level: float) -> tuple[float, float]:
    """Lower/upper error quantiles for a central interval of ``level`` (linear interpolation)."""
    lo, hi = np.quantile(errors, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------------------
# Seasonal naive (weekly)


def seasonal_naive(
    values: np.ndarray | Sequence[float], horizon: int, levels: Sequence[float] = ()
) -> CandidateForecast:
    y = _as_history(values, 2 * SEASON)
    levels = _check_levels(levels)
    n = y.size
    h = np.arange(1, horizon + 1)
    k = (h - 1) // SEASON + 1  # weeks back
    point = y[n + h - 1 - SEASON * k]  # y_{n+h-7k} with 1-based n; index n-1 is the last observation
    d1 = y[SEASON:] - y[:-SEASON]
    sigma = float(np.sqrt(np.mean(d1**2)))
    psi = np.where(np.arange(horizon) % SEASON == 0, 1.0, 0.0)
    lower: dict[float, np.ndarray] = {}
    upper: dict[float, np.ndarray] = {}
    if levels:
        # Empirical k-week-ahead errors; with fewer than 10 of them, scale the 1-week errors by sqrt(k)
        # (the seasonal random-walk variance).
        tails = np.array([[(1.0 - lv) / 2.0, (1.0 + lv) / 2.0] for lv in levels]).ravel()
        weeks_needed = np.unique(k)
        quantiles = np.empty((weeks_needed.max() + 1, tails.size))
        for weeks in weeks_needed:
            lag = SEASON * int(weeks)
            dk = y[lag:] - y[:-lag] if n - lag >= 10 else d1 * math.sqrt(weeks)
            quantiles[weeks] = np.quantile(dk, tails)
        for i, lv in enumerate(levels):
            lower[lv] = point + np.minimum(quantiles[k, 2 * i], 0.0)
            upper[lv] = point + np.maximum(quantiles[k, 2 * i + 1], 0.0)
    return CandidateForecast(point=point.copy(), lower=lower, upper=upper, psi=psi, sigma=sigma)


def seasonal_naive_mae(values: np.ndarray) -> float:
    """In-sample MAE of the weekly seasonal naive one-season-ahead forecast: the MASE scale."""
    y = np.asarray(values, dtype=np.float64)
    if y.size <= SEASON:
        raise ValueError(f"need more than {SEASON} days to scale MASE, got {y.size}")
    return float(np.mean(np.abs(y[SEASON:] - y[:-SEASON])))


# --------------------------------------------------------------------------------------------------------
# ETS(A,Ad,A)


@dataclass(frozen=True)
class EtsState:
    """Smoothing parameters, final states and in-sample one-step sigma of a fitted ETS(A,Ad,A)."""

    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    season: np.ndarray  # season[j] = seasonal state for the next day whose (t mod 7) == j, t = 0 at the start
    n: int
    sigma: float


def _ets_grid() -> np.ndarray:
    rows = [(a, a * r, (1.0 - a) * g, p) for a in _ALPHAS for r in _BETA_RATIOS for g in _GAMMA_RATIOS for p in _PHIS]
    return np.array(rows, dtype=np.float64)


_GRID = _ets_grid()


def ets_initial_states(y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Least-squares level + trend + weekday effects (summing to 0) on the first 4 weeks.

    Returns (l_0, b_0, s) where l_0 is the level *before* the first day (so that the first one-step forecast is
    l_0 + b_0 + s[0] for phi = 1) and s[j] is the effect of days with t % 7 == j.
    """
    m = min(y.size, ETS_INIT_DAYS)
    t = np.arange(m, dtype=np.float64)
    dummies = np.zeros((m, SEASON))
    dummies[np.arange(m), np.arange(m) % SEASON] = 1.0
    effects = dummies[:, : SEASON - 1] - dummies[:, [SEASON - 1]]  # sum-to-zero contrasts
    design = np.column_stack([np.ones(m), t, effects])
    coef, *_ = np.linalg.lstsq(design, y[:m], rcond=None)
    season = np.append(coef[2:], -coef[2:].sum())
    return float(coef[0] - coef[1]), float(coef[1]), season


def ets_filter(
    y: np.ndarray, params: np.ndarray, init: tuple[float, float, np.ndarray], keep_fitted: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Run ETS(A,Ad,A) over ``y`` for K parameter rows at once (params: K x 4 of alpha, beta, gamma, phi).

    Returns (sse, level, trend, season (K x 7), fitted (K x n) or None). fitted[:, t] is the one-step
    forecast of y[t].
    """
    alpha, beta, gamma, phi = (np.ascontiguousarray(params[:, i]) for i in range(4))
    k = params.shape[0]
    level = np.full(k, init[0])
    trend = np.full(k, init[1])
    season = [np.full(k, v) for v in init[2]]  # one array per weekday, updated in place
    sse = np.zeros(k)
    fitted = np.empty((y.size, k)) if keep_fitted else None
    for t in range(y.size):
        s_j = season[t % SEASON]
        damped = phi * trend
        err = y[t] - (level + damped + s_j)
        if fitted is not None:
            fitted[t] = y[t] - err
        sse += err * err
        level = level + damped + alpha * err
        trend = damped + beta * err
        s_j += gamma * err
    return sse, level, trend, np.column_stack(season), None if fitted is None else fitted.T


def ets_fit(values: np.ndarray | Sequence[float]) -> EtsState:
    y = _as_history(values, ETS_INIT_DAYS)
    init = ets_initial_states(y)
    sse, level, trend, season, _ = ets_filter(y, _GRID, init)
    best = int(np.argmin(sse))
    n_params = 4 + 2 + SEASON - 1
    sigma = math.sqrt(float(sse[best]) / max(y.size - n_params, 1))
    alpha, beta, gamma, phi = (float(v) for v in _GRID[best])
    return EtsState(alpha, beta, gamma, phi, float(level[best]), float(trend[best]), season[best].copy(), y.size, sigma)


def ets_psi(state: EtsState, horizon: int) -> np.ndarray:
    """psi_0 = 1, psi_j = alpha + beta * (phi + ... + phi^j) + gamma * [j % 7 == 0]."""
    j = np.arange(1, horizon)
    phi_sum = np.cumsum(state.phi ** j.astype(np.float64))
    c = state.alpha + state.beta * phi_sum + state.gamma * (j % SEASON == 0)
    return np.concatenate([[1.0], c])


def ets(values: np.ndarray | Sequence[float], horizon: int, levels: Sequence[float] = ()) -> CandidateForecast:
    levels = _check_levels(levels)
    state = ets_fit(values)
    h = np.arange(1, horizon + 1)
    phi_h = np.cumsum(state.phi ** h.astype(np.float64))
    point = state.level + phi_h * state.trend + state.season[(state.n + h - 1) % SEASON]
    psi = ets_psi(state, horizon)
    sd = state.sigma * np.sqrt(np.cumsum(psi**2))
    lower = {lv: point - norm.ppf(0.5 + lv / 2) * sd for lv in levels}
    upper = {lv: point + norm.ppf(0.5 + lv / 2) * sd for lv in levels}
    params = {"alpha": state.alpha, "beta": state.beta, "gamma": state.gamma, "phi": state.phi}
    return CandidateForecast(point=point, lower=lower, upper=upper, psi=psi, sigma=state.sigma, params=params)


# --------------------------------------------------------------------------------------------------------
# Robust fallback

FALLBACK_WINDOW = 14


def fallback(values: np.ndarray | Sequence[float], horizon: int, levels: Sequence[float] = ()) -> CandidateForecast:
    y = _as_history(values, 1)
    levels = _check_levels(levels)
    n = y.size
    window = min(FALLBACK_WINDOW, n)
    level = float(np.median(y[-window:]))
    point = np.full(horizon, level)
    # One-step errors of the same rule (median of the previous 14 days) over the history, when there is enough.
    if n > FALLBACK_WINDOW + 2:
        prev = np.median(np.lib.stride_tricks.sliding_window_view(y[:-1], FALLBACK_WINDOW), axis=1)
        errors = y[FALLBACK_WINDOW:] - prev
    else:  # too little history for the rule's own errors: spread around the median
        errors = y - level
    sigma = float(np.sqrt(np.mean(errors**2))) if errors.size else 0.0
    lower: dict[float, np.ndarray] = {}
    upper: dict[float, np.ndarray] = {}
    for lv in levels:
        lo, hi = _empirical_band(errors, lv) if errors.size else (0.0, 0.0)
        lower[lv] = point + min(lo, 0.0)
        upper[lv] = point + max(hi, 0.0)
    psi = np.zeros(horizon)
    if horizon:
        psi[0] = 1.0
    return CandidateForecast(point=point, lower=lower, upper=upper, psi=psi, sigma=sigma)
