"""Choose a forecast model per series and produce its 90-day forecast.

Rules, in order:
1. Fewer than ``SHORT_HISTORY_DAYS`` (21) days, or a sparse history (at least ``SPARSE_ZERO_SHARE`` of the last
   56 days are zero): the robust ``fallback``, no backtest (``reason`` says which).
2. Otherwise every candidate with enough history at the earliest backtest origin (seasonal naive: 14 days,
   ETS: 28, fallback: 1) is scored by rolling-origin MASE (``backtest``) and the lowest wins; ties go to the
   earlier of seasonal_naive, ets, fallback. The winner is refitted on the whole history for the forecast.
Recurring day-of-month charges (``monthly``: tax, support, commitment fees on the 1st) are detected first; rules 1
and 2 then run on the history with those days replaced by their weekly baseline, so the backtest scores every
candidate on the same adjusted problem and one monthly spike inside a 7-day window no longer decides the model. The
charges are added back on their future days, their uncertainty in quadrature with the model's interval.
If the history has no negative day (no credits), point and bounds are clipped at 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from finops.core.normal import norm
from finops.forecasting.calc import models
from finops.forecasting.calc.backtest import backtest_origins, rolling_origin_mase
from finops.forecasting.calc.models import CandidateForecast
from finops.forecasting.calc.monthly import MonthlyCharge, charge_effect, detect_charges, remove_charges

SHORT_HISTORY_DAYS = 21
SPARSE_WINDOW_DAYS = 56
SPARSE_ZERO_SHARE = 0.3
DEFAULT_LEVELS = (0.8, 0.95, 0.99)

# name -> (candidate function, minimum training days)
CANDIDATES: Mapping[str, tuple[models.Candidate, int]] = {
    "seasonal_naive": (models.seasonal_naive, 2 * models.SEASON),
    "ets": (models.ets, models.ETS_INIT_DAYS),
    "fallback": (models.fallback, 1),
}


@dataclass(frozen=True)
class SeriesForecast:
    """The chosen model's forecast for ``dates`` (the days after the history), with intervals per level.

    ``backtest_mase`` holds every candidate that was scored (empty when a rule forced the fallback);
    ``psi``/``sigma`` describe the chosen model's forecast errors in innovations form (see ``models``), used to
    put an interval on sums of days (``projection``); ``monthly`` are the recurring day-of-month charges added on
    top of the model, and ``charge_sd`` the standard deviation they add on each forecast day. The mappings are
    plain dicts (picklable for worker processes); treat them as read-only.
    """

    model: str
    reason: str  # "backtest", "short_history" or "sparse_history"
    backtest_mase: Mapping[str, float]
    dates: tuple[date, ...]
    point: np.ndarray
    lower: Mapping[float, np.ndarray]
    upper: Mapping[float, np.ndarray]
    psi: np.ndarray
    sigma: float
    params: Mapping[str, float]
    nonnegative: bool  # the history had no negative day, so point and bounds were clipped at 0
    monthly: tuple[MonthlyCharge, ...] = ()
    charge_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def start(self) -> date:
        return self.dates[0]

    @property
    def chosen_mase(self) -> float | None:
        return self.backtest_mase.get(self.model)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        if level not in self.lower:
            raise KeyError(f"no {level:.0%} interval; forecast has levels {sorted(self.lower)}")
        return self.lower[level], self.upper[level]


def is_sparse(values: np.ndarray) -> bool:
    recent = values[-SPARSE_WINDOW_DAYS:]
    return recent.size > 0 and float(np.mean(recent == 0.0)) >= SPARSE_ZERO_SHARE


def forecast_series(
    values: np.ndarray | Sequence[float],
    start: date,
    horizon: int = 90,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> SeriesForecast:
    """Forecast one daily series whose first value is the cost of day ``start``."""
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("values must be finite (fill missing days with 0 before forecasting)")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 day, got {horizon}")
    levels = tuple(levels)

    charges = detect_charges(y, start)
    adjusted = remove_charges(y, start, charges)
    name, reason, scores = choose_model(adjusted)
    candidate, _ = CANDIDATES[name]
    result: CandidateForecast = candidate(adjusted, horizon, levels)
    effect, effect_sd = charge_effect(charges, start, y.size, horizon)
    point, lower, upper = add_charges(result, effect, effect_sd)
    nonnegative = bool(y.min() >= 0.0)
    if nonnegative:
        point = np.maximum(point, 0.0)
        lower = {lv: np.maximum(arr, 0.0) for lv, arr in lower.items()}
        upper = {lv: np.maximum(arr, 0.0) for lv, arr in upper.items()}
    first = start + timedelta(days=y.size)
    return SeriesForecast(
        model=name,
        reason=reason,
        backtest_mase=scores,
        dates=tuple(first + timedelta(days=i) for i in range(horizon)),
        point=point,
        lower=lower,
        upper=upper,
        psi=result.psi,
        sigma=result.sigma,
        params=dict(result.params),
        nonnegative=nonnegative,
        monthly=charges,
        charge_sd=effect_sd,
    )


def choose_model(values: np.ndarray) -> tuple[str, str, dict[str, float]]:
    """(model name, reason, backtest MASE per scored candidate) for a history (rules 1 and 2 above)."""
    scores: dict[str, float] = {}
    if values.size < SHORT_HISTORY_DAYS:
        return "fallback", "short_history", scores
    if is_sparse(values):
        return "fallback", "sparse_history", scores
    origins = backtest_origins(values.size)
    for candidate_name, (candidate, min_train) in CANDIDATES.items():
        if origins and origins[0] >= min_train:
            scores[candidate_name] = rolling_origin_mase(values, candidate, origins)
    return min(scores, key=lambda key: scores[key]), "backtest", scores  # dict order breaks ties


def add_charges(
    result: CandidateForecast, effect: np.ndarray, effect_sd: np.ndarray
) -> tuple[np.ndarray, dict[float, np.ndarray], dict[float, np.ndarray]]:
    """Point + charge; each side of each interval widened in quadrature by z * the charge's sd (independent of
    the model's error, which was fitted without the charge days' excess)."""
    point = result.point + effect
    lower: dict[float, np.ndarray] = {}
    upper: dict[float, np.ndarray] = {}
    for level, low in result.lower.items():
        z = float(norm.ppf(0.5 + level / 2.0))
        spread = z * effect_sd
        lower[level] = point - np.hypot(result.point - low, spread)
        upper[level] = point + np.hypot(result.upper[level] - result.point, spread)
    return point, lower, upper
