"""Forecast pages: the overview's month-end projection slot and the anomalies page.

They read what the forecasting runs stored (SeriesForecast points, SeriesProjection, Anomaly with its ranked
root cause); nothing is forecast at request time. Which forecasts and anomalies a caller sees is
``forecast_series_visible`` / ``anomalies_visible`` (as in the API): suppressed anomalies are listed with
``?suppressed=1`` only. Feedback goes through ``anomaly_feedback_set``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from finops.accounts.access import AccessPolicy
from finops.budgets.selectors import budgets_visible, last_data_day, policy_scope, projected_day, spend_projection
from finops.core.amounts import money_from_float
from finops.core.money import MoneySum
from finops.forecasting.calc.projection import SpendProjection
from finops.forecasting.models import Anomaly, Dimension, SeriesForecast
from finops.forecasting.selectors import (
    anomalies_chosen,
    anomalies_visible,
    daily_cost_frame,
    series_forecast_latest,
)
from finops.forecasting.services import anomaly_feedback_bulk_set, anomaly_feedback_set
from finops.usage.selectors import METRICS, daily_costs_visible
from finops.web import figures, selectors
from finops.web.access import cache_prefix, org_page, render_page
from finops.web.budget_rows import budget_row, budgets_cache_version
from finops.web.cache import cached

LEVEL = "80"


def forecast_frame(forecast: SeriesForecast, *, after: date, until: date, level: str = LEVEL) -> pd.DataFrame:
    """The stored daily forecast (decimal strings) of the days in (after, until]: day, point, lower, upper."""
    points = forecast.points
    start = date.fromisoformat(points["start"])
    rows = []
    for index, point in enumerate(points["point"]):
        day = start + timedelta(days=index)
        if after < day <= until:
            rows.append(
                {
                    "day": day,
                    "point": Decimal(point),
                    "lower": Decimal(points[f"lower_{level}"][index]),
                    "upper": Decimal(points[f"upper_{level}"][index]),
                }
            )
    return pd.DataFrame(rows, columns=["day", "point", "lower", "upper"])


def _daily_actual(scope: AccessPolicy, *, metric: str, start: date, end: date, currency: str) -> pd.DataFrame:
    rows = (
        daily_costs_visible(scope)
        .filter(day__gte=start, day__lte=end, billing_currency=currency)
        .values("day")
        .annotate(cost=MoneySum(METRICS[metric]))
        .order_by()
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["day", "cost"])
    return frame.sort_values("day").reset_index(drop=True)


def _band_frame(projection: SpendProjection, level: float = 0.8) -> pd.DataFrame:
    """The daily forecast the projection summed, for the period's forecast days: day, point, lower, upper."""
    forecast = projection.forecast
    rows = []
    if forecast is not None:
        lower, upper = forecast.interval(level)
        for index, day in enumerate(forecast.dates):
            if projection.period_start <= day <= projection.period_end:
                rows.append(
                    {
                        "day": day,
                        "point": money_from_float(forecast.point[index]),
                        "lower": money_from_float(lower[index]),
                        "upper": money_from_float(upper[index]),
                    }
                )
    return pd.DataFrame(rows, columns=["day", "point", "lower", "upper"])


def _stored_series(scope: AccessPolicy, projection_scope: dict, *, metric: str, currency: str) -> SeriesForecast | None:
    """The forecast run's stored series of the same scope (the organization's total, or one team), if any."""
    teams = projection_scope.get("team")
    if teams is not None and len(teams) != 1:
        return None
    return series_forecast_latest(
        organization=scope.organization,
        dimension=Dimension.TEAM if teams else Dimension.TOTAL,
        key=teams[0] if teams else "",
        metric=metric,
        currency=currency,
        visible_to=scope,
    )


def forecast_slot(scope: AccessPolicy, *, metric: str, currency: str, mtd_start: date) -> dict:
    """The overview slot: the month-end projection of what the caller sees (the organization, or an engineer's
    own teams) through the one projection selector ``spend_projection`` (what budgets on the same scope and
    metric forecast, to the cent), with the daily forecast band, and month to date against the monthly
    budgets the caller may see."""
    budgets = list(budgets_visible(scope).filter(period="monthly", active=True).order_by("name")[:6])

    def compute() -> dict:
        # Inside the cached computation: the cache prefix already changes with each ingest.
        last = last_data_day(organization=scope.organization)
        out: dict = {"budgets": [budget_row(b, last) for b in budgets], "projection": None}
        projection_scope = policy_scope(scope)
        if last is None or projection_scope.get("team") == []:
            return out  # no data, or an engineer in no team
        projection = spend_projection(
            organization=scope.organization,
            scope=projection_scope,
            metric=metric,
            currency=currency,
            period="monthly",
            today=projected_day("monthly", last),
        )
        if projection.forecast is None and projection.days_elapsed == 0:
            return out
        stored = _stored_series(scope, projection_scope, metric=metric, currency=currency)
        actual = _daily_actual(
            scope,
            metric=metric,
            start=projection.period_start,
            end=min(last, projection.period_end),
            currency=currency,
        )
        band = _band_frame(projection)
        out["projection"] = {
            "forecast_id": stored.pk if stored is not None else None,
            "teams": projection_scope.get("team", []),
            "total": projection.total,
            "lower_80": projection.lower[0.8],
            "upper_80": projection.upper[0.8],
            "lower_95": projection.lower[0.95],
            "upper_95": projection.upper[0.95],
            "actual_to_date": projection.actual,
            "period_start": projection.period_start,
            "period_end": projection.period_end,
            "as_of": projection.as_of,
            "model": projection.model or "none",
            "current": projection.period_start == mtd_start,
            "forecast_days": projection.forecast_days,
        }
        out["forecast_figure"] = figures.actual_and_forecast(
            actual,
            band,
            title=f"Daily {metric} cost this month and forecast to {projection.period_end:%b %d} ({currency})",
            currency=currency,
        )
        return out

    return cached(
        cache_prefix(scope),
        "slot:forecast",
        {"metric": metric, "currency": currency, "v": budgets_cache_version(budgets)},
        compute,
    )


# --- Anomalies --------------------------------------------------------------------------------

ANOMALY_LIMIT = 100


TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


@org_page()
@require_GET
def anomalies(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    include_suppressed = request.GET.get("suppressed", "").lower() in TRUE_VALUES
    rows = list(anomalies_visible(scope, include_suppressed=include_suppressed).order_by("-day", "-id")[:ANOMALY_LIMIT])
    selected = None
    wanted = request.GET.get("anomaly", "")
    if wanted.isdigit():
        selected = next((a for a in rows if a.pk == int(wanted)), None)
        if selected is None:  # by id, a suppressed anomaly is shown too (as the API's detail)
            selected = get_object_or_404(anomalies_visible(scope, include_suppressed=True), pk=int(wanted))
    selected = selected or (rows[0] if rows else None)
    context: dict = {
        "rows": rows,
        "selected": selected,
        "verdicts": Anomaly.Verdict.choices,
        "include_suppressed": include_suppressed,
        **_other_charges(scope),
    }
    if selected is not None:
        context.update(
            cached(
                cache_prefix(scope),
                "page:anomaly",
                {"id": selected.pk, "updated": selected.updated_at.isoformat()},
                lambda: _anomaly_detail(scope, selected),
            )
        )
    return render_page(request, "forecasting/anomalies.html", context)


def _other_charges(scope: AccessPolicy) -> dict:
    """Tax, purchases, fees, credits and corrections this month to date against last month at the same stage:
    reported beside the anomalies, which are looked for in usage only (the overview's lines, amortized cost)."""
    last = selectors.as_of(scope)
    if last is None:
        return {"charge_lines": []}
    currency = selectors.main_currency(scope)
    mtd_start = selectors.month_start(last)
    prev_start = selectors.add_months(mtd_start, -1)
    lines = selectors.charge_lines(
        selectors.charge_kind_totals(scope, metric="effective", start=mtd_start, end=last, currency=currency),
        selectors.charge_kind_totals(
            scope, metric="effective", start=prev_start, end=mtd_start - timedelta(days=1), currency=currency
        ),
        as_of=last,
    )
    return {"charge_lines": lines, "charges_currency": currency, "charges_as_of": last}


TIMELINE_BEFORE = 45
TIMELINE_AFTER = 14


def _anomaly_detail(scope: AccessPolicy, anomaly: Anomaly) -> dict:
    """The timeline of the anomaly's series around its day: the daily actual cost, and on each stored anomalous
    day of the series the expected cost with its 99% interval (what the detector compared against)."""
    start, end = anomaly.day - timedelta(days=TIMELINE_BEFORE), anomaly.day + timedelta(days=TIMELINE_AFTER)
    actual = daily_cost_frame(
        organization=anomaly.organization,
        metric=anomaly.metric,
        dimension=anomaly.dimension,
        keys=[anomaly.key],
        currency=anomaly.currency,
        start=start,
        end=end,
        usage_only=True,
    )[["day", "cost"]]
    series = (
        Anomaly.objects.filter(
            organization=anomaly.organization,
            metric=anomaly.metric,
            currency=anomaly.currency,
            dimension=anomaly.dimension,
            key=anomaly.key,
            day__gte=start,
            day__lte=end,
        )
        .order_by("day")
        .values("day", "expected", "actual", "lower", "upper")
    )
    marks = pd.DataFrame.from_records(list(series), columns=["day", "expected", "actual", "lower", "upper"])
    causes = []
    for cause in anomaly.root_cause or []:
        causes.append(
            {
                "dimension": cause.get("dimension", ""),
                "key": cause.get("key", ""),
                "actual": Decimal(str(cause.get("actual", "0"))),
                "baseline": Decimal(str(cause.get("baseline", "0"))),
                "delta": Decimal(str(cause.get("delta", "0"))),
                "share": cause.get("share"),
                "name": cause.get("name", ""),
            }
        )
    return {
        "timeline_figure": figures.expected_vs_actual(
            actual,
            marks,
            title=f"{anomaly.series_label}: daily {anomaly.metric} usage cost, expected vs actual ({anomaly.currency})",
            currency=anomaly.currency,
        ),
        "timeline_days": len(actual),
        "timeline_marks": len(marks),
        "causes": causes,
        "cause_figure": figures.ranked_bars(
            pd.DataFrame(
                [
                    {"label": f"{c['dimension']}: {c['name'] or c['key'] or '(none)'}", "value": c["delta"]}
                    for c in causes
                ],
                columns=["label", "value"],
            ),
            title=f"Root cause: change against the baseline by contributor ({anomaly.currency})",
            currency=anomaly.currency,
        ),
    }


@org_page(write="can_write")
@require_POST
def anomaly_feedback(request: HttpRequest, anomaly_id: int) -> HttpResponse:
    scope: AccessPolicy = request.scope
    anomaly = get_object_or_404(anomalies_visible(scope, include_suppressed=True), pk=anomaly_id)
    try:
        anomaly_feedback_set(
            anomaly=anomaly,
            user=request.user,
            verdict=request.POST.get("verdict", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as error:
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()))
    else:
        messages.success(
            request, f"Recorded: {anomaly.get_verdict_display()} for {anomaly.series_label} on {anomaly.day}."
        )
    return redirect(f"{reverse('web:anomalies')}?anomaly={anomaly.pk}")


@org_page(write="can_write")
@require_POST
def anomalies_feedback(request: HttpRequest) -> HttpResponse:
    """The list's "verdict on selected": one verdict on the checked anomalies (the API's bulk feedback)."""
    scope: AccessPolicy = request.scope
    wanted = [int(v) for v in request.POST.getlist("anomaly") if v.isdigit()]
    try:
        anomalies = anomalies_chosen(scope, wanted)
        anomaly_feedback_bulk_set(
            anomalies=anomalies,
            user=request.user,
            verdict=request.POST.get("verdict", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as error:
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()))
    else:
        label = dict(Anomaly.Verdict.choices)[request.POST["verdict"]]
        count = len(anomalies)
        messages.success(request, f"Recorded: {label} for {count} anomal{'y' if count == 1 else 'ies'}.")
    suffix = "?suppressed=1" if request.POST.get("suppressed") else ""
    return redirect(f"{reverse('web:anomalies')}{suffix}")
