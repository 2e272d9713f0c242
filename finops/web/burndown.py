"""A budget period's burn-down: cumulative actual by day and the cumulative forecast band to period end.

Pure: no Django imports. Uses the forecasting package the budget evaluator uses (``forecast_series`` on the
same history window, the same Gaussian for the summed forecast errors), so the band's last day is the
evaluator's period-end interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from scipy.stats import norm

from finops.budgets.calc import HISTORY_DAYS
from finops.forecasting.calc.projection import forecast_sum_sd
from finops.forecasting.calc.select import forecast_series

LEVEL = 0.8


@dataclass(frozen=True)
class BurnDown:
    actual: pd.DataFrame  # day, cumulative (Decimal): every day of the period up to as_of
    forecast: pd.DataFrame  # day, point, lower, upper (floats, cumulative): as_of+1 .. period_end
    model: str


def burn_down(
    *, daily: Mapping[date, Decimal], period_start: date, period_end: date, as_of: date | None, level: float = LEVEL
) -> BurnDown:
    """``daily``: the budget scope's cost per day (missing days cost 0), covering the history window."""
    actual_rows = []
    running = Decimal(0)
    last_actual = None if as_of is None else min(as_of, period_end)
    day = period_start
    while last_actual is not None and day <= last_actual:
        running += daily.get(day, Decimal(0))
        actual_rows.append({"day": day, "cumulative": running})
        day += timedelta(days=1)
    actual = pd.DataFrame(actual_rows, columns=["day", "cumulative"])
    empty = pd.DataFrame(columns=["day", "point", "lower", "upper"])
    if as_of is None or as_of >= period_end or as_of < period_start - timedelta(days=1):
        # Nothing left to forecast, or the data stops before the period (no cumulative base to draw from).
        return BurnDown(actual=actual, forecast=empty, model="")
    window_start = min(period_start, as_of - timedelta(days=HISTORY_DAYS - 1))
    seen = [d for d in daily if window_start <= d <= as_of]
    if not seen:
        return BurnDown(actual=actual, forecast=empty, model="")
    first = min(seen)
    values = np.zeros((as_of - first).days + 1)
    for d, cost in daily.items():
        if first <= d <= as_of:
            values[(d - first).days] = float(cost)
    horizon = (period_end - as_of).days
    fc = forecast_series(values, first, horizon=horizon, levels=(level,))
    base = float(running)
    z = float(norm.ppf(0.5 + level / 2.0))
    rows = []
    cumulative = 0.0
    for k in range(1, horizon + 1):
        cumulative += float(fc.point[k - 1])
        half = z * forecast_sum_sd(fc, k)
        low = max(cumulative - half, 0.0) if fc.nonnegative else cumulative - half
        rows.append(
            {
                "day": as_of + timedelta(days=k),
                "point": base + cumulative,
                "lower": base + low,
                "upper": base + cumulative + half,
            }
        )
    return BurnDown(actual=actual, forecast=pd.DataFrame(rows), model=fc.model)
