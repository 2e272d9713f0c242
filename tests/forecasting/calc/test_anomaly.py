from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from finops.forecasting.calc.anomaly import Anomaly, detect
from finops.forecasting.calc.select import forecast_series

START = date(2025, 1, 1)


def test_planted_spike_is_the_only_anomaly():
    rng = np.random.default_rng(4)
    t = np.arange(150)
    y = 1000 + 2 * t + 100 * (t % 7 < 5) + rng.normal(0, 15, 150)
    train, actual = y[:120], y[120:].copy()
    actual[10] += 400  # about 25 sigma above the expected cost
    fc = forecast_series(train, START, horizon=30)
    days = list(fc.dates)

    found = detect(actual, fc.point, fc.lower[0.99], fc.upper[0.99], days=days)

    assert found == [
        Anomaly(
            index=10,
            day=START + timedelta(days=130),
            value=actual[10],
            expected=fc.point[10],
            lower=fc.lower[0.99][10],
            upper=fc.upper[0.99][10],
            impact=actual[10] - fc.point[10],
            direction="spike",
        )
    ]


@pytest.mark.parametrize(
    ("value", "floor_abs", "floor_pct", "expected_indices"),
    [
        (160.0, 50.0, 0.10, [1]),  # outside, impact 60 > 50 and > 10 of expected 100
        (140.0, 50.0, 0.10, []),  # outside the interval but impact 40 under the absolute floor
        (160.0, 50.0, 0.70, []),  # impact 60 under 70% of 100
        (30.0, 50.0, 0.10, [1]),  # a drop
        (119.0, 0.0, 0.0, []),  # inside the interval
    ],
)
def test_floors_and_interval(value, floor_abs, floor_pct, expected_indices):
    values = [100.0, value, 100.0]
    found = detect(values, [100.0] * 3, [80.0] * 3, [120.0] * 3, floor_abs=floor_abs, floor_pct=floor_pct)
    assert [a.index for a in found] == expected_indices
    if found:
        assert found[0].direction == ("spike" if value > 100 else "drop")
        assert found[0].day is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [1.0, 2.0]}, "one length"),
        ({"lower99": [5.0, 5.0, 5.0], "upper99": [4.0, 4.0, 4.0]}, "lower99 exceeds upper99"),
        ({"floor_abs": -1.0}, "non-negative"),
        ({"days": [START]}, "days has 1 entries"),
    ],
)
def test_bad_input_is_rejected(kwargs, message):
    arguments = {"values": [1.0] * 3, "expected": [1.0] * 3, "lower99": [0.0] * 3, "upper99": [2.0] * 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        detect(**arguments)


def test_the_day_after_a_one_day_spike_is_not_a_drop():
    """A level-following model expects yesterday's spike again; the return to normal is confirmed against the
    same-weekday baseline, so only the spike is an anomaly. The flat series: 100 a day with +-1 alternating."""
    from datetime import date

    from finops.forecasting.calc.series import analyse_series, weekday_baseline

    values = np.array([100.0 + (1 if i % 2 else -1) for i in range(70)])
    values[-2] = 300.0  # the spike, the day before the last
    analysis = analyse_series(values, date(2026, 1, 1), lookback=3)
    assert [(a.day, a.direction) for a in analysis.anomalies] == [(date(2026, 3, 10), "spike")]  # index 68
    # The baseline by hand: the same weekday 1-4 weeks before the last day (index 69): 62, 55, 48 and 41 hold
    # 99, 101, 99 and 101.
    assert weekday_baseline(values, 69) == pytest.approx(100.0)
    assert weekday_baseline(values, 10) == pytest.approx(values[3])  # only one week back exists
    assert weekday_baseline(values, 3) is None
