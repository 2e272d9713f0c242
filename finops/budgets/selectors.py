"""Reads for budgets: which budgets a caller may see, the scoped daily cost series, the organization's known
scope values.

Scope filters on accounts, service, region and team read the daily rollups (``DailyCost``), a filter on one
tag key the tag rollup (``DailyTagCost``). Only a scope on several tag keys at once (their values must occur on
the same line item) reads line items: one grouped aggregate over the window, bounded by the
(organization, charge_period_start) index.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import F, Max, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Organization, Team
from finops.budgets import calc
from finops.budgets.models import Budget, DigestSubscription
from finops.core.money import MoneySum
from finops.forecasting.calc.projection import SpendProjection, history_start, project_spend
from finops.usage.models import DailyCost, DailyTagCost, LineItem
from finops.usage.selectors import METRICS

METRIC_FIELDS = {"billed": "billed_cost", "effective": "effective_cost"}
# scope key -> DailyCost field (LineItem has the same column names)
DIMENSIONS = ("billing_account_id", "sub_account_id", "service_name", "region_id", "provider_name")
SCOPE_KEYS = (*DIMENSIONS, "team", "tags")


def budgets_visible(policy: AccessPolicy) -> QuerySet[Budget]:
    """The budgets a caller may read: every budget of the organization; for an engineer, only the budgets
    limited to teams they belong to (a budget on other teams or on no team spans spend that is not theirs)."""
    budgets = Budget.objects.filter(organization=policy.organization)
    if policy.sees_all_teams:
        return budgets
    slugs = set(policy.teams().values_list("slug", flat=True))
    allowed = [
        pk
        for pk, scope in budgets.values_list("pk", "scope")
        if (scope or {}).get("team") and set(scope["team"]) <= slugs
    ]
    return budgets.filter(pk__in=allowed)


def last_data_day(*, organization: Organization) -> date | None:
    """The last day with cost data for the organization (any scope)."""
    return DailyCost.objects.filter(organization=organization).aggregate(last=Max("day"))["last"]


def known_dimension_values(*, organization: Organization, key: str, values: list[str]) -> set[str]:
    """Which of ``values`` occur in the organization's data for the scope dimension ``key``."""
    if key == "team":
        return set(Team.objects.filter(organization=organization, slug__in=values).values_list("slug", flat=True))
    if key not in DIMENSIONS:
        raise ValueError(f"unknown scope dimension {key!r}")
    rows = DailyCost.objects.filter(organization=organization, **{f"{key}__in": values})
    return set(rows.values_list(key, flat=True).distinct())


def _tag(key: str) -> Coalesce:
    # As text (KT alone compares as JSON on SQLite); KT() would split a key on "__", which validation refuses.
    return Coalesce(KT(f"tags__{key}"), Value(""), output_field=TextField())


def known_tag_values(*, organization: Organization, key: str, values: list[str]) -> set[str]:
    """Which of ``values`` occur as the value of tag ``key`` on the organization's line items."""
    rows = DailyTagCost.objects.filter(organization=organization, tag_key=key, tag_value__in=values)
    return set(rows.values_list("tag_value", flat=True).distinct())


def _line_item_filter(scope: dict, organization: Organization) -> Q:
    condition = Q()
    for key in DIMENSIONS:
        if scope.get(key):
            if key == "region_id":  # the rollup falls back to RegionName when RegionId is empty
                condition &= Q(region_id__in=scope[key]) | (
                    (Q(region_id__isnull=True) | Q(region_id="")) & Q(region_name__in=scope[key])
                )
            elif key == "sub_account_id":
                condition &= Q(sub_account_id__in=scope[key])
            else:
                condition &= Q(**{f"{key}__in": scope[key]})
    if scope.get("team"):
        tag_values = Team.objects.filter(organization=organization, slug__in=scope["team"]).values_list(
            "tag_value", flat=True
        )
        condition &= Q(team_tag_value__in=list(tag_values))
    return condition


def scope_currencies(*, organization: Organization, scope: dict) -> set[str]:
    """The currencies the scope's costs are billed in (of its first tag key when it filters on several);
    every currency of the organization when the scope has no costs yet; empty for an organization without
    data."""
    tags = scope.get("tags") or {}
    if tags:
        key, values = next(iter(tags.items()))
        rows = DailyTagCost.objects.filter(organization=organization, tag_key=key, tag_value__in=values)
    else:
        rows = DailyCost.objects.filter(organization=organization)
    for key in DIMENSIONS:
        if scope.get(key):
            rows = rows.filter(**{f"{key}__in": scope[key]})
    if scope.get("team"):
        rows = rows.filter(team__slug__in=scope["team"])
    found = set(rows.values_list("billing_currency", flat=True).distinct())
    if found or not scope:
        return found
    return scope_currencies(organization=organization, scope={})


def scoped_costs(
    *, organization: Organization, scope: dict, metric: str, currency: str, start: date, end: date
) -> QuerySet:
    """Rows (``DailyCost``, ``DailyTagCost`` for one tag key, ``LineItem`` for several) of the scope, currency
    and days [start, end], annotated with ``d`` (the day); aggregate with ``MoneySum(METRIC_FIELDS[metric])``."""
    if len(scope.get("tags") or {}) > 1:
        rows = LineItem.objects.filter(
            organization=organization,
            billing_currency=currency,
            charge_period_start__gte=datetime.combine(start, time(), UTC),
            charge_period_start__lt=datetime.combine(end + timedelta(days=1), time(), UTC),
        ).filter(_line_item_filter(scope, organization))
        for index, (key, values) in enumerate(scope["tags"].items()):
            alias = f"tag_{index}"
            rows = rows.annotate(**{alias: _tag(key)}).filter(**{f"{alias}__in": values})
        return rows.annotate(d=TruncDate("charge_period_start", tzinfo=UTC))
    if scope.get("tags"):
        ((key, values),) = scope["tags"].items()
        rows = DailyTagCost.objects.filter(organization=organization, tag_key=key, tag_value__in=values)
    else:
        rows = DailyCost.objects.filter(organization=organization)
    rows = rows.filter(billing_currency=currency, day__gte=start, day__lte=end)
    for key in DIMENSIONS:
        if scope.get(key):
            rows = rows.filter(**{f"{key}__in": scope[key]})
    if scope.get("team"):
        rows = rows.filter(team__slug__in=scope["team"])
    return rows.annotate(d=F("day"))


def budget_daily_costs(*, budget: Budget, start: date, end: date) -> dict[date, Decimal]:
    """The budget's scoped cost per day over [start, end] (days without cost are absent)."""
    return scope_daily_costs(
        organization=budget.organization,
        scope=budget.scope or {},
        metric=budget.cost_metric,
        currency=budget.currency,
        start=start,
        end=end,
    )


def scope_daily_costs(
    *, organization: Organization, scope: dict, metric: str, currency: str, start: date, end: date
) -> dict[date, Decimal]:
    """The scope's cost per day over [start, end] (days without cost are absent)."""
    rows = scoped_costs(organization=organization, scope=scope, metric=metric, currency=currency, start=start, end=end)
    totals = rows.values("d").annotate(cost=MoneySum(METRICS[metric])).order_by()
    out: dict[date, Decimal] = {}
    for row in totals:
        day = row["d"]
        if isinstance(day, datetime):
            day = day.date()
        out[day] = out.get(day, Decimal(0)) + (row["cost"] or Decimal(0))
    return out


def budgets_for(*, organization: Organization | None = None, active_only: bool = True) -> QuerySet[Budget]:
    budgets = Budget.objects.select_related("organization").prefetch_related("recipient_users")
    if organization is not None:
        budgets = budgets.filter(organization=organization)
    if active_only:
        budgets = budgets.filter(active=True)
    return budgets.order_by("organization__slug", "name")


def policy_scope(policy: AccessPolicy) -> dict:
    """The widest scope a caller may project: the organization, or an engineer's own teams."""
    if policy.sees_all_teams:
        return {}
    return {"team": sorted(policy.teams().values_list("slug", flat=True))}


def shown_day(period: str, last: date | None) -> date:
    """The day whose period the budget pages show: today, or the last data day when the data stops before the
    period containing today began (a sample loaded months ago), so they show the spend there is."""
    today = timezone.now().date()
    if last is not None and last < calc.period_bounds(period, today)[0]:
        return last
    return today


def projected_day(period: str, last: date | None) -> date:
    """The day whose period a projection shows by default (overview, team page, API): today, or, when the data
    stops before the period containing today, the first day after the data (the period a forecast run
    projects; the same period as the budget pages unless the data ends on a period's last day)."""
    return shown_day(period, None if last is None else last + timedelta(days=1))


def spend_projection(
    *,
    organization: Organization,
    scope: dict,
    metric: str,
    currency: str,
    period: str,
    today: date | None = None,
) -> SpendProjection:
    """The one month-end / quarter-end (``period``: monthly, quarterly, annual) projection of ``scope``'s
    ``metric`` (billed, effective) spend in ``currency`` for the period containing ``today`` (default: today,
    UTC), from the organization's last data day (never after ``today``). The overview, the budget pages and
    emails, ``evaluate_budgets`` and the API all read it, so they agree to the cent on the same data day.
    An engineer's scope must be within their teams: build it with ``policy_scope``."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    today = today or timezone.now().date()
    period_start, period_end = calc.period_bounds(period, today)
    as_of = last_data_day(organization=organization)
    if as_of is not None and as_of > today:
        as_of = today
    daily: dict[date, Decimal] = {}
    if as_of is not None:
        daily = scope_daily_costs(
            organization=organization,
            scope=scope or {},
            metric=metric,
            currency=currency,
            start=history_start(period_start, as_of),
            end=as_of,
        )
    return project_spend(daily, period_start=period_start, period_end=period_end, as_of=as_of, levels=calc.LEVELS)


def digest_subscribed(*, user: Any, organization: Organization) -> bool:
    """Whether the user gets the organization's weekly spend digest."""
    return DigestSubscription.objects.filter(user=user, organization=organization, active=True).exists()
