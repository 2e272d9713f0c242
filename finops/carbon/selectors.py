"""Reads for carbon: line-item groups to estimate (aggregated in SQL), the carbon report (the ``carbon_report``
command, the API's carbon/summary) and the carbon page's monthly frame, both over the rows a caller may read,
and region alternatives."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from django.db.models import Case, F, FloatField, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncMonth

from finops.accounts.models import Organization
from finops.carbon.calc import Coefficients, estimate_instance_hours, load_shipped
from finops.carbon.models import CarbonDaily, CoefficientSet
from finops.core.amounts import money_text, quantize_money
from finops.core.money import MoneySum
from finops.usage.models import DailyCost, LineItem
from pricing.selectors import LookupError_, price_lookup

# Line items that carry usage: Usage charges, minus the "Unused" commitment rows (no machine ran for those).
GROUP_DIMENSIONS = (
    "day",
    "provider_name",
    "billing_account_id",
    "billing_currency",
    "sub_account_id",
    "service_name",
    "service_category",
    "region_id",
    "team_tag_value",
    "instance_type",
    "pricing_unit",
    "charge_description",
)
REPORT_GROUPS = {
    "service": "service_name",
    "region": "region_id",
    "account": "billing_account_id",
    "sub_account": "sub_account_id",
    "team": "team__slug",
    "instance_type": "instance_type",
    "provider": "provider_name",
    "method": "method",
    "month": "month",
}
MEASURES = (
    "vcpu_hours",
    "compute_kwh",
    "memory_kwh",
    "storage_kwh",
    "network_kwh",
    "kwh",
    "operational_kgco2e",
    "embodied_kgco2e",
)
NONE_LABEL = "(none)"
# Services whose instances can move region (EC2 compute); databases and storage stay with their data.
MOVABLE_SERVICES = ("Amazon Elastic Compute Cloud", "AmazonEC2", "Amazon EC2")


class CarbonReportError(ValueError):
    """Report parameters that make no sense; the message says which."""


def _day_bounds(start: date, end: date) -> Q:
    return Q(charge_period_start__gte=datetime.combine(start, time(), UTC)) & Q(
        charge_period_start__lt=datetime.combine(end + timedelta(days=1), time(), UTC)
    )


def _quantity_in_pricing_unit() -> Case:
    """The usage in the pricing unit the estimator classifies by: ConsumedQuantity when it is counted in that unit
    (AWS, Azure, OCI, most FOCUS files), else PricingQuantity. A Google Cloud row counts its consumed usage in
    bytes, byte-seconds or seconds but is priced in gibibytes, gibibyte-months or hours."""
    same_unit = Q(consumed_unit__isnull=True) | Q(consumed_unit=F("pricing_unit")) | Q(pricing_quantity__isnull=True)
    return Case(
        When(same_unit, then=Coalesce("consumed_quantity", "pricing_quantity")),
        default=F("pricing_quantity"),
    )


def line_item_groups(*, organization: Organization, start: date, end: date) -> pd.DataFrame:
    """Usage line items of [start, end] (inclusive UTC days) summed per day and estimation dimensions.

    One row per (day, provider, accounts, service, region, team tag, instance type, pricing unit, charge
    description): the database does the heavy grouping, pandas only sees distinct usage lines per day.
    Columns are the estimator's inputs plus the rollup dimensions.
    """
    queryset = (
        LineItem.objects.filter(organization=organization, charge_category="Usage")
        .filter(_day_bounds(start, end))
        .exclude(commitment_discount_status="Unused")
        .annotate(day=TruncDate("charge_period_start", tzinfo=UTC))
        .values(*GROUP_DIMENSIONS)
        .annotate(
            # Float sums: the estimate is float math anyway, and SUM over REAL is far faster on SQLite than the
            # exact decimal aggregate money needs.
            quantity=Sum(Cast(_quantity_in_pricing_unit(), FloatField())),
            cost=Sum(Cast("effective_cost", FloatField())),
            rows=Sum(Value(1)),
        )
        .order_by()
    )
    frame = pd.DataFrame.from_records(list(queryset), columns=[*GROUP_DIMENSIONS, "quantity", "cost", "rows"])
    frame["currency"] = frame["billing_currency"]  # the estimator's cost-ratio never mixes currencies
    for column in ("sub_account_id", "service_name", "service_category", "region_id", "team_tag_value"):
        frame[column] = frame[column].fillna("").astype(str)
    frame["quantity"] = frame["quantity"].map(lambda v: float(v) if v is not None else 0.0)
    frame["cost"] = frame["cost"].map(lambda v: float(v) if v is not None else 0.0)
    frame = frame.rename(
        columns={
            "provider_name": "provider",
            "region_id": "region",
            "service_name": "service",
            "charge_description": "description",
            "pricing_unit": "unit",
        }
    )
    # Keep the rollup's own names too (the estimator reads the short ones).
    frame["provider_name"] = frame["provider"]
    frame["region_id"] = frame["region"]
    frame["service_name"] = frame["service"]
    return frame


def usage_day_range(*, organization: Organization) -> tuple[date, date] | None:
    span = LineItem.objects.filter(organization=organization).aggregate(
        first=Min("charge_period_start"), last=Max("charge_period_start")
    )
    if span["first"] is None:
        return None
    return span["first"].astimezone(UTC).date(), span["last"].astimezone(UTC).date()


def coefficient_set_latest() -> CoefficientSet | None:
    return CoefficientSet.objects.order_by("-published", "-created_at", "-id").first()


# ---------------------------------------------------------------------------------------------
# Report


@dataclass
class CarbonRow:
    group: str
    values: dict[str, Decimal]
    methods: dict[str, Decimal] = field(default_factory=dict)  # method -> kWh

    @property
    def method(self) -> str:
        return next(iter(self.methods)) if len(self.methods) == 1 else ("mixed" if self.methods else "unknown")


def coefficient_version_current() -> str:
    """The version ``coefficient_set_current()`` answers, read-only: the newest stored set, or the shipped set
    when it is not stored yet and no stored set is published later (registering it would make it the newest)."""
    shipped = load_shipped()
    latest = coefficient_set_latest()
    if latest is None or latest.version == shipped.version:
        return shipped.version
    if CoefficientSet.objects.filter(version=shipped.version).exists():
        return latest.version
    published = date.fromisoformat(shipped.published) if shipped.published else None
    newer = latest.published is not None and published is not None and latest.published > published
    return latest.version if newer else shipped.version


def carbon_daily_visible(*, organization: Organization, team_ids: Collection[int] | None = None) -> QuerySet:
    """The carbon rollup rows a caller may read: ``team_ids`` is ``AccessPolicy.team_ids`` (None: every row;
    otherwise those teams' rows, teamless rows excluded)."""
    rows = CarbonDaily.objects.filter(organization=organization)
    return rows if team_ids is None else rows.filter(team_id__in=list(team_ids))


def measure_text(value: Decimal) -> str:
    return money_text(value, 6) or "0"  # report measures are printed to the micro-unit


@dataclass
class CarbonReport:
    rows: list[CarbonRow]
    versions: list[str]
    grid_estimated_regions: list[str]
    group_by: str = "service"
    start: date | None = None
    end: date | None = None
    coefficients: str = ""  # the rows' coefficient set versions, else the current set's
    as_of: date | None = None  # the last day with estimates (in the range)
    pending: dict | None = None  # ingested usage days without estimates yet (see ``carbon_freshness``)

    def as_json(self) -> dict:
        """The documented JSON of ``carbon_report --format json`` and of the API's carbon/summary."""
        return {
            "rows": [
                {
                    "group": r.group,
                    **{m: measure_text(r.values[m]) for m in MEASURES},
                    "method": r.method,
                    "methods": {k: measure_text(v) for k, v in sorted(r.methods.items())},
                }
                for r in self.rows
            ],
            "coefficients": self.coefficients,
            "group_by": self.group_by,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "grid_estimated_regions": self.grid_estimated_regions,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "pending": self.pending,
        }


def carbon_freshness(
    *, organization: Organization, start: date | None = None, end: date | None = None
) -> tuple[date | None, dict | None]:
    """(the last day with carbon estimates, what is pending) over [start, end]. Pending: days of ingested usage
    (the cost rollup's usage, commitments' unused hours aside) that have no estimate yet - the carbon rollup is
    rebuilt by a worker after each ingest, so without a worker they wait - with the command that fills them."""
    usage = DailyCost.objects.filter(organization=organization, charge_category="Usage").exclude(
        commitment_discount_status="Unused"
    )
    estimated = CarbonDaily.objects.filter(organization=organization)
    if start:
        usage, estimated = usage.filter(day__gte=start), estimated.filter(day__gte=start)
    if end:
        usage, estimated = usage.filter(day__lte=end), estimated.filter(day__lte=end)
    have = set(estimated.values_list("day", flat=True).distinct().order_by())
    missing = sorted(set(usage.values_list("day", flat=True).distinct().order_by()) - have)
    as_of = max(have) if have else None
    if not missing:
        return as_of, None
    return as_of, {
        "days": len(missing),
        "first": missing[0].isoformat(),
        "last": missing[-1].isoformat(),
        "refresh": f"manage.py carbon_report --org {organization.slug} --refresh (or a running Celery worker)",
    }


def carbon_summary(
    *,
    organization: Organization,
    group_by: str = "service",
    start: date | None = None,
    end: date | None = None,
    team_ids: Collection[int] | None = None,
) -> CarbonReport:
    """Carbon per group over [start, end] (inclusive UTC days), most operational kgCO2e first, over the rows
    ``team_ids`` may read (see ``carbon_daily_visible``)."""
    if group_by not in REPORT_GROUPS:
        raise CarbonReportError(f"unknown group-by {group_by!r}; choose one of {', '.join(REPORT_GROUPS)}")
    if start and end and start > end:
        raise CarbonReportError(f"start {start} is after end {end}")
    queryset = carbon_daily_visible(organization=organization, team_ids=team_ids)
    if start:
        queryset = queryset.filter(day__gte=start)
    if end:
        queryset = queryset.filter(day__lte=end)
    field_name = REPORT_GROUPS[group_by]
    if group_by == "month":
        queryset = queryset.annotate(month=TruncMonth("day"))
    grouped = queryset.values(field_name, "method").annotate(**{m: MoneySum(m) for m in MEASURES}).order_by()
    rows: dict[str, CarbonRow] = {}
    for record in grouped:
        key = record[field_name]
        if group_by == "month" and key:
            label = key.strftime("%Y-%m")
        else:
            label = str(key) if key not in (None, "") else NONE_LABEL
        row = rows.setdefault(label, CarbonRow(label, {m: Decimal(0) for m in MEASURES}))
        for m in MEASURES:
            row.values[m] += record[m] or Decimal(0)
        row.methods[record["method"]] = row.methods.get(record["method"], Decimal(0)) + (record["kwh"] or Decimal(0))
    ordered = sorted(rows.values(), key=lambda r: (-r.values["operational_kgco2e"], r.group))
    versions = sorted(set(queryset.values_list("coefficient_set__version", flat=True).distinct()))
    flagged = sorted(set(queryset.filter(grid_estimated=True).values_list("region_id", flat=True).distinct()))
    as_of, pending = carbon_freshness(organization=organization, start=start, end=end)
    return CarbonReport(
        as_of=as_of,
        pending=pending,
        rows=ordered,
        versions=versions,
        grid_estimated_regions=[r or NONE_LABEL for r in flagged],
        group_by=group_by,
        start=start,
        end=end,
        coefficients=",".join(versions) if versions else coefficient_version_current(),
    )


CARBON_FRAME_COLUMNS = [
    "month",
    "service",
    "region",
    "currency",
    "kwh",
    "operational",
    "embodied",
    "cost",
    "vcpu_hours",
]


def carbon_frame(*, organization: Organization, team_ids: Collection[int] | None = None) -> pd.DataFrame:
    """The carbon page's rows: the visible rollup grouped by month, service and region (Decimal measures, cost is
    effective cost in ``currency``; kgco2e = operational + embodied)."""
    grouped = (
        carbon_daily_visible(organization=organization, team_ids=team_ids)
        .annotate(month=TruncMonth("day"))
        .values("month", "service_name", "region_id", "billing_currency")
        .annotate(
            kwh=MoneySum("kwh"),
            operational=MoneySum("operational_kgco2e"),
            embodied=MoneySum("embodied_kgco2e"),
            cost=MoneySum("effective_cost"),
            vcpu_hours=MoneySum("vcpu_hours"),
        )
        .order_by()
    )
    zero = Decimal(0)
    records = [
        (
            r["month"],
            r["service_name"] or NONE_LABEL,
            r["region_id"] or NONE_LABEL,
            r["billing_currency"],
            *(r[m] or zero for m in ("kwh", "operational", "embodied", "cost", "vcpu_hours")),
        )
        for r in grouped
    ]
    frame = pd.DataFrame.from_records(records, columns=CARBON_FRAME_COLUMNS)
    frame["kgco2e"] = [o + e for o, e in zip(frame["operational"], frame["embodied"], strict=True)]
    return frame


# ---------------------------------------------------------------------------------------------
# Region alternatives


@dataclass(frozen=True)
class Alternative:
    region: str
    on_demand_hourly: Decimal
    cost: Decimal
    cost_delta: Decimal
    cost_delta_pct: float | None
    kgco2e: float
    carbon_delta: float
    carbon_delta_pct: float | None


@dataclass
class MovableWorkload:
    provider: str
    sub_account_id: str
    region_id: str
    instance_type: str
    instance_hours: float
    current_on_demand_hourly: Decimal | None
    current_cost: Decimal | None
    current_kgco2e: float
    alternatives: list[Alternative] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.sub_account_id or NONE_LABEL}/{self.region_id}/{self.instance_type}"


class _Prices:
    """On-demand hourly price per (region, instance type) from the catalog, looked up once."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.cache: dict[tuple[str, str], Decimal | None] = {}

    def __call__(self, region: str, instance_type: str) -> Decimal | None:
        key = (region, instance_type)
        if key not in self.cache:
            try:
                found = price_lookup(provider="aws", region=region, instance_type=instance_type, at=self.at)
                self.cache[key] = found.on_demand
            except LookupError_:
                self.cache[key] = None
        return self.cache[key]


def movable_workloads(
    *, organization: Organization, start: date | None = None, end: date | None = None
) -> list[tuple[str, str, str, str, float]]:
    """(provider, sub account, region, instance type, instance-hours) of EC2 compute in the rollup."""
    queryset = CarbonDaily.objects.filter(
        organization=organization, service_name__in=MOVABLE_SERVICES, method__in=("coefficient", "measured")
    ).exclude(instance_type="")
    if start:
        queryset = queryset.filter(day__gte=start)
    if end:
        queryset = queryset.filter(day__lte=end)
    grouped = (
        queryset.values("provider_name", "sub_account_id", "region_id", "instance_type")
        .annotate(hours=MoneySum("usage_hours"))
        .order_by()
    )
    out = [
        (g["provider_name"], g["sub_account_id"], g["region_id"], g["instance_type"], float(g["hours"] or 0))
        for g in grouped
        if (g["hours"] or 0) > 0
    ]
    return sorted(out, key=lambda w: (w[1], w[2], w[3]))


def carbon_region_alternatives(
    *,
    organization: Organization,
    coefficients: Coefficients,
    start: date | None = None,
    end: date | None = None,
    at: datetime | None = None,
    regions: list[str] | None = None,
) -> list[MovableWorkload]:
    """For each movable workload: every region with a real on-demand price and a grid factor, with its cost
    and carbon deltas against running the same instance-hours where the workload runs now.

    Costs are on-demand list prices from the catalog on both sides (commitments are region-bound, so a move
    is priced at list); carbon is the CCF estimate (operational + embodied) of the same instance-hours.
    """
    at = at or datetime.combine(end or date.today(), time(), UTC)
    prices = _Prices(at)
    candidates = sorted(regions or coefficients.grid.get("aws", {}).keys())
    found = movable_workloads(organization=organization, start=start, end=end)
    # Every (workload, region) pair estimated in one vectorised pass.
    runs = pd.DataFrame(
        [
            {"w": i, "provider": p, "region": r, "instance_type": t, "hours": h}
            for i, (p, _, region, t, h) in enumerate(found)
            for r in [region, *[c for c in candidates if c != region]]
        ],
        columns=["w", "provider", "region", "instance_type", "hours"],
    )
    kg: dict[tuple[int, str], float] = {}
    if not runs.empty:
        estimated = estimate_instance_hours(coefficients, runs)
        total = estimated["operational_kgco2e"] + estimated["embodied_kgco2e"]
        kg = {(w, r): float(v) for w, r, v in zip(runs["w"], runs["region"], total, strict=True)}
    out: list[MovableWorkload] = []
    for i, (provider, sub_account, region, instance_type, hours) in enumerate(found):
        current_price = prices(region, instance_type)
        current_cost = quantize_money(current_price * Decimal(str(hours))) if current_price else None
        current_kg = kg[(i, region)]
        workload = MovableWorkload(
            provider, sub_account, region, instance_type, hours, current_price, current_cost, current_kg
        )
        for candidate in candidates:
            if candidate == region:
                continue
            price = prices(candidate, instance_type)
            if price is None or current_cost is None:
                continue
            cost = quantize_money(price * Decimal(str(hours)))
            alt_kg = kg[(i, candidate)]
            workload.alternatives.append(
                Alternative(
                    region=candidate,
                    on_demand_hourly=price,
                    cost=cost,
                    cost_delta=cost - current_cost,
                    cost_delta_pct=float((cost - current_cost) / current_cost * 100) if current_cost else None,
                    kgco2e=alt_kg,
                    carbon_delta=alt_kg - current_kg,
                    carbon_delta_pct=(alt_kg - current_kg) / current_kg * 100 if current_kg else None,
                )
            )
        workload.alternatives.sort(key=lambda a: (a.kgco2e, a.cost))
        out.append(workload)
    return out
