"""The organization's rightsizing page: every recommendation of the latest run the caller may read (an engineer
only their teams' resources; untagged ones only for roles that see every team), filtered by team, account and
action, with the savings total of the rows shown. Reads through the selector the team page and
``/api/v1/rightsizing`` use."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from finops.web.access import org_page, render_page
from optimizer.rightsizing.models import RightsizingRecommendation
from optimizer.rightsizing.selectors import (
    CHANGES,
    UNALLOCATED,
    RightsizingFilter,
    RightsizingFilterError,
    rightsizing_accounts,
    rightsizing_latest_run,
    rightsizing_recommendations_visible,
    rightsizing_savings,
    rightsizing_sorted,
)

ROWS_SHOWN = 500  # the table's rows; the totals count every row that matches
ANY_ACTION = "any"
CHANGE_ACTIONS = "changes"  # the default: resize or stop
ACTION_CHOICES = (
    (CHANGE_ACTIONS, "Resize or stop"),
    *RightsizingRecommendation.Action.choices,
    (ANY_ACTION, "Any, keep included"),
)


def _actions(value: str) -> tuple[str, ...]:
    if value == CHANGE_ACTIONS:
        return tuple(CHANGES)
    return () if value == ANY_ACTION else (value,)


@org_page()
@require_GET
def rightsizing(request: HttpRequest) -> HttpResponse:
    scope = request.scope
    chosen = {
        "team": request.GET.get("team", ""),
        "account": request.GET.get("account", ""),
        "action": request.GET.get("action") or CHANGE_ACTIONS,
    }
    context: dict = {
        "chosen": chosen,
        "action_choices": ACTION_CHOICES,
        "teams": list(scope.teams().order_by("name")),
        "unallocated": UNALLOCATED,
        "error": "",
    }
    run = rightsizing_latest_run(organization=scope.organization)
    context["run"] = run
    if run is None:
        return render_page(request, "optimizer/rightsizing.html", context)
    filters = RightsizingFilter(team=chosen["team"], account=chosen["account"], actions=_actions(chosen["action"]))
    try:
        rows = rightsizing_sorted(rightsizing_recommendations_visible(scope, run, filters).select_related("team"))
    except RightsizingFilterError as error:
        context["error"] = str(error)
        return render_page(request, "optimizer/rightsizing.html", context, status=400)
    counts = {action: 0 for action in RightsizingRecommendation.Action.values}
    for row in rows:
        counts[row.action] += 1
    context |= {
        "rows": rows[:ROWS_SHOWN],
        "more": max(len(rows) - ROWS_SHOWN, 0),
        "matching": len(rows),
        "savings": rightsizing_savings(rows),
        "current_cost": sum((r.current_monthly_cost or Decimal(0) for r in rows), Decimal(0)),
        "counts": counts,
        "accounts": rightsizing_accounts(scope, run),
    }
    return render_page(request, "optimizer/rightsizing.html", context)
