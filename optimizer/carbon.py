"""Cost versus carbon for an optimization run's compute demand. Pure: no Django.

A commitment plan does not change emissions: the demand per SKU (instance type in a region) is fixed, and
reservations or savings plans only change what each instance-hour is billed, not the machine that runs or the
grid that powers it. Only where the demand runs (placement) or what it runs on (rightsizing, applied before
the plan when ``rightsize`` is on) changes kgCO2e. So the carbon trade-off of a run is computed on the
same movable demand the plan optimises: each SKU's instance-hours may run in any candidate region with a
catalog price and a grid factor; :mod:`finops.carbon.tradeoff` (the placement model, one place) re-solves the
placement with the carbon term (epsilon-constraint caps, or a carbon price / cap) to trace the cost-vs-carbon
Pareto front. This module only turns the run's hourly demand into that model's workloads.

Costs on the front are on-demand list prices in each region (a commitment is bound to its region, so a move
is priced at list, as ``carbon_regions`` does); the front's cost-optimal end is therefore the on-demand cost
of the demand where it runs today (or cheaper elsewhere), not the plan's committed cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from finops.carbon.calc import Coefficients, estimate_instance_hours
from finops.carbon.tradeoff import RegionOption, Workload

PROVIDER = "aws"  # the catalog the optimizer prices commitments from

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
