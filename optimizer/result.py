"""What a run stores: the recommended commitment plan as typed values, money as Decimal.

Pure module: no Django. The solver and the evaluator compute in float; every amount becomes a Decimal once,
through :func:`amount` (totals over a window or a month: cents) or :func:`rate` (per-hour rates, commitments and
quantities: 6 places). ``document()`` gives the stored document's shape with those Decimals in it; the run
service writes it to JSON once (a Decimal becomes a decimal string, the API convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from optimizer.offers import Offer

CENTS = Decimal("0.01")
RATE = Decimal("0.000001")


def _decimal(value: float, quantum: Decimal) -> Decimal:
    # The evaluator's floats carry noise beyond 6 places: round there first, then to the quantum.
    return Decimal(repr(round(float(value), 6))).quantize(quantum)


def amount(value: float) -> Decimal:
    """A total (USD over a window or a month) to the cent."""
    return _decimal(value, CENTS)


def rate(value: float) -> Decimal:
    """A rate (USD per hour), a commitment or a quantity, to 6 places."""
    return _decimal(value, RATE)


def amount_or_none(value: float | None) -> Decimal | None:
    return None if value is None else amount(value)


def amounts(values: Mapping[str, float]) -> dict[str, Decimal]:
    return {k: amount(v) for k, v in values.items()}


def rates(values: Mapping[str, float]) -> dict[str, Decimal]:
    return {k: rate(v) for k, v in values.items()}


def offer_document(offer: Offer) -> dict[str, Any]:
    """An offer as stored: its per-unit prices as Decimal (``upfront`` per unit is a total: cents)."""
    return {
        **offer.to_dict(),
        "hourly": rate(offer.hourly),
        "upfront": amount(offer.upfront),
        "hourly_cost": rate(offer.hourly_cost),
        "rates": rates(offer.rates),
    }


@dataclass(frozen=True)
class Purchase:
    """One recommended purchase: how much of which offer, and what it means in money (see :mod:`optimizer.plan`)."""

    offer: Offer
    quantity: Decimal  # units (reservations) or USD per hour (savings plans)
    upfront_total: Decimal
    monthly_cost: Decimal
    monthly_recurring: Decimal
    monthly_savings: Decimal
    break_even_month: int | None
    expected_utilization: float | None
    coverage: float | None
    discount: float

    @classmethod
    def from_report(cls, row: Mapping[str, Any], offer: Offer) -> Purchase:
        """From a row of :func:`optimizer.plan.plan_report` (floats)."""
        return cls(
            offer=offer,
            quantity=rate(row["quantity"]),
            upfront_total=amount(row["upfront_total"]),
            monthly_cost=amount(row["monthly_cost"]),
            monthly_recurring=amount(row["monthly_recurring"]),
            monthly_savings=amount(row["monthly_savings"]),
            break_even_month=row["break_even_month"],
            expected_utilization=row["expected_utilization"],
            coverage=row["coverage"],
            discount=row["discount"],
        )

    @property
    def quantity_unit(self) -> str:
        return "units" if self.offer.kind == "reservation" else "USD/hour"

    def document(self) -> dict[str, Any]:
        return {
            **offer_document(self.offer),
            "offer_id": self.offer.id,
            "quantity": self.quantity,
            "quantity_unit": self.quantity_unit,
            "upfront_total": self.upfront_total,
            "monthly_cost": self.monthly_cost,
            "monthly_recurring": self.monthly_recurring,
            "monthly_savings": self.monthly_savings,
            "break_even_month": self.break_even_month,
            "expected_utilization": self.expected_utilization,
            "coverage": self.coverage,
            "discount": self.discount,
        }


@dataclass(frozen=True)
class SpotPrice:
    price: Decimal  # USD per instance-hour
    source: str
    age_days: float | None = None  # the newest sample's age at prices_at
    stale: bool = False  # older than the limit; used only because the run opted in

    def document(self) -> dict[str, Any]:
        return {"price": self.price, "source": self.source, "age_days": self.age_days, "stale": self.stale}


@dataclass(frozen=True)
class CommitmentPlan:
    """A run's recommendation over its window: totals, the purchases, the offers weighed, the explanation and
    the coverage layers; with ``carbon`` on, the cost-vs-carbon front of the same demand."""

    window_start: datetime
    window_end: datetime
    hours: int
    prices_at: datetime
    skus: tuple[str, ...]
    usage_instance_hours: float
    sunk_instance_hours: float
    sunk_by_commitment: Mapping[str, float]
    all_on_demand: Decimal
    no_commitment: Decimal
    objective: Decimal
    bound: Decimal | None
    gap: float | None
    status: str
    savings: Decimal
    savings_pct: float
    monthly: Mapping[str, Decimal]  # all_on_demand, cost, savings per 730-hour month
    breakdown: Mapping[str, Decimal]  # plan cost by layer
    utilization: Mapping[str, float | None]  # offer id -> share of the bought capacity used
    overall_utilization: float | None
    upfront_total: Decimal
    purchases: tuple[Purchase, ...]
    offers_considered: int
    offers_dominated: Mapping[str, str]  # offer id -> the offer that dominates it
    offers: tuple[Offer, ...]
    spot_prices: Mapping[str, SpotPrice]
    solver_notes: tuple[str, ...]
    notes: tuple[str, ...]
    explanation: tuple[str, ...]
    hourly: Mapping[str, Any]  # coverage layers, instances per hour (see optimizer.solver.allocation)
    carbon: Mapping[str, Any] | None = None  # "carbon", "carbon_front", "carbon_placement" (money as Decimal)
    stranded_by_commitment: Mapping[str, float] = field(default_factory=dict)  # capacity rightsizing leaves idle
    price_age: Mapping[str, Any] = field(default_factory=dict)  # how old the prices the run used are
    # The window the plan stands for (the one after the demand window) and the existing commitments ending in it:
    # id, end, sunk_until (demand-window hour their coverage stops being sunk), released_instance_hours.
    plan_window: Mapping[str, Any] = field(default_factory=dict)
    expiring_commitments: tuple[Mapping[str, Any], ...] = ()

    def document(self) -> dict[str, Any]:
        """The run's stored ``results``, money as Decimal."""
        return {
            "window": {"start": self.window_start, "end": self.window_end, "hours": self.hours},
            "prices_at": self.prices_at,
            "skus": self.skus,
            "usage_instance_hours": self.usage_instance_hours,
            "sunk_instance_hours": self.sunk_instance_hours,
            "sunk_by_commitment": self.sunk_by_commitment,
            "stranded_instance_hours": sum(self.stranded_by_commitment.values()),
            "stranded_by_commitment": self.stranded_by_commitment,
            "plan_window": self.plan_window,
            "expiring_commitments": list(self.expiring_commitments),
            "post_expiry_instance_hours": sum(e["released_instance_hours"] for e in self.expiring_commitments),
            "price_age": self.price_age,
            "all_on_demand": self.all_on_demand,
            "no_commitment": self.no_commitment,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "status": self.status,
            "savings": self.savings,
            "savings_pct": self.savings_pct,
            "monthly": self.monthly,
            "breakdown": self.breakdown,
            "utilization": self.utilization,
            "overall_utilization": self.overall_utilization,
            "upfront_total": self.upfront_total,
            "purchases": [p.document() for p in self.purchases],
            "offers_considered": self.offers_considered,
            "offers_dominated": self.offers_dominated,
            "offers": [offer_document(o) for o in self.offers],
            "spot_prices": {sku: price.document() for sku, price in self.spot_prices.items()},
            "solver_notes": self.solver_notes,
            "notes": self.notes,
            "explanation": self.explanation,
            "hourly": self.hourly,
            **(self.carbon or {}),
        }
