"""Reads for the commitment optimizer: compute line items, catalog prices per SKU, run detail JSON."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import Lower
from django.http import Http404

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Organization, Team
from finops.core.money import money_str
from finops.usage.models import LineItem
from optimizer.demand import COLUMNS, split_sku
from optimizer.models import OptimizationRun
from optimizer.offers import CatalogPrice, SkuCatalog
from pricing.models import SpotPriceSample, Term
from pricing.offers import spot_stats
from pricing.selectors import LookupError_, age_days, catalog_published, price_lookup, spot_max_age

# The provider names (FOCUS ProviderName, matched without case) of each catalog provider's billing rows. The
# catalog holds AWS offers only: other providers' compute (Azure VM sizes, GCP machine types) is never paired
# with them; it stays as it is billed, named by ``other_provider_compute``.
CATALOG_PROVIDER_NAMES = {"aws": ("aws", "amazon web services", "amazon web services, inc.", "amazon")}
CATALOG_PROVIDER = "aws"
SPOT_RECENT = timedelta(days=30)  # spot price = time-weighted mean of the samples this close to the newest


@dataclass(frozen=True)
class Scope:
    accounts: Sequence[str] = ()  # billing or sub account ids
    regions: Sequence[str] = ()
    teams: Sequence[str] = ()  # team slugs


def _provider_q(provider: str) -> Q:
    return Q(provider_lower__in=CATALOG_PROVIDER_NAMES[provider])


def _all_compute_rows(organization: Organization, scope: Scope):
    rows = LineItem.objects.filter(organization=organization, charge_category="Usage", instance_type__isnull=False)
    rows = rows.exclude(instance_type="").annotate(provider_lower=Lower("provider_name"))
    if scope.accounts:
        rows = rows.filter(Q(sub_account_id__in=scope.accounts) | Q(billing_account_id__in=scope.accounts))
    if scope.regions:
        rows = rows.filter(region_id__in=scope.regions)
    if scope.teams:
        values = list(
            Team.objects.filter(organization=organization, slug__in=scope.teams).values_list("tag_value", flat=True)
        )
        rows = rows.filter(team_tag_value__in=values)
    return rows


def _compute_rows(organization: Organization, scope: Scope):
    """The compute usage rows in scope that the catalog's offers can serve (the catalog provider's)."""
    return _all_compute_rows(organization, scope).filter(_provider_q(CATALOG_PROVIDER))


def other_provider_compute(organization: Organization, scope: Scope) -> dict[str, int]:
    """Compute usage rows in scope of providers the catalog has no offers for: provider name -> rows. The
    optimizer leaves them out (they stay on their current pricing)."""
    rows = _all_compute_rows(organization, scope).exclude(_provider_q(CATALOG_PROVIDER))
    counted = rows.values("provider_name").annotate(n=Count("id")).order_by("provider_name")
    return {r["provider_name"]: r["n"] for r in counted}


def compute_usage_span(organization: Organization, scope: Scope) -> tuple[datetime | None, datetime | None]:
    """First start and last end of the organization's compute usage rows in scope."""
    span = _compute_rows(organization, scope).aggregate(first=Min("charge_period_start"), last=Max("charge_period_end"))
    return span["first"], span["last"]


def compute_line_items(organization: Organization, *, start: datetime, end: datetime, scope: Scope) -> pd.DataFrame:
    """Compute usage rows overlapping [start, end) as a DataFrame with :data:`optimizer.demand.COLUMNS`."""
    # Rows start at most a day before the window when an export is daily; hourly rows start inside it.
    rows = _compute_rows(organization, scope).filter(
        charge_period_start__gte=start - timedelta(days=1), charge_period_start__lt=end
    )
    records = list(rows.values_list(*COLUMNS))
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for column in ("consumed_quantity", "pricing_quantity"):
        frame[column] = pd.to_numeric(frame[column].map(lambda v: None if v is None else float(v)), errors="coerce")
    return frame


def commitment_catalog(
    skus: Iterable[str], *, at: datetime, provider: str = "aws", allow_stale_spot: bool = False
) -> tuple[dict[str, SkuCatalog], list[str]]:
    """Catalog prices of each SKU ("type@region") in force at ``at``; also the SKUs without an on-demand price.

    Each entry says how old its prices are. Spot whose newest sample is older than ``spot_max_age()`` is stale:
    left out (``spot`` None, ``spot_stale`` True) unless ``allow_stale_spot``."""
    limit = spot_max_age()
    catalog: dict[str, SkuCatalog] = {}
    unpriced: list[str] = []
    for sku in skus:
        instance_type, region = split_sku(sku)
        try:
            lookup = price_lookup(provider=provider, region=region, instance_type=instance_type, at=at)
        except LookupError_:
            unpriced.append(sku)
            continue
        if lookup.on_demand is None:
            unpriced.append(sku)
            continue
        commitments = []
        used_ages = [
            age_days(at, catalog_published(v.price))
            for v in lookup.prices
            if v.price.term == Term.ON_DEMAND and v.price.hourly == lookup.on_demand
        ]
        for view in lookup.prices:
            price = view.price
            if price.term not in (Term.RESERVED, Term.SAVINGS_PLAN) or not price.lease_years:
                continue
            if price.currency != "USD" or price.tier_start not in (None, 0):
                continue
            commitments.append(
                CatalogPrice(
                    kind="reservation" if price.term == Term.RESERVED else "savings_plan",
                    lease_years=price.lease_years,
                    purchase_option=price.purchase_option or "",
                    upfront=price.upfront,
                    hourly=price.hourly,
                    offering_class=price.offering_class,
                    plan_type=price.plan_type,
                    derived=price.derived,
                    provenance=price.provenance or view.source,
                )
            )
            used_ages.append(age_days(at, catalog_published(price)))
        spot, spot_source, newest = _recent_spot(provider, region, instance_type, at, lookup.on_demand)
        spot_age = age_days(at, newest)
        stale = newest is not None and at - newest > limit
        if stale:
            spot_source = f"{spot_source}; stale: newest sample {spot_age} days old (limit {limit.days} days)"
            if not allow_stale_spot:
                spot = None
        catalog[sku] = SkuCatalog(
            sku=sku,
            on_demand=lookup.on_demand,
            spot=spot,
            spot_source=spot_source,
            commitments=tuple(commitments),
            catalog_age_days=max((a for a in used_ages if a is not None), default=None),
            spot_age_days=spot_age,
            spot_stale=stale,
        )
    return catalog, unpriced


def _recent_spot(provider: str, region: str, instance_type: str, at: datetime, on_demand: Decimal):
    samples = SpotPriceSample.objects.filter(
        provider=provider, region=region, instance_type=instance_type, operating_system="linux", timestamp__lte=at
    )
    newest = samples.aggregate(t=Max("timestamp"))["t"]
    if newest is None:
        return None, "", None
    recent = list(samples.filter(timestamp__gte=newest - SPOT_RECENT).values_list("timestamp", "price"))
    stats = spot_stats(recent, on_demand)
    if stats is None:
        return None, "", None
    source = (
        f"time-weighted mean of {stats.samples} spot samples {stats.first:%Y-%m-%d %H:%M}..{stats.last:%Y-%m-%d %H:%M}"
    )
    return stats.mean, source, newest


def on_demand_prices(
    pairs: Iterable[tuple[str, str]], *, at: datetime, provider: str = "aws"
) -> dict[tuple[str, str], float | None]:
    """On-demand USD per instance-hour of each (instance type, region) at ``at``; None where the catalog has
    none (the carbon trade-off's region options)."""
    out: dict[tuple[str, str], float | None] = {}
    for instance_type, region in pairs:
        try:
            found = price_lookup(provider=provider, region=region, instance_type=instance_type, at=at)
        except LookupError_:
            out[(instance_type, region)] = None
            continue
        out[(instance_type, region)] = float(found.on_demand) if found.on_demand is not None else None
    return out


# --------------------------------------------------------------------------------------------
# Runs


def optimization_runs(policy: AccessPolicy) -> QuerySet[OptimizationRun]:
    """The organization's runs. A run prices the whole organization's usage, so a caller limited to some teams
    reads none (``PermissionDenied``)."""
    if not policy.sees_all_teams:
        raise PermissionDenied("Optimizer runs cover the whole organization: finance, admins and viewers only.")
    return OptimizationRun.objects.filter(organization=policy.organization)


def optimization_run_get(policy: AccessPolicy, run_id: int) -> OptimizationRun:
    run = optimization_runs(policy).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return run


def _money(value: float | Decimal | None, places: str = "0.01") -> str | None:
    if value is None:
        return None
    return money_str(Decimal(str(value)).quantize(Decimal(places)))


def optimization_run_detail(run: OptimizationRun) -> dict[str, Any]:
    """A run as a JSON-able dict: status, parameters, solver math, purchases, breakdown, backtest table.
    Money is decimal strings (cents; rates to 6 places)."""
    purchases = [
        {
            "offer_id": r.offer_id,
            "kind": r.kind,
            "sku": r.sku or None,
            "family": r.family or None,
            "region": r.region or None,
            "term": r.term,
            "payment": r.payment,
            "offering_class": r.offering_class or None,
            "plan_type": r.plan_type or None,
            "quantity": money_str(r.quantity.normalize())
            if r.kind == r.Kind.RESERVATION
            else _money(r.quantity, "0.000001"),
            "quantity_unit": "units" if r.kind == r.Kind.RESERVATION else "USD/hour",
            "upfront": _money(r.upfront),
            "monthly_cost": _money(r.monthly_cost),
            "monthly_savings": _money(r.monthly_savings),
            "break_even_month": r.break_even_month,
            "expected_utilization": r.expected_utilization,
            "coverage": r.coverage,
            "derived_price": r.derived_price,
            "provenance": r.provenance,
        }
        for r in run.recommendations.all()
    ]
    return {
        "id": run.pk,
        "organization": run.organization.slug,
        "status": run.status,
        "parameters": run.parameters,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error or None,
        "solver": {
            "status": run.solver_status or None,
            "objective": _money(run.objective),
            "bound": _money(run.bound),
            "gap": run.gap,
            "build_seconds": run.build_seconds,
            "solve_seconds": run.solve_seconds,
            "solver": run.solver or None,
        },
        "purchases": purchases,
        "results": run.results,
        "backtest": run.backtest,
    }
