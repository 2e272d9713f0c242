"""Pure price arithmetic: effective hourly cost of an offer, savings, break-even, spot statistics.

No Django imports. Money stays Decimal; statistics over spot samples are floats (they are estimates).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

HOURS_PER_YEAR = Decimal(8760)


def effective_hourly(*, hourly: Decimal, upfront: Decimal, lease_years: int | None) -> Decimal:
    """Recurring hourly rate plus the upfront fee spread over every hour of the term."""
    if not upfront:
        return hourly
    if not lease_years:
        raise ValueError("an upfront fee needs a term to spread over")
    return hourly + upfront / (HOURS_PER_YEAR * lease_years)


def savings_vs_on_demand(*, effective: Decimal, on_demand: Decimal) -> Decimal | None:
    """Fraction saved per hour against on-demand (0.35 = 35%), None without an on-demand price."""
    if not on_demand:
        return None
    return (on_demand - effective) / on_demand


def break_even_month(*, hourly: Decimal, upfront: Decimal, on_demand: Decimal, lease_years: int | None) -> int | None:
    """First month (1-based) at whose end the commitment has cost no more than running on demand,
    for a resource running every hour. None if it never breaks even within the term."""
    if on_demand <= hourly:
        return None
    if not upfront:
        return 1
    if not lease_years:
        raise ValueError("an upfront fee needs a term")
    months = max(math.ceil(upfront / ((on_demand - hourly) * (HOURS_PER_YEAR / 12))), 1)
    return months if months <= lease_years * 12 else None


@dataclass(frozen=True)
class SpotStats:
    samples: int
    first: datetime
    last: datetime
    mean: float
    p95: float
    max: float
    volatility: float  # coefficient of variation of the sampled prices
    share_above_50pct_on_demand: float | None
    share_above_80pct_on_demand: float | None

    @property
    def interruption_risk(self) -> float | None:
        """A proxy the optimizer can cap: how often spot ran above 80% of on-demand (scarce capacity)."""
        return self.share_above_80pct_on_demand


def spot_stats(samples: list[tuple[datetime, Decimal]], on_demand: Decimal | None) -> SpotStats | None:
    """Time-weighted statistics of a spot price history: each price holds until the next sample."""
    if not samples:
        return None
    samples = sorted(samples)
    prices = [float(p) for _, p in samples]
    if len(samples) == 1:
        weights = [1.0]
    else:
        weights = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(samples)]
        # The last sample holds as long as the average interval (it has no successor).
        weights.append(sum(weights) / len(weights) if sum(weights) else 1.0)
        if sum(weights) == 0:
            weights = [1.0] * len(samples)
    total = sum(weights)
    mean = sum(p * w for p, w in zip(prices, weights, strict=True)) / total
    variance = sum(w * (p - mean) ** 2 for p, w in zip(prices, weights, strict=True)) / total
    ordered = sorted(zip(prices, weights, strict=True))
    cumulative, p95 = 0.0, ordered[-1][0]
    for price, weight in ordered:
        cumulative += weight
        if cumulative >= 0.95 * total:
            p95 = price
            break

    def share_above(fraction: float) -> float | None:
        if not on_demand:
            return None
        limit = float(on_demand) * fraction
        return sum(w for p, w in zip(prices, weights, strict=True) if p > limit) / total

    return SpotStats(
        samples=len(samples),
        first=samples[0][0],
        last=samples[-1][0],
        mean=mean,
        p95=p95,
        max=max(prices),
        volatility=math.sqrt(variance) / mean if mean else 0.0,
        share_above_50pct_on_demand=share_above(0.5),
        share_above_80pct_on_demand=share_above(0.8),
    )
