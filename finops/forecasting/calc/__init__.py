"""Pure forecasting math: numpy in, frozen dataclasses out. Never imports Django.

- ``models``: the candidates (weekly seasonal naive, damped-trend weekly ETS, robust median fallback).
- ``backtest``: rolling-origin MASE over the last 4 x 7-day horizons.
- ``monthly``: recurring day-of-month charges (tax, support, fees on the 1st), removed before fitting, added back.
- ``select``: ``forecast_series`` picks a candidate per series and returns a ``SeriesForecast``.
- ``projection``: month-end / quarter-end projection (actual to date + forecast remainder, with interval).
- ``anomaly``: points outside the 99% interval whose impact exceeds a floor.
"""
