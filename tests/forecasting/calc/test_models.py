"""Candidates and selection. Run with ``pytest tests/forecasting/calc -p no:django`` (pure math, no database)."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from finops.forecasting.calc import models
from finops.forecasting.calc.backtest import backtest_origins, mase, rolling_origin_mase
from finops.forecasting.calc.select import forecast_series

START = date(2025, 1, 6)
WEEK = np.array([120.0, 130.0, 125.0, 128.0, 110.0, 40.0, 35.0])


def trend_weekly(n: int, seed: int, sigma: float = 4.0, slope: float = 0.8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 200.0 + slope * t + np.tile(WEEK - WEEK.mean(), n // 7 + 1)[:n] + rng.normal(0.0, sigma, n)


def test_seasonal_naive_of_a_pure_weekly_pattern_is_the_pattern():
    history = np.tile(WEEK, 8)
    expected = np.tile(WEEK, 13)[:90]  # history starts on pattern day 0 and has 56 days, a whole number of weeks

    fc = models.seasonal_naive(history, 90, (0.8, 0.95))

    np.testing.assert_array_equal(fc.point, expected)
    # Every in-sample seasonal error is 0, so the empirical intervals collapse onto the point.
    np.testing.assert_array_equal(fc.lower[0.95], expected)
    np.testing.assert_array_equal(fc.upper[0.95], expected)


def test_forecast_series_picks_seasonal_naive_for_a_pure_weekly_pattern():
    fc = forecast_series(np.tile(WEEK, 10), START, horizon=21)

    assert fc.model == "seasonal_naive"
    assert fc.backtest_mase["seasonal_naive"] == 0.0
    np.testing.assert_array_equal(fc.point, np.tile(WEEK, 3))
    assert fc.dates[0] == START + timedelta(days=70)
    assert fc.dates[-1] == START + timedelta(days=90)


def test_trend_plus_weekly_chooses_ets_and_beats_seasonal_naive():
    y = trend_weekly(182, seed=3)
    train, held = y[:-28], y[-28:]

    fc = forecast_series(train, START, horizon=28)

    assert fc.model == "ets"
    assert fc.backtest_mase["ets"] < 0.85 * fc.backtest_mase["seasonal_naive"]
    # On days the model never saw, against seasonal naive computed here: repeat the last observed week.
    naive = np.tile(train[-7:], 4)
    scale = np.mean(np.abs(train[7:] - train[:-7]))
    ets_mase = np.mean(np.abs(held - fc.point)) / scale
    naive_mase = np.mean(np.abs(held - naive)) / scale
    assert ets_mase < 0.85 * naive_mase
    assert mase(held, fc.point, train) == pytest.approx(ets_mase)


def test_ets_recursion_and_variance_match_statsmodels():
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = trend_weekly(140, seed=5)
    state = models.ets_fit(y)
    level0, trend0, season0 = models.ets_initial_states(y)
    index = pd.date_range("2025-01-06", periods=y.size, freq="D")
    model = ETSModel(
        pd.Series(y, index=index), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7
    )
    # statsmodels orders initial seasonals s_0, s_{-1}, ..., s_{-6}; ours by day of cycle from the first day.
    params = np.r_[state.alpha, state.beta, state.gamma, state.phi, level0, trend0, season0[::-1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smoothed = model.smooth(params)
        prediction = smoothed.get_prediction(start=y.size, end=y.size + 29)
    *_, fitted = models.ets_filter(y, params[None, :4], (level0, trend0, season0), keep_fitted=True)

    np.testing.assert_allclose(fitted[0], smoothed.fittedvalues.to_numpy(), rtol=0, atol=1e-9)
    fc = models.ets(y, 30)
    np.testing.assert_allclose(fc.point, prediction.predicted_mean.to_numpy(), rtol=0, atol=1e-9)
    variance = np.asarray(prediction.var_pred_mean)
    np.testing.assert_allclose(np.cumsum(fc.psi**2), variance / variance[0], rtol=1e-9)


def test_short_history_uses_the_fallback():
    y = np.array([10.0, 12, 11, 50, 9, 10, 13, 12, 11, 10, 14, 9, 10, 11, 12])

    fc = forecast_series(y, START, horizon=30)

    assert (fc.model, fc.reason) == ("fallback", "short_history")
    assert fc.backtest_mase == {}
    np.testing.assert_array_equal(fc.point, np.full(30, np.median(y[-14:])))
    assert np.all(fc.lower[0.8] <= fc.point) and np.all(fc.point <= fc.upper[0.8])
    assert np.all(fc.lower[0.95] <= fc.lower[0.8]) and np.all(fc.upper[0.8] <= fc.upper[0.95])


def test_sparse_history_uses_the_fallback():
    rng = np.random.default_rng(7)
    y = rng.uniform(20.0, 40.0, 120)
    y[rng.choice(120, 50, replace=False)] = 0.0  # ~40% zero days

    fc = forecast_series(y, START)

    assert (fc.model, fc.reason) == ("fallback", "sparse_history")
    np.testing.assert_array_equal(fc.point, np.full(90, np.median(y[-14:])))
    assert np.all(fc.lower[0.99] >= 0.0)


def test_backtest_origins_are_the_last_four_weeks():
    assert backtest_origins(100) == [72, 79, 86, 93]
    assert backtest_origins(30) == [16, 23]  # origins need 14 days of training


def test_rolling_origin_mase_by_hand():
    y = trend_weekly(70, seed=11)
    expected = np.mean(
        [np.mean(np.abs(y[o : o + 7] - y[o - 7 : o])) / np.mean(np.abs(y[7:o] - y[: o - 7])) for o in (42, 49, 56, 63)]
    )
    assert rolling_origin_mase(y, models.seasonal_naive, [42, 49, 56, 63]) == pytest.approx(expected)


def test_interval_coverage_near_nominal_on_noise_with_known_sigma():
    """Trend + weekly + N(0, sigma^2): 120 series, forecast 14 days each; 1,680 held-back days per level."""
    sigma = 5.0
    inside = {0.8: [], 0.95: []}
    for seed in range(120):
        y = trend_weekly(154, seed=1000 + seed, sigma=sigma, slope=0.3)
        fc = forecast_series(y[:-14], START, horizon=14, levels=(0.8, 0.95))
        for level in inside:
            inside[level].append((y[-14:] >= fc.lower[level]) & (y[-14:] <= fc.upper[level]))
    # Binomial sd of a coverage over 1,680 days is ~1%; days within a series are correlated, so allow ~5 points.
    assert 0.75 <= np.mean(inside[0.8]) <= 0.86
    assert 0.91 <= np.mean(inside[0.95]) <= 0.985


def test_ets_one_step_interval_matches_the_true_sigma():
    sigma = 5.0
    y = trend_weekly(364, seed=21, sigma=sigma, slope=0.3)

    fc = models.ets(y, 7, (0.8,))

    half_width = (fc.upper[0.8][0] - fc.lower[0.8][0]) / 2
    assert half_width == pytest.approx(norm.ppf(0.9) * sigma, rel=0.15)


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        ([1.0, np.nan, 3.0], {}, "finite"),
        (np.ones((3, 3)), {}, "1-D"),
        ([], {}, "non-empty"),
        (np.ones(30), {"horizon": 0}, "horizon"),
        (np.ones(30), {"levels": (0.8, 1.0)}, "levels"),
    ],
)
def test_bad_input_is_rejected_with_a_message(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        forecast_series(np.asarray(values, dtype=float), START, **kwargs)
