"""Invariants of ``forecast_series`` on arbitrary non-negative histories (hypothesis)."""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.forecasting.calc.select import forecast_series

START = date(2025, 3, 1)
costs = st.lists(st.floats(min_value=0.0, max_value=1e5, allow_nan=False), min_size=1, max_size=100)


@settings(max_examples=60, deadline=None)
@given(values=costs, horizon=st.integers(min_value=1, max_value=40))
def test_bounds_are_nested_non_negative_and_dated(values, horizon):
    fc = forecast_series(np.array(values), START, horizon=horizon)

    assert fc.model in {"seasonal_naive", "ets", "fallback"}
    assert fc.dates == tuple(START + timedelta(days=len(values) + i) for i in range(horizon))
    assert fc.point.shape == (horizon,)
    assert np.all(fc.lower[0.99] >= 0.0)
    assert np.all(fc.lower[0.99] <= fc.lower[0.95]) and np.all(fc.lower[0.95] <= fc.lower[0.8])
    assert np.all(fc.lower[0.8] <= fc.point) and np.all(fc.point <= fc.upper[0.8])
    assert np.all(fc.upper[0.8] <= fc.upper[0.95]) and np.all(fc.upper[0.95] <= fc.upper[0.99])
    if fc.reason == "backtest":
        assert fc.chosen_mase == min(fc.backtest_mase.values())


def test_forecast_survives_pickling_for_worker_processes():
    fc = forecast_series(np.arange(60, dtype=float) % 7 + 10.0, START)
    copy = pickle.loads(pickle.dumps(fc))
    assert copy.model == fc.model and copy.dates == fc.dates
    np.testing.assert_array_equal(copy.upper[0.95], fc.upper[0.95])
