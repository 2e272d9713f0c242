"""Deterministic CloudWatch-shaped utilisation metrics for the demo organization's EC2 resources.

Pure module: no Django imports. ``generate_demo_metrics`` writes one gzipped CSV
``resource_id,timestamp,cpu_percent,memory_percent`` with 5-minute samples for every compute group of
``org.py`` over the ``days`` before ``end``: what a CloudWatch ``GetMetricData`` export of
``CPUUtilization`` (per instance, or per Auto Scaling group through the ``AutoScalingGroupName``
dimension) and the CloudWatch agent's ``mem_used_percent`` looks like. ``memory_percent`` is blank where
the agent is not installed.

Resource ids are the billing export's ``ResourceId``s (the instance id of a fixed instance, the Auto
Scaling group ARN of a fleet), so the metrics join the line items. Each group has a stated utilisation
story (``PROFILES``): some oversized, two idle, the rest right-sized or busy.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from finops.demo import org
from finops.demo.generator import resource_id

STEP_MINUTES = 5


@dataclass(frozen=True)
class Profile:
    """Per-instance utilisation of one compute group (percent)."""

    cpu_base: float  # the overnight level
    cpu_peak: float  # added at the local business-hours peak
    memory: float | None  # mean memory used; None = no CloudWatch agent (no memory metric)
    story: str
    idle: bool = False


# fmt: off
PROFILES: dict[str, Profile] = {
    "checkout-api": Profile(40, 30, 62, "right-sized: autoscaled at ~60% CPU"),
    "payments-worker": Profile(6, 8, 28, "oversized: queue worker mostly waiting"),
    "search-api": Profile(10, 12, 38, "oversized: r5.2xlarge with a third of its memory used"),
    "search-indexer": Profile(35, 40, 55, "right-sized batch"),
    "web-frontend": Profile(8, 10, None, "oversized: t3.xlarge at ~15%, no memory agent"),
    "web-frontend-eu": Profile(30, 35, None, "right-sized burstable"),
    "checkout-api-eu": Profile(42, 28, 60, "right-sized"),
    "eks-core": Profile(38, 20, 72, "right-sized nodes"),
    "eks-core-eu": Profile(12, 10, 30, "oversized: EU cluster built for a launch that did not come"),
    "staging-eks": Profile(4, 6, 25, "oversized staging"),
    "staging-web": Profile(5, 5, None, "oversized staging burstable"),
    "ci-runners": Profile(25, 60, 45, "busy in office hours"),
    "bastion": Profile(0.4, 6, None, "nearly idle jump host (logins spike it)"),
    "monitoring": Profile(12, 6, 78, "memory-bound: Prometheus"),
    "etl-workers": Profile(50, 35, 70, "right-sized batch"),
    "warehouse-loaders": Profile(7, 12, 20, "oversized loaders"),
    "kafka": Profile(30, 15, 76, "right-sized brokers"),
    "ml-training": Profile(70, 20, 60, "busy training"),
    "ml-inference": Profile(35, 30, 55, "right-sized"),
    "notebooks": Profile(3, 5, None, "oversized notebooks"),
    "adhoc-analysis": Profile(0.3, 0.6, 8, "idle: a forgotten analysis box", idle=True),
}
# fmt: on


def _bump(hour: np.ndarray, center: float, width: float) -> np.ndarray:
    distance = np.abs(hour - center)
    distance = np.minimum(distance, 24 - distance)
    return np.exp(-0.5 * (distance / width) ** 2)


def _series(profile: Profile, local_hour: np.ndarray, weekend: np.ndarray, rng: np.random.Generator):
    n = len(local_hour)
    if profile.idle:
        cpu = rng.uniform(profile.cpu_base * 0.5, profile.cpu_base + profile.cpu_peak, n)
    else:
        shape = _bump(local_hour, 14, 3.5) * np.where(weekend, 0.6, 1.0)
        cpu = (profile.cpu_base + profile.cpu_peak * shape) * rng.lognormal(0.0, 0.12, n)
        if profile.cpu_base < 1:  # a jump host: flat, with a few short login spikes
            cpu = profile.cpu_base * rng.lognormal(0.0, 0.3, n) + profile.cpu_peak * (rng.random(n) < 0.01)
    cpu = np.clip(cpu, 0.05, 100.0)
    memory = None
    if profile.memory is not None:  # memory follows load a little, with noise
        swing = 0.0 if profile.idle else 0.05 * profile.memory * _bump(local_hour, 14, 3.5)
        memory = np.clip(profile.memory + swing + rng.normal(0.0, 1.5, n), 1.0, 99.0)
    return cpu, memory


def generate_demo_metrics(
    out_path: Path, *, end: datetime, days: int = 15, seed: int = 20260101, step_minutes: int = STEP_MINUTES
) -> Path:
    """Write the demo's utilisation CSV (gzip) for the ``days`` before ``end`` (UTC, floored to the hour).

    Equal arguments give byte-identical files. Returns ``out_path``.
    """
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    if days < 1 or step_minutes < 1:
        raise ValueError("days and step_minutes must be >= 1")
    stop = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = stop - timedelta(days=days)
    times = np.arange(
        np.datetime64(start.replace(tzinfo=None), "s"),
        np.datetime64(stop.replace(tzinfo=None), "s"),
        np.timedelta64(step_minutes, "m"),
    )
    epoch = times.astype(np.int64)
    stamps = np.datetime_as_string(times, unit="s")
    offsets = {r.id: r.utc_offset for r in org.REGIONS}
    rng = np.random.default_rng(seed)
    lines = ["resource_id,timestamp,cpu_percent,memory_percent\n"]
    for group in org.COMPUTE_GROUPS:
        profile = PROFILES[group.name]
        local = epoch + offsets[group.region] * 3600
        local_hour = (local % 86400) / 3600
        weekend = ((local // 86400) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
        cpu, memory = _series(profile, local_hour, weekend, rng)
        rid = resource_id(group)
        mem_text = np.char.mod("%.2f", memory) if memory is not None else np.full(len(times), "")
        cpu_text = np.char.mod("%.2f", cpu)
        lines.extend(f"{rid},{stamp}Z,{c},{m}\n" for stamp, c, m in zip(stamps, cpu_text, mem_text, strict=True))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    # mtime=0: the gzip header carries no timestamp, so equal arguments give equal bytes.
    partial.write_bytes(gzip.compress("".join(lines).encode(), compresslevel=6, mtime=0))
    os.replace(partial, out_path)
    return out_path
