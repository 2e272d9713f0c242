"""Recurring day-of-month charges: tax, support plans, commitment purchase fees, all dated on a fixed day of the
month (usually the 1st). The weekly candidates in ``models`` cannot represent them: a charge on the 1st lands on a
different weekday every month, so seasonal naive copies it onto the wrong day a week later and ETS folds it into
its level. Here such a charge is found, measured and removed from the history, the candidates are fitted on what
remains, and the charge is added back on its future days (``select.forecast_series``).

Weekly baseline of day t: the median of the same weekday in the two weeks before and after (t-14, t-7, t+7, t+14,
those that exist; at least 2). Those days fall on other days of the month, so a charge on day d does not leak into
its own baseline. The excess of day t is y_t - baseline_t.

Detection rule, per day of month d in 1..28 (29-31 are missing from some months, so they are left to the weekly
models): d is a recurring charge day when its excess in each of the last ``RECENT_MONTHS`` (3) months has the same
sign and exceeds ``THRESHOLD_SIGMAS`` (4) robust noise scales, the noise scale being 1.4826 x the MAD of the excess
over all days (floored at 1% of the mean absolute daily cost so an exactly repeating or all-zero series does not
turn cents into a "charge"). Why: one or two months can be a coincidence (a one-off purchase, an incident on the
1st); three consecutive months at 4 sigma has a false-alarm probability far below one in a million per day of
month under Gaussian noise, and still well below 1% over the 28 tested days with the heavy tails of cost data,
while a charge that started three months ago is already caught and one that stopped last month is dropped at once
(the newest month must stand out).

Size: the charge's run is the consecutive recent months (up to ``TREND_MONTHS``, 6) whose excess stands out with
that sign. With 4+ months the Theil-Sen slope (median of pairwise slopes, robust to one odd month) models a charge
that grows with spend (tax is a share of the bill); with 3 months the slope is 0. The level at the newest month is
the median of the last 3 excesses moved along that slope, and k months later the charge is level + k * slope. Its
uncertainty is the residual standard deviation of the run around that line (n - p degrees of freedom), times
sqrt(1 + 1/n) for the error of the estimated level; the forecast adds it in quadrature to the base model's
interval on the charge's days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

MAX_DAY = 28
RECENT_MONTHS = 3
TREND_MONTHS = 6
THRESHOLD_SIGMAS = 4.0
NOISE_FLOOR_SHARE = 0.01
_NEIGHBOURS = (-14, -7, 7, 14)
_MIN_NEIGHBOURS = 2


@dataclass(frozen=True)
class MonthlyCharge:
    """A charge on day ``day`` of every month: ``occurrences`` are its excesses over the weekly baseline in the
    recent months it stood out (oldest first); ``level`` is the expected excess in the newest of those months."""

    day: int
    occurrences: tuple[float, ...]
    level: float
    slope: float  # change per month
    sd: float  # standard deviation of one future occurrence

    def amount(self, months_ahead: int) -> float:
        """Expected excess ``months_ahead`` months after the newest occurrence."""
        return self.level + self.slope * months_ahead


def calendar(start: date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """(day of month, month ordinal) of each of ``days`` consecutive days from ``start``."""
    stamps = np.datetime64(start, "D") + np.arange(days)
    months = stamps.astype("datetime64[M]")
    day_of_month = (stamps - months.astype("datetime64[D]")).astype(np.int64) + 1
    return day_of_month, months.astype(np.int64)


def weekly_baseline(y: np.ndarray) -> np.ndarray:
    """Median of the same weekday 1 and 2 weeks before and after each day; NaN with fewer than 2 of them."""
    n = y.size
    stacked = np.full((len(_NEIGHBOURS), n), np.nan)
    for row, lag in enumerate(_NEIGHBOURS):
        if abs(lag) >= n:
            continue
        if lag < 0:
            stacked[row, -lag:] = y[: n + lag]
        else:
            stacked[row, : n - lag] = y[lag:]
    enough = np.sum(np.isfinite(stacked), axis=0) >= _MIN_NEIGHBOURS
    baseline = np.full(n, np.nan)
    if np.any(enough):
        baseline[enough] = np.nanmedian(stacked[:, enough], axis=0)
    return baseline


def noise_scale(y: np.ndarray, excess: np.ndarray) -> float:
    finite = excess[np.isfinite(excess)]
    mad = float(np.median(np.abs(finite - np.median(finite)))) if finite.size else 0.0
    return max(1.4826 * mad, NOISE_FLOOR_SHARE * float(np.mean(np.abs(y))), 1e-9)


def _theil_sen(x: np.ndarray, v: np.ndarray) -> float:
    i, j = np.triu_indices(x.size, k=1)
    return float(np.median((v[j] - v[i]) / (x[j] - x[i])))


def _charge(day: int, excess: np.ndarray, months: np.ndarray) -> MonthlyCharge:
    """Fit level, slope and sd to the run of excesses (oldest first) in the given month ordinals."""
    x = (months - months[-1]).astype(np.float64)  # 0 for the newest month
    slope = _theil_sen(x, excess) if excess.size > RECENT_MONTHS else 0.0
    recent = slice(-RECENT_MONTHS, None)
    level = float(np.median(excess[recent] - slope * x[recent]))
    residuals = excess - (level + slope * x)
    dof = max(excess.size - (2 if slope else 1), 1)
    sd = float(np.sqrt(np.sum(residuals**2) / dof) * np.sqrt(1.0 + 1.0 / excess.size))
    return MonthlyCharge(day=day, occurrences=tuple(float(e) for e in excess), level=level, slope=slope, sd=sd)


def detect_charges(values: np.ndarray, start: date) -> tuple[MonthlyCharge, ...]:
    """The recurring day-of-month charges of the series whose first value is the cost of ``start``."""
    y = np.asarray(values, dtype=np.float64)
    if y.size < RECENT_MONTHS * 28:
        return ()
    baseline = weekly_baseline(y)
    excess = y - baseline
    threshold = THRESHOLD_SIGMAS * noise_scale(y, excess)
    day_of_month, months = calendar(start, y.size)
    charges = []
    for day in range(1, MAX_DAY + 1):
        idx = np.flatnonzero((day_of_month == day) & np.isfinite(excess))[-TREND_MONTHS:]
        if idx.size < RECENT_MONTHS or months[idx[-1]] < months[-1] - 1:
            continue  # too few months, or the newest month of the history has no usable day d
        e = excess[idx]
        sign = np.sign(e[-1])
        stands_out = (np.sign(e) == sign) & (np.abs(e) > threshold)
        keep = 0  # length of the run of recent months that stand out
        for flag in stands_out[::-1]:
            if not flag:
                break
            keep += 1
        if keep < RECENT_MONTHS:
            continue
        charges.append(_charge(day, e[-keep:], months[idx[-keep:]]))
    return tuple(charges)


def remove_charges(values: np.ndarray, start: date, charges: tuple[MonthlyCharge, ...]) -> np.ndarray:
    """The series with every day of a charge's day of month replaced by its weekly baseline."""
    y = np.asarray(values, dtype=np.float64)
    if not charges:
        return y
    adjusted = y.copy()
    baseline = weekly_baseline(y)
    day_of_month, _ = calendar(start, y.size)
    for charge in charges:
        hit = (day_of_month == charge.day) & np.isfinite(baseline)
        adjusted[hit] = baseline[hit]
    return adjusted


def charge_effect(
    charges: tuple[MonthlyCharge, ...], start: date, history_days: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """(expected charge, its standard deviation) on each of the ``horizon`` days after the history."""
    mean = np.zeros(horizon)
    sd = np.zeros(horizon)
    if not charges or horizon <= 0:
        return mean, sd
    day_of_month, months = calendar(start, history_days + horizon)
    future_day, future_month = day_of_month[history_days:], months[history_days:]
    for charge in charges:
        past = np.flatnonzero(day_of_month[:history_days] == charge.day)
        newest = months[past[-1]]
        for i in np.flatnonzero(future_day == charge.day):
            mean[i] += charge.amount(int(future_month[i] - newest))
            sd[i] = np.hypot(sd[i], charge.sd)
    return mean, sd
