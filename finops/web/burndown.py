"""A budget period's burn-down: cumulative actual by day and the cumulative forecast band to period end.

Pure: no Django imports. Draws the product's one projection (``project_spend``: the budget's evaluation, the
overview and the API read the same), so the band's last day is the budget's period-end forecast and interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from finops.forecasting.calc.projection import SpendProjection, cumulative_band

LEVEL = 0.8


@dataclass(frozen=True)
class BurnDown:
    actual: pd.DataFrame  # day, cumulative (Decimal): every day of the period up to as_of
    forecast: pd.DataFrame  # day, point, lower, upper (floats, cumulative): as_of+1 .. period_end
    model: str


def burn_down(*, projection: SpendProjection, daily: Mapping[date, Decimal], level: float = LEVEL) -> BurnDown:
    """``daily``: the scope's cost per day over the period (missing days cost 0); ``projection``: its
    projection for the period (``spend_projection``)."""
    actual_rows = []
    running = Decimal(0)
    as_of = projection.as_of
    last_actual = None if as_of is None else min(as_of, projection.period_end)
    day = projection.period_start
    while last_actual is not None and day <= last_actual:
        running += daily.get(day, Decimal(0))
        actual_rows.append({"day": day, "cumulative": running})
        day += timedelta(days=1)
    actual = pd.DataFrame(actual_rows, columns=["day", "cumulative"])
    band = cumulative_band(projection, level)
    forecast = pd.DataFrame(band, columns=["day", "point", "lower", "upper"])
    return BurnDown(actual=actual, forecast=forecast, model=projection.model if band else "")
