"""Pure budget math: periods, actual-to-date, projection = actual + summed forecast, breach probability."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from finops.budgets import calc
from finops.forecasting.calc.select import forecast_series


def _series(start: date, n: int, seed: int = 7) -> dict[date, Decimal]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 400 + 0.8 * t + 60 * (t % 7 < 5) + rng.normal(0, 15, n)
    return {start + timedelta(days=int(i)): Decimal(f"{v:.4f}") for i, v in enumerate(values)}


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@pytest.mark.parametrize(
    ("period", "day", "start", "end"),
    [
        ("monthly", date(2024, 2, 10), date(2024, 2, 1), date(2024, 2, 29)),
        ("monthly", date(2025, 12, 31), date(2025, 12, 1), date(2025, 12, 31)),
        ("quarterly", date(2025, 5, 31), date(2025, 4, 1), date(2025, 6, 30)),
        ("quarterly", date(2025, 12, 1), date(2025, 10, 1), date(2025, 12, 31)),
        ("annual", date(2026, 7, 4), date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_period_bounds(period, day, start, end):
    assert calc.period_bounds(period, day) == (start, end)


def test_previous_periods_and_labels():
    assert calc.previous_periods("quarterly", date(2026, 2, 3), 2) == [
        (date(2025, 10, 1), date(2025, 12, 31)),
        (date(2025, 7, 1), date(2025, 9, 30)),
    ]
    assert calc.previous_periods("monthly", date(2026, 1, 15), 1) == [(date(2025, 12, 1), date(2025, 12, 31))]
    assert calc.period_label("quarterly", date(2026, 4, 1)) == "2026-Q2"
    assert calc.period_label("monthly", date(2026, 4, 1)) == "2026-04"
    with pytest.raises(ValueError, match="unknown period"):
        calc.period_bounds("weekly", date(2026, 1, 1))


def test_auto_amount_is_the_average_of_the_periods():
    assert calc.auto_amount([Decimal("100.005"), Decimal("200"), Decimal("300")]) == Decimal("200.00")
    assert calc.auto_amount([]) is None
    assert calc.auto_amount([Decimal("-5")]) is None


def test_actual_is_the_period_sum_and_forecast_is_actual_plus_summed_forecast():
    start = date(2025, 1, 1)
    daily = _series(start, 200)  # 2025-01-01 .. 2025-07-19
    as_of = date(2025, 7, 19)
    frame = pd.DataFrame({"day": list(daily), "cost": [float(v) for v in daily.values()]})
    in_july = frame[(frame.day >= date(2025, 7, 1)) & (frame.day <= as_of)]
    exact_actual = sum((v for d, v in daily.items() if d >= date(2025, 7, 1)), Decimal(0))

    ev = calc.evaluate_budget(
        daily=daily, amount=Decimal("20000"), period="monthly", today=date(2025, 7, 20), as_of=as_of
    )

    assert ev.actual == exact_actual
    assert float(ev.actual) == pytest.approx(in_july.cost.sum())
    # The forecaster sees the last 182 days; the remainder is its point forecast of Jul 20..31.
    history = frame[frame.day >= as_of - timedelta(days=181)]
    fc = forecast_series(history.cost.to_numpy(), history.day.iloc[0], horizon=12)
    assert ev.forecast == pytest.approx(Decimal(repr(float(in_july.cost.sum() + fc.point.sum()))), abs=Decimal("0.01"))
    assert ev.days_elapsed == 19 and ev.days_total == 31 and ev.days_remaining == 12
    assert ev.lower[0.95] < ev.lower[0.8] < ev.forecast < ev.upper[0.8] < ev.upper[0.95]
    assert ev.model == fc.model


def test_probability_is_exact_for_the_iid_fallback():
    """10 days alternating 90/110: the fallback forecasts the median 100 a day with iid errors of sd 10, so the
    remaining 21 days of March sum to 2100 with sd 10 * sqrt(21); P(total > amount) is the normal tail."""
    daily = {date(2026, 3, d): Decimal(90 if d % 2 else 110) for d in range(1, 11)}
    amount = Decimal("3150")
    ev = calc.evaluate_budget(
        daily=daily, amount=amount, period="monthly", today=date(2026, 3, 11), as_of=date(2026, 3, 10)
    )
    assert ev.model == "fallback"
    assert ev.actual == Decimal(1000)
    assert ev.forecast == Decimal("3100.00")
    sd = 10 * math.sqrt(21)
    assert ev.forecast_sd == pytest.approx(sd)
    assert ev.probability_of_breach == pytest.approx(_normal_sf((3150 - 3100) / sd), rel=1e-9)
    assert ev.upper[0.95] == pytest.approx(Decimal(repr(3100 + 1.959963984540054 * sd)), abs=Decimal("0.01"))
    assert ev.status == "ok"  # P ~ 0.14 < 0.5
    at_risk = calc.evaluate_budget(
        daily=daily, amount=Decimal("3050"), period="monthly", today=date(2026, 3, 11), as_of=date(2026, 3, 10)
    )
    assert at_risk.status == "at_risk"
    assert at_risk.probability_of_breach == pytest.approx(_normal_sf((3050 - 3100) / sd), rel=1e-9)


def test_probability_is_monotone():
    daily = _series(date(2025, 1, 1), 150)
    as_of = date(2025, 5, 30)
    amounts = [Decimal(a) for a in range(10000, 20001, 1000)]
    probabilities = [
        calc.evaluate_budget(
            daily=daily, amount=a, period="monthly", today=date(2025, 5, 31), as_of=as_of
        ).probability_of_breach
        for a in amounts
    ]
    assert all(p1 >= p2 for p1, p2 in itertools.pairwise(probabilities))
    assert probabilities[0] > 0.99 and probabilities[-1] < 0.01
    # More spend to date, same amount: never less likely to breach.
    richer = {d: v + (Decimal(50) if d >= date(2025, 5, 1) else 0) for d, v in daily.items()}
    base = calc.evaluate_budget(
        daily=daily, amount=Decimal(15000), period="monthly", today=date(2025, 5, 31), as_of=as_of
    )
    more = calc.evaluate_budget(
        daily=richer, amount=Decimal(15000), period="monthly", today=date(2025, 5, 31), as_of=as_of
    )
    assert more.probability_of_breach >= base.probability_of_breach


def test_breached_status_and_threshold_crossing():
    daily = {date(2026, 3, d): Decimal("100") for d in range(1, 16)}  # 1500 actual by the 15th
    thresholds = [
        calc.Threshold(Decimal(50), "actual"),
        calc.Threshold(Decimal(150), "actual"),
        calc.Threshold(Decimal(100), "forecast"),
        calc.Threshold(Decimal(1000), "forecast"),
    ]
    ev = calc.evaluate_budget(
        daily=daily,
        amount=Decimal(1000),
        period="monthly",
        today=date(2026, 3, 16),
        as_of=date(2026, 3, 15),
        thresholds=thresholds,
    )
    assert ev.status == "breached" and ev.probability_of_breach == 1.0
    # 1500 >= 50% and 150% of 1000; forecast 1500 + 16 x 100 = 3100 >= 100% but < 1000%.
    assert ev.forecast == Decimal("3100.00")
    assert [(t.percent, t.kind) for t in ev.crossed] == [
        (Decimal(50), "actual"),
        (Decimal(150), "actual"),
        (Decimal(100), "forecast"),
    ]
    # Reached exactly counts as crossed.
    exact = calc.evaluate_budget(
        daily=daily,
        amount=Decimal(3000),
        period="monthly",
        today=date(2026, 3, 16),
        as_of=date(2026, 3, 15),
        thresholds=[calc.Threshold(Decimal(50), "actual")],
    )
    assert exact.crossed and exact.status == "at_risk"


def test_stale_data_forecasts_only_the_days_inside_the_period():
    daily = {date(2026, 3, 1) + timedelta(days=i): Decimal(100) for i in range(28)}  # Mar 1..28, flat
    ev = calc.evaluate_budget(
        daily=daily, amount=Decimal(5000), period="monthly", today=date(2026, 4, 5), as_of=date(2026, 3, 28)
    )
    assert ev.actual == 0 and ev.days_elapsed == 0
    assert ev.forecast == Decimal("3000.00")  # 30 April days x 100, not the 3 March days before


def test_no_data_and_bad_amount():
    ev = calc.evaluate_budget(daily={}, amount=Decimal(10), period="monthly", today=date(2026, 3, 1), as_of=None)
    assert (ev.actual, ev.forecast, ev.probability_of_breach, ev.status) == (0, 0, 0.0, "ok")
    with pytest.raises(ValueError, match="positive"):
        calc.evaluate_budget(daily={}, amount=Decimal(0), period="monthly", today=date(2026, 3, 1), as_of=None)


def test_annual_budget_forecasts_the_rest_of_the_year():
    start = date(2025, 1, 1)
    daily = _series(start, 200)  # to 2025-07-19
    as_of = date(2025, 7, 19)
    ev = calc.evaluate_budget(
        daily=daily, amount=Decimal("200000"), period="annual", today=date(2025, 7, 20), as_of=as_of
    )
    values = np.array([float(daily[start + timedelta(days=i)]) for i in range(200)])
    # The period began more than 182 days ago: the forecaster sees the whole year to date.
    fc = forecast_series(values, start, horizon=(date(2025, 12, 31) - as_of).days)
    actual = sum(daily.values(), Decimal(0))
    assert ev.actual == actual and ev.days_total == 365 and ev.days_elapsed == 200
    assert ev.forecast == (actual + Decimal(repr(float(fc.point.sum())))).quantize(Decimal("0.01"))
