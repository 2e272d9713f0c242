"""Hourly compute demand per SKU from FOCUS compute line items, net of existing commitments.

Pure module: no Django. Input is a DataFrame of usage rows with the snake_case column names of
``finops.usage.models.LineItem`` (or FOCUS column names: see :func:`from_focus`).

What counts as demand: every compute usage row whatever paid for it today (on-demand, reserved,
savings plan, spot). FOCUS commitment-discount semantics: a covered usage row has ``BilledCost`` 0 and
names its commitment in ``CommitmentDiscountId`` with ``CommitmentDiscountStatus`` "Used"; the part of a
commitment no usage consumed is a Usage row with status "Unused" - capacity, not demand, so it is skipped.

A SKU is ``"<instance type>@<region>"`` (``m5.large@us-east-1``). Demand in hour h is the instance-hours
used in [h, h+1): the number of instances running on average. A row spanning several hours (a daily
export) is spread evenly over them.

Existing commitments are sunk: their coverage is already paid for. The usage they covered in an hour is
subtracted from the demand to optimise in that hour, until the commitment's end date when known
(``expiries``); after it, that usage is demand again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
HOURLY_UNITS = {"hours", "hour", "hrs", "hr", "1 hour"}
COLUMNS = (
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "consumed_quantity",
    "pricing_quantity",
    "pricing_unit",
    "region_id",
    "instance_type",
    "resource_id",
    "commitment_discount_id",
    "commitment_discount_status",
)
FOCUS_NAMES = {
    "ChargePeriodStart": "charge_period_start",
    "ChargePeriodEnd": "charge_period_end",
    "ChargeCategory": "charge_category",
    "ConsumedQuantity": "consumed_quantity",
    "PricingQuantity": "pricing_quantity",
    "PricingUnit": "pricing_unit",
    "RegionId": "region_id",
    "x_InstanceType": "instance_type",
    "ResourceId": "resource_id",
    "CommitmentDiscountId": "commitment_discount_id",
    "CommitmentDiscountStatus": "commitment_discount_status",
}


class DemandError(ValueError):
    """The line items cannot give a demand (missing column, bad window, no compute usage)."""


def sku_id(instance_type: str, region: str) -> str:
    return f"{instance_type}@{region}"


def split_sku(sku: str) -> tuple[str, str]:
    """ "m5.large@us-east-1" -> ("m5.large", "us-east-1")."""
    instance_type, _, region = sku.rpartition("@")
    return instance_type, region


def from_focus(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename FOCUS columns (``ChargePeriodStart``, ``x_InstanceType``...) to this module's names."""
    return frame.rename(columns=FOCUS_NAMES)


@dataclass(frozen=True)
class Demand:
    """Hourly demand of one window [start, start + hours). Frames: index = hour starts (UTC), columns = SKUs.

    ``total`` is all usage; ``sunk`` the part existing commitments covered (until their expiry);
    ``net`` = total - sunk, what a new purchase can serve."""

    start: pd.Timestamp
    hours: int
    total: pd.DataFrame
    sunk: pd.DataFrame
    sunk_by_commitment: dict[str, float]  # commitment id -> instance-hours of usage treated as sunk

    @property
    def net(self) -> pd.DataFrame:
        return (self.total - self.sunk).clip(lower=0.0)

    @property
    def skus(self) -> list[str]:
        return list(self.total.columns)

    @property
    def end(self) -> pd.Timestamp:
        return self.start + self.hours * HOUR


def _utc(value: datetime | pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def compute_usage(lines: pd.DataFrame) -> pd.DataFrame:
    """The rows that are compute demand: Usage rows with an instance type and region, in hours, not Unused."""
    missing = [c for c in ("charge_period_start", "charge_period_end", "instance_type", "region_id") if c not in lines]
    if missing:
        raise DemandError(f"line items lack column(s) {', '.join(missing)}")
    frame = lines.copy()
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    keep = frame["instance_type"].notna() & (frame["instance_type"].astype(str) != "")
    keep &= frame["region_id"].notna() & (frame["region_id"].astype(str) != "")
    keep &= frame["charge_category"].isna() | (frame["charge_category"] == "Usage")
    keep &= frame["commitment_discount_status"].fillna("").str.lower() != "unused"
    unit = frame["pricing_unit"].fillna("hours").astype(str).str.strip().str.lower()
    keep &= unit.isin(HOURLY_UNITS)
    frame = frame[keep]
    quantity = pd.to_numeric(frame["consumed_quantity"], errors="coerce")
    quantity = quantity.fillna(pd.to_numeric(frame["pricing_quantity"], errors="coerce")).astype(float)
    frame = frame.assign(quantity=quantity.fillna(0.0))
    return frame[frame["quantity"] > 0]


def build_demand(
    lines: pd.DataFrame,
    *,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    resize: Mapping[str, str | None] | None = None,
    expiries: Mapping[str, datetime | pd.Timestamp] | None = None,
) -> Demand:
    """Hourly demand per SKU over [start, end) (whole hours) from compute line items.

    ``resize`` (resource id -> new instance type, or None = stopped) applies rightsizing first: a resized
    resource's usage moves to its new type and loses its old commitment coverage (an RI for the old type
    would not cover it; the commitment is sunk either way); a stopped resource's usage is removed.
    ``expiries`` (commitment id -> end) stops treating a commitment's coverage as sunk from its end on.
    """
    start, end = _utc(start), _utc(end)
    if start != start.floor("h") or end != end.floor("h"):
        raise DemandError(f"window must be whole hours, got {start} .. {end}")
    if end <= start:
        raise DemandError(f"empty window {start} .. {end}")
    hours = int((end - start) / HOUR)
    frame = compute_usage(lines)
    if resize:
        moved = frame["resource_id"].isin(list(resize))
        target = frame.loc[moved, "resource_id"].map(dict(resize))
        stopped = moved & frame["resource_id"].map(lambda r: r in resize and resize[r] is None)
        frame = frame.copy()
        frame.loc[moved, "instance_type"] = target
        frame.loc[moved, ["commitment_discount_id", "commitment_discount_status"]] = None
        frame = frame[~stopped]
    index = pd.date_range(start, periods=hours, freq="h")
    if frame.empty:
        empty = pd.DataFrame(index=index, dtype=float)
        return Demand(start, hours, empty, empty.copy(), {})

    row_start = pd.to_datetime(frame["charge_period_start"], utc=True)
    row_end = pd.to_datetime(frame["charge_period_end"], utc=True)
    first = row_start.dt.floor("h")
    spans = np.maximum(np.ceil((row_end - first) / HOUR).fillna(1).astype(int).to_numpy(), 1)
    # One record per (row, hour it spans), its quantity split evenly.
    repeat = np.repeat(np.arange(len(frame)), spans)
    offset = np.arange(len(repeat)) - np.repeat(np.cumsum(spans) - spans, spans)
    naive = first.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")  # UTC wall time
    hour = naive[repeat] + offset * np.timedelta64(1, "h")
    sku = (frame["instance_type"].astype(str) + "@" + frame["region_id"].astype(str)).to_numpy()[repeat]
    quantity = (frame["quantity"].to_numpy() / spans)[repeat]
    commitment = frame["commitment_discount_id"].to_numpy()[repeat]
    expanded = pd.DataFrame(
        {"hour": pd.to_datetime(hour, utc=True), "sku": sku, "quantity": quantity, "commitment": commitment}
    )
    expanded = expanded[(expanded["hour"] >= start) & (expanded["hour"] < end)]
    covered = expanded["commitment"].notna() & (expanded["commitment"].astype(str) != "")
    if expiries:
        ends = expanded["commitment"].map({k: _utc(v) for k, v in expiries.items()})
        covered &= ends.isna() | (expanded["hour"] < ends)

    skus = sorted(expanded["sku"].unique())
    total = expanded.pivot_table(index="hour", columns="sku", values="quantity", aggfunc="sum")
    total = total.reindex(index=index, columns=skus, fill_value=0.0).fillna(0.0)
    sunk_rows = expanded[covered]
    if sunk_rows.empty:
        sunk = pd.DataFrame(0.0, index=index, columns=skus)
    else:
        sunk = sunk_rows.pivot_table(index="hour", columns="sku", values="quantity", aggfunc="sum")
        sunk = sunk.reindex(index=index, columns=skus, fill_value=0.0).fillna(0.0)
    by_commitment = sunk_rows.groupby("commitment")["quantity"].sum()
    total.columns.name = sunk.columns.name = None
    return Demand(start, hours, total, sunk, {str(k): float(v) for k, v in by_commitment.items()})
