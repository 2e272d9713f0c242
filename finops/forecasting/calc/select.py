"""Choose a forecast model per series and produce its 90-day forecast.

Rules, in order:
1. Fewer than ``SHORT_HISTORY_DAYS`` (21) days, or a sparse history (at least ``SPARSE_ZERO_SHARE`` of the last
   56 days are zero): the robust ``fallback``, no backtest (``reason`` says which).
2. Otherwise every candidate with enough history at the earliest backtest origin (seasonal naive: 14 days,
   ETS: 28, fallback: 1) is scored by rolling-origin MASE (``backtest``) and the lowest wins; ties go to the
   earlier of seasonal_naive, ets, fallback. The winner is refitted on the whole history for the forecast.
If the history has no negative day (no credits), point and bounds are clipped at 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from finops.forecasting.calc import models
from finops.forecasting.calc.backtest import backtest_origins, rolling_origin_mase
from finops.forecasting.calc.models import CandidateForecast

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
    put an interval on sums of days (``projection``). The mappings are plain dicts (picklable for worker
    processes); treat them as read-only.
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

    scores: dict[str, float] = {}
    if y.size < SHORT_HISTORY_DAYS:
        name, reason = "fallback", "short_history"
    elif is_sparse(y):
        name, reason = "fallback", "sparse_history"
    else:
        origins = backtest_origins(y.size)
        for candidate_name, (candidate, min_train) in CANDIDATES.items():
            if origins and origins[0] >= min_train:
                scores[candidate_name] = rolling_origin_mase(y, candidate, origins)
        name = min(scores, key=lambda key: scores[key])  # dict order breaks ties
        reason = "backtest"

    candidate, _ = CANDIDATES[name]
    result: CandidateForecast = candidate(y, horizon, levels)
    point, lower, upper = result.point, dict(result.lower), dict(result.upper)
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
    )
