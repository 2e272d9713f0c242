"""Pages: thin shells. Each resolves the request's AccessPolicy (access.py), calls selectors, builds figures
(figures.py) and renders. Every chart has a table next to it; Explore's table is also its CSV export."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Membership, Organization, Role, Team, TeamTagMapping
from finops.core.tasks import QueueUnavailable
from finops.usage.formats.errors import IngestError, TooLargeError
from finops.usage.models import IngestJob
from finops.usage.selectors import METRICS
from finops.usage.services import billing_upload_create
from finops.usage.teams import TeamMappingError, team_tag_mapping_set, team_tag_mappings
from finops.usage.uploads import upload_request_check
from finops.web import figures, selectors, team_slots
from finops.web.access import cache_prefix, org_page, render_page
from finops.web.cache import cached
from finops.web.metrics_csv import MetricFileError
from finops.web.services import business_metrics_upload
from finops.web.views_explore import METRIC_LABELS, explore_warm
from finops.web.views_forecasts import forecast_slot

FINAL_STATUSES = (IngestJob.Status.SUCCEEDED, IngestJob.Status.DUPLICATE, IngestJob.Status.FAILED)


def _choice(request: HttpRequest, name: str, allowed: tuple[str, ...] | list[str], default: str) -> str:
    value = request.GET.get(name, default)
    return value if value in allowed else default


# --- Overview -------------------------------------------------------------------------------


@org_page()
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    metric = _choice(request, "metric", selectors.OVERVIEW_METRICS, "billed")
    stack = _choice(request, "stack", selectors.STACK_DIMENSIONS, "service")
    context: dict = {
        "metric": metric,
        "stack": stack,
        "metric_labels": METRIC_LABELS,
        "stack_choices": [(d, selectors.DIMENSIONS[d][1]) for d in selectors.STACK_DIMENSIONS],
        "metric_choices": [(m, METRIC_LABELS[m]) for m in selectors.OVERVIEW_METRICS],
    }
    # The whole page's numbers and figures are cached together: a warm page is one cache read + render.
    currency = selectors.currency_choice(scope, request.GET.get("currency"))
    data = cached(
        cache_prefix(scope),
        "page:overview",
        {"metric": metric, "stack": stack, "currency": currency},
        lambda: _overview_data(scope, metric, stack, currency),
    )
    if not data.get("empty"):
        context["slot"] = forecast_slot(scope, metric=metric, currency=data["currency"], mtd_start=data["mtd_start"])
    return render_page(request, "web/overview.html", {**context, **data})


def _overview_data(scope: AccessPolicy, metric: str, stack: str, currency: str | None = None) -> dict:
    context: dict = {}
    last = selectors.as_of(scope)
    if last is None:
        return {"empty": True}
    currency = currency or selectors.main_currency(scope)
    mtd_start = selectors.month_start(last)
    prev_start = selectors.add_months(mtd_start, -1)
    prev_end = selectors.same_day_last_month(last)
    window_start = selectors.add_months(mtd_start, -12)

    # One read of both months answers the totals, the charge kinds and the movers' groups (month_to_date).
    numbers = selectors.month_to_date(scope, dimension=stack, metric=metric, last=last, currency=currency)
    mtd, previous = numbers.mtd, numbers.previous
    # Like for like: the headline compares usage with usage over the same days; tax, purchases, fees and credits
    # (dated on the 1st, accrued month to date) are lines of their own, against last month at the same stage.
    mtd_usage, previous_usage = numbers.mtd_usage, numbers.previous_usage
    charge_lines = selectors.charge_lines(numbers.kinds, numbers.previous_month_kinds, as_of=last)
    # One read of the window answers the bars by month and the commitments' coverage (overview_monthly).
    monthly, commitments = selectors.overview_monthly(
        scope, dimension=stack, metric=metric, start=window_start, end=last, currency=currency
    )
    stack_label = selectors.DIMENSIONS[stack][1].lower()
    spend_figure = figures.stacked_bars(
        monthly,
        x="month",
        group="group",
        value="cost",
        title=f"{METRIC_LABELS[metric]} cost by month and {stack_label} ({currency})",
        currency=currency,
        x_title="Month",
    )
    movers = []
    for mover in selectors.top_movers(numbers.groups, numbers.previous_groups):
        query = {
            "metric": metric,
            "group": stack,
            "granularity": "day",
            "start": prev_start.isoformat(),
            "end": last.isoformat(),
            # Explore filters cost without a team as "(none)"; the overview names that group Unallocated.
            stack: selectors.NONE_LABEL if mover.group == selectors.none_label(stack) else mover.group,
        }
        movers.append({"mover": mover, "url": f"{reverse('web:explore')}?{urlencode(query)}"})
    has_commitments = not commitments.empty and commitments["coverage"].notna().any()
    commitment_figure = figures.percent_lines(
        commitments,
        x="month",
        series=[("coverage", "Coverage (covered share of usage, list cost)"), ("utilisation", "Utilisation")],
        title="Commitment coverage and utilisation by month",
    )
    month_table = [
        {
            "month": row.month,
            "total": sum(monthly.loc[monthly["month"] == row.month, "cost"], Decimal(0)),
        }
        for row in monthly[["month"]].drop_duplicates().itertuples()
    ]
    context.update(
        {
            "as_of": last,
            "currency": currency,
            "other_currencies": selectors.other_currencies(scope, currency),
            "mtd": mtd,
            "mtd_start": mtd_start,
            "previous": previous,
            "prev_start": prev_start,
            "prev_end": prev_end,
            "change": mtd - previous,
            "change_ratio": float((mtd - previous) / abs(previous)) if previous else None,
            "mtd_usage": mtd_usage,
            "previous_usage": previous_usage,
            "usage_change": mtd_usage - previous_usage,
            "usage_change_ratio": (
                float((mtd_usage - previous_usage) / abs(previous_usage)) if previous_usage else None
            ),
            "charge_lines": charge_lines,
            "stage_days": last.day,
            "prev_month_days": (mtd_start - prev_start).days,
            "spend_figure": spend_figure,
            "month_table": month_table,
            "movers": movers,
            "commitments": commitments.to_dict("records"),
            "has_commitments": has_commitments,
            "commitment_figure": commitment_figure,
            "savings_total": sum(commitments["savings"], Decimal(0)) if not commitments.empty else Decimal(0),
        }
    )
    return context


# --- Teams ----------------------------------------------------------------------------------


@org_page()
@require_GET
def teams(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    currency = selectors.currency_choice(scope, request.GET.get("currency"))
    params = {} if currency == selectors.main_currency(scope) else {"currency": currency}
    data = cached(cache_prefix(scope), "page:teams", params, lambda: _teams_data(scope, currency))
    return render_page(request, "web/teams.html", data)


def _teams_data(scope: AccessPolicy, currency: str | None = None) -> dict:
    last = selectors.as_of(scope)
    totals: dict[str, Decimal] = {}
    currency = currency or selectors.main_currency(scope)
    if last:
        start = selectors.month_start(last)
        totals = selectors.group_totals(
            scope, dimension="team", metric="billed", start=start, end=last, currency=currency
        )
    rows = [{"team": t, "mtd": totals.get(t.slug)} for t in scope.teams()]
    # Cost no team claims is a row of its own, so the rows add up to the organization's total.
    unallocated = totals.get(selectors.UNALLOCATED, Decimal(0)) if scope.sees_all_teams and last else None
    total = sum(totals.values(), Decimal(0)) if scope.sees_all_teams else None
    return {
        "rows": rows,
        "as_of": last,
        "currency": currency,
        "other_currencies": selectors.other_currencies(scope, currency),
        "unallocated": unallocated,
        "total": total,
        "team_keys": list(settings.FINOPS_TEAM_TAG_KEYS),
    }


@org_page(write="is_admin")
def team_mappings(request: HttpRequest) -> HttpResponse:
    """The team tag mapping: every known tag value and the team it counts for; admins change it here."""
    scope: AccessPolicy = request.scope
    if not scope.sees_all_teams:
        raise PermissionDenied("The team mapping covers the whole organization.")
    errors: dict[str, str] = {}
    values = {"tag_value": "", "action": "team", "team": ""}
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        try:
            team_tag_mapping_set(
                policy=scope, tag_value=values["tag_value"], action=values["action"], team=values["team"] or None
            )
        except TeamMappingError as error:
            errors, status = error.errors, 400
        else:
            messages.success(request, f"{values['tag_value']}: {values['action']} saved; costs re-attributed.")
            return redirect(reverse("web:team_mappings"))
    context = {
        "rows": team_tag_mappings(scope),
        "teams": list(scope.teams()),
        "actions": TeamTagMapping.Action.choices,
        "errors": errors,
        "values": values,
        "keys": settings.FINOPS_TEAM_TAG_KEYS,
    }
    return render_page(request, "web/team_mappings.html", context, status=status)


@org_page()
@require_GET
def team(request: HttpRequest, slug: str) -> HttpResponse:
    scope: AccessPolicy = request.scope
    the_team = scope.team_or_404(slug)
    metric = _choice(request, "metric", tuple(METRICS), "billed")
    context: dict = {"team": the_team, "metric": metric, "metric_labels": METRIC_LABELS}
    names = selectors.business_metric_names(organization_id=scope.organization.pk, team_id=the_team.pk)
    unit = _choice(request, "unit", names, names[0] if names else "")
    context.update({"unit_names": names, "unit": unit})
    currency = selectors.currency_choice(scope, request.GET.get("currency"))
    data = cached(
        cache_prefix(scope),
        "page:team",
        {"team": the_team.pk, "metric": metric, "unit": unit, "currency": currency},
        lambda: _team_data(scope, the_team, metric, unit, currency),
    )
    return render_page(request, "web/team.html", {**context, **data})


def _team_data(scope: AccessPolicy, the_team: Team, metric: str, unit: str, currency: str | None = None) -> dict:
    team_scope = dataclasses.replace(scope, team_ids=(the_team.pk,))
    context: dict = {}
    last = selectors.as_of(scope)
    if last is None:
        return {"empty": True}
    currency = currency or selectors.main_currency(scope)
    window_start = selectors.add_months(selectors.month_start(last), -12)
    monthly = selectors.monthly_by(
        team_scope, dimension="service", metric=metric, start=window_start, end=last, currency=currency
    )
    by_service = selectors.group_totals(
        team_scope, dimension="service", metric=metric, start=window_start, end=last, currency=currency
    )
    context.update(
        {
            "as_of": last,
            "window_start": window_start,
            "currency": currency,
            "other_currencies": selectors.other_currencies(scope, currency),
            "spend_figure": figures.stacked_bars(
                monthly,
                x="month",
                group="group",
                value="cost",
                title=f"{METRIC_LABELS[metric]} cost of {the_team.name} by month and service ({currency})",
                currency=currency,
                x_title="Month",
            ),
            "by_service": sorted(by_service.items(), key=lambda kv: (-kv[1], kv[0])),
            "team_total": sum(by_service.values(), Decimal(0)),
            "rightsizing": team_slots.team_rightsizing(scope, the_team),
            "commitment_share": team_slots.team_commitment_share(
                scope, the_team, start=window_start, end=last, currency=currency
            ),
            **team_slots.team_carbon(scope, the_team, start=window_start, end=last, currency=currency),
            "outlook": team_slots.team_outlook(scope, the_team, metric=metric, currency=currency),
        }
    )
    if unit:
        daily = selectors.team_daily(
            scope, team_id=the_team.pk, metric=metric, start=window_start, end=last, currency=currency
        )
        values = selectors.business_metric_frame(
            organization_id=scope.organization.pk, team_id=the_team.pk, metric=unit
        )
        monthly_unit = selectors.unit_costs(daily, values, by="month")
        daily_unit = selectors.unit_costs(daily, values, by="day")
        context.update(
            {
                "unit_monthly": monthly_unit.to_dict("records"),
                "unit_daily": daily_unit.tail(31).to_dict("records"),
                "unit_figure": figures.bars_and_line(
                    monthly_unit,
                    x="period",
                    bar="cost",
                    bar_label=f"Cost ({currency})",
                    line="cost_per_unit",
                    line_label=f"Cost per {unit}",
                    title=f"Cost per {unit} by month",
                    currency=currency,
                    line_unit=f"{currency} per {unit}",
                ),
            }
        )
    return context


@org_page(write="can_write")
@require_POST
def team_metrics_upload(request: HttpRequest, slug: str) -> HttpResponse:
    scope: AccessPolicy = request.scope
    the_team = scope.team_or_404(slug)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a CSV file with the header date,metric,value.")
    else:
        try:
            stored = business_metrics_upload(
                organization=scope.organization, team=the_team, data=upload.read(), name=upload.name, user=request.user
            )
        except MetricFileError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Stored {stored:,} business-metric rows from {upload.name}.")
    return redirect(reverse("web:team", args=[the_team.slug]))


# --- Data -----------------------------------------------------------------------------------


def _require_org_wide(scope: AccessPolicy) -> None:
    # Import history carries organization-wide totals: not for a team-scoped engineer.
    if not scope.sees_all_teams:
        raise PermissionDenied("Billing data is managed by finance and admins.")


def _job_progress(job: IngestJob) -> dict:
    progress = job.progress()
    done = job.status in FINAL_STATUSES
    fraction = 1.0 if job.status in (IngestJob.Status.SUCCEEDED, IngestJob.Status.DUPLICATE) else progress["fraction"]
    return {
        "job": job.pk,
        "status": job.status,
        "done": done,
        "rows": progress["rows"],
        "bytes_done": progress["bytes_done"],
        "bytes_total": progress["bytes_total"],
        "fraction": fraction,
        "percent": round(fraction * 100),
        "rows_read": job.rows_read,
        "error": job.error,
    }


@org_page(write="can_manage_billing")
def data(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    _require_org_wide(scope)
    status = 200
    if request.method == "POST":
        try:
            files = request.FILES.getlist("files")
            upload_request_check(request)
            job = billing_upload_create(
                organization=scope.organization,
                files=files,
                user=request.user,
                fmt=request.POST.get("format", "auto"),
            )
        except IngestError as error:
            messages.error(request, error.describe())
            status = 413 if isinstance(error, TooLargeError) else 400
        except QueueUnavailable as error:
            messages.error(request, f"Upload refused: {error}.")
            status = 503
        else:
            return redirect(f"{reverse('web:data')}?job={job.pk}")
    active = None
    if request.GET.get("job", "").isdigit():
        active_job = get_object_or_404(IngestJob, pk=int(request.GET["job"]), organization=scope.organization)
        active = _job_progress(active_job)
    # Read after the active job: a history at least as new as the progress shown, so a job rendered as done
    # (no more polling) also shows its final row below.
    jobs = list(IngestJob.objects.filter(organization=scope.organization).prefetch_related("files")[:50])
    return render_page(request, "web/data.html", {"jobs": jobs, "active": active}, status=status)


@org_page()
@require_GET
def job_progress(request: HttpRequest, job_id: int) -> JsonResponse:
    scope: AccessPolicy = request.scope
    _require_org_wide(scope)
    job = get_object_or_404(IngestJob, pk=job_id, organization=scope.organization)
    return JsonResponse(_job_progress(job))


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


# --- Cache warming --------------------------------------------------------------------------


def dashboard_cache_warm(organization_id: int) -> list[str]:
    """Compute and cache the organization-wide default views (what finance/admin/viewer open first), so the
    first visitor after an ingest does not pay the cold aggregates. Engineer (team) scopes stay lazy.
    Returns the names of the views warmed."""
    organization = Organization.objects.get(pk=organization_id)
    # An unsaved membership: the scope only needs the organization and an organization-wide role.
    scope = AccessPolicy(
        membership=Membership(organization=organization, role=Role.FINANCE), memberships=(), team_ids=None
    )
    warmed = []

    for metric in selectors.OVERVIEW_METRICS:
        currency = selectors.main_currency(scope)
        params = {"metric": metric, "stack": "service", "currency": currency}
        data = cached(
            cache_prefix(scope),
            "page:overview",
            params,
            lambda m=metric, c=currency: _overview_data(scope, m, "service", c),
        )
        warmed.append(f"overview metric={metric}")
        if not data.get("empty"):
            forecast_slot(scope, metric=metric, currency=data["currency"], mtd_start=data["mtd_start"])
    last = selectors.as_of(scope)
    if last is not None:
        explore_warm(scope, last)
        warmed.append("explore default")
    cached(cache_prefix(scope), "page:teams", {}, lambda: _teams_data(scope))
    warmed.append("teams")
    return warmed
