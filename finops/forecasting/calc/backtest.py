"""Rolling-origin backtest: MASE of each candidate over the last 4 x 7-day horizons.

For origin o (the number of days the model may see), the candidate is refitted on values[:o] and forecasts
values[o:o + 7]. Origins are n - 28, n - 21, n - 14, n - 7, keeping only those with at least ``MIN_ORIGIN`` days
of training. MASE at an origin is MAE / (in-sample MAE of the weekly seasonal naive on values[:o]); the
backtest error is the mean over origins. A zero scale (a history that repeats exactly every week) is floored
at 1e-9 * max(1, mean |y|) so an exact forecast scores 0 and a near-exact one scores small, not NaN.
"""

from __future__ import annotations

import numpy as np

from finops.forecasting.calc.models import SEASON, Candidate, seasonal_naive_mae

BACKTEST_HORIZON = 7
BACKTEST_ORIGINS = 4
MIN_ORIGIN = 2 * SEASON


def mase_scale(train: np.ndarray) -> float:
    scale = seasonal_naive_mae(train)
    return max(scale, 1e-9 * max(1.0, float(np.mean(np.abs(train)))))


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray) -> float:
    """Mean absolute error of ``predicted`` scaled by the in-sample weekly seasonal naive MAE of ``train``."""
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if actual.shape != predicted.shape:
        raise ValueError(f"actual {actual.shape} and predicted {predicted.shape} differ in shape")
    return float(np.mean(np.abs(actual - predicted))) / mase_scale(np.asarray(train, dtype=np.float64))


def backtest_origins(n: int) -> list[int]:
    """The training lengths used as forecast origins for a history of n days (oldest first)."""
    origins = [n - BACKTEST_HORIZON * i for i in range(BACKTEST_ORIGINS, 0, -1)]
    return [o for o in origins if o >= MIN_ORIGIN]


def rolling_origin_mase(values: np.ndarray, candidate: Candidate, origins: list[int]) -> float:
    """Mean MASE of ``candidate`` (called as candidate(history, horizon)) over the given origins."""
    if not origins:
        raise ValueError("no backtest origins: history too short")
    y = np.asarray(values, dtype=np.float64)
    scores = []
    for o in origins:
        forecast = candidate(y[:o], BACKTEST_HORIZON)
        scores.append(mase(y[o : o + BACKTEST_HORIZON], forecast.point, y[:o]))
    return float(np.mean(scores))
