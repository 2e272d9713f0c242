"""Commitment offers from catalog prices, and the solver's :class:`Problem` from demand + offers.

Pure module: no Django. The Django side reads the catalog into :class:`SkuCatalog` records.

- Reservations: every reserved variant (offering class standard / convertible) the catalog has for the
  chosen term and payment option. Regional Linux RIs are size-flexible within a family (AWS "instance size
  flexibility"), so one offer covers every size of a family in a region: its unit is the smallest size that
  has a price, and an hour of size k consumes ``nf(k) / nf(unit)`` units (normalization factors). Without
  normalization factors the offer covers its own SKU only.
- Savings plans: a Compute plan (every SKU it has a rate for) and EC2 Instance plans (one per family and
  region), at the chosen term and payment option.
- ``hourly_cost`` = recurring hourly + upfront / term hours (what the solver minimises); ``upfront`` = cash
  at purchase (what the upfront budget limits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from optimizer.demand import split_sku
from optimizer.solver.problem import Problem, Reservation, SavingsPlan, Sku
from pricing.offers import effective_hourly
from pricing.specs import normalization_factor, split_instance_type

PAYMENT_OPTIONS = ("no_upfront", "partial_upfront", "all_upfront")


class OfferError(ValueError):
    """The catalog cannot price the demand (no on-demand price, no commitment offer)."""


@dataclass(frozen=True)
class CatalogPrice:
    """One reserved or savings-plan price of one SKU, per instance-hour."""

    kind: str  # "reservation" | "savings_plan"
    lease_years: int
    purchase_option: str
    upfront: Decimal  # per unit, at purchase
    hourly: Decimal  # recurring, per instance-hour
    offering_class: str | None = None  # reservations: standard | convertible
    plan_type: str | None = None  # savings plans: compute | ec2_instance
    derived: bool = False
    provenance: str = ""


@dataclass(frozen=True)
class SkuCatalog:
    """What the catalog says about one SKU (instance type in a region)."""

    sku: str
    on_demand: Decimal
    spot: float | None = None  # recent mean spot price, None when the catalog has no samples
    spot_source: str = ""
    commitments: tuple[CatalogPrice, ...] = ()
    catalog_age_days: float | None = None  # the oldest on-demand or commitment price used, days before prices_at
    spot_age_days: float | None = None  # the newest spot sample's age at prices_at (None: no samples)
    spot_stale: bool = False  # spot_age_days beyond the limit; ``spot`` is then None unless the run opted in


@dataclass(frozen=True)
class Offer:
    id: str
    kind: str  # "reservation" | "savings_plan"
    region: str | None
    lease_years: int
    purchase_option: str
    hourly: float  # recurring per unit (reservations) / 0 (plans: the commitment is the variable)
    upfront: float  # per unit at purchase (reservations)
    hourly_cost: float  # effective per unit: recurring + upfront / term hours
    covers: dict[str, float] = field(default_factory=dict)  # reservations
    rates: dict[str, float] = field(default_factory=dict)  # savings plans
    family: str | None = None
    unit_sku: str | None = None  # reservations: the size one unit is
    offering_class: str | None = None
    plan_type: str | None = None
    derived: bool = False
    provenance: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "family": self.family,
            "unit_sku": self.unit_sku,
            "region": self.region,
            "term": f"{self.lease_years}y",
            "payment": self.purchase_option,
            "offering_class": self.offering_class,
            "plan_type": self.plan_type,
            "hourly": self.hourly,
            "upfront": self.upfront,
            "hourly_cost": self.hourly_cost,
            "covers": self.covers,
            "rates": self.rates,
            "derived": self.derived,
            "provenance": self.provenance,
        }


@dataclass(frozen=True)
class OfferSet:
    catalog: dict[str, SkuCatalog]
    reservations: tuple[Offer, ...]
    savings_plans: tuple[Offer, ...]
    spot_max_share: float
    notes: tuple[str, ...] = ()

    @property
    def offers(self) -> dict[str, Offer]:
        return {o.id: o for o in (*self.reservations, *self.savings_plans)}


def _nf(instance_type: str) -> Decimal | None:
    try:
        return normalization_factor(instance_type, {})
    except (KeyError, ValueError):
        return None


def build_offers(
    catalog: Mapping[str, SkuCatalog],
    *,
    lease_years: int,
    purchase_option: str,
    spot_max_share: float = 0.0,
) -> OfferSet:
    """Every reservation and savings plan the catalog has for these SKUs at this term and payment option."""
    if lease_years not in (1, 3):
        raise OfferError(f"term must be 1 or 3 years, got {lease_years!r}")
    if purchase_option not in PAYMENT_OPTIONS:
        raise OfferError(f"payment must be one of {', '.join(PAYMENT_OPTIONS)}, got {purchase_option!r}")
    if not 0.0 <= spot_max_share <= 1.0:
        raise OfferError(f"max spot share must be within 0..1, got {spot_max_share!r}")
    notes: list[str] = []

    def matching(entry: SkuCatalog, kind: str) -> list[CatalogPrice]:
        return [
            p
            for p in entry.commitments
            if p.kind == kind and p.lease_years == lease_years and p.purchase_option == purchase_option
        ]

    # Reservations: group SKUs by (family, region, offering class).
    groups: dict[tuple[str, str, str], list[tuple[str, CatalogPrice | None]]] = defaultdict(list)
    for sku in sorted(catalog):
        instance_type, region = split_sku(sku)
        family, _ = split_instance_type(instance_type)
        classes = {p.offering_class or "standard": p for p in matching(catalog[sku], "reservation")}
        for offering in ("standard", "convertible"):
            groups[(family, region, offering)].append((sku, classes.get(offering)))
    reservations: list[Offer] = []
    for (family, region, offering), members in sorted(groups.items()):
        priced = [(sku, price) for sku, price in members if price is not None]
        if not priced:
            continue
        factors = {sku: _nf(split_sku(sku)[0]) for sku, _ in members}
        flexible = all(f is not None and f > 0 for f in factors.values())
        candidates = [[(sku, price)] for sku, price in priced] if not flexible else [priced]
        for group in candidates:
            unit_sku, price = min(group, key=lambda item: (factors[item[0]] or 0, item[0]))
            if flexible:
                base = factors[unit_sku]
                covers = {sku: float(factors[sku] / base) for sku, _ in members}
                label = family
            else:
                covers = {unit_sku: 1.0}
                label = split_sku(unit_sku)[0]
            effective = effective_hourly(hourly=price.hourly, upfront=price.upfront, lease_years=lease_years)
            reservations.append(
                Offer(
                    id=f"ri:{label}@{region}:{lease_years}y:{offering}:{purchase_option}",
                    kind="reservation",
                    region=region,
                    lease_years=lease_years,
                    purchase_option=purchase_option,
                    hourly=float(price.hourly),
                    upfront=float(price.upfront),
                    hourly_cost=float(effective),
                    covers=covers,
                    family=family,
                    unit_sku=unit_sku,
                    offering_class=offering,
                    derived=price.derived,
                    provenance=price.provenance,
                )
            )

    plans: dict[tuple[str, str | None, str | None], dict[str, CatalogPrice]] = defaultdict(dict)
    for sku in sorted(catalog):
        instance_type, region = split_sku(sku)
        family, _ = split_instance_type(instance_type)
        for price in matching(catalog[sku], "savings_plan"):
            if price.upfront:
                # A prepaid plan's cash is outside the solver's upfront budget: not offered (stated below).
                continue
            plan_type = price.plan_type or "compute"
            key = ("compute", None, None) if plan_type == "compute" else (plan_type, family, region)
            plans[key][sku] = price
    savings_plans: list[Offer] = []
    for (plan_type, family, region), rates in sorted(plans.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        scope = "" if family is None else f":{family}@{region}"
        first = next(iter(rates.values()))
        savings_plans.append(
            Offer(
                id=f"sp:{plan_type}{scope}:{lease_years}y:{purchase_option}",
                kind="savings_plan",
                region=region,
                lease_years=lease_years,
                purchase_option=purchase_option,
                hourly=0.0,
                upfront=0.0,
                hourly_cost=1.0,
                rates={sku: float(p.hourly) for sku, p in rates.items()},
                family=family,
                plan_type=plan_type,
                derived=any(p.derived for p in rates.values()),
                provenance=first.provenance if len({p.provenance.split(":")[0] for p in rates.values()}) == 1 else "",
            )
        )
    if not savings_plans:
        notes.append(f"the catalog has no savings-plan rates for {lease_years}y {purchase_option}: none offered")
    if not reservations:
        notes.append(f"the catalog has no reserved prices for {lease_years}y {purchase_option}: none offered")
    return OfferSet(dict(catalog), tuple(reservations), tuple(savings_plans), spot_max_share, tuple(notes))


def build_problem(net: pd.DataFrame, offers: OfferSet, *, upfront_budget: float | None = None) -> Problem:
    """The solver's :class:`Problem` for hourly demand ``net`` (index hours, columns SKUs): every SKU of ``net``
    with its prices, and the offers that cover at least one of them (restricted to those SKUs)."""
    missing = [sku for sku in net.columns if sku not in offers.catalog]
    if missing:
        raise OfferError(f"no on-demand price for {', '.join(missing)}")
    skus = []
    for sku in net.columns:
        entry = offers.catalog[sku]
        if entry.spot is not None and offers.spot_max_share > 0:
            skus.append(Sku(sku, float(entry.on_demand), float(entry.spot), offers.spot_max_share))
        else:
            skus.append(Sku(sku, float(entry.on_demand)))
    present = set(net.columns)
    reservations = []
    for offer in offers.reservations:
        covers = {k: v for k, v in offer.covers.items() if k in present}
        if covers:
            reservations.append(Reservation(offer.id, offer.hourly_cost, covers, offer.upfront))
    plans = []
    for offer in offers.savings_plans:
        rates = {k: v for k, v in offer.rates.items() if k in present}
        if rates:
            plans.append(SavingsPlan(offer.id, rates))
    return Problem(
        hours=len(net.index),
        skus=tuple(skus),
        demand={sku: tuple(float(v) for v in net[sku].to_numpy()) for sku in net.columns},
        reservations=tuple(reservations),
        savings_plans=tuple(plans),
        upfront_budget=upfront_budget,
    )


def prune_dominated(problem: Problem, *, tolerance: float = 1e-9) -> tuple[Problem, dict[str, str]]:
    """Drop offers that can never make a plan cheaper; return (smaller problem, {dropped id: dominating id}).

    Exact (the optimum is unchanged):
    - a reservation is dominated by another with the same ``covers``, no higher ``hourly_cost`` and no higher
      ``upfront`` (e.g. a convertible RI next to the standard one);
    - a reservation is dominated by a savings plan whose rate for every SKU it covers is at most
      covers_k x hourly_cost: x units of the reservation are replaced by x x hourly_cost more plan commitment,
      which serves the same usage at the same cost without upfront cash (the plan is the reservation with
      continuous units);
    - a savings plan is dominated by another that rates every SKU it rates, each no higher.
    ``tolerance`` is absolute, in $ per hour, for rates published rounded to 6 places.
    """
    plans = problem.savings_plans
    dropped: dict[str, str] = {}

    kept_r: list[Reservation] = []
    for r in sorted(problem.reservations, key=lambda r: (r.hourly_cost, r.upfront, r.id)):
        twin = next(
            (o for o in kept_r if o.covers == r.covers and o.hourly_cost <= r.hourly_cost + tolerance
             and o.upfront <= r.upfront + tolerance),
            None,
        )  # fmt: skip
        if twin is not None:
            dropped[r.id] = twin.id
            continue
        plan = next(
            (s for s in plans if all(k in s.rates and s.rates[k] <= a * r.hourly_cost + tolerance
                                     for k, a in r.covers.items())),
            None,
        )  # fmt: skip
        if plan is not None:
            dropped[r.id] = plan.id
            continue
        kept_r.append(r)
    kept_s: list[SavingsPlan] = []
    for s in sorted(plans, key=lambda p: (-len(p.rates), sum(p.rates.values()), p.id)):
        better = next(
            (o for o in kept_s if all(k in o.rates and o.rates[k] <= v + tolerance for k, v in s.rates.items())),
            None,
        )
        if better is not None:
            dropped[s.id] = better.id
            continue
        kept_s.append(s)
    keep = {r.id for r in kept_r} | {s.id for s in kept_s}
    return problem.restricted(keep), dropped
