"""Reads over the price catalog: every term of a SKU side by side, as of a date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from finops.core.amounts import money_str
from pricing.models import Price, Sku, SpotPriceSample, Term
from pricing.offers import SpotStats, break_even_month, effective_hourly, savings_vs_on_demand, spot_stats

HOURLY_UNITS = ("Hrs", "Hours", "Hour", "1 Hour")


def spot_max_age() -> timedelta:
    """Spot samples older than this (``FINOPS_SPOT_MAX_AGE_DAYS``) are stale: not used to plan spot by default."""
    return timedelta(days=settings.FINOPS_SPOT_MAX_AGE_DAYS)


def age_days(at: datetime, stamp: datetime | None) -> float | None:
    """Days from ``stamp`` to ``at`` (0 when it is later), rounded to 0.1; None without a stamp."""
    if stamp is None:
        return None
    return round(max((at - stamp).total_seconds(), 0.0) / 86400, 1)


def catalog_published(price: Price) -> datetime:
    """When a price's catalog was published: its publication date, else when it was imported."""
    catalog = price.catalog_import
    return catalog.publication_date or catalog.created_at


class LookupError_(LookupError):
    """No SKU matches the lookup."""


@dataclass(frozen=True)
class PriceView:
    price: Price
    effective_hourly: Decimal
    savings: Decimal | None
    break_even_month: int | None
    source: str


@dataclass
class PriceLookup:
    sku: Sku
    at: datetime
    prices: list[PriceView] = field(default_factory=list)
    on_demand: Decimal | None = None
    spot: SpotStats | None = None
    spot_by_zone: dict[str, SpotStats] = field(default_factory=dict)


def prices_at(sku: Sku, at: datetime):
    """The prices of ``sku`` in force at ``at``: started on or before it (or undated) and not yet ended."""
    return (
        Price.objects.filter(sku=sku)
        .filter(Q(effective_from__lte=at) | Q(effective_from__isnull=True))
        .filter(Q(effective_to__gt=at) | Q(effective_to__isnull=True))
        .select_related("catalog_import")
    )


def price_lookup(
    *, provider: str, region: str, instance_type: str, operating_system: str = "linux", at: datetime
) -> PriceLookup:
    skus = Sku.objects.filter(
        provider=provider, region=region, instance_type=instance_type, operating_system=operating_system
    ).filter(Q(tenancy__isnull=True) | Q(tenancy="shared"))
    sku = skus.order_by("sku_key").first()
    if sku is None:
        raise LookupError_(
            f"no {provider} SKU for {instance_type} ({operating_system}) in {region}; import a catalog first"
        )
    # Every SKU row of this (type, region, os): providers publish terms under different SKU codes.
    prices = [p for s in skus for p in prices_at(s, at) if p.unit in HOURLY_UNITS or p.term == Term.SPOT]
    on_demand = min(
        (p.hourly for p in prices if p.term == Term.ON_DEMAND and p.hourly > 0 and p.tier_start in (None, 0)),
        default=None,
    )
    result = PriceLookup(sku=sku, at=at, on_demand=on_demand)
    for price in sorted(prices, key=_order):
        effective = effective_hourly(hourly=price.hourly, upfront=price.upfront, lease_years=price.lease_years)
        result.prices.append(
            PriceView(
                price=price,
                effective_hourly=effective,
                savings=savings_vs_on_demand(effective=effective, on_demand=on_demand) if on_demand else None,
                break_even_month=(
                    break_even_month(
                        hourly=price.hourly, upfront=price.upfront, on_demand=on_demand, lease_years=price.lease_years
                    )
                    if on_demand and price.term in (Term.RESERVED, Term.SAVINGS_PLAN)
                    else None
                ),
                source=f"{price.catalog_import.source} {price.catalog_import.version}".strip(),
            )
        )
    samples = list(
        SpotPriceSample.objects.filter(
            provider=provider,
            region=region,
            instance_type=instance_type,
            operating_system=operating_system,
            timestamp__lte=at,
        ).values_list("availability_zone", "timestamp", "price")
    )
    # Each zone is its own price series; the region figure pools them.
    result.spot = spot_stats([(t, p) for _, t, p in samples], on_demand)
    zones = sorted({zone for zone, _, _ in samples})
    result.spot_by_zone = {zone: spot_stats([(t, p) for z, t, p in samples if z == zone], on_demand) for zone in zones}
    return result


_TERM_ORDER = {Term.ON_DEMAND: 0, Term.RESERVED: 1, Term.SAVINGS_PLAN: 2, Term.SPOT: 3}


def _order(price: Price) -> tuple:
    return (
        _TERM_ORDER.get(price.term, 9),
        price.plan_type or "",
        price.lease_years or 0,
        price.offering_class or "",
        price.purchase_option or "",
        price.derived,
    )


def lookup_payload(lookup: PriceLookup) -> dict:
    """The JSON shape of a lookup, shared by price_lookup --json and the API: amounts as decimal strings."""
    sku = lookup.sku
    spot = lookup.spot
    return {
        "sku": {
            "sku_key": sku.sku_key,
            "provider": sku.provider,
            "region": sku.region,
            "instance_type": sku.instance_type,
            "operating_system": sku.operating_system,
            "tenancy": sku.tenancy,
            "vcpu": sku.vcpu,
            "memory_gib": money_str(sku.memory_gib),
            "architecture": sku.architecture,
            "gpu": sku.gpu,
            "instance_family": sku.instance_family,
            "normalization_factor": money_str(sku.normalization_factor),
        },
        "at": lookup.at.isoformat(),
        "prices": [
            {
                "term": v.price.term,
                "lease_years": v.price.lease_years,
                "purchase_option": v.price.purchase_option,
                "offering_class": v.price.offering_class,
                "plan_type": v.price.plan_type,
                "upfront": money_str(v.price.upfront),
                "hourly": money_str(v.price.hourly),
                "effective_hourly": money_str(v.effective_hourly),
                "currency": v.price.currency,
                "unit": v.price.unit,
                "effective_from": v.price.effective_from.isoformat() if v.price.effective_from else None,
                "published": catalog_published(v.price).isoformat(),
                "age_days": age_days(lookup.at, catalog_published(v.price)),
                "savings": money_str(v.savings) if v.savings is not None else None,
                "break_even_month": v.break_even_month,
                "source": v.source,
                "derived": v.price.derived,
                "provenance": v.price.provenance,
            }
            for v in lookup.prices
        ],
        "price_age": price_age_payload(lookup),
        "spot": (
            {
                **_spot_json(spot),
                "age_days": age_days(lookup.at, spot.last),
                "stale": lookup.at - spot.last > spot_max_age(),
                "zones": {zone: _spot_json(stats) for zone, stats in lookup.spot_by_zone.items()},
            }
            if spot
            else None
        ),
    }


def price_age_payload(lookup: PriceLookup) -> dict:
    """How old the looked-up prices are at ``at``: the oldest catalog price's age and the newest spot sample's, in
    days, with the spot limit and whether spot is past it."""
    ages = [age_days(lookup.at, catalog_published(v.price)) for v in lookup.prices]
    spot_age = age_days(lookup.at, lookup.spot.last) if lookup.spot else None
    limit = spot_max_age().days
    return {
        "catalog_days": max((a for a in ages if a is not None), default=None),
        "spot_days": spot_age,
        "spot_max_age_days": limit,
        "spot_stale": lookup.spot is not None and lookup.at - lookup.spot.last > spot_max_age(),
    }


def _spot_json(spot: SpotStats) -> dict:
    return {
        "samples": spot.samples,
        "first": spot.first.isoformat(),
        "last": spot.last.isoformat(),
        "mean": f"{spot.mean:.6f}",
        "p95": f"{spot.p95:.6f}",
        "max": f"{spot.max:.6f}",
        "volatility": round(spot.volatility, 4),
        "share_above_50pct_on_demand": spot.share_above_50pct_on_demand,
        "share_above_80pct_on_demand": spot.share_above_80pct_on_demand,
        "interruption_risk": spot.interruption_risk,
    }
