"""Budget pages: list with status, burn-down per budget with alert history, create/edit forms.

Which budgets a caller sees is ``budgets_visible`` (as in the API); the rows are ``budget_rows.budget_row``
(the period shown is explained there). Writes go through the budget services (``budget_create`` /
``budget_update``, validated by ``budget_validate`` whose field messages the form shows); only finance and
admins create or edit.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Membership
from finops.budgets import calc
from finops.budgets.models import Budget, BudgetAlert
from finops.budgets.selectors import budget_daily_costs, budgets_visible, last_data_day, spend_projection
from finops.budgets.services import budget_create, budget_update
from finops.budgets.validation import BudgetValidationError
from finops.core.amounts import money_str
from finops.usage.models import DailyCost
from finops.web import figures
from finops.web.access import cache_prefix, org_page, render_page
from finops.web.budget_rows import budget_row, budget_today, budgets_cache_version
from finops.web.burndown import burn_down
from finops.web.cache import cached

SCOPE_FIELDS = (
    ("team", "Teams"),
    ("service_name", "Services"),
    ("billing_account_id", "Billing accounts"),
    ("sub_account_id", "Sub accounts"),
    ("region_id", "Regions"),
    ("provider_name", "Providers"),
)
THRESHOLD_ROWS = 4


def _budget_or_404(scope: AccessPolicy, budget_id: int) -> Budget:
    budget = budgets_visible(scope).filter(pk=budget_id).first()
    if budget is None:
        raise Http404("No such budget.")
    return budget


@org_page()
@require_GET
def budget_list(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    budgets = list(budgets_visible(scope).order_by("name"))

    def compute() -> dict:
        # The last data day is read inside: the cache prefix already changes with each ingest.
        last = last_data_day(organization=scope.organization)
        return {"rows": [budget_row(b, last) for b in budgets], "as_of": last}

    data = cached(cache_prefix(scope), "page:budgets", {"v": budgets_cache_version(budgets)}, compute)
    return render_page(request, "budgets/list.html", data)


@org_page()
@require_GET
def budget_detail(request: HttpRequest, budget_id: int) -> HttpResponse:
    scope: AccessPolicy = request.scope
    budget = _budget_or_404(scope, budget_id)
    data = cached(
        cache_prefix(scope),
        "page:budget",
        {"v": budgets_cache_version([budget])},
        lambda: _detail(budget, last_data_day(organization=scope.organization)),
    )
    alerts = list(BudgetAlert.objects.filter(budget=budget).order_by("-created_at", "-id")[:50])
    return render_page(request, "budgets/detail.html", {"budget": budget, "alerts": alerts, **data})


def _detail(budget: Budget, last: date | None) -> dict:
    row = budget_row(budget, last)
    projection = spend_projection(
        organization=budget.organization,
        scope=budget.scope or {},
        metric=budget.cost_metric,
        currency=budget.currency,
        period=budget.period,
        today=budget_today(budget.period, last),
    )
    daily: dict[date, Decimal] = {}
    if last is not None:
        daily = budget_daily_costs(budget=budget, start=row["period_start"], end=last)
    chart = burn_down(projection=projection, daily=daily)
    limits = [("Budget amount", row["amount"])]
    for t in budget.thresholds or []:
        percent = Decimal(str(t["percent"]))
        if percent != 100:
            limits.append((f"{percent.normalize():f}% threshold ({t['kind']})", row["amount"] * percent / 100))
    figure = figures.burn_down(
        chart.actual,
        chart.forecast,
        limits=limits,
        start=row["period_start"].isoformat(),
        end=row["period_end"].isoformat(),
        title=f"{budget.name}: cumulative {budget.cost_metric} cost, {row['period_label']} ({budget.currency})",
        currency=budget.currency,
    )
    return {"row": row, "figure": figure, "limits": limits, "actual_days": len(chart.actual)}


# --- Forms ----------------------------------------------------------------------------------


def _require_manager(scope: AccessPolicy) -> None:
    if not scope.can_manage_billing:
        raise PermissionDenied("Budgets are managed by finance and admins.")


def _scope_choices(scope: AccessPolicy) -> dict[str, list[str]]:
    def compute() -> dict[str, list[str]]:
        base = DailyCost.objects.filter(organization=scope.organization)
        out = {"team": sorted(scope.teams().values_list("slug", flat=True))}
        for name, _ in SCOPE_FIELDS[1:]:
            out[name] = sorted(v for v in base.values_list(name, flat=True).distinct().order_by() if v)
        return out

    return cached(cache_prefix(scope), "budget-choices", {}, compute)


def _form_data(post: QueryDict) -> dict:
    """The POSTed form as budget_validate's input."""
    scope = {key: post.getlist(f"scope_{key}") for key, _ in SCOPE_FIELDS if post.getlist(f"scope_{key}")}
    thresholds = [
        {"percent": p.strip(), "kind": k}
        for p, k in zip(post.getlist("threshold_percent"), post.getlist("threshold_kind"), strict=False)
        if p.strip()
    ]
    emails = [e for e in re.split(r"[\s,;]+", post.get("recipient_emails", "")) if e]
    return {
        "name": post.get("name", ""),
        "period": post.get("period", ""),
        "amount": post.get("amount", ""),
        "currency": post.get("currency", ""),
        "cost_metric": post.get("cost_metric", ""),
        "scope": scope,
        "thresholds": thresholds,
        "recipient_users": post.getlist("recipient_users"),
        "recipient_emails": emails,
        "auto_adjust_periods": post.get("auto_adjust_periods", ""),
        "active": post.get("active") == "on",
    }


def _amount_text(amount: Decimal) -> str:
    """Cents when exact ("1234.50"), else every stored digit (no exponent)."""
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents}" if cents == amount else money_str(amount)


def _initial(budget: Budget | None) -> dict:
    if budget is None:
        return {
            "name": "",
            "period": "monthly",
            "amount": "",
            "currency": "USD",
            "cost_metric": "billed",
            "scope": {},
            "thresholds": [{"percent": "80", "kind": "actual"}, {"percent": "100", "kind": "forecast"}],
            "recipient_users": [],
            "recipient_emails": [],
            "auto_adjust_periods": "",
            "active": True,
        }
    return {
        "name": budget.name,
        "period": budget.period,
        "amount": _amount_text(budget.amount),
        "currency": budget.currency,
        "cost_metric": budget.cost_metric,
        "scope": budget.scope or {},
        "thresholds": budget.thresholds or [],
        "recipient_users": [u.get_username() for u in budget.recipient_users.all()],
        "recipient_emails": budget.recipient_emails or [],
        "auto_adjust_periods": budget.auto_adjust_periods or "",
        "active": budget.active,
    }


def _form_page(request: HttpRequest, scope: AccessPolicy, budget: Budget | None) -> HttpResponse:
    values = _initial(budget)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = _form_data(request.POST)
        if budget is not None and (budget.scope or {}).get("tags"):
            values["scope"]["tags"] = budget.scope["tags"]  # the form has no tag editor: keep them
        try:
            if budget is None:
                saved = budget_create(organization=scope.organization, data=values)
            else:
                saved = budget_update(budget=budget, data=values)
        except BudgetValidationError as error:
            errors = error.message_dict
            status = 400
        else:
            return redirect(reverse("web:budget_detail", args=[saved.pk]))
    thresholds = list(values["thresholds"]) + [{"percent": "", "kind": "actual"}] * THRESHOLD_ROWS
    members = (
        Membership.objects.filter(organization=scope.organization).select_related("user").order_by("user__username")
    )
    choices = _scope_choices(scope)
    scope_fields = [
        {
            "key": key,
            "label": label,
            "choices": choices.get(key, []),
            "selected": values["scope"].get(key, []),
            "errors": errors.get(f"scope.{key}", []),
        }
        for key, label in SCOPE_FIELDS
    ]
    context = {
        "budget": budget,
        "values": values,
        "errors": errors,
        "scope_errors": errors.get("scope", []) + errors.get("scope.tags", []),
        "scope_fields": scope_fields,
        "thresholds": thresholds[: max(THRESHOLD_ROWS, len(values["thresholds"]) + 1)],
        "periods": calc.PERIODS,
        "kinds": calc.KINDS,
        "members": [m.user for m in members],
        "emails_text": ", ".join(values["recipient_emails"]),
    }
    return render_page(request, "budgets/form.html", context, status=status)


@org_page(write="can_manage_billing")
def budget_new(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    _require_manager(scope)
    return _form_page(request, scope, None)


@org_page(write="can_manage_billing")
def budget_edit(request: HttpRequest, budget_id: int) -> HttpResponse:
    scope: AccessPolicy = request.scope
    _require_manager(scope)
    return _form_page(request, scope, _budget_or_404(scope, budget_id))
