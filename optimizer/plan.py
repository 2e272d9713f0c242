"""What a purchase plan means in money: per-purchase monthly cost, savings, break-even, utilisation, coverage.

Pure module: no Django. Every cost comes from the solver's independent evaluator
(:func:`optimizer.solver.evaluate_detail`) on the :class:`Problem` the plan was bought for.

Per-purchase savings are *incremental*: purchases are added one at a time, deepest discount first (the
order AWS applies discounts in: reservations before plans, bigger discounts first), and each is credited
with the cost it removes given the ones before it. They therefore add up exactly to the plan's savings
against buying nothing, which the per-offer marginal savings would not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.offers import Offer, OfferSet
from optimizer.solver import Evaluation, Problem, evaluate_detail

HOURS_PER_MONTH = 730.0  # 8,760 / 12, AWS's convention for monthly commitment figures


def bought(reservations: Mapping[str, float], savings_plans: Mapping[str, float]) -> dict[str, float]:
    out = {k: float(v) for k, v in reservations.items() if v > 0}
    out.update({k: float(v) for k, v in savings_plans.items() if v > 1e-9})
    return out


def evaluate_plan(problem: Problem, purchases: Mapping[str, float], offers: OfferSet) -> Evaluation:
    """The evaluator's cost of ``purchases`` (offer id -> units or $/h) on ``problem``."""
    ids = {k for k in purchases if k in problem.offer_ids()}
    reduced = problem.restricted(ids)
    res = {k: v for k, v in purchases.items() if k in ids and offers.offers[k].kind == "reservation"}
    plans = {k: v for k, v in purchases.items() if k in ids and offers.offers[k].kind == "savings_plan"}
    return evaluate_detail(reduced, res, plans)


def discount(offer: Offer, offers: OfferSet) -> float:
    """Deepest discount the offer gives against on-demand on any SKU it applies to (0.3 = 30%)."""
    if offer.kind == "reservation":
        return max(
            1.0 - offer.hourly_cost * units / float(offers.catalog[sku].on_demand)
            for sku, units in offer.covers.items()
        )
    return max(1.0 - rate / float(offers.catalog[sku].on_demand) for sku, rate in offer.rates.items())


def commitment_hourly(offer: Offer, quantity: float) -> float:
    return offer.hourly_cost * quantity


def break_even_month(
    *, upfront: float, monthly_recurring: float, monthly_avoided: float, term_months: int
) -> int | None:
    """First month at whose end the purchase has cost no more than what it avoided; None if never in term."""
    net = monthly_avoided - monthly_recurring
    if net <= 0:
        return None
    months = max(1, math.ceil(upfront / net - 1e-9)) if upfront > 0 else 1
    return months if months <= term_months else None


@dataclass(frozen=True)
class PlanReport:
    purchases: list[dict[str, Any]]
    cost: float
    no_commitment: float
    all_on_demand: float
    breakdown: dict[str, float]
    utilization: dict[str, float | None]
    overall_utilization: float | None


def plan_report(problem: Problem, offers: OfferSet, purchases: Mapping[str, float]) -> PlanReport:
    """Money figures of a plan on the window ``problem`` describes (usually its training window)."""
    hours = problem.hours
    per_month = HOURS_PER_MONTH / hours
    ordered = sorted(purchases, key=lambda k: (-discount(offers.offers[k], offers), k))
    full = evaluate_plan(problem, purchases, offers)
    nothing = evaluate_plan(problem, {}, offers)
    previous = nothing.cost
    demand = problem.demand
    rows: list[dict[str, Any]] = []
    for i, offer_id in enumerate(ordered):
        offer, quantity = offers.offers[offer_id], purchases[offer_id]
        cost_with = evaluate_plan(problem, {k: purchases[k] for k in ordered[: i + 1]}, offers).cost
        savings = previous - cost_with
        previous = cost_with
        monthly_cost = commitment_hourly(offer, quantity) * HOURS_PER_MONTH
        monthly_recurring = (offer.hourly if offer.kind == "reservation" else 1.0) * quantity * HOURS_PER_MONTH
        upfront = offer.upfront * quantity if offer.kind == "reservation" else 0.0
        monthly_savings = savings * per_month
        kind_key = "reservations" if offer.kind == "reservation" else "savings_plans"
        util = full.utilization[kind_key].get(offer_id)
        weights = offer.covers if offer.kind == "reservation" else offer.rates
        eligible = sum(w * sum(demand.get(sku, ())) for sku, w in weights.items())
        capacity = quantity * hours  # units x hours, or $/h x hours
        coverage = (util or 0.0) * capacity / eligible if eligible > 0 else None
        rows.append(
            {
                **offer.to_dict(),
                "offer_id": offer_id,
                "quantity": quantity,
                "quantity_unit": "units" if offer.kind == "reservation" else "USD/hour",
                "upfront_total": upfront,
                "monthly_cost": monthly_cost,
                "monthly_recurring": monthly_recurring,
                "monthly_savings": monthly_savings,
                "break_even_month": break_even_month(
                    upfront=upfront,
                    monthly_recurring=monthly_recurring,
                    monthly_avoided=monthly_savings + monthly_cost,
                    term_months=12 * offer.lease_years,
                ),
                "expected_utilization": util,
                "coverage": None if coverage is None else min(1.0, coverage),
                "discount": discount(offer, offers),
            }
        )
    commit = {k: commitment_hourly(offers.offers[k], v) for k, v in purchases.items()}
    utils = {
        k: full.utilization["reservations" if offers.offers[k].kind == "reservation" else "savings_plans"].get(k)
        for k in purchases
    }
    total_commit = sum(commit.values())
    overall = sum((utils[k] or 0.0) * commit[k] for k in commit) / total_commit if total_commit > 0 else None
    return PlanReport(
        purchases=rows,
        cost=full.cost,
        no_commitment=nothing.cost,
        all_on_demand=problem.all_on_demand_cost(),
        breakdown=full.breakdown,
        utilization=utils,
        overall_utilization=overall,
    )
