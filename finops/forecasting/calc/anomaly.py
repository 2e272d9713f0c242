"""Cost anomalies: a day is anomalous when its cost falls outside the series' 99% interval *and* its impact
(cost - expected) exceeds both floors in absolute value: ``floor_abs`` (currency units) and ``floor_pct`` of the
expected cost. The floors keep tiny series from alerting on cents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True)
class Anomaly:
    index: int  # position in the input arrays
    day: date | None
    value: float
    expected: float
    lower: float
    upper: float
    impact: float  # value - expected; positive for a spike
    direction: str  # "spike" or "drop"


def detect(
    values: np.ndarray | Sequence[float],
    expected: np.ndarray | Sequence[float],
    lower99: np.ndarray | Sequence[float],
    upper99: np.ndarray | Sequence[float],
    floor_abs: float = 50.0,
    floor_pct: float = 0.10,
    days: Sequence[date] | None = None,
) -> list[Anomaly]:
    arrays = [np.asarray(a, dtype=np.float64) for a in (values, expected, lower99, upper99)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 1:
        raise ValueError(f"values, expected, lower99 and upper99 must be 1-D of one length, got {sorted(shapes)}")
    y, mu, lo, hi = arrays
    if days is not None and len(days) != y.size:
        raise ValueError(f"days has {len(days)} entries for {y.size} values")
    if floor_abs < 0 or floor_pct < 0:
        raise ValueError("floors must be non-negative")
    if np.any(lo > hi):
        raise ValueError("lower99 exceeds upper99")
    impact = y - mu
    outside = (y < lo) | (y > hi)
    material = (np.abs(impact) > floor_abs) & (np.abs(impact) > floor_pct * np.abs(mu))
    return [
        Anomaly(
            index=int(i),
            day=None if days is None else days[i],
            value=float(y[i]),
            expected=float(mu[i]),
            lower=float(lo[i]),
            upper=float(hi[i]),
            impact=float(impact[i]),
            direction="spike" if impact[i] > 0 else "drop",
        )
        for i in np.flatnonzero(outside & material)
    ]
