from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from finops.forecasting.calc import models
from finops.forecasting.calc.projection import (
    cumulative_band,
    forecast_sum_sd,
    month_end,
    period_projection,
    project_spend,
    quarter_end,
    sum_error_sd,
)
from finops.forecasting.calc.select import forecast_series

START = date(2025, 1, 1)


def history(n: int = 200, seed: int = 2) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 300 + 0.5 * t + 40 * (t % 7 < 5) + rng.normal(0, 8, n)
    return pd.Series(values, index=pd.date_range(START, periods=n, freq="D").date)


@pytest.mark.parametrize(
    ("day", "month", "quarter"),
    [
        (date(2025, 1, 1), date(2025, 1, 31), date(2025, 3, 31)),
        (date(2024, 2, 10), date(2024, 2, 29), date(2024, 3, 31)),
        (date(2025, 5, 31), date(2025, 5, 31), date(2025, 6, 30)),
        (date(2025, 12, 15), date(2025, 12, 31), date(2025, 12, 31)),
    ],
)
def test_period_ends(day, month, quarter):
    assert month_end(day) == month
    assert quarter_end(day) == quarter


def test_month_end_projection_is_actual_to_date_plus_summed_forecast():
    series = history()  # 2025-01-01 .. 2025-07-19
    fc = forecast_series(series.to_numpy(), START)
    in_july = series[[d >= date(2025, 7, 1) for d in series.index]]
    forecast = pd.Series(fc.point, index=fc.dates)
    remainder = forecast[[d <= date(2025, 7, 31) for d in forecast.index]]

    proj = period_projection(series, fc, date(2025, 7, 31), period_start=date(2025, 7, 1))

    assert proj.actual_days == 19 and proj.forecast_days == 12
    assert proj.actual_to_date == pytest.approx(in_july.sum())
    assert proj.forecast_remainder == pytest.approx(remainder.sum())
    assert proj.total == pytest.approx(in_july.sum() + remainder.sum())
    for level in (0.8, 0.95, 0.99):
        assert proj.lower[level] < proj.total < proj.upper[level]
    assert proj.upper[0.8] < proj.upper[0.95] < proj.upper[0.99]


def test_quarter_projection_interval_for_iid_fallback_is_sigma_sqrt_days():
    """The fallback's errors are iid, so the sum over H days has sd sigma * sqrt(H)."""
    values = np.array([100.0, 104, 97, 101, 99, 103, 98, 102, 100, 96])
    fc = forecast_series(values, START, horizon=90)
    assert fc.model == "fallback"
    end = quarter_end(fc.start)  # 2025-03-31; forecast starts 2025-01-11
    days = (end - fc.start).days + 1
    actual = dict(zip(pd.date_range(START, periods=10, freq="D").date, values, strict=True))

    proj = period_projection(actual, fc, end)

    half = norm.ppf(0.975) * fc.sigma * np.sqrt(days)
    assert proj.forecast_days == days == 80
    assert proj.total == pytest.approx(values.sum() + fc.point[:days].sum())
    assert proj.upper[0.95] == pytest.approx(proj.total + half)
    assert proj.lower[0.95] == pytest.approx(proj.total - half)


def test_sum_error_sd_matches_simulated_ets_paths():
    """Simulate ETS(A,Ad,A) forward from a fitted state with Gaussian innovations; compare the sd of 30-day sums."""
    rng = np.random.default_rng(9)
    t = np.arange(200)
    y = 500 + 0.4 * t + 30 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 10, 200)
    state = models.ets_fit(y)
    paths = 20_000
    level = np.full(paths, state.level)
    trend = np.full(paths, state.trend)
    season = np.tile(state.season, (paths, 1))
    total = np.zeros(paths)
    for day in range(state.n, state.n + 30):
        j = day % 7
        eps = rng.normal(0.0, state.sigma, paths)
        value = level + state.phi * trend + season[:, j] + eps
        total += value
        level = level + state.phi * trend + state.alpha * eps
        trend = state.phi * trend + state.beta * eps
        season[:, j] += state.gamma * eps

    analytic = sum_error_sd(models.ets_psi(state, 30), state.sigma, 30)

    assert np.std(total) == pytest.approx(analytic, rel=0.03)  # sd of an sd estimate over 20,000 paths is ~0.5%


def test_period_already_over_has_no_remainder():
    series = history(40)
    fc = forecast_series(series.to_numpy(), START)
    proj = period_projection(series, fc, date(2025, 2, 9), period_start=date(2025, 2, 1))  # history ends 2025-02-09
    assert proj.forecast_days == 0 and proj.forecast_remainder == 0.0
    assert proj.lower[0.95] == proj.total == proj.upper[0.95] == pytest.approx(series.iloc[-9:].sum())


def test_actuals_overlapping_the_forecast_are_rejected():
    series = history(60)
    fc = forecast_series(series.to_numpy(), START)
    overlap = {**series.to_dict(), fc.start: 1.0}
    with pytest.raises(ValueError, match="overlap the forecast"):
        period_projection(overlap, fc, month_end(fc.start))


def test_period_end_beyond_the_horizon_is_rejected():
    series = history(60)
    fc = forecast_series(series.to_numpy(), START, horizon=30)
    with pytest.raises(ValueError, match="beyond the forecast horizon"):
        period_projection(series, fc, fc.start + timedelta(days=30))


# --- project_spend: the one projection -----------------------------------------------------------------


def _decimal_daily(series: pd.Series) -> dict[date, Decimal]:
    return {day: Decimal(f"{v:.4f}") for day, v in series.items()}


def test_project_spend_sums_the_whole_historys_forecast_and_rounds_once():
    daily = _decimal_daily(history())  # 2025-01-01 .. 2025-07-19
    as_of = date(2025, 7, 19)
    result = project_spend(daily, period_start=date(2025, 7, 1), period_end=date(2025, 7, 31), as_of=as_of)
    values = np.array([float(v) for v in daily.values()])
    window = as_of - timedelta(days=181)  # the last 182 days
    fc = forecast_series(values[(window - START).days :], window, horizon=12)
    actual = sum((v for d, v in daily.items() if d >= date(2025, 7, 1)), Decimal(0))
    assert result.actual == actual and result.days_elapsed == 19 and result.forecast_days == 12
    assert result.total == (actual + Decimal(repr(float(fc.point.sum())))).quantize(Decimal("0.01"))
    half = float(norm.ppf(0.9)) * forecast_sum_sd(fc, 12)
    assert result.upper[0.8] == (actual + Decimal(repr(float(fc.point.sum()) + half))).quantize(Decimal("0.01"))
    assert result.model == fc.model
    # A forecast run passes its own forecast of that window (a longer horizon): the same numbers, no refit.
    longer = forecast_series(values[(window - START).days :], window, horizon=90)
    again = project_spend(
        daily, period_start=date(2025, 7, 1), period_end=date(2025, 7, 31), as_of=as_of, forecast=longer
    )
    assert (again.total, again.lower, again.upper) == (result.total, result.lower, result.upper)
    # The cumulative band ends on the unrounded total and interval.
    band = cumulative_band(result)
    assert band[0][0] == date(2025, 7, 20) and band[-1][0] == date(2025, 7, 31)
    assert abs(band[-1][1] - float(result.total)) < 0.006 and abs(band[-1][3] - float(result.upper[0.8])) < 0.006


def test_project_spend_when_the_data_stops_before_the_period_or_is_absent():
    daily = _decimal_daily(history(120))  # to 2025-04-30
    may = project_spend(daily, period_start=date(2025, 6, 1), period_end=date(2025, 6, 30), as_of=date(2025, 4, 30))
    fc = forecast_series(np.array([float(v) for v in daily.values()]), START, horizon=61)
    assert may.actual == 0 and may.days_elapsed == 0 and may.skip == 31
    assert may.total == Decimal(repr(float(fc.point[31:61].sum()))).quantize(Decimal("0.01"))
    assert cumulative_band(may) == []  # no cumulative base to draw from
    empty = project_spend({}, period_start=date(2025, 6, 1), period_end=date(2025, 6, 30), as_of=None)
    assert empty.total == 0 and empty.forecast is None and empty.lower[0.8] == empty.upper[0.95] == 0


def test_project_spend_refuses_a_forecast_that_does_not_follow_the_data():
    daily = _decimal_daily(history())
    stale = forecast_series(np.array([float(v) for v in daily.values()][:-1]), START, horizon=30)
    with pytest.raises(ValueError, match="does not follow 2025-07-19"):
        project_spend(
            daily, period_start=date(2025, 7, 1), period_end=date(2025, 7, 31), as_of=date(2025, 7, 19), forecast=stale
        )
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        project_spend(daily, period_start=date(2025, 7, 31), period_end=date(2025, 7, 1), as_of=date(2025, 7, 19))


def _with_monthly_charge(days: int, charge: float, partial: float) -> dict[date, Decimal]:
    """A flat 1000/day (+ weekly cycle) with ``charge`` on every 1st, the last month's 1st carrying ``partial``."""
    rng = np.random.default_rng(5)
    out = {}
    for i in range(days):
        day = START + timedelta(days=i)
        value = 1000 + 100 * (day.weekday() < 5) + rng.normal(0, 10)
        if day.day == 1:
            value += partial if (day.year, day.month) == (2025, 7) else charge
        out[day] = Decimal(f"{value:.2f}")
    return out


def test_a_month_to_date_accrual_on_the_1st_is_completed_to_the_recurring_charge():
    """The current month's 1st carries 1,000 of a 5,000 monthly charge (a month-to-date bill): the projection
    adds the 4,000 still to accrue; a month whose 1st is complete gets nothing added."""
    as_of = date(2025, 7, 10)
    partial = _with_monthly_charge((as_of - START).days + 1, charge=5000, partial=1000)
    july = {"period_start": date(2025, 7, 1), "period_end": date(2025, 7, 31), "as_of": as_of}
    result = project_spend(partial, **july)
    window = as_of - timedelta(days=181)
    values = np.array([float(v) for d, v in partial.items() if d >= window])
    fc = forecast_series(values, window, horizon=21)
    actual = sum((v for d, v in partial.items() if d >= date(2025, 7, 1)), Decimal(0))
    plain = actual + Decimal(repr(float(fc.point.sum())))
    assert abs(result.total - plain - 4000) < 60  # the 1st's weekly baseline is estimated: within noise
    complete = _with_monthly_charge((as_of - START).days + 1, charge=5000, partial=5000)
    full = project_spend(complete, **july)
    values = np.array([float(v) for d, v in complete.items() if d >= window])
    fc = forecast_series(values, window, horizon=21)
    actual = sum((v for d, v in complete.items() if d >= date(2025, 7, 1)), Decimal(0))
    assert full.total == (actual + Decimal(repr(float(fc.point.sum())))).quantize(Decimal("0.01"))
