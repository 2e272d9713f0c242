"""What-if: a user's own purchase list, priced by the independent evaluator next to the optimal plan and the
baselines, on the same problem.

Pure module: no Django. The what-if document (JSON)::

    {"reservations": [{"offer": "ri:m5@us-east-1:1y:standard:no_upfront", "count": 3}],
     "savings_plans": [{"offer": "sp:compute:1y:no_upfront", "hourly_commitment": "12.5"}]}

Offer ids are the run's (its ``results.offers``). ``count`` is a whole number of reservation units (the offer's
``unit_sku``); ``hourly_commitment`` USD per hour, a number or a decimal string with at most 6 decimal places.
Both lists may be absent or empty (buying nothing). :func:`parse_what_if` reports every bad field at once, by
JSON path.

Every figure of every scenario comes from one :func:`optimizer.solver.allocation.hourly_allocation` (the
evaluator's exact allocation) of the scenario's purchases: cost and its breakdown, utilization, and coverage
(the share of the demand served by commitments). The keys are those of :func:`optimizer.backtest.realised`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from optimizer.offers import OfferSet
from optimizer.plan import HOURS_PER_MONTH, break_even_month, evaluate_plan, plan_report
from optimizer.solver import Problem
from optimizer.solver.allocation import hourly_allocation

MAX_COUNT = 1_000_000  # reservation units of one offer
MAX_HOURLY = Decimal(1_000_000)  # USD per hour of one savings plan
RATE_PLACES = 6
HOURS_PER_YEAR = 8760
ROOT_KEYS = ("reservations", "savings_plans")
ITEM_KEYS = {"reservations": ("offer", "count"), "savings_plans": ("offer", "hourly_commitment")}
KIND_OF_LIST = {"reservations": "reservation", "savings_plans": "savings_plan"}
OFFER_PREFIXES = ("ri:", "sp:")


class WhatIfError(ValueError):
    """An invalid what-if document; ``errors`` maps each bad field's JSON path to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class WhatIf:
    """A validated purchase list: reservation units and savings-plan USD per hour, by offer id."""

    reservations: Mapping[str, int]
    savings_plans: Mapping[str, Decimal]

    def purchases(self) -> dict[str, float]:
        """Offer id -> quantity of what is bought (zero quantities left out), for the evaluator."""
        out = {k: float(v) for k, v in self.reservations.items() if v > 0}
        out.update({k: float(v) for k, v in self.savings_plans.items() if v > 0})
        return out


def load_what_if(text: str) -> Any:
    """Decode a what-if file's text; invalid JSON is a :class:`WhatIfError` on ``what_if``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WhatIfError({"what_if": f"invalid JSON: {exc}"}) from exc


def _count(value: Any, field: str, errors: dict[str, str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors[field] = f"must be a whole number of reservation units, got {value!r}"
    elif value != int(value):
        errors[field] = f"must be a whole number of reservation units (no fractions), got {value!r}"
    elif value < 0:
        errors[field] = f"must not be negative, got {value!r}"
    elif value > MAX_COUNT:
        errors[field] = f"must be at most {MAX_COUNT:,}, got {value!r}"
    else:
        return int(value)
    return 0


def _hourly(value: Any, field: str, errors: dict[str, str]) -> Decimal:
    text = "" if isinstance(value, bool) else str(value) if isinstance(value, int | float | str) else ""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        errors[field] = f"must be an amount in USD per hour (a number or a decimal string), got {value!r}"
    elif number < 0:
        errors[field] = f"must not be negative, got {value!r}"
    elif number > MAX_HOURLY:
        errors[field] = f"must be at most {MAX_HOURLY:,} USD per hour, got {value!r}"
    elif -number.normalize().as_tuple().exponent > RATE_PLACES:  # type: ignore[operator]
        errors[field] = f"must have at most {RATE_PLACES} decimal places, got {value!r}"
    else:
        return number.normalize()
    return Decimal(0)


def _offer(
    value: Any, field: str, list_name: str, offers: Mapping[str, str] | None, errors: dict[str, str], where: str
) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors[field] = f"must be an offer id (a non-empty string), got {value!r}"
        return None
    if offers is None:
        return value
    kind = offers.get(value)
    if kind is None:
        if value.startswith(OFFER_PREFIXES):
            errors[field] = (
                f"offer {value!r} is not one of this run's offers ({where}; the run's results.offers lists them)"
            )
        else:
            errors[field] = (
                f"unknown offer {value!r}: offer ids look like ri:m5@us-east-1:1y:standard:no_upfront or "
                "sp:compute:1y:no_upfront (the run's results.offers lists them)"
            )
        return None
    if kind != KIND_OF_LIST[list_name]:
        other = "reservations" if list_name == "savings_plans" else "savings_plans"
        errors[field] = f"offer {value!r} is a {kind.replace('_', ' ')}: list it under {other}"
        return None
    return value


def parse_what_if(data: Any, offers: Mapping[str, str] | None, *, where: str = "") -> WhatIf:
    """Validate a decoded what-if document against the run's offers (offer id -> kind, "reservation" or
    "savings_plan"; None checks the shape and amounts only, before a run exists); ``where`` describes that offer
    set in messages (e.g. "1y no_upfront offers for 18 SKUs"). Raises :class:`WhatIfError` naming every bad
    field."""
    errors: dict[str, str] = {}
    if not isinstance(data, Mapping):
        raise WhatIfError({"what_if": f"must be a JSON object with {' and/or '.join(ROOT_KEYS)}"})
    for key in sorted(set(data) - set(ROOT_KEYS)):
        errors[str(key)] = f"unknown key (expected {', '.join(ROOT_KEYS)})"
    chosen: dict[str, dict[str, Any]] = {"reservations": {}, "savings_plans": {}}
    first_at: dict[str, str] = {}
    for list_name in ROOT_KEYS:
        items = data.get(list_name, [])
        if items is None:
            items = []
        if not isinstance(items, list):
            errors[list_name] = f"must be a list, got {type(items).__name__}"
            continue
        amount_key = ITEM_KEYS[list_name][1]
        for i, item in enumerate(items):
            path = f"{list_name}[{i}]"
            if not isinstance(item, Mapping):
                errors[path] = f"must be an object with {' and '.join(ITEM_KEYS[list_name])}"
                continue
            for key in sorted(set(item) - set(ITEM_KEYS[list_name])):
                errors[f"{path}.{key}"] = f"unknown key (expected {', '.join(ITEM_KEYS[list_name])})"
            for key in ITEM_KEYS[list_name]:
                if key not in item:
                    errors[f"{path}.{key}"] = "required"
            offer = (
                _offer(item.get("offer"), f"{path}.offer", list_name, offers, errors, where)
                if "offer" in item
                else None
            )
            if amount_key not in item:
                continue
            if list_name == "reservations":
                quantity: Any = _count(item[amount_key], f"{path}.{amount_key}", errors)
            else:
                quantity = _hourly(item[amount_key], f"{path}.{amount_key}", errors)
            if offer is None:
                continue
            if offer in first_at:
                errors[f"{path}.offer"] = f"offer {offer!r} is already bought at {first_at[offer]}: list it once"
                continue
            first_at[offer] = path
            chosen[list_name][offer] = quantity
    if errors:
        raise WhatIfError(errors)
    return WhatIf(chosen["reservations"], chosen["savings_plans"])


def what_if_document(purchases: list[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A what-if document buying ``purchases`` (rows with ``offer_id``, ``kind``, ``quantity`` as a run lists
    them): the starting point a user edits."""
    return {
        "reservations": [
            {"offer": p["offer_id"], "count": int(Decimal(str(p["quantity"])))}
            for p in purchases
            if p["kind"] == "reservation"
        ],
        "savings_plans": [
            {"offer": p["offer_id"], "hourly_commitment": str(p["quantity"])}
            for p in purchases
            if p["kind"] == "savings_plan"
        ],
    }


# --------------------------------------------------------------------------------------------
# Evaluation


def _split(purchases: Mapping[str, float], offers: OfferSet) -> tuple[dict[str, float], dict[str, float]]:
    res = {k: v for k, v in purchases.items() if offers.offers[k].kind == "reservation"}
    plans = {k: v for k, v in purchases.items() if offers.offers[k].kind == "savings_plan"}
    return res, plans


def scenario(problem: Problem, offers: OfferSet, purchases: Mapping[str, float], *, no_commitment: float) -> dict:
    """Exact figures of buying ``purchases`` (offer id -> units or USD/hour) on the window ``problem`` describes,
    in floats: the keys of :func:`optimizer.backtest.realised`, plus coverage, upfront, the recurring and
    amortised commitment per hour, and the break-even against buying nothing (``no_commitment``, the
    evaluator's cost of the empty plan).

    ``coverage`` is the share of the demand's instance-hours served by reservations and savings plans;
    ``coverage_on_demand_equivalent`` weights each SKU by its on-demand price (the spend view). The break-even is
    the first hour (month: 730 hours) at whose end the cash the purchases save against buying nothing (spot and
    on-demand avoided, minus the recurring payments) covers their upfront cash; None when never within the term."""
    bought = {k: v for k, v in purchases.items() if v > 0}
    res, plans = _split(bought, offers)
    allocation = hourly_allocation(problem.restricted(set(bought)), res, plans)
    evaluation = allocation.evaluation
    hours = problem.hours
    all_od = problem.all_on_demand_cost()
    od = np.array([sku.on_demand for sku in problem.skus])
    committed = allocation.by_sku["reservations"] + allocation.by_sku["savings_plans"]  # H x K instances
    demand = allocation.by_sku["demand"]
    instance_hours = float(demand.sum())
    kinds = {k: "reservations" if offers.offers[k].kind == "reservation" else "savings_plans" for k in bought}
    utils = {k: evaluation.utilization[kinds[k]].get(k) for k in bought}
    commit = {k: offers.offers[k].hourly_cost * v for k, v in bought.items()}  # amortised USD per hour
    total_commit = sum(commit.values())
    overall = sum((utils[k] or 0.0) * commit[k] for k in commit) / total_commit if total_commit > 0 else None
    upfront = sum(offers.offers[k].upfront * v for k, v in res.items())
    recurring = sum(offers.offers[k].hourly * v for k, v in res.items()) + sum(plans.values())  # USD per hour
    avoided = (no_commitment - evaluation.breakdown["spot"] - evaluation.breakdown["on_demand"]) / hours
    lease_years = max((offers.offers[k].lease_years for k in bought), default=1)
    even_hours = _break_even_hours(upfront, avoided - recurring, lease_years * HOURS_PER_YEAR) if bought else None
    even_month = (
        break_even_month(
            upfront=upfront,
            monthly_recurring=recurring * HOURS_PER_MONTH,
            monthly_avoided=avoided * HOURS_PER_MONTH,
            term_months=12 * lease_years,
        )
        if bought
        else None
    )
    return {
        "hours": hours,
        "cost": evaluation.cost,
        "all_on_demand": all_od,
        "no_commitment": no_commitment,
        "savings": all_od - evaluation.cost,
        "savings_pct": 100.0 * (all_od - evaluation.cost) / all_od if all_od else 0.0,
        "savings_vs_no_commitment": no_commitment - evaluation.cost,
        "monthly_cost": evaluation.cost * HOURS_PER_MONTH / hours,
        "monthly_savings": (all_od - evaluation.cost) * HOURS_PER_MONTH / hours,
        "breakdown": evaluation.breakdown,
        "utilization": overall,
        "utilization_by_offer": utils,
        "coverage": float(committed.sum()) / instance_hours if instance_hours > 0 else None,
        "coverage_on_demand_equivalent": float((committed * od).sum() / (demand * od).sum()) if all_od else None,
        "upfront": upfront,
        "commitment_per_hour": total_commit,
        "recurring_per_hour": recurring,
        "break_even_hours": even_hours,
        "break_even_month": even_month,
    }


def _break_even_hours(upfront: float, saved_per_hour: float, term_hours: int) -> int | None:
    if saved_per_hour <= 0:
        return None
    hours = max(1, math.ceil(upfront / saved_per_hour - 1e-9)) if upfront > 0 else 1
    return hours if hours <= term_hours else None


def what_if_report(
    problem: Problem,
    offers: OfferSet,
    what_if: WhatIf,
    *,
    strategies: Mapping[str, tuple[Mapping[str, float], str]],
) -> dict[str, Any]:
    """The what-if's figures and per-purchase rows (as the run's purchases table: incremental savings, break-even
    month, utilization, coverage; :func:`optimizer.plan.plan_report`) beside every strategy's (name ->
    (purchases, description): the optimal plan and the baselines), all on ``problem``. Floats; money is
    rounded once, by the caller."""
    no_commitment = evaluate_plan(problem, {}, offers).cost
    purchases = what_if.purchases()
    rows = [
        {
            "strategy": "what_if",
            "description": "your purchase list",
            "purchases": purchases,
            **scenario(problem, offers, purchases, no_commitment=no_commitment),
        }
    ]
    for name, (bought, description) in strategies.items():
        rows.append(
            {
                "strategy": name,
                "description": description,
                "purchases": dict(bought),
                **scenario(problem, offers, bought, no_commitment=no_commitment),
            }
        )
    report = plan_report(problem, offers, purchases)
    mine = rows[0]
    return {
        "what_if": {**mine, "purchase_rows": report.purchases},
        "rows": rows,
        "differences": {
            row["strategy"]: {
                "cost": mine["cost"] - row["cost"],
                "monthly_cost": mine["monthly_cost"] - row["monthly_cost"],
                "upfront": mine["upfront"] - row["upfront"],
            }
            for row in rows[1:]
        },
    }
