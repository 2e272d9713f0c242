"""Budget rows as the pages show them: the budget's state in the period containing today (as the alert emails
evaluate it) or, when the organization's data stops before that period began, in the period of its last data
day. The budget pages and the overview's month-to-date slot share them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from finops.budgets import calc
from finops.budgets.models import Budget
from finops.budgets.selectors import shown_day
from finops.budgets.services import STATUS_LABELS, budget_state


def budget_today(period: str, last: date | None) -> date:
    """The day whose period the pages show (``shown_day``)."""
    return shown_day(period, last)


def _stored_row(budget: Budget, last: date | None, period_start: date) -> dict | None:
    """The daily evaluation's stored result (``Budget.last_evaluation``) when it is still the answer: same period,
    same last data day, evaluated after the budget's last edit. Saves a forecast per budget on the list."""
    stored = budget.last_evaluation or {}
    if (
        not stored
        or budget.last_evaluated_at is None
        or budget.last_evaluated_at < budget.updated_at
        or stored.get("period_start") != period_start.isoformat()
        or stored.get("as_of") != (last.isoformat() if last else None)
        or stored.get("status") not in STATUS_LABELS
    ):
        return None
    amount, actual = Decimal(stored["amount"]), Decimal(stored["actual"])
    lower, upper = stored["forecast_interval"]["80"]
    return {
        "id": budget.pk,
        "name": budget.name,
        "period": budget.period,
        "period_label": calc.period_label(budget.period, period_start),
        "currency": budget.currency,
        "cost_metric": budget.cost_metric,
        "active": budget.active,
        "amount": amount,
        "amount_source": stored.get("amount_source", "fixed"),
        "actual": actual,
        "forecast": Decimal(stored["forecast"]),
        "lower80": Decimal(lower),
        "upper80": Decimal(upper),
        "probability": float(stored["probability_of_breach"]),
        "status": stored["status"],
        "status_label": STATUS_LABELS[stored["status"]],
        "used": float(actual / amount) if amount else None,
        "days_elapsed": stored["days_elapsed"],
        "days_total": stored["days_total"],
        "period_start": period_start,
        "period_end": date.fromisoformat(stored["period_end"]),
        "as_of": last,
        "model": stored.get("model", ""),
        "crossed": [f"{t['threshold']}% {t['kind']}" for t in stored.get("thresholds_crossed", [])],
        "stored": True,
    }


def budget_row(budget: Budget, last: date | None) -> dict:
    """The budget's state in the period the pages show (``last``: the organization's last data day)."""
    today = budget_today(budget.period, last)
    stored = _stored_row(budget, last, calc.period_bounds(budget.period, today)[0])
    if stored is not None:
        return stored
    ev, source = budget_state(budget=budget, today=today)
    return {
        "id": budget.pk,
        "name": budget.name,
        "period": budget.period,
        "period_label": calc.period_label(budget.period, ev.period_start),
        "currency": budget.currency,
        "cost_metric": budget.cost_metric,
        "active": budget.active,
        "amount": ev.amount,
        "amount_source": source,
        "actual": ev.actual,
        "forecast": ev.forecast,
        "lower80": ev.lower[0.8],
        "upper80": ev.upper[0.8],
        "probability": ev.probability_of_breach,
        "status": ev.status,
        "status_label": STATUS_LABELS[ev.status],
        "used": float(ev.actual / ev.amount) if ev.amount else None,
        "days_elapsed": ev.days_elapsed,
        "days_total": ev.days_total,
        "period_start": ev.period_start,
        "period_end": ev.period_end,
        "as_of": ev.as_of,
        "model": ev.model,
        "crossed": [f"{t.percent.normalize():f}% {t.kind}" for t in ev.crossed],
    }


def budgets_cache_version(budgets: list[Budget]) -> list:
    """Cache key part for pages showing ``budgets``: budget edits do not bump the ingest cache version, so key
    on what changed, and on the day (the period evaluated follows today)."""
    return [timezone.now().date().isoformat(), *((b.pk, b.updated_at.isoformat()) for b in budgets)]
