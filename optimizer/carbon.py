"""Cost versus carbon for an optimization run's compute demand (#6). Pure: no Django.

A commitment plan does not change emissions: the demand per SKU (instance type in a region) is fixed, and
reservations or savings plans only change what each instance-hour is billed, not the machine that runs or the
grid that powers it. Only where the demand runs (placement) or what it runs on (rightsizing, applied before
the plan when ``rightsize`` is on) changes kgCO2e. So the carbon trade-off of a run is computed on the
same movable demand the plan optimises: each SKU's instance-hours may run in any candidate region with a
catalog price and a grid factor; :mod:`finops.carbon.tradeoff` re-solves the placement with the carbon term
(epsilon-constraint caps, or a carbon price / cap) to trace the cost-vs-carbon Pareto front.

Costs on the front are on-demand list prices in each region (a commitment is bound to its region, so a move
is priced at list, as ``carbon_regions`` does); the front's cost-optimal end is therefore the on-demand cost
of the demand where it runs today (or cheaper elsewhere), not the plan's committed cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from finops.carbon.calc import Coefficients, estimate_instance_hours
from finops.carbon.tradeoff import (
    ParetoPoint,
    RegionOption,
    TradeoffError,
    Workload,
    evaluate,
    pareto_front,
    solve_placement,
)

PROVIDER = "aws"  # the catalog the optimizer prices commitments from
DEFAULT_POINTS = 9  # caps tried; the issue asks for a front of at least 5 points

NOTE = (
    "Commitments alone do not change carbon: the demand per SKU (instance type in a region) is fixed and a "
    "reservation or savings plan only changes the price of an instance-hour, not the machine or the grid that "
    "runs it. Only placement (the region) and rightsizing (the instance type; apply it with rightsize) change "
    "emissions. The front re-solves the placement of this run's demand with the carbon term; its costs are "
    "on-demand list prices in each region (commitments are region-bound), so compare them with each other, "
    "not with the plan's committed cost."
)


def _split(sku: str) -> tuple[str, str]:
    instance_type, _, region = sku.rpartition("@")
    return instance_type, region


def candidate_regions(coefficients: Coefficients, regions: Sequence[str] = ()) -> list[str]:
    """The regions a workload may move to: ``regions`` if given, else every region with a grid factor."""
    return sorted(regions or coefficients.grid.get(PROVIDER, {}).keys())


def price_pairs(skus: Sequence[str], candidates: Sequence[str]) -> list[tuple[str, str]]:
    """Every (instance type, region) whose on-demand price the trade-off needs."""
    pairs = set()
    for sku in skus:
        instance_type, region = _split(sku)
        pairs.update((instance_type, r) for r in {region, *candidates})
    return sorted(pairs)


def tradeoff_workloads(
    hourly: pd.DataFrame,
    *,
    prices: Mapping[tuple[str, str], float | None],
    coefficients: Coefficients,
    candidates: Sequence[str],
) -> tuple[list[Workload], dict[str, str]]:
    """One workload per SKU column of ``hourly`` (instances per hour) with its region options; also the SKUs
    left out, each with the reason. kgCO2e per instance-hour is the CCF estimate (operational + embodied,
    default utilisation) of the SKU's instance-hours in each region."""
    skipped: dict[str, str] = {}
    keep: list[tuple[str, str, str, float, list[str]]] = []
    for sku in hourly.columns:
        instance_type, region = _split(sku)
        hours = float(hourly[sku].to_numpy().sum())
        if hours <= 0:
            skipped[sku] = "no demand left to serve (existing commitments cover it)"
            continue
        if prices.get((instance_type, region)) is None:
            skipped[sku] = f"no on-demand price for {instance_type} in {region}"
            continue
        regions = [region, *[c for c in candidates if c != region and prices.get((instance_type, c)) is not None]]
        keep.append((sku, instance_type, region, hours, regions))
    runs = pd.DataFrame(
        [
            {"provider": PROVIDER, "region": r, "instance_type": t, "hours": h, "sku": sku}
            for sku, t, _, h, regions in keep
            for r in regions
        ],
        columns=["provider", "region", "instance_type", "hours", "sku"],
    )
    kg: dict[tuple[str, str], float] = {}
    if not runs.empty:
        estimated = estimate_instance_hours(coefficients, runs)
        total = estimated["operational_kgco2e"] + estimated["embodied_kgco2e"]
        kg = {(s, r): float(v) for s, r, v in zip(runs["sku"], runs["region"], total, strict=True)}
    workloads = []
    for sku, instance_type, region, hours, regions in keep:
        options = tuple(
            RegionOption(r, float(prices[(instance_type, r)]), kg[(sku, r)] / hours)  # type: ignore[arg-type]
            for r in regions
        )
        demand = tuple(float(v) for v in hourly[sku].to_numpy())
        workloads.append(Workload(sku, demand, options, current_region=region))
    return workloads, skipped


def _moves(workloads: Sequence[Workload], regions: Mapping[str, str]) -> dict[str, str]:
    return {w.name: regions[w.name] for w in workloads if regions[w.name] != w.current_region}


def _point(p: ParetoPoint, workloads: Sequence[Workload]) -> dict[str, Any]:
    return {
        "cost": p.cost,
        "kgco2e": p.kgco2e,
        "cost_pct_vs_cost_optimal": p.cost_pct_vs_cost_optimal,
        "carbon_pct_vs_cost_optimal": p.carbon_pct_vs_cost_optimal,
        "summary": p.summary(),
        "moves": _moves(workloads, p.regions),
    }


def carbon_tradeoff(
    workloads: Sequence[Workload],
    *,
    points: int = DEFAULT_POINTS,
    carbon_price: float | None = None,
    carbon_cap: float | None = None,
    time_limit: float | None = 60.0,
) -> dict[str, Any]:
    """The Pareto front (cheapest first) and, with a carbon price or cap, the chosen placement, as JSON-able
    floats: ``{"front": [...], "current": {...}, "placement": {...} | None}``. Each point has cost (USD,
    on-demand), kgco2e, % vs the cost-optimal placement, its summary sentence and the moves (SKU -> region).
    Raises :class:`TradeoffError` for an empty problem; an unmeetable cap is reported in ``placement``."""
    front = pareto_front(workloads, points=points, time_limit=time_limit)
    base = front[0]
    here = {w.name: w.current_region or w.options[0].region for w in workloads}
    current_cost, current_kg = evaluate(workloads, here)
    out: dict[str, Any] = {
        "front": [_point(p, workloads) for p in front],
        "current": {"cost": current_cost, "kgco2e": current_kg},
        "placement": None,
    }
    if carbon_price is None and carbon_cap is None:
        return out
    chosen: dict[str, Any] = {"carbon_price": carbon_price, "carbon_cap": carbon_cap}
    try:
        placement = solve_placement(
            workloads, carbon_price=carbon_price or 0.0, carbon_cap=carbon_cap, time_limit=time_limit
        )
    except TradeoffError as error:
        chosen["error"] = str(error)
        out["placement"] = chosen
        return out
    point = ParetoPoint(
        cost=placement.cost,
        kgco2e=placement.kgco2e,
        cost_pct_vs_cost_optimal=(placement.cost - base.cost) / base.cost * 100 if base.cost else 0.0,
        carbon_pct_vs_cost_optimal=(placement.kgco2e - base.kgco2e) / base.kgco2e * 100 if base.kgco2e else 0.0,
        regions=placement.regions,
    )
    out["placement"] = chosen | _point(point, workloads)
    return out
