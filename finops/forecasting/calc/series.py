"""Everything a refresh computes for one daily series: the chosen forecast, the month-end and quarter-end
projections, and the anomalies among its last days.

Anomaly interval: **one-step-ahead**. Each of the last ``lookback`` days is checked against the 99% interval of the
chosen model refitted on the history *before* that day and forecasting one day ahead. (The backtest intervals
would judge a day with a model that has already seen it; the 90-day forecast starts after the last day.) A model
that needs more history than the day has (seasonal naive 14 days, ETS 28) falls back to the robust fallback; days
with fewer than ``MIN_DETECTION_HISTORY`` days before them are not checked. As ``forecast_series`` does, the
recurring monthly charges of the history before the day are removed before the fit and added back (with their
uncertainty) on their day, so the regular charge on the 1st is expected, not an anomaly.

Charge-aware: the forecast and its projections are of the whole bill (``values``), while anomalies are looked for
in ``usage`` (the series' usage charges, finops.usage.charges) with the model chosen for the bill: tax, purchases,
fees and credits, dated on the 1st and only partly accrued in a month-to-date bill, are never usage anomalies.

Confirmation against the weekly baseline: a day outside its interval is an anomaly only when it also differs from
its same-weekday baseline (the mean of the same weekday in the previous ``BASELINE_WEEKS`` weeks that exist, as
the root cause uses) in the same direction by more than the floors. A model that follows its level (ETS) expects
yesterday's spike again today, so without this the return to normal the day after a spike would be a "drop",
and its root cause (against the weekly baseline) would show values that rose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from finops.forecasting.calc.anomaly import Anomaly, detect
from finops.forecasting.calc.monthly import charge_effect, detect_charges, remove_charges
from finops.forecasting.calc.projection import Projection, month_end, period_projection, quarter_end
from finops.forecasting.calc.select import CANDIDATES, DEFAULT_LEVELS, SeriesForecast, add_charges, forecast_series

ANOMALY_LEVEL = 0.99
MIN_DETECTION_HISTORY = 14
BASELINE_WEEKS = 4


@dataclass(frozen=True)
class OneStep:
    day: date
    model: str
    expected: float
    lower: float
    upper: float


@dataclass(frozen=True)
class SeriesAnalysis:
    forecast: SeriesForecast
    month: Projection
    quarter: Projection
    checked: tuple[OneStep, ...]  # the one-step-ahead intervals of the checked days
    anomalies: tuple[Anomaly, ...]


def month_start(day: date) -> date:
    return day.replace(day=1)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def one_step_intervals(
    values: np.ndarray | Sequence[float], start: date, model: str, lookback: int, level: float = ANOMALY_LEVEL
) -> list[OneStep]:
    """The ``level`` interval of each of the last ``lookback`` days, from ``model`` fitted on the days before it."""
    y = np.asarray(values, dtype=np.float64)
    if model not in CANDIDATES:
        raise ValueError(f"unknown model {model!r}")
    steps = []
    for t in range(max(y.size - lookback, MIN_DETECTION_HISTORY), y.size):
        train = y[:t]
        name = model
        candidate, min_train = CANDIDATES[name]
        if t < min_train:
            name = "fallback"
            candidate, _ = CANDIDATES[name]
        charges = detect_charges(train, start)
        result = candidate(remove_charges(train, start, charges), 1, (level,))
        point, lows, highs = add_charges(result, *charge_effect(charges, start, t, 1))
        expected, lower, upper = float(point[0]), float(lows[level][0]), float(highs[level][0])
        if train.min() >= 0.0:  # as forecast_series does: costs without credits are never negative
            expected, lower, upper = max(expected, 0.0), max(lower, 0.0), max(upper, 0.0)
        steps.append(OneStep(start + timedelta(days=t), name, expected, lower, upper))
    return steps


def analyse_series(
    values: np.ndarray | Sequence[float],
    start: date,
    *,
    horizon: int = 90,
    levels: Sequence[float] = DEFAULT_LEVELS,
    lookback: int = 3,
    floor_abs: float = 50.0,
    floor_pct: float = 0.10,
    usage: np.ndarray | Sequence[float] | None = None,
) -> SeriesAnalysis:
    """Forecast the series whose first value is the cost of ``start``; the horizon is stretched to reach the end
    of the quarter of the first forecast day (Q3 and Q4 have 92 days). Anomalies are detected in ``usage`` (same
    days as ``values``; ``values`` itself when None)."""
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {y.shape}")
    checked_values = y if usage is None else np.asarray(usage, dtype=np.float64)
    if checked_values.shape != y.shape:
        raise ValueError(f"usage has shape {checked_values.shape}, values {y.shape}: they must cover the same days")
    first = start + timedelta(days=y.size)
    horizon = max(horizon, (quarter_end(first) - first).days + 1)
    forecast = forecast_series(y, start, horizon=horizon, levels=levels)
    days = [start + timedelta(days=i) for i in range(y.size)]
    projections = []
    periods = ((month_start(first), month_end(first)), (quarter_start(first), quarter_end(first)))
    for period_start, period_end in periods:
        actual = {day: float(v) for day, v in zip(days, y, strict=True) if day >= period_start}
        projections.append(period_projection(actual, forecast, period_end, period_start=period_start))
    checked = one_step_intervals(checked_values, start, forecast.model, lookback)
    anomalies: tuple[Anomaly, ...] = ()
    if checked:
        offset = y.size - len(checked)
        found = detect(
            checked_values[offset:],
            [s.expected for s in checked],
            [s.lower for s in checked],
            [s.upper for s in checked],
            floor_abs=floor_abs,
            floor_pct=floor_pct,
            days=[s.day for s in checked],
        )
        anomalies = tuple(
            a
            for a in found
            if _confirmed(checked_values, offset + a.index, a.impact, floor_abs=floor_abs, floor_pct=floor_pct)
        )
    return SeriesAnalysis(forecast, projections[0], projections[1], tuple(checked), anomalies)


def weekday_baseline(values: np.ndarray, index: int, weeks: int = BASELINE_WEEKS) -> float | None:
    """Mean of the same weekday in the ``weeks`` weeks before ``index`` (those inside the series); None if none."""
    before = [values[index - 7 * k] for k in range(1, weeks + 1) if index - 7 * k >= 0]
    return float(np.mean(before)) if before else None


def _confirmed(values: np.ndarray, index: int, impact: float, *, floor_abs: float, floor_pct: float) -> bool:
    baseline = weekday_baseline(values, index)
    if baseline is None:
        return True
    change = float(values[index]) - baseline
    return change * impact > 0 and abs(change) > floor_abs and abs(change) > floor_pct * abs(baseline)
