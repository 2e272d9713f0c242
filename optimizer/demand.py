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
(``expiries``); after it, that usage is demand again. Rightsizing does not cancel them: see
:func:`build_demand`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    "commitment_discount_category",
    "commitment_discount_name",
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
    "CommitmentDiscountCategory": "commitment_discount_category",
    "CommitmentDiscountName": "commitment_discount_name",
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
    stranded_by_commitment: dict[str, float] = field(default_factory=dict)  # capacity rightsizing leaves unused
    # commitment id -> instance-hours it covered after its (plan) end: no longer sunk, demand to serve again
    released_by_commitment: dict[str, float] = field(default_factory=dict)

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


# Sizes of one family in normalized units (AWS's size flexibility of regional reservations).
SIZE_UNITS = {"nano": 0.25, "micro": 0.5, "small": 1.0, "medium": 2.0, "large": 4.0, "xlarge": 8.0}


def normalization_factor(instance_type: str) -> float | None:
    """AWS normalized units of an instance size (``m5.2xlarge`` -> 16); None for sizes without one (metal)."""
    size = instance_type.rpartition(".")[2]
    if size in SIZE_UNITS:
        return SIZE_UNITS[size]
    if size.endswith("xlarge") and size[: -len("xlarge")].isdigit():
        return 8.0 * int(size[: -len("xlarge")])
    return None


def family(instance_type: str) -> str:
    return instance_type.partition(".")[0]


def commitment_kind(category: str | None, commitment_id: str | None) -> str:
    """ "spend" (a savings plan: dollars per hour) or "usage" (a reservation of one type or family). FOCUS
    ``CommitmentDiscountCategory`` when the export has it, else read from an AWS ARN."""
    text = category.strip().lower() if isinstance(category, str) else ""
    if text in ("spend", "usage"):
        return text
    return "spend" if isinstance(commitment_id, str) and "savingsplan" in commitment_id.lower() else "usage"


def coverage_kept(kind: str, name: str | None, old_type: str, new_type: str) -> float:
    """Share of a resized resource's instance-hours that the commitment which covered it still covers.

    A savings plan is dollars per hour: a Compute plan covers any type, an EC2 Instance plan its family; the
    rightsized shape costs no more than the old one, so the same dollars cover at least the same hours. A
    reservation covers its family only, in normalized units (``c5.2xlarge`` -> ``c5.xlarge`` stays covered;
    -> ``c6a.xlarge`` does not)."""
    if kind == "spend":
        instance_plan = "ec2 instance" in (name or "").lower()
        return 0.0 if instance_plan and family(old_type) != family(new_type) else 1.0
    if family(old_type) != family(new_type):
        return 0.0
    old, new = normalization_factor(old_type), normalization_factor(new_type)
    if old is None or new is None:
        return 1.0 if old_type == new_type else 0.0
    return min(1.0, old / new)


def build_demand(
    lines: pd.DataFrame,
    *,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    resize: Mapping[str, str | None] | None = None,
    expiries: Mapping[str, datetime | pd.Timestamp] | None = None,
) -> Demand:
    """Hourly demand per SKU over [start, end) (whole hours) from compute line items.

    ``resize`` (resource id -> new instance type, or None = stopped) applies rightsizing first. It removes
    only the capacity rightsizing removes: a resized resource's usage moves to its new type and keeps the
    coverage its commitment can still give it (:func:`coverage_kept`); a stopped resource's usage is gone.
    Existing commitments stay sunk: the capacity a stopped or moved resource frees covers other usage of the
    SKU it covered in the same hour, and what nothing can use is reported per commitment
    (``stranded_by_commitment``), never resold as new demand.
    ``expiries`` (commitment id -> end) stops treating a commitment's coverage as sunk from its end on.
    """
    start, end = _utc(start), _utc(end)
    if start != start.floor("h") or end != end.floor("h"):
        raise DemandError(f"window must be whole hours, got {start} .. {end}")
    if end <= start:
        raise DemandError(f"empty window {start} .. {end}")
    hours = int((end - start) / HOUR)
    frame = compute_usage(lines)
    index = pd.date_range(start, periods=hours, freq="h")
    if frame.empty:
        empty = pd.DataFrame(index=index, dtype=float)
        return Demand(start, hours, empty, empty.copy(), {})

    expanded = _hourly_records(frame)
    expanded = expanded[(expanded["hour"] >= start) & (expanded["hour"] < end)]
    covered = expanded["commitment"].notna() & (expanded["commitment"].astype(str) != "")
    released: dict[str, float] = {}
    if expiries:
        ends = expanded["commitment"].map({k: _utc(v) for k, v in expiries.items()})
        in_force = ends.isna() | (expanded["hour"] < ends)
        after_end = expanded[covered & ~in_force]
        released = {str(k): float(v) for k, v in after_end.groupby("commitment")["quantity"].sum().items() if v > 0}
        covered &= in_force
    expanded = expanded.assign(commitment=expanded["commitment"].where(covered, None))
    freed = expanded.iloc[0:0]
    if resize:
        expanded, freed = _rightsize(expanded, resize)

    skus = sorted(expanded["sku"].unique())
    total = _pivot(expanded, index, skus)
    sunk_rows = expanded[expanded["commitment"].notna()]
    sunk = _pivot(sunk_rows, index, skus)
    by_commitment = sunk_rows.groupby("commitment")["quantity"].sum().to_dict()
    stranded: dict[str, float] = {}
    if not freed.empty:
        sunk, reused = _reuse_freed(freed, total, sunk)
        for commitment, hours_used in reused.groupby(freed["commitment"]).sum().items():
            by_commitment[commitment] = by_commitment.get(commitment, 0.0) + float(hours_used)
        left = (freed["quantity"] - reused).groupby(freed["commitment"]).sum()
        stranded = {str(k): float(v) for k, v in left.items() if v > 1e-9}
    return Demand(
        start,
        hours,
        total,
        sunk,
        {str(k): float(v) for k, v in by_commitment.items() if v > 0},
        stranded,
        released,
    )


def plan_expiries(
    ends: Mapping[str, datetime | pd.Timestamp],
    *,
    window_start: datetime | pd.Timestamp,
    window_end: datetime | pd.Timestamp,
) -> dict[str, pd.Timestamp]:
    """The ``expiries`` of a renewal plan: the demand window [start, end) stands for the plan window that follows
    it, [end, end + (end - start)), hour for hour. A commitment ending inside the plan window stops being sunk at the
    same offset into the demand window (its end minus the window's length, floored to the hour); one that has
    already ended is not sunk at all (from the window's start); one ending after the plan window stays sunk. Ends
    are as known from the data (commitments without a known end are not listed and stay sunk)."""
    start, end = _utc(window_start), _utc(window_end)
    length = end - start
    shifted = {}
    for commitment, stop in ends.items():
        stop = _utc(stop)
        if stop < end + length:
            shifted[commitment] = max(start, (stop - length).floor("h"))
    return shifted


def _hourly_records(frame: pd.DataFrame) -> pd.DataFrame:
    """One record per (row, hour it spans), its quantity split evenly."""
    row_start = pd.to_datetime(frame["charge_period_start"], utc=True)
    row_end = pd.to_datetime(frame["charge_period_end"], utc=True)
    first = row_start.dt.floor("h")
    spans = np.maximum(np.ceil((row_end - first) / HOUR).fillna(1).astype(int).to_numpy(), 1)
    repeat = np.repeat(np.arange(len(frame)), spans)
    offset = np.arange(len(repeat)) - np.repeat(np.cumsum(spans) - spans, spans)
    naive = first.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")  # UTC wall time
    hour = naive[repeat] + offset * np.timedelta64(1, "h")
    itype = frame["instance_type"].astype(str).to_numpy()[repeat]
    region = frame["region_id"].astype(str).to_numpy()[repeat]
    categories = frame["commitment_discount_category"].to_numpy()
    ids = frame["commitment_discount_id"].to_numpy()
    kinds = np.array([commitment_kind(c, i) for c, i in zip(categories, ids, strict=True)], dtype=object)
    return pd.DataFrame(
        {
            "hour": pd.to_datetime(hour, utc=True),
            "sku": pd.Series(itype) + "@" + pd.Series(region),
            "quantity": (frame["quantity"].to_numpy() / spans)[repeat],
            "commitment": frame["commitment_discount_id"].to_numpy()[repeat],
            "resource": frame["resource_id"].to_numpy()[repeat],
            "instance_type": itype,
            "region": region,
            "kind": kinds[repeat],
            "commitment_name": frame["commitment_discount_name"].to_numpy()[repeat],
        }
    )


def _pivot(records: pd.DataFrame, index: pd.DatetimeIndex, skus: list[str]) -> pd.DataFrame:
    if records.empty:
        return pd.DataFrame(0.0, index=index, columns=skus)
    table = records.pivot_table(index="hour", columns="sku", values="quantity", aggfunc="sum")
    table = table.reindex(index=index, columns=skus, fill_value=0.0).fillna(0.0)
    table.columns.name = None
    return table


def _rightsize(expanded: pd.DataFrame, resize: Mapping[str, str | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply rightsizing to hourly records: (the rightsized records, the commitment capacity freed per hour
    and old SKU by stopped resources and by moves the commitment cannot follow)."""
    in_map = expanded["resource"].isin(list(resize)).to_numpy()
    target = expanded["resource"].map(lambda r: resize.get(r) if isinstance(r, str) else None)
    stopped = in_map & target.isna().to_numpy()
    moved = in_map & target.notna().to_numpy() & (target != expanded["instance_type"]).to_numpy()
    covered = expanded["commitment"].notna().to_numpy()

    rows = expanded[moved].assign(new_type=target[moved])
    cache: dict[tuple, float] = {}
    kept = np.zeros(len(rows))
    for i, (kind, name, old, new, cover) in enumerate(
        zip(rows["kind"], rows["commitment_name"], rows["instance_type"], rows["new_type"], covered[moved], strict=True)
    ):
        if cover:
            key = (kind, name, old, new)
            kept[i] = cache.setdefault(key, coverage_kept(kind, name if isinstance(name, str) else None, old, new))
    new_sku = rows["new_type"].astype(str) + "@" + rows["region"]
    still = rows.assign(sku=new_sku, instance_type=rows["new_type"], quantity=rows["quantity"] * kept)
    uncovered = rows.assign(
        sku=new_sku, instance_type=rows["new_type"], quantity=rows["quantity"] * (1 - kept), commitment=None
    )
    lost = covered[moved] & (kept == 0.0)
    freed = pd.concat([expanded[stopped & covered], rows[lost]])[["hour", "sku", "commitment", "quantity"]]
    columns = list(expanded.columns)
    out = pd.concat([expanded[~stopped & ~moved], still[columns], uncovered[columns]], ignore_index=True)
    return out[out["quantity"] > 0], freed.reset_index(drop=True)


def _reuse_freed(freed: pd.DataFrame, total: pd.DataFrame, sunk: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Freed capacity covers the uncovered usage of the SKU it covered, hour by hour (reservations and plans
    apply to matching usage automatically). Returns the new sunk frame and, per freed record, the
    instance-hours it covers again (shared pro rata within its hour and SKU)."""
    capacity = freed.groupby(["hour", "sku"])["quantity"].sum()
    open_usage = (total - sunk).clip(lower=0.0).stack()
    open_usage.index.names = ["hour", "sku"]
    available = open_usage.reindex(capacity.index, fill_value=0.0)
    used = np.minimum(capacity, available)
    extra = used[used > 0].unstack("sku")
    sunk = sunk.add(extra.reindex(index=sunk.index, columns=sunk.columns).fillna(0.0), fill_value=0.0)
    ratio = (used / capacity).rename("ratio")
    share = freed.join(ratio, on=["hour", "sku"])["ratio"].fillna(0.0)
    return sunk, freed["quantity"] * share
