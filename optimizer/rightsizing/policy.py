"""The default rightsizing policy: from 14 days of hourly utilisation to one choice per resource.

Pure module: no Django imports.

- Utilisation: ``percentile`` (95) of the hourly average CPU over the lookback window, and the max of
  the hourly maxima (the highest sample seen). Memory likewise when the resource reported memory.
- Required capacity: vCPU = current vCPU x p95/100 x ``headroom`` (1.2); memory = current memory x
  p95 memory/100 x headroom when memory was measured, else the current memory (never shrink memory
  without evidence).
- Candidates: instance types of the same region and OS (the caller passes that region's priced
  catalog), same architecture (cross-architecture, e.g. Graviton, only with
  ``allow_cross_architecture``, and flagged as migration effort), current generation (or the current
  family, whatever its generation), with a known price, no GPU, not bare metal, burstable (t*) only
  when the current type is burstable, fitting the required vCPU and memory. The cheapest wins; equal
  prices go to the closest shape (least relative excess of vCPU plus memory over the requirement),
  then the current family, then the name.
- Idle: max CPU below ``idle_max_cpu`` (2%) over the window: recommend stop.
- Too little data (fewer than ``min_hours`` hours with samples in the window): keep, say why.

Costs are monthly at the on-demand list price x 730 hours x the resource's average running instances
(1 for an instance, more for an Auto Scaling group), so current and new cost are on the same basis;
commitments are then re-optimised on the rightsized demand by the commitment chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

HOURS_PER_MONTH = Decimal(730)
KEEP, RESIZE, STOP = "keep", "resize", "stop"
_BURSTABLE = re.compile(r"^t\d+[a-z]*$")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class RightsizingPolicy:
    lookback_days: int = 14
    percentile: float = 95.0
    headroom: float = 1.2
    idle_max_cpu: float = 2.0
    min_hours: int = 24  # hours with samples needed before any recommendation
    allow_cross_architecture: bool = False
    current_generation_only: bool = True

    def __post_init__(self) -> None:
        if self.lookback_days < 1:
            raise ValueError(f"lookback_days must be >= 1, got {self.lookback_days}")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {self.percentile}")
        if self.headroom < 1:
            raise ValueError(f"headroom must be >= 1, got {self.headroom}")
        if not 0 <= self.idle_max_cpu < 100:
            raise ValueError(f"idle_max_cpu must be in [0, 100), got {self.idle_max_cpu}")


@dataclass(frozen=True)
class Shape:
    """A priced instance type of one region and OS."""

    instance_type: str
    family: str
    vcpu: int
    memory_gib: float
    architecture: str
    current_generation: bool
    hourly: Decimal  # on-demand, USD per hour
    gpu: int = 0
    bare_metal: bool = False


@dataclass(frozen=True)
class Utilization:
    hours: int  # hours with samples in the window
    p_cpu: float  # the policy's percentile of hourly average CPU
    max_cpu: float
    p_memory: float | None  # None: memory not measured


@dataclass(frozen=True)
class Resource:
    resource_id: str
    instance_type: str
    region: str
    operating_system: str = "linux"
    team: str = ""
    instances: float = 1.0  # average running instances over the window (Auto Scaling groups > 1)
    name: str = ""
    account: str = ""  # the sub account (AWS linked account) it ran in


@dataclass(frozen=True)
class Candidate:
    shape: Shape
    monthly_cost: Decimal
    excess: float  # relative excess over the requirement: the "closeness" tie-break
    migration_effort: bool


@dataclass(frozen=True)
class Decision:
    resource: Resource
    action: str  # keep | resize | stop
    recommended_type: str | None  # None for stop; the current type for keep
    reason: str
    utilization: Utilization | None
    current_monthly_cost: Decimal | None  # None when the current type has no known price
    new_monthly_cost: Decimal | None
    migration_effort: bool = False
    required_vcpu: float | None = None
    required_memory_gib: float | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)  # fitting, cheaper than now, best first

    @property
    def monthly_savings(self) -> Decimal | None:
        if self.current_monthly_cost is None or self.new_monthly_cost is None:
            return None
        return self.current_monthly_cost - self.new_monthly_cost


def monthly_cost(hourly: Decimal, instances: float) -> Decimal:
    """hourly x 730 x average instances, to the cent (rounded once, here)."""
    return (hourly * HOURS_PER_MONTH * Decimal(repr(float(instances)))).quantize(_CENT)


def is_burstable(family: str) -> bool:
    return bool(_BURSTABLE.match(family))


def utilization_from_hourly(hourly: pd.DataFrame, policy: RightsizingPolicy) -> Utilization | None:
    """One resource's hourly aggregates (metrics.HOUR_COLUMNS, already limited to the window)."""
    hourly = hourly[hourly["samples"] > 0]
    if hourly.empty:
        return None
    cpu = (hourly["cpu_sum"] / hourly["samples"]).to_numpy(dtype="float64")
    mem_rows = hourly[hourly["mem_samples"] > 0]
    p_memory = None
    if not mem_rows.empty:
        memory = (mem_rows["mem_sum"] / mem_rows["mem_samples"]).to_numpy(dtype="float64")
        p_memory = float(np.percentile(memory, policy.percentile))
    return Utilization(
        hours=len(hourly),
        p_cpu=float(np.percentile(cpu, policy.percentile)),
        max_cpu=float(hourly["cpu_max"].max()),
        p_memory=p_memory,
    )


def required_capacity(current: Shape, use: Utilization, policy: RightsizingPolicy) -> tuple[float, float]:
    """(vCPU, memory GiB) the workload needs, with headroom."""
    vcpu = current.vcpu * use.p_cpu / 100 * policy.headroom
    if use.p_memory is None:  # no evidence: never shrink memory
        return vcpu, current.memory_gib
    return vcpu, current.memory_gib * use.p_memory / 100 * policy.headroom


def _excess(shape: Shape, vcpu: float, memory: float) -> float:
    return (shape.vcpu - vcpu) / max(vcpu, 1e-9) + (shape.memory_gib - memory) / max(memory, 1e-9)


def candidates(
    current: Shape,
    catalog: Mapping[str, Shape],
    *,
    vcpu: float,
    memory: float,
    instances: float,
    policy: RightsizingPolicy,
) -> list[Candidate]:
    """Every eligible type of ``catalog`` (one region and OS) that fits, best first."""
    out = []
    burstable_ok = is_burstable(current.family)
    for shape in catalog.values():
        if shape.hourly <= 0 or shape.gpu or shape.bare_metal:
            continue
        # The current family stays eligible whatever its generation: shrinking within it is no regression
        # (moto's DescribeInstanceTypes data marks c5/m5/r5 previous generation).
        if policy.current_generation_only and not shape.current_generation and shape.family != current.family:
            continue
        cross = shape.architecture != current.architecture
        if cross and not policy.allow_cross_architecture:
            continue
        if cross and {shape.architecture, current.architecture} - {"x86_64", "arm64"}:
            continue  # mac and the like never cross
        if is_burstable(shape.family) and not burstable_ok:
            continue
        # A tiny tolerance so 4 x 50% x 1.2 = 2.4000000000000004 still fits 2.4.
        if shape.vcpu < vcpu - 1e-9 or shape.memory_gib < memory - 1e-9:
            continue
        out.append(
            Candidate(
                shape=shape,
                monthly_cost=monthly_cost(shape.hourly, instances),
                excess=_excess(shape, vcpu, memory),
                migration_effort=cross,
            )
        )
    out.sort(key=lambda c: preference(c, current))
    return out


def preference(candidate: Candidate, current: Shape) -> tuple:
    """Cheapest first; ties to the closest shape, then the current family, then the name."""
    return (
        candidate.shape.hourly,
        round(candidate.excess, 9),
        candidate.shape.family != current.family,
        candidate.shape.instance_type,
    )


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def recommend(
    resource: Resource,
    use: Utilization | None,
    catalog: Mapping[str, Shape],
    policy: RightsizingPolicy,
) -> Decision:
    """The policy's choice for one resource, with every cheaper fitting candidate (for the fleet model)."""
    current = catalog.get(resource.instance_type)
    current_cost = monthly_cost(current.hourly, resource.instances) if current else None

    def keep(reason: str, **extra) -> Decision:
        return Decision(resource, KEEP, resource.instance_type, reason, use, current_cost, current_cost, **extra)

    if use is None:
        return keep("no utilisation metrics in the window")
    if use.hours < policy.min_hours:
        return keep(f"only {use.hours} hour(s) of metrics in the window; {policy.min_hours} needed")
    if use.max_cpu < policy.idle_max_cpu:  # needs no price: an idle machine is stopped whatever it costs
        return Decision(
            resource,
            STOP,
            None,
            f"idle: max CPU {_pct(use.max_cpu)} < {_pct(policy.idle_max_cpu)} over {use.hours} h",
            use,
            current_cost,
            Decimal("0.00"),
        )
    if current is None:
        return keep(f"no known on-demand price or specs for {resource.instance_type} in {resource.region}")
    if current.gpu:
        return keep("GPU instance: outside the CPU/memory policy")
    vcpu, memory = required_capacity(current, use, policy)
    fitting = candidates(current, catalog, vcpu=vcpu, memory=memory, instances=resource.instances, policy=policy)
    cheaper = tuple(c for c in fitting if c.shape.hourly < current.hourly)
    needs = f"p{policy.percentile:g} CPU {_pct(use.p_cpu)} needs {vcpu:.2f} vCPU"
    needs += (
        f", p{policy.percentile:g} memory {_pct(use.p_memory)} needs {memory:.2f} GiB"
        if use.p_memory is not None
        else f", memory not measured: kept at {memory:g} GiB"
    )
    if not cheaper:
        if not any(c.shape.instance_type == current.instance_type for c in fitting) and vcpu > current.vcpu:
            return keep(
                f"under-provisioned: {needs} (has {current.vcpu})", required_vcpu=vcpu, required_memory_gib=memory
            )
        return keep(f"right-sized: {needs}; no cheaper type fits", required_vcpu=vcpu, required_memory_gib=memory)
    best = cheaper[0]
    effort = " (cross-architecture: migration effort)" if best.migration_effort else ""
    return Decision(
        resource,
        RESIZE,
        best.shape.instance_type,
        f"{needs}; {best.shape.instance_type} ({best.shape.vcpu} vCPU, {best.shape.memory_gib:g} GiB) "
        f"is the cheapest fit{effort}",
        use,
        current_cost,
        best.monthly_cost,
        migration_effort=best.migration_effort,
        required_vcpu=vcpu,
        required_memory_gib=memory,
        candidates=cheaper,
    )


def shape_from_spec(spec, hourly: Decimal) -> Shape:
    """A Shape from a pricing.specs.InstanceSpec (duck-typed to keep this module free of imports)."""
    return Shape(
        instance_type=spec.instance_type,
        family=spec.instance_family,
        vcpu=int(spec.vcpu),
        memory_gib=float(spec.memory_gib),
        architecture=spec.architecture,
        current_generation=bool(spec.current_generation),
        hourly=hourly,
        gpu=int(spec.gpu),
        bare_metal=bool(spec.bare_metal),
    )
