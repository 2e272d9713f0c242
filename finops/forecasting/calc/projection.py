"""Month-end / quarter-end projection: actual cost to date plus the forecast of the rest of the period.

How daily intervals are combined: not by adding the bounds (that assumes perfectly correlated daily errors and is
too wide) nor in quadrature (that assumes independent daily errors, too narrow for ETS and seasonal naive, whose
daily errors share innovations). Each model states its forecast errors in linear
innovations form, e_{n+h} = sum_{j=0}^{h-1} psi_j eps_{n+h-j}, eps iid (0, sigma^2) (see ``models``). The error of
the sum over days 1..H is then sum_{i=1}^{H} Psi_{H-i} eps_{n+i} with Psi_k = psi_0 + ... + psi_k, so

    Var(sum) = sigma^2 * sum_{k=0}^{H-1} Psi_k^2,

and the interval is the summed point forecast +- z * sqrt(Var) (Gaussian). This is exact for ETS(A,Ad,A) with
Gaussian errors; for seasonal naive and the fallback (whose daily intervals are empirical) it is the Gaussian
approximation under their stated models (seasonal random walk; iid noise around a level). When the history had no
negative day, the lower bound of the remainder is floored at 0.

Recurring monthly charges (``SeriesForecast.monthly``) add their own uncertainty: their errors are taken as perfectly
correlated across months (a mis-estimated tax rate is wrong every month: the cautious choice) and independent of
the model's, so Var(sum) gains (sum of the charge sds over the days)^2 (``forecast_sum_sd``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from scipy.stats import norm

from finops.forecasting.calc.select import SeriesForecast


@dataclass(frozen=True)
class Projection:
    """Total for the period ending ``period_end``: ``actual_to_date`` + ``forecast_remainder`` = ``total``.

    ``lower``/``upper`` bound the total at each level (the actual part has no uncertainty).
    """

    period_end: date
    actual_to_date: float
    actual_days: int
    forecast_remainder: float
    forecast_days: int
    total: float
    lower: Mapping[float, float]
    upper: Mapping[float, float]


def month_end(day: date) -> date:
    first_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def quarter_end(day: date) -> date:
    return month_end(date(day.year, 3 * ((day.month - 1) // 3) + 3, 1))


def sum_error_sd(psi: np.ndarray, sigma: float, days: int) -> float:
    """Standard deviation of the error of the sum of the first ``days`` forecast days."""
    if days <= 0:
        return 0.0
    cumulative = np.cumsum(psi[:days])
    return float(sigma * np.sqrt(np.sum(cumulative**2)))


def forecast_sum_sd(forecast: SeriesForecast, days: int) -> float:
    """Standard deviation of the error of the sum of the first ``days`` days of ``forecast``, monthly charges
    included (use this rather than ``sum_error_sd`` on a ``SeriesForecast``)."""
    base = sum_error_sd(forecast.psi, forecast.sigma, days)
    charges = float(np.sum(forecast.charge_sd[: max(days, 0)]))
    return float(np.hypot(base, charges))


def _as_date(key: date) -> date:
    return key.date() if isinstance(key, datetime) else key  # pandas Timestamps are datetimes


def period_projection(
    actual_by_day: Mapping[date, float] | Iterable[tuple[date, float]],
    forecast: SeriesForecast,
    period_end: date,
    *,
    period_start: date | None = None,
    levels: Sequence[float] | None = None,
) -> Projection:
    """Project the period total.

    ``actual_by_day``: daily actual costs (a dict or a pandas Series indexed by date). Days before
    ``period_start`` (when given) are ignored; a day on or after the forecast start is an error, since the
    forecast already covers it. ``period_end`` must lie within the forecast horizon.
    """
    items = actual_by_day.items() if hasattr(actual_by_day, "items") else actual_by_day  # dict or pandas Series
    actual = {_as_date(day): float(cost) for day, cost in items}
    overlapping = sorted(day for day in actual if day >= forecast.start)
    if overlapping:
        raise ValueError(f"actual costs on {overlapping[0]} overlap the forecast starting {forecast.start}")
    if period_start is not None:
        actual = {day: cost for day, cost in actual.items() if day >= period_start}
    if period_end > forecast.dates[-1]:
        raise ValueError(f"period end {period_end} is beyond the forecast horizon ending {forecast.dates[-1]}")
    levels = tuple(forecast.lower) if levels is None else tuple(levels)

    days = max((period_end - forecast.start).days + 1, 0)
    remainder = float(np.sum(forecast.point[:days]))
    actual_to_date = float(sum(actual.values()))
    total = actual_to_date + remainder
    sd = forecast_sum_sd(forecast, days)
    lower: dict[float, float] = {}
    upper: dict[float, float] = {}
    for level in levels:
        half = float(norm.ppf(0.5 + level / 2.0)) * sd
        low_remainder = remainder - half
        if forecast.nonnegative:
            low_remainder = max(low_remainder, 0.0)
        lower[level] = actual_to_date + low_remainder
        upper[level] = total + half
    return Projection(
        period_end=period_end,
        actual_to_date=actual_to_date,
        actual_days=len(actual),
        forecast_remainder=remainder,
        forecast_days=days,
        total=total,
        lower=lower,
        upper=upper,
    )
