"""Deterministic FOCUS 1.2 billing export of the demo organization (``org.py``), as gzipped CSV: its AWS
billing accounts and its Azure enrollment, each as that provider's own FOCUS export would carry them.

Pure module: no Django imports. ``generate_demo_billing`` is the only entry point.

What the rows look like
-----------------------
- EC2: one row per fleet, hour and pricing split. A fleet's instance-hours follow a daily and a
  weekly cycle in its region's local time, grow 2-6% a month, and one fleet has a launch spike.
  Each hour, Reserved Instances cover matching type/region usage first, then the Savings Plan covers
  what is left (most discounted usage first, ties in fleet order), then the rest is on-demand.
  Spot fleets are priced at the spot level and never covered.
- Commitments follow the FOCUS spec's commitment-discount examples: covered usage rows have
  ``BilledCost`` 0 and ``EffectiveCost`` = the committed rate; the part of the commitment no usage
  consumed that hour is a Usage row with ``CommitmentDiscountStatus`` "Unused" (``BilledCost`` 0,
  ``EffectiveCost`` = the unused amount); one Purchase row per commitment and month
  (``ChargeFrequency`` "Recurring", no upfront) carries the ``BilledCost`` with ``EffectiveCost`` 0.
  So for every commitment and month: Purchase ``BilledCost`` == sum of ``EffectiveCost`` over its
  Used and Unused rows, and for every billing account and month: total ``BilledCost`` == total
  ``EffectiveCost``. In the month-to-date month the Purchase row covers the hours up to ``end``.
- Other services: one row per day per usage line (sub account, region, usage type, resource). A planted usage
  incident: ``org.INCIDENT_SERVICE``'s quantities double on the day ``org.INCIDENT_DAYS_BEFORE_END`` days before
  ``end`` (the anomaly the product should find, with that service and its table as the causes).
- Azure: one row per virtual machine scale set and day (Azure's cost exports are daily), pay-as-you-go, priced
  at the real retail meter; provider, publisher and invoice issuer "Microsoft", Azure resource ids, regions and
  meter ids. Drawn from a random stream of its own, so the AWS rows are the same with or without it.
- Credits: a few negative ``BilledCost``/``EffectiveCost`` rows. Tax: one row per sub account,
  service and month, on that month's billed cost.
- ``ListCost`` = ``ListUnitPrice`` x ``PricingQuantity`` on every Usage row, at on-demand list
  prices; ``ContractedUnitPrice`` = ``ListUnitPrice`` (no negotiated discount) except for spot,
  whose contracted price is the spot price. Purchase rows list the commitment fee at its own price
  (``ListCost`` = ``ContractedCost`` = ``BilledCost``), so savings against on-demand are
  ``ListCost - EffectiveCost`` over Usage rows only.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np

from finops.demo import focus_csv, org, prices

HOUR = 3600
DAY = 24 * HOUR
HOURS_PER_MONTH = 730.5
GZIP_LEVEL = 3  # 231 MB of CSV for the default window: level 3 is ~2x faster than 6 for 30% more bytes
# org.BillingAccount.provider -> (ProviderName, PublisherName, InvoiceIssuerName), as each provider's export has them.
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "AWS": ("AWS", "Amazon Web Services, Inc.", "Amazon Web Services, Inc."),
    "Microsoft": ("Microsoft", "Microsoft", "Microsoft"),
}
CURRENCY = "USD"
# The Azure rows' random stream: a child of the seed, independent of the AWS stream.
AZURE_STREAM = 1
# The on-demand offer/rate code suffix of the FOCUS sample's EC2 SkuPriceIds.
ONDEMAND_OFFER = "JRTCKXETXF.6YS6EN2CT7"


@dataclass(frozen=True)
class Window:
    """The generated period: whole months from ``start``, the last one month-to-date up to ``stop``."""

    month_starts: np.ndarray  # datetime64[s], months + 1 boundaries (the last is the month after)
    stop: np.datetime64  # exclusive

    @classmethod
    def ending(cls, end: date, months: int) -> Window:
        last = np.datetime64(f"{end.year:04d}-{end.month:02d}", "M")
        bounds = np.arange(last - (months - 1), last + 2).astype("datetime64[s]")
        return cls(bounds, np.datetime64(end.isoformat(), "s"))

    @property
    def start(self) -> np.datetime64:
        return self.month_starts[0]

    def hours(self) -> np.ndarray:
        return np.arange(self.start, self.stop, np.timedelta64(1, "h")).astype("datetime64[s]")

    def days(self) -> np.ndarray:
        return np.arange(self.start, self.stop, np.timedelta64(1, "D")).astype("datetime64[s]")

    def month_of(self, times: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.month_starts, times, side="right") - 1

    def month_span(self, month: int) -> tuple[np.datetime64, np.datetime64]:
        """[start, end) of a month, the month-to-date month ending at ``stop``."""
        return self.month_starts[month], min(self.month_starts[month + 1], self.stop)


def generate_demo_billing(out_dir: Path, *, end: date, months: int = 13, seed: int = 20260101) -> list[Path]:
    """Write the demo organization's FOCUS billing export to ``out_dir`` and return the files.

    One gzipped CSV per (billing account, billing month) for the ``months`` calendar months ending
    with the month containing ``end``; that last month runs up to ``end`` (exclusive), so when ``end``
    is the first of a month that month has no charges and gets no file. Paths come sorted by billing
    account, then month. Equal arguments give byte-identical files.
    """
    if isinstance(end, datetime) or not isinstance(end, date):
        raise TypeError(f"end must be a datetime.date, not {type(end).__name__}")
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValueError(f"months must be a positive integer, got {months!r}")
    window = Window.ending(end, months)
    if window.stop <= window.start:  # one month, and end is its first day: nothing to bill yet
        return []
    rows = _build(window, np.random.default_rng(seed), np.random.default_rng([seed, AZURE_STREAM]))
    return _write(rows, window, Path(out_dir))


# --------------------------------------------------------------------------------------------
# Usage shapes


def _bump(hour: np.ndarray, center: float, width: float) -> np.ndarray:
    distance = np.abs(hour - center)
    distance = np.minimum(distance, 24 - distance)
    return np.exp(-0.5 * (distance / width) ** 2)


def _profile(name: str, hour: np.ndarray, weekend: np.ndarray, daily_jobs: np.ndarray) -> np.ndarray:
    """Relative load by local hour of day and weekend flag (normalised by the caller)."""
    if name == "api":
        shape = (0.5 + 0.5 * _bump(hour, 13, 3.5)) * np.where(weekend, 0.7, 1.0)
    elif name == "web":
        shape = (0.55 + 0.45 * _bump(hour, 14, 4)) * np.where(weekend, 0.75, 1.0)
    elif name == "platform":
        shape = (0.85 + 0.15 * _bump(hour, 14, 4)) * np.where(weekend, 0.9, 1.0)
    elif name == "batch":
        shape = (0.45 + 0.9 * _bump(hour, 3, 1.8)) * np.where(weekend, 0.85, 1.0)
    elif name == "ci":
        shape = np.where(weekend, 0.08, 0.1 + 0.9 * _bump(hour, 14, 3))
    elif name == "dev":
        shape = np.where(weekend, 0.3, 0.35 + 0.65 * _bump(hour, 14, 3.2))
    elif name == "steady":
        shape = np.where(weekend, 0.97, 1.0) + 0.0 * hour
    elif name == "training":
        shape = daily_jobs * (0.9 + 0.1 * _bump(hour, 15, 5)) * np.where(weekend, 0.8, 1.0)
    else:
        raise ValueError(f"unknown usage profile {name!r}")
    return shape


def _local(times: np.ndarray, utc_offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local hour of day, weekend flag and local day number of UTC epoch-second times."""
    local = times.astype(np.int64) + utc_offset * HOUR
    day = local // DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return (local % DAY) / HOUR, weekday >= 5, day


def _ramp(t: np.ndarray, start: float, length: float) -> np.ndarray:
    return np.clip((t - start) / length, 0.0, 1.0)


def _instance_hours(
    window: Window, rng: np.random.Generator, groups: tuple[org.ComputeGroup, ...] = org.COMPUTE_GROUPS
) -> np.ndarray:
    """(groups, hours) running instances per hour, in thousandths (exact integer arithmetic)."""
    times = window.hours()
    t = (times - window.start).astype(np.int64) / HOUR
    n_days = int(np.ceil(len(times) / 24)) + 2
    launch_month = (2 * (len(window.month_starts) - 1)) // 3
    launch_start = (window.month_starts[launch_month] - window.start).astype(np.int64) / HOUR + (
        org.LAUNCH_DAY - 1
    ) * 24
    launch_end = launch_start + org.LAUNCH_DAYS * 24
    regions = {r.id: r for r in org.REGIONS}
    out = np.zeros((len(groups), len(times)), dtype=np.int64)
    for g, group in enumerate(groups):
        # Draw every group's noise, used or not, so one group's shape never shifts another's.
        hourly_noise = rng.lognormal(0.0, 0.04, len(times))
        daily_noise = rng.lognormal(0.0, 0.05, n_days)
        jobs = np.convolve(rng.uniform(0.2, 1.8, n_days + 2), np.ones(3) / 3, mode="valid")
        if group.fixed:
            out[g] = round(group.base_count * 1000)
            continue
        hour, weekend, day = _local(times, regions[group.region].utc_offset)
        day = day - day[0]
        shape = _profile(group.profile, hour, weekend, jobs[day])
        shape = shape / shape.mean()
        count = group.base_count * shape * (1 + group.growth) ** (t / HOURS_PER_MONTH)
        count *= hourly_noise * daily_noise[day]
        if group.start_month:
            month_start = window.month_starts[min(group.start_month, len(window.month_starts) - 1)] - window.start
            count *= _ramp(t, month_start.astype(np.int64) / HOUR, 7 * 24)
        if group.name == org.LAUNCH_GROUP:
            edge = np.minimum(t - launch_start, launch_end - t)
            count *= 1 + (org.LAUNCH_FACTOR - 1) * np.clip(edge / 6, 0.0, 1.0)
        out[g] = np.rint(count * 1000).astype(np.int64)
    return out


def _daily_quantity(line: org.UsageLine, days: np.ndarray, window: Window, rng: np.random.Generator) -> np.ndarray:
    noise = {"storage": 0.004, "traffic": 0.06, "batch": 0.10, "fixed": 0.0}[line.pattern]
    draws = rng.lognormal(0.0, noise, len(days)) if noise else np.ones(len(days))
    if line.pattern == "fixed":  # line.monthly_quantity resources running all day
        return np.full(len(days), line.monthly_quantity * 24.0)
    month = window.month_of(days)
    days_in_month = (window.month_starts[month + 1] - window.month_starts[month]).astype(np.int64) / DAY
    t = (days - window.start).astype(np.int64) / HOUR
    qty = line.monthly_quantity / days_in_month * (1 + line.growth) ** (t / HOURS_PER_MONTH) * draws
    if line.pattern != "storage":
        offset = {r.id: r.utc_offset for r in org.REGIONS}[line.region]
        _, weekend, _ = _local(days + np.timedelta64(12, "h"), offset)
        qty = qty * np.where(weekend, 0.7 if line.pattern == "traffic" else 0.9, 1.0)
    return qty


# --------------------------------------------------------------------------------------------
# Identity helpers: stable, seed-independent ids (the seed changes numbers, not names)


def _hex(*parts: str, n: int = 17) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:n]


def _code(*parts: str, n: int = 16) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def _price_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.00"


def _tags(tags: dict[str, str]) -> str | None:
    return json.dumps(tags, sort_keys=True) if tags else None


# --------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class _Context:
    window: Window
    accounts: dict[str, org.SubAccount]
    billing: dict[str, org.BillingAccount]
    regions: dict[str, org.Region]


def _account_columns(ctx: _Context, sub_account: str) -> dict[str, str | None]:
    sub = ctx.accounts[sub_account]
    provider, publisher, issuer = PROVIDERS[ctx.billing[sub.billing_account].provider]
    return {
        "BillingAccountId": sub.billing_account,
        "BillingAccountName": ctx.billing[sub.billing_account].name,
        "SubAccountId": sub.id,
        "SubAccountName": sub.name,
        "BillingCurrency": CURRENCY,
        "ProviderName": provider,
        "PublisherName": publisher,
        "InvoiceIssuerName": issuer,
    }


def _service_columns(name: str) -> dict[str, str | None]:
    service = org.SERVICES[name]
    return {
        "ServiceName": service.name,
        "ServiceCategory": service.category,
        "ServiceSubcategory": service.subcategory,
    }


def _region_columns(ctx: _Context, region: str | None) -> dict[str, str | None]:
    if region is None:
        return {"RegionId": None, "RegionName": None}
    return {"RegionId": region, "RegionName": ctx.regions[region].name}


@dataclass(frozen=True)
class _Fleet:
    group: org.ComputeGroup
    ondemand: float
    columns: dict[str, str | None]  # everything a usage row of this fleet shares


def resource_id(group: org.ComputeGroup) -> str:
    """The ``ResourceId`` of a compute group's rows: an instance id, or its Auto Scaling group ARN (the demo
    metrics generator names its resources with it too)."""
    account = group.sub_account
    if group.fixed:
        return f"i-0{_hex(account, group.name, n=16)}"
    uuid = _hex(account, group.name, n=32)
    uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
    return f"arn:aws:autoscaling:{group.region}:{account}:autoScalingGroup:{uuid}:autoScalingGroupName/{group.name}"


def _fleet(ctx: _Context, group: org.ComputeGroup) -> _Fleet:
    od = prices.ec2_ondemand().get((group.instance_type, group.region))
    if od is None:
        raise ValueError(f"no real on-demand price for {group.instance_type} in {group.region}")
    account = group.sub_account
    if group.fixed:
        resource_type, zone = "instance", f"{group.region}a"
    else:
        resource_type, zone = "Auto Scaling Group", None
    columns = {
        **_account_columns(ctx, account),
        **_service_columns(org.EC2),
        **_region_columns(ctx, group.region),
        "AvailabilityZone": zone,
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "PricingUnit": "Hours",
        "ConsumedUnit": "Hours",
        "ResourceId": resource_id(group),
        "ResourceName": group.name,
        "ResourceType": resource_type,
        "SkuId": _code("ec2", group.instance_type, group.region),
        "Tags": _tags(group.tags),
        "x_InstanceType": group.instance_type,
    }
    return _Fleet(group, float(od), columns)


def _commitment_rate(commitment_offer: str, itype: str, region: str) -> Decimal:
    """Effective hourly commitment rate for one instance type: on-demand x the real discount ratio."""
    od = prices.ec2_ondemand()[(itype, region)]
    return (od * prices.commitment_ratios()[(commitment_offer, region)]).quantize(Decimal("0.000001"))


def _commitment_columns(ctx: _Context, c: org.Commitment) -> dict[str, str | None]:
    return {
        "CommitmentDiscountId": c.id,
        "CommitmentDiscountName": c.name,
        "CommitmentDiscountType": "Savings Plan" if c.is_savings_plan else "Reserved Instance",
        "CommitmentDiscountCategory": "Spend" if c.is_savings_plan else "Usage",
        "CommitmentDiscountUnit": "USD" if c.is_savings_plan else "Hours",
    }


def _active_hours(window: Window, c: org.Commitment, times: np.ndarray) -> np.ndarray:
    """Boolean mask of the hours a commitment is in force."""
    month = window.month_of(times)
    return (month >= c.start_month) & (month < c.start_month + c.term_months)


class Emit(Protocol):
    """Add the rows of ``line`` for the hours in ``mask`` where the integer ``amount`` is positive."""

    def __call__(
        self, line: int, mask: np.ndarray, amount: np.ndarray, **numbers: np.ndarray | float | None
    ) -> None: ...


def _compute_rows(ctx: _Context, rows: focus_csv.Rows, rng: np.random.Generator) -> None:
    window = ctx.window
    times = window.hours()
    start = times.astype(np.int64)
    end = start + HOUR
    quantity = _instance_hours(window, rng)  # thousandths of instance-hours
    fleets = [_fleet(ctx, g) for g in org.COMPUTE_GROUPS]

    def emit(line: int, mask: np.ndarray, amount: np.ndarray, **numbers: np.ndarray | float | None) -> None:
        keep = mask & (amount > 0)
        if keep.any():
            rows.add(line, start[keep], end[keep], **{k: _at(v, keep) for k, v in numbers.items()})

    remaining = quantity.copy()
    everywhere = np.ones(len(times), dtype=bool)
    for g, fleet in enumerate(fleets):
        if fleet.group.spot:
            ratio = prices.spot_ratios()[(fleet.group.instance_type, fleet.group.region)]
            spot = float((Decimal(str(fleet.ondemand)) * ratio).quantize(Decimal("0.000001")))
            region_name = ctx.regions[fleet.group.region].name
            line = rows.line(
                fleet.columns
                | {
                    "PricingCategory": "Dynamic",
                    "ChargeDescription": f"${_price_text(Decimal(str(spot)))} per Linux/UNIX Spot "
                    f"Instance-hour for {fleet.group.instance_type} in {region_name}",
                    "SkuPriceId": None,
                }
            )
            q = remaining[g] / 1000
            cost = q * spot
            emit(
                line,
                everywhere,
                remaining[g],
                PricingQuantity=q,
                ConsumedQuantity=q,
                ListUnitPrice=fleet.ondemand,
                ContractedUnitPrice=spot,
                ListCost=q * fleet.ondemand,
                ContractedCost=cost,
                BilledCost=cost,
                EffectiveCost=cost,
            )
            remaining[g] = 0

    for c in org.COMMITMENTS:
        active = _active_hours(window, c, times)
        if not active.any():
            continue
        eligible = [
            g
            for g, f in enumerate(fleets)
            if not f.group.spot
            and ctx.accounts[f.group.sub_account].billing_account == c.billing_account
            and (c.is_savings_plan or (f.group.instance_type, f.group.region) == (c.instance_type, c.region))
        ]
        if c.is_savings_plan:
            _savings_plan(ctx, rows, c, fleets, eligible, remaining, active, emit)
        else:
            _reserved_instance(ctx, rows, c, fleets, eligible, remaining, active, emit)

    for g, fleet in enumerate(fleets):
        od_text = _price_text(Decimal(str(fleet.ondemand)))
        itype = fleet.group.instance_type
        line = rows.line(
            fleet.columns
            | {
                "PricingCategory": "Standard",
                "ChargeDescription": f"${od_text} per On Demand Linux {itype} Instance Hour",
                "SkuPriceId": f"{fleet.columns['SkuId']}.{ONDEMAND_OFFER}",
            }
        )
        q = remaining[g] / 1000
        cost = q * fleet.ondemand
        emit(
            line,
            everywhere,
            remaining[g],
            PricingQuantity=q,
            ConsumedQuantity=q,
            ListUnitPrice=fleet.ondemand,
            ContractedUnitPrice=fleet.ondemand,
            ListCost=cost,
            ContractedCost=cost,
            BilledCost=cost,
            EffectiveCost=cost,
        )


def _at(value: np.ndarray | float | None, keep: np.ndarray) -> np.ndarray | float | None:
    return value[keep] if isinstance(value, np.ndarray) else value


def _covered_columns(fleet: _Fleet, c: org.Commitment, ctx: _Context, description: str) -> dict[str, str | None]:
    return (
        fleet.columns
        | _commitment_columns(ctx, c)
        | {
            "PricingCategory": "Committed",
            "CommitmentDiscountStatus": "Used",
            "ChargeDescription": description,
            "SkuPriceId": f"{fleet.columns['SkuId']}.{_code(c.offer, n=10)}",
        }
    )


def _unused_columns(ctx: _Context, c: org.Commitment, unit: str, description: str) -> dict[str, str | None]:
    service = org.SAVINGS_PLANS if c.is_savings_plan else org.EC2
    return {
        **_account_columns(ctx, c.sub_account),
        **_service_columns(service),
        **_region_columns(ctx, None if c.is_savings_plan else c.region),
        **_commitment_columns(ctx, c),
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Committed",
        "CommitmentDiscountStatus": "Unused",
        "ChargeDescription": description,
        "PricingUnit": unit,
        "ResourceId": c.id,
        "ResourceName": c.name,
        "ResourceType": "Savings Plan" if c.is_savings_plan else "Reserved Instance",
        "SkuId": _code("commitment", c.offer, c.instance_type, c.region),
        "x_InstanceType": c.instance_type or None,
    }


def _reserved_instance(
    ctx: _Context,
    rows: focus_csv.Rows,
    c: org.Commitment,
    fleets: list[_Fleet],
    eligible: list[int],
    remaining: np.ndarray,
    active: np.ndarray,
    emit: Emit,
) -> None:
    rate = float(_commitment_rate(c.offer, c.instance_type, c.region))
    od = float(prices.ec2_ondemand()[(c.instance_type, c.region)])
    capacity = np.where(active, c.count * 1000, 0).astype(np.int64)
    for g in eligible:
        covered = np.minimum(remaining[g], capacity)
        capacity -= covered
        remaining[g] -= covered
        line = rows.line(
            _covered_columns(
                fleets[g],
                c,
                ctx,
                f"USD 0.0 per Linux/UNIX (Amazon VPC), {c.instance_type} reserved instance applied",
            )
        )
        q = covered / 1000
        emit(
            line,
            active,
            covered,
            PricingQuantity=q,
            ConsumedQuantity=q,
            ListUnitPrice=od,
            ContractedUnitPrice=od,
            ListCost=q * od,
            ContractedCost=q * od,
            BilledCost=0.0,
            EffectiveCost=q * rate,
            CommitmentDiscountQuantity=q,
        )
    region_name = ctx.regions[c.region].name
    line = rows.line(
        _unused_columns(
            ctx, c, "Hours", f"Unused reservation: Linux/UNIX (Amazon VPC), {c.instance_type}, {region_name}"
        )
    )
    q = capacity / 1000
    emit(
        line,
        active,
        capacity,
        PricingQuantity=q,
        ListUnitPrice=od,
        ContractedUnitPrice=od,
        ListCost=q * od,
        ContractedCost=q * od,
        BilledCost=0.0,
        EffectiveCost=q * rate,
        CommitmentDiscountQuantity=q,
    )


def _savings_plan(
    ctx: _Context,
    rows: focus_csv.Rows,
    c: org.Commitment,
    fleets: list[_Fleet],
    eligible: list[int],
    remaining: np.ndarray,
    active: np.ndarray,
    emit: Emit,
) -> None:
    commitment = float(c.hourly_commitment)
    budget = np.where(active, commitment, 0.0)
    used = np.zeros_like(budget)
    sp_rates = {
        g: float(_commitment_rate(c.offer, fleets[g].group.instance_type, fleets[g].group.region)) for g in eligible
    }
    # AWS applies a Savings Plan to the usage with the highest discount first; ties in fleet order.
    order = sorted(eligible, key=lambda g: (sp_rates[g] / fleets[g].ondemand, g))
    for g in order:
        rate, od = sp_rates[g], fleets[g].ondemand
        available = budget - used
        whole = remaining[g] * rate / 1000 <= available + 1e-12
        partial = np.floor(np.maximum(available, 0.0) / rate * 1000 + 1e-9).astype(np.int64)
        covered = np.where(active, np.minimum(np.where(whole, remaining[g], partial), remaining[g]), 0)
        # The fleet that exhausts the commitment takes all of what is left (not a thousandth-hour
        # rounded part of it), so no sub-cent "unused" remainders appear in hours the plan is full.
        cost = np.where(
            whole | (covered == 0),
            np.round(covered * rate / 1000, focus_csv.SCALE),
            np.round(available, focus_csv.SCALE),
        )
        used += cost
        remaining[g] -= covered
        line = rows.line(
            _covered_columns(
                fleets[g],
                c,
                ctx,
                f"${_price_text(Decimal(str(rate)))} per Linux {fleets[g].group.instance_type} Instance Hour "
                "covered by a Compute Savings Plan",
            )
        )
        q = covered / 1000
        emit(
            line,
            active,
            covered,
            PricingQuantity=q,
            ConsumedQuantity=q,
            ListUnitPrice=od,
            ContractedUnitPrice=od,
            ListCost=q * od,
            ContractedCost=q * od,
            BilledCost=0.0,
            EffectiveCost=cost,
            CommitmentDiscountQuantity=cost,
        )
    unused = np.round(budget - used, focus_csv.SCALE)
    line = rows.line(_unused_columns(ctx, c, "USD", "Unused Compute Savings Plan commitment"))
    nano_usd = np.rint(unused * 1e9).astype(np.int64)  # > 0 where any commitment is left
    emit(
        line,
        active,
        nano_usd,
        PricingQuantity=unused,
        ListUnitPrice=1.0,
        ContractedUnitPrice=1.0,
        ListCost=unused,
        ContractedCost=unused,
        BilledCost=0.0,
        EffectiveCost=unused,
        CommitmentDiscountQuantity=unused,
    )


def _purchase_rows(ctx: _Context, rows: focus_csv.Rows) -> None:
    window = ctx.window
    for c in org.COMMITMENTS:
        if c.is_savings_plan:
            rate = Decimal(c.hourly_commitment)
            unit, service = "USD", org.SAVINGS_PLANS
            description = f"1 year No Upfront Compute Savings Plan, ${_price_text(rate)} per hour"
        else:
            rate = _commitment_rate(c.offer, c.instance_type, c.region)
            unit, service = "Hours", org.EC2
            term = "3 year" if c.term_months == 36 else "1 year"
            description = (
                f"USD {_price_text(rate)} hourly fee per Linux/UNIX (Amazon VPC), {c.instance_type} instance "
                f"({term} Standard No Upfront Reserved Instance x{c.count})"
            )
        sku = _code("commitment", c.offer, c.instance_type, c.region)
        line = rows.line(
            {
                **_account_columns(ctx, c.sub_account),
                **_service_columns(service),
                **_region_columns(ctx, None if c.is_savings_plan else c.region),
                **_commitment_columns(ctx, c),
                "ChargeCategory": "Purchase",
                "ChargeFrequency": "Recurring",
                "PricingCategory": "Standard",
                "ChargeDescription": description,
                "PricingUnit": unit,
                "ResourceId": c.id,
                "ResourceName": c.name,
                "ResourceType": "Savings Plan" if c.is_savings_plan else "Reserved Instance",
                "SkuId": sku,
                "SkuPriceId": f"{sku}.{_code(c.offer, n=10)}",
                "x_InstanceType": c.instance_type or None,
            }
        )
        for month in range(max(c.start_month, 0), min(c.start_month + c.term_months, len(window.month_starts) - 1)):
            begin, finish = window.month_span(month)
            hours = int((finish - begin).astype(np.int64) // HOUR)
            if hours <= 0:
                continue
            # Per hour: the RI count or the Savings Plan's dollars, at the hourly rate.
            quantity = Decimal(hours) * (Decimal(c.count) if not c.is_savings_plan else rate)
            unit_price = rate if not c.is_savings_plan else Decimal(1)
            billed = float(quantity * unit_price)
            rows.add(
                line,
                np.array([begin.astype(np.int64)]),
                np.array([finish.astype(np.int64)]),
                PricingQuantity=float(quantity),
                ListUnitPrice=float(unit_price),
                ContractedUnitPrice=float(unit_price),
                ListCost=billed,
                ContractedCost=billed,
                BilledCost=billed,
                EffectiveCost=0.0,
                CommitmentDiscountQuantity=float(quantity),
            )


def _service_rows(ctx: _Context, rows: focus_csv.Rows, rng: np.random.Generator) -> None:
    window = ctx.window
    days = window.days()
    start = days.astype(np.int64)
    incident = days == window.stop - np.timedelta64(org.INCIDENT_DAYS_BEFORE_END, "D")
    for usage in org.USAGE_LINES:
        rate = prices.service_rates().get((usage.rate, usage.region))
        if rate is None:
            raise ValueError(f"no price for {usage.rate} in {usage.region}")
        use = org.RATE_USES[usage.rate]
        qty = _daily_quantity(usage, days, window, rng)
        if use.service == org.INCIDENT_SERVICE:
            qty = np.where(incident, qty * org.INCIDENT_FACTOR, qty)
        qty = np.round(qty, use.decimals)
        price = float(rate.list_unit_price)
        account = usage.sub_account
        resource = {"ResourceId": None, "ResourceName": None, "ResourceType": None}
        if use.resource_type:
            name = usage.resource or usage.rate
            arn = use.arn.format(region=usage.region, account=account, name=name, hex=_hex(account, name, n=13))
            resource = {"ResourceId": arn, "ResourceName": name, "ResourceType": use.resource_type}
        line = rows.line(
            {
                **_account_columns(ctx, account),
                **_service_columns(use.service),
                **_region_columns(ctx, usage.region),
                **resource,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "PricingCategory": "Standard",
                "ChargeDescription": rate.charge_description,
                "PricingUnit": rate.pricing_unit,
                "ConsumedUnit": rate.pricing_unit,
                "SkuId": rate.sku_id or _code("sku", usage.rate, usage.region),
                "SkuPriceId": rate.sku_price_id or f"{_code('sku', usage.rate, usage.region)}.{ONDEMAND_OFFER}",
                "Tags": _tags(usage.tags),
            }
        )
        cost = qty * price
        keep = qty > 0
        rows.add(
            line,
            start[keep],
            start[keep] + DAY,
            PricingQuantity=qty[keep],
            ConsumedQuantity=qty[keep],
            ListUnitPrice=price,
            ContractedUnitPrice=price,
            ListCost=cost[keep],
            ContractedCost=cost[keep],
            BilledCost=cost[keep],
            EffectiveCost=cost[keep],
        )


def _credit_rows(ctx: _Context, rows: focus_csv.Rows) -> None:
    window = ctx.window
    n_months = len(window.month_starts) - 1
    for credit in org.CREDITS:
        month = credit.month if credit.month >= 0 else n_months + credit.month
        if not 0 <= month < n_months:
            continue
        day = window.month_starts[month] + np.timedelta64(credit.day - 1, "D")
        if day + np.timedelta64(1, "D") > window.stop:
            continue
        line = rows.line(
            {
                **_account_columns(ctx, credit.sub_account),
                **_service_columns(credit.service),
                "ChargeCategory": "Credit",
                "ChargeFrequency": "One-Time",
                "PricingCategory": "Other",
                "ChargeDescription": credit.description,
            }
        )
        amount = -float(credit.amount)
        begin = day.astype(np.int64)
        rows.add(
            line,
            np.array([begin]),
            np.array([begin + DAY]),
            ListCost=amount,
            ContractedCost=amount,
            BilledCost=amount,
            EffectiveCost=amount,
        )


def _tax_rows(ctx: _Context, rows: focus_csv.Rows) -> None:
    """Sales tax per sub account, service and month on the month's billed cost (credits included)."""
    window = ctx.window
    columns = rows.columns()
    keys = sorted({(line["SubAccountId"], line["ServiceName"]) for line in rows.lines})
    key_of_line = np.array([keys.index((line["SubAccountId"], line["ServiceName"])) for line in rows.lines])
    n_months = len(window.month_starts) - 1
    group = key_of_line[columns["line"]] * n_months + window.month_of(columns["start"].astype("datetime64[s]"))
    billed = np.bincount(
        group, weights=np.round(columns["BilledCost"], focus_csv.SCALE), minlength=len(keys) * n_months
    )
    present = np.bincount(group, minlength=len(keys) * n_months) > 0
    tax_lines: dict[tuple[str, str], int] = {}
    for index in np.flatnonzero(present):
        (sub_account, service), m = keys[index // n_months], int(index % n_months)
        base = Decimal(str(round(float(billed[index]), 6)))
        tax_rate = Decimal(ctx.billing[ctx.accounts[sub_account].billing_account].tax_rate)
        tax = (base * tax_rate).quantize(Decimal("0.01"))
        if tax <= 0:
            continue
        begin, finish = window.month_span(m)
        if (sub_account, service) not in tax_lines:
            tax_lines[(sub_account, service)] = rows.line(
                {
                    **_account_columns(ctx, sub_account),
                    **_service_columns(service),
                    "ChargeCategory": "Tax",
                    "ChargeFrequency": "Recurring",
                    "ChargeDescription": f"Sales tax for {service} at {tax_rate * 100:.2f}%",
                }
            )
        line = tax_lines[(sub_account, service)]
        amount = float(tax)
        rows.add(
            line,
            np.array([begin.astype(np.int64)]),
            np.array([finish.astype(np.int64)]),
            ListCost=amount,
            ContractedCost=amount,
            BilledCost=amount,
            EffectiveCost=amount,
        )


def _azure_rows(ctx: _Context, rows: focus_csv.Rows, rng: np.random.Generator) -> None:
    """One row per Azure scale set and day: the day's instance-hours at the pay-as-you-go meter's price."""
    window = ctx.window
    hourly = _instance_hours(window, rng, org.AZURE_VM_GROUPS)
    days = window.days()
    day_of_hour = ((window.hours() - window.start).astype(np.int64) // DAY).astype(np.int64)
    start = days.astype(np.int64)
    for g, group in enumerate(org.AZURE_VM_GROUPS):
        meter = prices.azure_vm_ondemand().get((group.instance_type, group.region))
        if meter is None:
            raise ValueError(f"no real pay-as-you-go price for {group.instance_type} in {group.region}")
        daily = np.bincount(day_of_hour, weights=hourly[g], minlength=len(days)).astype(np.int64)  # thousandths
        resource_group = f"rg-{group.tags.get('app', group.name)}"
        line = rows.line(
            {
                **_account_columns(ctx, group.sub_account),
                **_service_columns(org.AZURE_VM),
                **_region_columns(ctx, group.region),
                "AvailabilityZone": None,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": f"{meter.product_name} - {meter.meter_name}",
                "PricingCategory": "Standard",
                "PricingUnit": "Hours",
                "ConsumedUnit": "Hours",
                "ResourceId": f"/subscriptions/{group.sub_account}/resourceGroups/{resource_group}/providers/"
                f"Microsoft.Compute/virtualMachineScaleSets/{group.name}",
                "ResourceName": group.name,
                "ResourceType": "Virtual machine scale set",
                "SkuId": meter.sku_id,
                "SkuPriceId": meter.meter_id,
                "Tags": _tags(group.tags),
                "x_InstanceType": group.instance_type,
            }
        )
        keep = daily > 0
        q = daily[keep] / 1000
        price = float(meter.usd_per_hour)
        cost = q * price
        rows.add(
            line,
            start[keep],
            start[keep] + DAY,
            PricingQuantity=q,
            ConsumedQuantity=q,
            ListUnitPrice=price,
            ContractedUnitPrice=price,
            ListCost=cost,
            ContractedCost=cost,
            BilledCost=cost,
            EffectiveCost=cost,
        )


def _build(window: Window, rng: np.random.Generator, azure_rng: np.random.Generator) -> focus_csv.Rows:
    ctx = _Context(
        window=window,
        accounts={s.id: s for s in org.SUB_ACCOUNTS},
        billing={b.id: b for b in org.BILLING_ACCOUNTS},
        regions={r.id: r for r in org.REGIONS},
    )
    rows = focus_csv.Rows()
    _compute_rows(ctx, rows, rng)
    _purchase_rows(ctx, rows)
    _service_rows(ctx, rows, rng)
    _credit_rows(ctx, rows)
    _azure_rows(ctx, rows, azure_rng)
    _tax_rows(ctx, rows)
    return rows


# --------------------------------------------------------------------------------------------
# Files


def _write(rows: focus_csv.Rows, window: Window, out_dir: Path) -> list[Path]:
    columns = rows.columns()
    account_ids = sorted(b.id for b in org.BILLING_ACCOUNTS)
    account_of_line = np.array([account_ids.index(line["BillingAccountId"]) for line in rows.lines], dtype=np.int64)
    account = account_of_line[columns["line"]]
    month = window.month_of(columns["start"].astype("datetime64[s]"))
    order = np.lexsort((columns["line"], columns["start"], month, account))
    columns = {k: v[order] for k, v in columns.items()}
    account, month = account[order], month[order]
    month_bounds = window.month_starts.astype(np.int64)
    rendered_lines = focus_csv.render_lines(rows.lines)

    files: list[tuple[Path, int, int]] = []
    key = account * (len(month_bounds) + 1) + month
    cuts = np.flatnonzero(np.diff(key)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(key)], strict=True):
        first_month = np.datetime64(window.month_starts[month[lo]], "M")
        files.append((out_dir / f"focus_{account_ids[account[lo]]}_{first_month}.csv.gz", int(lo), int(hi)))

    out_dir.mkdir(parents=True, exist_ok=True)
    head = focus_csv.header()

    def write(item: tuple[Path, int, int]) -> Path:
        """Render, compress and write one file (one billing account and month, rows lo:hi)."""
        path, lo, hi = item
        part = {k: v[lo:hi] for k, v in columns.items()}
        billing = np.stack([month_bounds[month[lo:hi]], month_bounds[month[lo:hi] + 1]], axis=1)
        data = focus_csv.gzip_bytes(head + focus_csv.csv_lines(part, rendered_lines, billing), GZIP_LEVEL)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, path)
        return path

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(write, files))
