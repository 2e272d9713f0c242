"""Reads over the price catalog: every term of a SKU side by side, as of a date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from pricing.models import Price, Sku, SpotPriceSample, Term
from pricing.offers import SpotStats, break_even_month, effective_hourly, savings_vs_on_demand, spot_stats

HOURLY_UNITS = ("Hrs", "Hours", "Hour", "1 Hour")


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
    samples = SpotPriceSample.objects.filter(
        provider=provider,
        region=region,
        instance_type=instance_type,
        operating_system=operating_system,
        timestamp__lte=at,
    ).values_list("timestamp", "price")
    result.spot = spot_stats(list(samples), on_demand)
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
