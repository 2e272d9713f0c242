"""Recurring monthly charges (tax, support, fees on the 1st): detection, forecast, intervals, projections, anomalies.

Every expected number is built here from the generating recipe (weekday level x pattern, charge = base + growth x
month), never from the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from finops.forecasting.calc import models
from finops.forecasting.calc.monthly import detect_charges, remove_charges, weekly_baseline
from finops.forecasting.calc.projection import forecast_sum_sd, month_end, period_projection, sum_error_sd
from finops.forecasting.calc.select import forecast_series
from finops.forecasting.calc.series import analyse_series

START = date(2025, 1, 1)
DAYS = 400  # 2025-01-01 .. 2026-02-04
LEVEL = 1000.0
WEEKLY = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.7, 0.65])  # by date.weekday()
NOISE = 20.0
CHARGE_BASE, CHARGE_GROWTH = 3000.0, 100.0  # charge on the 1st of month m (months since Jan 2025)


def day_of(i: int, start: date = START) -> date:
    return start + timedelta(days=i)


def months_since_start(day: date) -> int:
    return (day.year - START.year) * 12 + day.month - START.month


def true_baseline(day: date) -> float:
    return LEVEL * WEEKLY[day.weekday()]


def true_charge(day: date) -> float:
    return CHARGE_BASE + CHARGE_GROWTH * months_since_start(day)


def make_series(seed: int, *, charge: bool = True, days: int = DAYS, charge_noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.array([true_baseline(day_of(i)) for i in range(days)]) + rng.normal(0.0, NOISE, days)
    if charge:
        for i in range(days):
            if day_of(i).day == 1:
                values[i] += true_charge(day_of(i)) + rng.normal(0.0, charge_noise)
    return values


def forecast_dates(values: np.ndarray, horizon: int) -> list[date]:
    return [day_of(values.size + h) for h in range(horizon)]


def test_forecast_on_next_first_includes_the_growing_charge():
    y = make_series(1)
    fc = forecast_series(y, START, horizon=90)

    assert [c.day for c in fc.monthly] == [1]
    dates = forecast_dates(y, 90)
    assert list(fc.dates) == dates
    firsts = [h for h, d in enumerate(dates) if d.day == 1]
    assert [dates[h] for h in firsts] == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
    for h in firsts:
        truth = true_baseline(dates[h]) + true_charge(dates[h])  # e.g. 2026-03-01: 650 + 3000 + 14 * 100
        assert fc.point[h] == pytest.approx(truth, rel=0.03)
        # the charge itself (forecast minus the true weekday level) within 5% of the true charge
        assert fc.point[h] - true_baseline(dates[h]) == pytest.approx(true_charge(dates[h]), rel=0.05)

    # Other days: the weekday level, as on a series without the charge (same noise draws).
    clean = forecast_series(make_series(1, charge=False), START, horizon=90)
    others = [h for h, d in enumerate(dates) if d.day != 1]
    truth_others = np.array([true_baseline(dates[h]) for h in others])
    assert np.max(np.abs(fc.point[others] - truth_others) / truth_others) < 0.06
    assert np.max(np.abs(fc.point[others] - clean.point[others]) / truth_others) < 0.03
    # The backtest was not thrown off by the spikes: the same model as without the charge, at a similar error.
    assert fc.model == clean.model != "fallback"
    assert fc.chosen_mase == pytest.approx(clean.chosen_mase, rel=0.25)


def test_charge_estimate_follows_the_trend_and_removal_restores_the_baseline():
    y = make_series(2)
    (charge,) = detect_charges(y, START)
    assert charge.day == 1
    assert charge.slope == pytest.approx(CHARGE_GROWTH, rel=0.2)
    newest_first = max(day_of(i) for i in range(y.size) if day_of(i).day == 1)  # 2026-02-01
    assert charge.level == pytest.approx(true_charge(newest_first), rel=0.03)
    assert len(charge.occurrences) == 6  # TREND_MONTHS: the charge stands out every month

    adjusted = remove_charges(y, START, (charge,))
    firsts = [i for i in range(y.size) if day_of(i).day == 1]
    others = [i for i in range(y.size) if day_of(i).day != 1]
    assert np.array_equal(adjusted[others], y[others])
    expected = np.array([true_baseline(day_of(i)) for i in firsts])
    assert np.max(np.abs(adjusted[firsts] - expected)) < 4 * NOISE


def test_no_component_without_monthly_charges():
    assert forecast_series(make_series(3, charge=False), START).monthly == ()
    # heavy-tailed noise plus one-off spikes on random days (two of them on a 1st) is still not a monthly charge
    rng = np.random.default_rng(4)
    y = make_series(4, charge=False) + rng.standard_t(3, DAYS) * NOISE
    for i in (31, 59, 150, 222, 300, 333):  # 2025-02-01 and 2025-03-01 among them
        y[i] += 5000.0
    assert [day_of(i).day for i in (31, 59)] == [1, 1]
    assert detect_charges(y, START) == ()


def test_charge_needs_three_consecutive_recent_months():
    y = make_series(5)
    firsts = [i for i in range(y.size) if day_of(i).day == 1]
    stopped = y.copy()
    stopped[firsts[-1]] -= true_charge(day_of(firsts[-1]))  # no charge in the newest month: it ended
    assert detect_charges(stopped, START) == ()
    gap = y.copy()
    gap[firsts[-2]] -= true_charge(day_of(firsts[-2]))  # missing two months ago: only 1 month stands out in a row
    assert detect_charges(gap, START) == ()
    started = make_series(5, charge=False)
    for i in firsts[-3:]:  # a charge that started 3 months ago is already a charge
        started[i] += 1000.0
    (charge,) = detect_charges(started, START)
    assert (charge.day, charge.slope) == (1, 0.0)
    assert charge.level == pytest.approx(1000.0, abs=3 * NOISE)
    small = make_series(5, charge=False)
    for i in firsts:
        small[i] += 1.5 * NOISE  # below 4 noise scales: not distinguishable from noise
    assert detect_charges(small, START) == ()


def test_other_day_of_month_and_credits():
    y = make_series(6, charge=False)
    for i in range(y.size):
        if day_of(i).day == 15:
            y[i] -= 400.0  # a monthly credit on the 15th
    (charge,) = detect_charges(y, START)
    assert charge.day == 15 and charge.level == pytest.approx(-400.0, abs=3 * NOISE)
    fc = forecast_series(y, START, horizon=60)
    for h, d in enumerate(fc.dates):
        if d.day == 15:
            assert fc.point[h] == pytest.approx(true_baseline(d) - 400.0, rel=0.06)


def test_sparse_charge_only_series_is_forecast_on_its_day():
    """A tax-only series (zero except the 1st) is sparse: the fallback forecasts 0, the component the tax."""
    y = np.array([true_charge(day_of(i)) / 10 if day_of(i).day == 1 else 0.0 for i in range(DAYS)])
    fc = forecast_series(y, START, horizon=90)
    assert fc.reason == "sparse_history" and [c.day for c in fc.monthly] == [1]
    for h, d in enumerate(fc.dates):
        if d.day == 1:
            assert fc.point[h] == pytest.approx(true_charge(d) / 10, rel=0.01)
        else:
            assert fc.point[h] == 0.0


def test_intervals_cover_the_charge_day_and_the_other_days():
    """40 replicates with a noisy charge (sd 150): the 80% interval covers ~80% of held-back days and of 1sts."""
    holdout = 30
    days = DAYS + 24  # the last 30 days, which include 2026-03-01, are held back
    cover_first, cover_all = [], []
    for seed in range(40):
        values = make_series(100 + seed, days=days, charge_noise=150.0)
        train, held = values[:-holdout], values[-holdout:]
        fc = forecast_series(train, START, horizon=holdout, levels=(0.8,))
        low, high = fc.interval(0.8)
        inside = (held >= low) & (held <= high)
        cover_all.append(inside.mean())
        cover_first.extend(inside[[h for h, d in enumerate(fc.dates) if d.day == 1]])
    assert len(cover_first) == 40
    assert 0.7 <= np.mean(cover_all) <= 0.9
    assert 0.65 <= np.mean(cover_first) <= 0.95
    # the charge widened the interval on its day only
    assert (high - low)[[h for h, d in enumerate(fc.dates) if d.day == 1]].min() > np.median(high - low)


def test_month_end_projection_includes_the_charge():
    y = make_series(7)
    fc = forecast_series(y, START, horizon=90)
    march_end = month_end(date(2026, 3, 1))
    actual = {day_of(i): float(v) for i, v in enumerate(y) if day_of(i) >= date(2026, 2, 1)}
    proj = period_projection({}, fc, march_end)  # Feb 5 .. Mar 31, all forecast
    days = (march_end - fc.start).days + 1
    truth = sum(true_baseline(d) for d in fc.dates[:days]) + true_charge(date(2026, 3, 1))
    assert proj.forecast_days == days == 55
    assert proj.total == pytest.approx(truth, rel=0.02)
    assert proj.forecast_remainder == pytest.approx(float(np.sum(fc.point[:days])))
    # February to date + remainder; the February charge is in the actual part
    feb = period_projection(actual, fc, month_end(date(2026, 2, 1)), period_start=date(2026, 2, 1))
    assert feb.actual_to_date == pytest.approx(sum(actual.values()))
    # the charge's uncertainty is in the projection's interval
    sd = forecast_sum_sd(fc, days)
    assert sd > sum_error_sd(fc.psi, fc.sigma, days)
    z80 = 1.2815515655446004
    assert proj.upper[0.8] - proj.total == pytest.approx(z80 * sd, rel=1e-9)


def test_regular_first_of_month_charge_is_not_an_anomaly_but_an_oversized_one_is():
    y = make_series(8, days=DAYS + 25)  # ends on 2026-03-01, a regular charge day
    assert day_of(y.size - 1) == date(2026, 3, 1)
    # Without the component every candidate fitted on the raw history puts the charge above its 99% interval (with
    # an impact far above the $50 / 10% floors): the old one-step check flagged it.
    for candidate in (models.seasonal_naive, models.ets, models.fallback):
        raw = candidate(y[:-1], 1, (0.99,))
        assert y[-1] > raw.upper[0.99][0] and y[-1] - raw.point[0] > 3000.0
    analysis = analyse_series(y, START, lookback=3)
    assert analysis.anomalies == ()
    assert analysis.checked[-1].expected == pytest.approx(y[-1], rel=0.05)

    oversized = y.copy()
    oversized[-1] += 3 * true_charge(date(2026, 3, 1))  # a charge four times the usual one
    (anomaly,) = analyse_series(oversized, START, lookback=3).anomalies
    assert anomaly.day == date(2026, 3, 1) and anomaly.direction == "spike"
    assert anomaly.impact == pytest.approx(3 * true_charge(date(2026, 3, 1)), rel=0.1)


def test_weekly_baseline_uses_same_weekday_neighbours():
    y = np.arange(30, dtype=np.float64)
    base = weekly_baseline(y)
    assert base[14] == np.median([0.0, 7.0, 21.0, 28.0])
    assert base[0] == np.median([7.0, 14.0])
    assert base[29] == np.median([15.0, 22.0])
    assert np.isnan(weekly_baseline(np.arange(10, dtype=np.float64))[5])  # no same-weekday neighbour at all
