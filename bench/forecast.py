#!/usr/bin/env python
"""Forecasting benchmark: N synthetic daily cost series x 400 days (trend, weekly seasonality, noise, a few level
shifts; deterministic seed). The last 30 days are held back; ``forecast_series`` (backtest selection + 90-day
forecast) runs on the first 370 with 1 and with 2 worker processes. Prints wall times and, on the held-back 30 days,
MASE of the chosen models vs the weekly seasonal naive (both scaled by the in-sample seasonal naive MAE, mean over
series) and the coverage of the 80% / 95% intervals, with the targets beside them.

    python bench/forecast.py [--series 1000] [--days 400] [--holdout 30] [--workers 1 2] [--seed 20261126]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread per worker process: the pool provides the parallelism

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from finops.forecasting.calc.backtest import mase  # noqa: E402
from finops.forecasting.calc.models import seasonal_naive  # noqa: E402
from finops.forecasting.calc.select import SeriesForecast, forecast_series  # noqa: E402

START = date(2025, 1, 1)
LEVELS = (0.8, 0.95, 0.99)
TARGET_SECONDS_2_WORKERS = 60.0
TARGET_IMPROVEMENT = 0.15
TARGET_COVERAGE_80 = (0.75, 0.85)


def generate(n_series: int, days: int, seed: int) -> np.ndarray:
    """Daily costs (n_series x days): level * (1 + trend) + weekday pattern + noise + level shifts, floored at 0."""
    rng = np.random.default_rng(seed)
    t = np.arange(days, dtype=np.float64)
    out = np.empty((n_series, days))
    for i in range(n_series):
        level = float(np.exp(rng.normal(np.log(500.0), 1.0)))
        slope = level * rng.uniform(-0.001, 0.003)
        weekend_dip = rng.uniform(0.05, 0.35)
        pattern = np.ones(7)
        pattern[5:] -= weekend_dip
        pattern += rng.normal(0.0, 0.03, 7)
        pattern = np.roll(pattern, rng.integers(7))
        season = level * (pattern - pattern.mean())
        noise = rng.normal(0.0, level * rng.uniform(0.03, 0.12), days)
        shifts = np.zeros(days)
        for _ in range(rng.poisson(0.8)):
            shifts[rng.integers(30, days - 10) :] += level * rng.uniform(-0.3, 0.4)
        out[i] = np.maximum(level + slope * t + season[np.arange(days) % 7] + noise + shifts, 0.0)
    return out


def _forecast(train: np.ndarray) -> SeriesForecast:
    return forecast_series(train, START, horizon=90, levels=LEVELS)


def run(train: np.ndarray, workers: int) -> tuple[float, list[SeriesForecast]]:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_forecast, train, chunksize=20))
    return time.perf_counter() - started, results


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((actual >= lower) & (actual <= upper)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--holdout", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()

    data = generate(args.series, args.days, args.seed)
    train, held = data[:, : -args.holdout], data[:, -args.holdout :]
    timings: dict[int, float] = {}
    results: list[SeriesForecast] = []
    for workers in args.workers:
        timings[workers], results = run(train, workers)

    h = args.holdout
    chosen_mase, naive_mase = [], []
    cover = {lv: [] for lv in (0.8, 0.95)}
    naive_cover = {lv: [] for lv in (0.8, 0.95)}
    for y, actual, fc in zip(train, held, results, strict=True):
        naive = seasonal_naive(y, h, (0.8, 0.95))
        chosen_mase.append(mase(actual, fc.point[:h], y))
        naive_mase.append(mase(actual, naive.point, y))
        for lv in cover:
            cover[lv].append(coverage(actual, fc.lower[lv][:h], fc.upper[lv][:h]))
            naive_cover[lv].append(coverage(actual, np.maximum(naive.lower[lv], 0.0), naive.upper[lv]))
    m_chosen, m_naive = float(np.mean(chosen_mase)), float(np.mean(naive_mase))
    improvement = 1.0 - m_chosen / m_naive
    cov80, cov95 = float(np.mean(cover[0.8])), float(np.mean(cover[0.95]))
    models = Counter(fc.model for fc in results)

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print(f"forecast bench: {args.series} series x {args.days} days, held back {h}, horizon 90, seed {args.seed}")
    print(f"chosen models: {dict(models)}")
    print()
    print(f"| {'metric':<40} | {'measured':>15} | {'target':<14} | {'':<6} |")
    print(f"|{'-' * 42}|{'-' * 17}|{'-' * 16}|{'-' * 8}|")
    for workers, seconds in timings.items():
        target = f"<= {TARGET_SECONDS_2_WORKERS:.0f} s" if workers == 2 else ""
        ok = verdict(seconds <= TARGET_SECONDS_2_WORKERS) if workers == 2 else ""
        print(f"| {f'wall time, {workers} worker(s)':<40} | {seconds:>13.1f} s | {target:<14} | {ok:<6} |")
    print(f"| {'MASE, chosen models (mean over series)':<40} | {m_chosen:>15.3f} | {'':<14} | {'':<6} |")
    print(f"| {'MASE, seasonal naive':<40} | {m_naive:>15.3f} | {'':<14} | {'':<6} |")
    ok = verdict(improvement >= TARGET_IMPROVEMENT)
    print(f"| {'MASE improvement vs seasonal naive':<40} | {improvement:>14.1%} | {'>= 15%':<14} | {ok:<6} |")
    ok = verdict(TARGET_COVERAGE_80[0] <= cov80 <= TARGET_COVERAGE_80[1])
    print(f"| {'80% interval coverage, chosen':<40} | {cov80:>14.1%} | {'75-85%':<14} | {ok:<6} |")
    print(f"| {'95% interval coverage, chosen':<40} | {cov95:>14.1%} | {'(nominal 95%)':<14} | {'':<6} |")
    sn80, sn95 = float(np.mean(naive_cover[0.8])), float(np.mean(naive_cover[0.95]))
    print(f"| {'80% / 95% coverage, seasonal naive':<40} | {f'{sn80:.1%} / {sn95:.1%}':>15} | {'':<14} | {'':<6} |")


if __name__ == "__main__":
    main()
