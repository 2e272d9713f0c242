"""Optimizer pages: the options form creating a run, the run page (polls a small status endpoint while the
run is pending/running, then shows purchases, the cost waterfall, coverage, backtest and the carbon front, and
prices a what-if purchase list: a GET form, since it writes nothing, so viewers may use it and a link keeps it).

Runs are organization-wide (commitments are bought for the organization): finance/admin start them; admins,
finance and viewers read them (``optimizer.selectors.optimization_runs`` / ``optimizer.services.
optimization_run_start`` apply the access policy). Money in the stored results is decimal strings.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from finops.accounts.access import AccessPolicy
from finops.core.tasks import QueueUnavailable
from finops.web import figures
from finops.web.access import org_page, render_page
from optimizer.models import OptimizationRun
from optimizer.selectors import optimization_run_detail, optimization_run_get, optimization_runs
from optimizer.services import LOOKBACK_DAYS, PAYMENTS, TERMS, ParametersError, optimization_run_start
from optimizer.whatif import WhatIfError, load_what_if, what_if_document
from optimizer.whatif_selectors import WhatIfUnavailable, optimization_run_what_if
from pricing.selectors import spot_max_age

FINAL = (OptimizationRun.Status.SUCCEEDED, OptimizationRun.Status.FAILED)
LAYERS = (
    ("on_demand", "On-demand"),
    ("reservations", "Reservations"),
    ("savings_plans", "Savings plans"),
    ("spot", "Spot"),
)


def dec(value: str | None) -> Decimal | None:
    """A stored amount (decimal string) as Decimal; None when absent."""
    return None if value is None else Decimal(value)


def _form_parameters(post) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's fields as ``optimization_run_create`` parameters; conversion errors per field."""
    errors: dict[str, str] = {}
    params: dict[str, Any] = {"term": post.get("term", "1y"), "payment": post.get("payment", "no_upfront")}
    lookback = post.get("lookback_days", "30")
    params["lookback_days"] = int(lookback) if lookback.isdigit() else lookback
    share = post.get("max_spot_share_percent", "20").strip()
    try:
        params["max_spot_share"] = float(Decimal(share) / 100)
    except InvalidOperation:
        errors["max_spot_share"] = f"must be a percentage within 0..100, got {share!r}"
    budget = post.get("upfront_budget", "").strip()
    if budget:
        params["upfront_budget"] = budget
    for flag in ("backtest", "rightsize", "carbon", "allow_stale_spot"):
        params[flag] = post.get(flag) == "on"
    return params, errors


@org_page(write="can_manage_billing")
def optimizer(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    visible = optimization_runs(scope)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "lookback_days": 30, "term": "1y", "payment": "no_upfront", "max_spot_share_percent": "20",
        "upfront_budget": "", "backtest": True, "rightsize": False, "carbon": False, "allow_stale_spot": False,
    }  # fmt: skip
    status = 200
    queue_error = ""
    if request.method == "POST":
        params, errors = _form_parameters(request.POST)
        values = {**params, "max_spot_share_percent": request.POST.get("max_spot_share_percent", ""),
                  "upfront_budget": request.POST.get("upfront_budget", "")}  # fmt: skip
        if not errors:
            try:
                run = optimization_run_start(policy=scope, parameters=params)
            except ParametersError as error:
                errors = error.errors
            except QueueUnavailable as error:
                queue_error, status = str(error), 503
            else:
                return redirect(reverse("web:optimizer_run", args=[run.pk]))
        status = status if queue_error else 400
    runs = list(visible.order_by("-created_at", "-id")[:20])
    context = {
        "errors": errors,
        "queue_error": queue_error,
        "values": values,
        "runs": [{"run": r, "savings": dec((r.results or {}).get("savings"))} for r in runs],
        "lookbacks": LOOKBACK_DAYS,
        "terms": list(TERMS),
        "payments": list(PAYMENTS.values()),
        "spot_max_age_days": spot_max_age().days,
    }
    return render_page(request, "optimizer/index.html", context, status=status)


def _status(run: OptimizationRun) -> dict:
    return {
        "id": run.pk,
        "status": run.status,
        "done": run.status in FINAL,
        "error": run.error or None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@org_page()
@require_GET
def optimizer_run_status(request: HttpRequest, run_id: int) -> JsonResponse:
    return JsonResponse(_status(optimization_run_get(request.scope, run_id)))


@org_page()
@require_GET
def optimizer_run(request: HttpRequest, run_id: int) -> HttpResponse:
    scope: AccessPolicy = request.scope
    run = optimization_run_get(scope, run_id)
    context: dict[str, Any] = {"run": run, "state": _status(run)}
    status = 200
    if run.status == OptimizationRun.Status.SUCCEEDED:
        detail = optimization_run_detail(run)
        context.update(run_view(detail))
        text = request.GET.get("what_if")
        context["what_if_text"] = text or json.dumps(what_if_document(detail["purchases"]), indent=2)
        if text is not None:
            try:
                context["what_if"] = what_if_view(
                    optimization_run_what_if(policy=scope, run_id=run.pk, document=load_what_if(text))
                )
            except WhatIfError as error:
                context["what_if_errors"] = error.errors
                status = 400
            except WhatIfUnavailable as error:
                context["what_if_errors"] = {"run": str(error)}
                status = 409
    return render_page(request, "optimizer/run.html", context, status=status)


def what_if_view(what_if: dict) -> dict[str, Any]:
    """The what-if table's rows (money as Decimal) from the what-if JSON."""
    money = ("cost", "savings", "upfront", "commitment_per_hour", "monthly_cost")
    return {
        **what_if,
        "rows": [{**row, **{k: dec(row[k]) for k in money}} for row in what_if["rows"]],
        "purchases": [
            {**p, **{k: dec(p[k]) for k in ("quantity", "upfront_total", "monthly_cost", "monthly_savings")}}
            for p in what_if["what_if"]["purchases"]
        ],
        "over_optimal": dec(what_if["differences"]["optimizer"]["cost"]),
    }


def run_view(detail: dict) -> dict[str, Any]:
    """The run page's tables and figures from the run detail JSON."""
    results = detail.get("results") or {}
    breakdown = {key: dec(results.get("breakdown", {}).get(key)) or Decimal(0) for key, _ in LAYERS}
    all_on_demand = dec(results.get("all_on_demand"))
    plan_cost = dec(results.get("objective"))
    purchases = [
        {
            **p,
            "quantity": dec(p.get("quantity")),
            "upfront": dec(p.get("upfront")),
            "monthly_cost": dec(p.get("monthly_cost")),
            "monthly_savings": dec(p.get("monthly_savings")),
        }
        for p in detail.get("purchases", [])
    ]
    out: dict[str, Any] = {
        "detail": detail,
        "results": results,
        "purchases": purchases,
        "breakdown": [(label, breakdown[key]) for key, label in LAYERS],
        "all_on_demand": all_on_demand,
        "plan_cost": plan_cost,
        "savings": dec(results.get("savings")),
        "monthly": {k: dec(v) for k, v in (results.get("monthly") or {}).items()},
        "explanation": results.get("explanation", []),
        "waterfall_figure": figures.cost_waterfall(
            [(label, breakdown[key]) for key, label in LAYERS],
            reference=("All on-demand", all_on_demand),
            title="Plan cost over the window by layer, against all on-demand (USD)",
            currency="USD",
        ),
    }
    hourly = results.get("hourly")
    if hourly:
        out["coverage_figure"] = figures.coverage_layers(hourly, title="Hourly demand and the layers covering it")
    backtest = detail.get("backtest") or {}
    if backtest.get("rows"):
        out["backtest_rows"] = [
            {
                "strategy": row["strategy"],
                "description": row.get("description", ""),
                "commitment_per_hour": dec(row.get("commitment_per_hour")),
                "upfront": dec(row.get("upfront")),
                "cost": dec(row["test"].get("cost")),
                "all_on_demand": dec(row["test"].get("all_on_demand")),
                "savings": dec(row["test"].get("savings")),
                "savings_pct": row["test"].get("savings_pct"),
                "utilization": row["test"].get("utilization"),
                "regret": dec(row.get("regret")),
                "regret_pct": row.get("regret_pct"),
            }
            for row in backtest["rows"]
        ]
        out["backtest_explanation"] = backtest.get("explanation", [])
    elif backtest.get("error"):
        out["backtest_error"] = backtest["error"]
    front = results.get("carbon_front") or []
    if front:
        out["carbon_figure"] = figures.carbon_front(
            [(float(Decimal(p["cost"])), float(p["kgco2e"]), str(p.get("summary", ""))) for p in front],
            current=(results.get("carbon") or {}).get("current"),
            title="Cost vs carbon: non-dominated placements of the window's compute",
        )
        out["carbon_front"] = front
    return out
