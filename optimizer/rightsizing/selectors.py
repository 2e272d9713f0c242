"""Reads for rightsizing: the fleet from the line items, its metrics, on-demand prices, recommendations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.db.models import Count, Max, Q, QuerySet

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Organization
from finops.core.money import MoneySum
from finops.usage.models import LineItem
from optimizer.rightsizing.metrics import HOUR_COLUMNS
from optimizer.rightsizing.models import RightsizingRecommendation, RightsizingRun, UtilizationHour
from optimizer.rightsizing.policy import Resource, Shape, shape_from_spec
from pricing.models import Price, Term
from pricing.selectors import HOURLY_UNITS
from pricing.specs import load_specs

# Operating system from the charge description (FOCUS has no OS column; the CUR's is mapped into it).
_OS_MARKERS = (("windows", "windows"), ("rhel", "red hat"), ("suse", "suse"))


@dataclass(frozen=True)
class FleetSnapshot:
    window_start: datetime | None  # None: no compute usage ingested
    window_end: datetime | None
    resources: list[Resource]


def _compute_usage(organization: Organization):
    """Usage rows of EC2 instances (and Auto Scaling groups) that carry an instance type and a resource."""
    return (
        LineItem.objects.filter(
            organization=organization,
            charge_category="Usage",
            instance_type__isnull=False,
            resource_id__isnull=False,
        )
        .exclude(instance_type="")
        .exclude(commitment_discount_status="Unused")  # a commitment's unused hours are not a machine
    )


def rightsizing_fleet(*, organization: Organization, lookback_days: int, end: datetime | None = None) -> FleetSnapshot:
    """The resources that ran in the ``lookback_days`` before ``end`` (default: the last hour of compute
    usage ingested), with their latest instance type, region, team and average running instances."""
    usage = _compute_usage(organization)
    if end is None:
        end = usage.aggregate(end=Max("charge_period_end"))["end"]
    if end is None:
        return FleetSnapshot(window_start=None, window_end=None, resources=[])
    start = end - timedelta(days=lookback_days)
    window_hours = Decimal(lookback_days * 24)
    specs = load_specs()
    groups = (
        usage.filter(charge_period_start__gte=start, charge_period_start__lt=end)
        .values("resource_id", "instance_type", "region_id", "team_tag_value")
        .annotate(
            hours=MoneySum("pricing_quantity"),
            last=Max("charge_period_start"),
            name=Max("resource_name"),
            account=Max("sub_account_id"),
            **{os_name: Count("id", filter=Q(charge_description__icontains=marker)) for os_name, marker in _OS_MARKERS},
        )
    )
    by_resource: dict[str, list[dict]] = {}
    for group in groups:
        if group["instance_type"] in specs:  # EC2 types only (not db.*, cache.*)
            by_resource.setdefault(group["resource_id"], []).append(group)
    resources = []
    for resource_id, rows in sorted(by_resource.items()):
        latest = max(rows, key=lambda r: (r["last"], r["instance_type"]))
        hours = sum((r["hours"] or Decimal(0) for r in rows), Decimal(0))
        operating_system = next((os_name for os_name, _ in _OS_MARKERS if latest[os_name]), "linux")
        resources.append(
            Resource(
                resource_id=resource_id,
                instance_type=latest["instance_type"],
                region=latest["region_id"] or "",
                operating_system=operating_system,
                team=latest["team_tag_value"] or "",
                instances=float(hours / window_hours),
                name=latest["name"] or "",
                account=latest["account"] or "",
            )
        )
    return FleetSnapshot(window_start=start, window_end=end, resources=resources)


def utilization_hours(
    *, organization: Organization, start: datetime, end: datetime, resource_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Stored hourly aggregates in [start, end) as a DataFrame with metrics.HOUR_COLUMNS."""
    rows = UtilizationHour.objects.filter(organization=organization, hour__gte=start, hour__lt=end)
    if resource_ids is not None:
        rows = rows.filter(resource_id__in=list(resource_ids))
    frame = pd.DataFrame.from_records(list(rows.values_list(*HOUR_COLUMNS)), columns=list(HOUR_COLUMNS))
    return frame


def on_demand_catalog(*, regions: Iterable[str], operating_systems: Iterable[str], at: datetime) -> dict:
    """{(region, os): {instance type: Shape}} of every EC2 type with specs and a current on-demand price."""
    specs = load_specs()
    prices = (
        Price.objects.filter(
            sku__provider="aws",
            sku__region__in=list(regions),
            sku__operating_system__in=list(operating_systems),
            term=Term.ON_DEMAND,
            unit__in=HOURLY_UNITS,
        )
        .filter(Q(sku__tenancy__isnull=True) | Q(sku__tenancy="shared"))
        .filter(Q(effective_from__lte=at) | Q(effective_from__isnull=True))
        .filter(Q(effective_to__gt=at) | Q(effective_to__isnull=True))
        .values_list("sku__region", "sku__operating_system", "sku__instance_type", "hourly", "tier_start")
    )
    cheapest: dict[tuple[str, str, str], Decimal] = {}
    for region, os_name, instance_type, hourly, tier_start in prices:
        # Money compares in Python (text on SQLite); zero means unknown, never free.
        if instance_type not in specs or hourly is None or hourly <= 0 or tier_start not in (None, Decimal(0)):
            continue
        key = (region, os_name, instance_type)
        if key not in cheapest or hourly < cheapest[key]:
            cheapest[key] = hourly
    catalog: dict[tuple[str, str], dict[str, Shape]] = {}
    for (region, os_name, instance_type), hourly in cheapest.items():
        catalog.setdefault((region, os_name), {})[instance_type] = shape_from_spec(specs[instance_type], hourly)
    return catalog


def rightsizing_latest_run(*, organization: Organization) -> RightsizingRun | None:
    return (
        RightsizingRun.objects.filter(organization=organization, status=RightsizingRun.Status.SUCCEEDED)
        .order_by("-created_at", "-id")
        .first()
    )


UNALLOCATED = "unallocated"  # the team filter's value for resources without a team
CHANGES = (RightsizingRecommendation.Action.RESIZE, RightsizingRecommendation.Action.STOP)


class RightsizingFilterError(ValueError):
    """A filter names a team the caller cannot see or an unknown action; the message says which."""


@dataclass(frozen=True)
class RightsizingFilter:
    """Which of a run's recommendations a caller asks for; empty fields do not filter."""

    team: str = ""  # a team slug, or UNALLOCATED
    account: str = ""  # a sub account id
    actions: tuple[str, ...] = ()  # keep / resize / stop

    @property
    def narrows(self) -> bool:
        return bool(self.team or self.account or self.actions)


def rightsizing_recommendations_visible(
    policy: AccessPolicy, run: RightsizingRun, filters: RightsizingFilter | None = None
) -> QuerySet[RightsizingRecommendation]:
    """The run's recommendations a caller may read (an engineer only those of resources of their teams),
    narrowed by ``filters``. Raises RightsizingFilterError for a team the caller cannot see or an unknown action."""
    queryset = policy.scope(RightsizingRecommendation.objects.filter(run=run), team_field="team_id")
    if filters is None:
        return queryset
    unknown = sorted(set(filters.actions) - set(RightsizingRecommendation.Action.values))
    if unknown:
        raise RightsizingFilterError(
            f"unknown action {unknown[0]!r}; choose from {', '.join(RightsizingRecommendation.Action.values)}"
        )
    if filters.actions:
        queryset = queryset.filter(action__in=filters.actions)
    if filters.team == UNALLOCATED:
        queryset = queryset.filter(team__isnull=True)
    elif filters.team:
        team = policy.teams().filter(slug=filters.team).first()
        if team is None:
            raise RightsizingFilterError(f"no team {filters.team!r}")
        queryset = queryset.filter(team=team)
    if filters.account:
        queryset = queryset.filter(account_id=filters.account)
    return queryset


def rightsizing_sorted(rows: Iterable[RightsizingRecommendation]) -> list[RightsizingRecommendation]:
    """Biggest savings first (money compares in Python: fixed-place text on SQLite), then team, then resource."""
    return sorted(rows, key=lambda r: (-(r.monthly_savings or Decimal(0)), r.team_tag_value, r.resource_id))


def rightsizing_savings(rows: Iterable[RightsizingRecommendation]) -> Decimal:
    return sum((r.monthly_savings or Decimal(0) for r in rows), Decimal(0))


def rightsizing_accounts(policy: AccessPolicy, run: RightsizingRun) -> list[str]:
    """The sub accounts of the run's recommendations the caller may read (the account filter's choices)."""
    rows = rightsizing_recommendations_visible(policy, run).exclude(account_id="")
    return sorted(set(rows.values_list("account_id", flat=True)))


def rightsizing_changes(organization: Organization) -> dict[str, str | None]:
    """resource_id -> the new instance type (None: stop) of the latest succeeded run; unchanged resources
    are absent. What the commitment optimizer applies to demand before it solves the mix."""
    run = rightsizing_latest_run(organization=organization)
    if run is None:
        return {}
    rows = RightsizingRecommendation.objects.filter(run=run).exclude(action=RightsizingRecommendation.Action.KEEP)
    return {
        r.resource_id: (None if r.action == RightsizingRecommendation.Action.STOP else r.recommended_type)
        for r in rows.order_by("resource_id")
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(Decimal('0.01'))}"


def rightsizing_payload(
    run: RightsizingRun, policy: AccessPolicy | None = None, filters: RightsizingFilter | None = None
) -> dict:
    """The JSON of a run (recommend_rightsizing --json): money as decimal strings, biggest savings first. With
    ``policy``: only the recommendations that caller may read, narrowed by ``filters``, and the total of those
    when that is not the whole run."""
    if policy is None:
        rows = list(run.recommendations.all())
    else:
        rows = list(rightsizing_recommendations_visible(policy, run, filters))
    total = run.total_monthly_savings or Decimal(0)
    if policy is not None and (not policy.sees_all_teams or (filters is not None and filters.narrows)):
        total = rightsizing_savings(rows)
    recommendations = rightsizing_sorted(rows)
    return {
        "run": run.pk,
        "window_start": run.window_start.isoformat() if run.window_start else None,
        "window_end": run.window_end.isoformat() if run.window_end else None,
        "parameters": run.parameters,
        "solver": run.solver_stats,
        "recommendations": [
            {
                "resource_id": r.resource_id,
                "resource_name": r.resource_name,
                "team": r.team_tag_value or None,
                "account": r.account_id or None,
                "region": r.region,
                "operating_system": r.operating_system,
                "instances": r.instances,
                "current_type": r.current_type,
                "recommended_type": r.recommended_type,
                "action": r.action,
                "p95_cpu": r.p95_cpu,
                "max_cpu": r.max_cpu,
                "p95_memory": r.p95_memory,
                "memory_evidence": r.memory_evidence,
                "hours_observed": r.hours_observed,
                "current_monthly_cost": _money(r.current_monthly_cost),
                "new_monthly_cost": _money(r.new_monthly_cost),
                "monthly_savings": _money(r.monthly_savings),
                "reason": r.reason,
                "migration_effort": r.migration_effort,
            }
            for r in recommendations
        ],
        "total_monthly_savings": _money(total),
    }
