"""Hour-by-hour allocation of demand to layers (reservations, savings plans, spot, on-demand) for a fixed
purchase: the data behind the optimizer page's hourly coverage chart.

Taken from the independent evaluator's optimal allocation (:func:`optimizer.solver.evaluate.evaluate_hours`),
so the layers are exactly the ones whose cost the run reports. Pure module: no Django.

Unit: instances (instance-hours per hour), summed over SKUs. Every layer of the allocation LP is in SKU units
(a reservation or plan covers so many instances of a SKU, spot and on-demand serve instances), so the layers stack
exactly to demand, and instance-hours are quantities, not money (no decimal-string convention applies). The
alternative, on-demand-equivalent $/h, would weight large SKUs more but mix a price into a usage chart; the cost
view is the page's waterfall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.solver.evaluate import LAYERS, Evaluation, evaluate_hours
from optimizer.solver.problem import Problem

UNIT = "instances (instance-hours per hour, all SKUs)"
MAX_POINTS = 90 * 24  # points per layer kept hourly in a run's JSON; longer windows are summed per day


@dataclass(frozen=True)
class Allocation:
    """Per hour (length ``problem.hours``), summed over SKUs, in instances; ``by_sku`` keeps the SKU split."""

    demand: np.ndarray  # H
    reservations: np.ndarray  # H
    savings_plans: np.ndarray  # H
    spot: np.ndarray  # H
    on_demand: np.ndarray  # H
    by_sku: dict[str, np.ndarray]  # layer (and "demand") -> H x K, columns in ``problem.skus`` order
    evaluation: Evaluation  # the evaluator's cost of the same purchase

    def layer(self, name: str) -> np.ndarray:
        return getattr(self, name)


def hourly_allocation(
    problem: Problem, reservations: Mapping[str, float], savings_plans: Mapping[str, float]
) -> Allocation:
    """Demand and what serves it each hour when buying ``reservations`` (units) and ``savings_plans`` ($/hour)."""
    evaluation, hours = evaluate_hours(problem, reservations, savings_plans)
    # The LP solver may leave -1e-12 where it means 0; a negative layer would draw below the axis.
    layers = np.clip(hours.layers, 0.0, None)
    by_sku = {"demand": hours.demand, **{name: layers[i] for i, name in enumerate(LAYERS)}}
    totals = {name: by_sku[name].sum(axis=1) for name in by_sku}
    return Allocation(by_sku=by_sku, evaluation=evaluation, **totals)


def coverage_series(allocation: Allocation, start: pd.Timestamp, *, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """The run's ``results["hourly"]``: ISO hour starts from ``start`` (UTC) and one list per layer. Windows
    longer than ``max_points`` hours are summed per UTC day (``granularity`` "day", ``unit`` per day)."""
    index = pd.date_range(pd.Timestamp(start).tz_convert("UTC"), periods=len(allocation.demand), freq="h")
    frame = pd.DataFrame({name: allocation.layer(name) for name in ("demand", *LAYERS)}, index=index)
    granularity, unit = "hour", UNIT
    if len(frame) > max_points:
        frame = frame.groupby(frame.index.floor("D")).sum()
        granularity, unit = "day", "instance-hours per day (all SKUs)"
    return {
        "hours": [t.isoformat() for t in frame.index],
        "granularity": granularity,
        "unit": unit,
        **{name: [round(float(v), 4) for v in frame[name]] for name in frame.columns},
    }
