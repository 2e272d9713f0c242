"""Reads for forecasting: which forecasts and anomalies a caller may see, daily cost series from the rollups, line
items behind an anomaly, latest forecasts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import F, Max, Min, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate

from finops.accounts.access import AccessPolicy, policy_for_member
from finops.accounts.models import Membership, Organization, Team
from finops.core.money import MoneySum
from finops.forecasting.conf import ForecastConfig, forecast_config
from finops.forecasting.models import Anomaly, AnomalySubscription, Dimension, ForecastRun, SeriesForecast
from finops.usage.models import DailyCost, LineItem
from finops.usage.selectors import METRICS, usage_q

# Series dimension -> DailyCost field. "account" is the sub account (the AWS member account / Azure
# subscription), where spend is owned; the billing account is usually one per organization.
DIMENSION_FIELDS: dict[str, str | None] = {
    Dimension.TOTAL: None,
    Dimension.SERVICE: "service_name",
    Dimension.ACCOUNT: "sub_account_id",
    Dimension.REGION: "region_id",
    Dimension.TEAM: "team__slug",
    Dimension.PROVIDER: "provider_name",
}
# Series dimension -> LineItem field (the team is matched through its tag value).
LINE_ITEM_FIELDS: dict[str, str | None] = {
    Dimension.TOTAL: None,
    Dimension.SERVICE: "service_name",
    Dimension.ACCOUNT: "sub_account_id",
    Dimension.REGION: "region_id",
    Dimension.TEAM: "team_tag_value",
    Dimension.PROVIDER: "provider_name",
}
# Where a provider's usage type lives in LineItem.extras (FOCUS x_ column, CUR legacy, CUR 2.0); else the SKU.
USAGE_TYPE_KEYS = ("x_UsageType", "lineItem/UsageType", "line_item_usage_type")


@dataclass(frozen=True, order=True)
class SeriesKey:
    metric: str
    currency: str
    dimension: str
    key: str

    def label(self) -> str:
        name = "total" if self.dimension == Dimension.TOTAL else f"{self.dimension}:{self.key or '(none)'}"
        return f"{name} [{self.metric} {self.currency}]"

    def as_list(self) -> list[str]:
        return [self.metric, self.currency, self.dimension, self.key]


def _own_series(policy: AccessPolicy, queryset: QuerySet) -> QuerySet:
    """An engineer reads only the series of their teams (dimension team, keyed by team slug): the other series
    (total, service, account, region) sum every team's spend."""
    queryset = policy.scope(queryset)
    if policy.sees_all_teams:
        return queryset
    slugs = list(policy.teams().values_list("slug", flat=True))
    return queryset.filter(dimension=Dimension.TEAM, key__in=slugs)


def forecast_series_visible(policy: AccessPolicy) -> QuerySet[SeriesForecast]:
    """The stored series forecasts a caller may read."""
    return _own_series(policy, SeriesForecast.objects.all())


def anomalies_visible(policy: AccessPolicy, *, include_suppressed: bool = False) -> QuerySet[Anomaly]:
    """The anomalies a caller may read. Anomalies suppressed by "expected" feedback are left out unless
    ``include_suppressed``: lists hide them by default and offer a filter to show them."""
    anomalies = _own_series(policy, Anomaly.objects.all())
    if not include_suppressed:
        anomalies = anomalies.filter(suppressed_by__isnull=True)
    return anomalies


# The largest id a row can have (a 64-bit signed primary key, on SQLite and PostgreSQL alike).
MAX_ROW_ID = 2**63 - 1


def anomalies_chosen(policy: AccessPolicy, ids: Iterable[int]) -> list[Anomaly]:
    """The anomalies with these ids (suppressed ones included) for a verdict on several at once. Refuses the
    whole choice, naming the ids, when the caller cannot see one of them (or no row can have it: an id out of
    the database's range is never sent to the database)."""
    wanted = list(dict.fromkeys(ids))
    in_range = [i for i in wanted if 1 <= i <= MAX_ROW_ID]
    chosen = list(anomalies_visible(policy, include_suppressed=True).filter(pk__in=in_range))
    unknown = [i for i in wanted if i not in {a.pk for a in chosen}]
    if unknown:
        raise ValidationError({"anomalies": [f"no anomaly visible to you with id {', '.join(map(str, unknown))}"]})
    return chosen


def cost_as_of(*, organization: Organization) -> date | None:
    """The last day with cost data."""
    return DailyCost.objects.filter(organization=organization).aggregate(day=Max("day"))["day"]


def _grouped(organization: Organization, dimension: str) -> QuerySet:
    queryset = DailyCost.objects.filter(organization=organization)
    field = DIMENSION_FIELDS[dimension]
    group = Value("") if field is None else Coalesce(F(field), Value(""), output_field=TextField())
    return queryset.annotate(series_key=group)


def daily_cost_frame(
    *,
    organization: Organization,
    metric: str,
    dimension: str,
    keys: Iterable[str] | None = None,
    currency: str | None = None,
    start: date | None = None,
    end: date | None = None,
    usage_only: bool = False,
) -> pd.DataFrame:
    """Long frame (day, currency, key, cost) of the metric summed per day and dimension value; cost is Decimal.
    ``usage_only``: only the charges that count as usage (finops.usage.charges)."""
    if dimension not in DIMENSION_FIELDS:
        raise ValueError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSION_FIELDS)}")
    queryset = _grouped(organization, dimension)
    if usage_only:
        queryset = queryset.filter(usage_q())
    if currency is not None:
        queryset = queryset.filter(billing_currency=currency)
    if start is not None:
        queryset = queryset.filter(day__gte=start)
    if end is not None:
        queryset = queryset.filter(day__lte=end)
    if keys is not None:
        queryset = queryset.filter(series_key__in=list(keys))
    rows = queryset.values("day", "billing_currency", "series_key").annotate(cost=MoneySum(METRICS[metric])).order_by()
    frame = pd.DataFrame.from_records(
        [(r["day"], r["billing_currency"], r["series_key"], r["cost"] or Decimal(0)) for r in rows],
        columns=["day", "currency", "key", "cost"],
    )
    return frame.sort_values(["currency", "key", "day"], kind="stable").reset_index(drop=True)


def series_plan(*, organization: Organization, as_of: date, config: ForecastConfig | None = None) -> list[SeriesKey]:
    """The series worth forecasting: first day at least ``min_history_days`` before ``as_of`` and at least
    ``min_spend`` (absolute) over the last ``spend_window_days``. Total, service, account, region, team and
    provider, per configured metric and billing currency; provider series only in a currency several providers
    bill (one provider's series would repeat the total's, and its anomalies)."""
    config = config or forecast_config()
    history_cutoff = as_of - timedelta(days=config.min_history_days - 1)
    window_start = as_of - timedelta(days=config.spend_window_days - 1)
    planned: list[SeriesKey] = []
    for dimension in DIMENSION_FIELDS:
        grouped = _grouped(organization, dimension).filter(day__lte=as_of)
        first_days = {
            (r["billing_currency"], r["series_key"]): r["first"]
            for r in grouped.values("billing_currency", "series_key").annotate(first=Min("day")).order_by()
        }
        if dimension == Dimension.PROVIDER:
            providers = Counter(currency for currency, _ in first_days)
            first_days = {group: first for group, first in first_days.items() if providers[group[0]] > 1}
        for metric in config.metrics:
            spend = grouped.filter(day__gte=window_start).values("billing_currency", "series_key")
            spend = spend.annotate(spend=MoneySum(METRICS[metric])).order_by()
            for row in spend:
                group = (row["billing_currency"], row["series_key"])
                if group not in first_days:
                    continue
                # Money is text on SQLite: compare in Python (see finops.core.money).
                if first_days[group] <= history_cutoff and abs(row["spend"] or Decimal(0)) >= config.min_spend:
                    planned.append(SeriesKey(metric, group[0], dimension, group[1]))
    return sorted(planned)


def series_values(
    *, organization: Organization, series: Sequence[SeriesKey], end: date, usage_only: bool = False
) -> dict[SeriesKey, tuple[date, list[float]]]:
    """Each series as (first day, daily costs through ``end`` with missing days as 0), in float for the math;
    ``usage_only``: of the charges that count as usage only."""
    by_query: dict[tuple[str, str, str], list[SeriesKey]] = {}
    for item in series:
        by_query.setdefault((item.metric, item.currency, item.dimension), []).append(item)
    result: dict[SeriesKey, tuple[date, list[float]]] = {}
    for (metric, currency, dimension), items in by_query.items():
        frame = daily_cost_frame(
            organization=organization,
            metric=metric,
            dimension=dimension,
            keys=[i.key for i in items],
            currency=currency,
            end=end,
            usage_only=usage_only,
        )
        for item in items:
            rows = frame[frame["key"] == item.key]
            if rows.empty:
                continue
            first = min(rows["day"])
            index = pd.date_range(first, end, freq="D").date
            daily = pd.Series([float(c) for c in rows["cost"]], index=list(rows["day"])).reindex(index, fill_value=0.0)
            result[item] = (first, daily.tolist())
    return result


def series_dismissed_impacts(
    *, organization: Organization, series: Sequence[SeriesKey], since: date
) -> dict[SeriesKey, float]:
    """Per series, the largest absolute impact of its anomalies since ``since`` that users dismissed as false
    alarms (verdict not an anomaly); series without such feedback are absent. ("expected" marks a known event and
    suppresses the same pattern instead, see services._suppressing.)"""
    wanted = set(series)
    dismissed = Anomaly.objects.filter(
        organization=organization,
        day__gte=since,
        verdict=Anomaly.Verdict.NOT_AN_ANOMALY,
    ).values_list("metric", "currency", "dimension", "key", "impact")
    result: dict[SeriesKey, float] = {}
    for metric, currency, dimension, key, impact in dismissed:
        series_key = SeriesKey(metric, currency, dimension, key)
        if series_key in wanted:
            result[series_key] = max(result.get(series_key, 0.0), abs(float(impact)))
    return result


def _day_ranges(days: Iterable[date]) -> Q:
    query = Q()
    for day in days:
        start = datetime.combine(day, time(), UTC)
        query |= Q(charge_period_start__gte=start, charge_period_start__lt=start + timedelta(days=1))
    return query


def anomaly_line_items(*, organization: Organization, series: SeriesKey, days: Sequence[date]) -> pd.DataFrame:
    """Usage cost of the series' line items on ``days`` per (day, account, region, service, usage_type, resource),
    float, with readable names: ``resource_name`` (FOCUS ResourceName) and ``usage_type_name`` (the charge
    description, for usage types that are SKU codes).

    usage_type is the provider's usage type from the line item's extras (FOCUS ``x_UsageType``, CUR
    ``lineItem/UsageType`` or ``line_item_usage_type``) and the SKU id where there is none. Only charges that count
    as usage (finops.usage.charges): anomalies are detected on usage, so their causes are usage too.
    """
    queryset = LineItem.objects.filter(organization=organization, billing_currency=series.currency)
    queryset = queryset.filter(_day_ranges(days)).filter(usage_q())
    field = LINE_ITEM_FIELDS[series.dimension]
    if field is not None:
        value = series.key
        if series.dimension == Dimension.TEAM and value:
            team = Team.objects.filter(organization=organization, slug=value).first()
            value = team.tag_value if team else value
        if value:
            queryset = queryset.filter(**{field: value})
        else:  # the rollups file a null and an empty value under ""
            queryset = queryset.filter(Q(**{field: ""}) | Q(**{f"{field}__isnull": True}))
    text = TextField()
    provider_type = Coalesce(*(KT(f"extras__{k}") for k in USAGE_TYPE_KEYS), Value(""), output_field=text)
    columns = ["day", "account", "region", "service", "usage_type", "resource", "resource_name", "usage_type_name"]
    rows = (
        queryset.annotate(
            d=TruncDate("charge_period_start", tzinfo=UTC),
            account=Coalesce(F("sub_account_id"), Value(""), output_field=text),
            region=Coalesce(F("region_id"), Value(""), output_field=text),
            service=Coalesce(F("service_name"), Value(""), output_field=text),
            provider_type=provider_type,
            sku=Coalesce(F("sku_id"), Value(""), output_field=text),
            resource=Coalesce(F("resource_id"), Value(""), output_field=text),
            name=Coalesce(F("resource_name"), Value(""), output_field=text),
            description=Coalesce(F("charge_description"), Value(""), output_field=text),
        )
        .values("d", "account", "region", "service", "provider_type", "sku", "resource", "name", "description")
        .annotate(cost=MoneySum(METRICS[series.metric]))
        .order_by()
    )
    records = []
    for r in rows:
        # A provider usage type is readable as it is; a SKU code is named by its charge description.
        usage_type = r["provider_type"] or r["sku"]
        usage_type_name = "" if r["provider_type"] else r["description"]
        record = (r["d"], r["account"], r["region"], r["service"], usage_type, r["resource"], r["name"])
        records.append((*record, usage_type_name, float(r["cost"] or 0)))
    return pd.DataFrame.from_records(records, columns=[*columns, "cost"])


def forecast_run_latest(*, organization: Organization) -> ForecastRun | None:
    """The organization's most recent finished run with forecasts (succeeded or partial)."""
    return (
        ForecastRun.objects.filter(
            organization=organization, status__in=[ForecastRun.Status.SUCCEEDED, ForecastRun.Status.PARTIAL]
        )
        .exclude(as_of=None)
        .order_by("-as_of", "-id")
        .first()
    )


def series_forecast_latest(
    *,
    organization: Organization,
    dimension: str,
    key: str = "",
    metric: str = "effective",
    currency: str = "USD",
    visible_to: AccessPolicy | None = None,
) -> SeriesForecast | None:
    """The newest finished forecast of one series (an index scan on organization, metric, dimension, key); with
    ``visible_to``, None when that caller may not read the series."""
    forecasts = SeriesForecast.objects.all() if visible_to is None else forecast_series_visible(visible_to)
    return (
        forecasts.filter(
            organization=organization,
            metric=metric,
            currency=currency,
            dimension=dimension,
            key=key,
            run__status__in=[ForecastRun.Status.SUCCEEDED, ForecastRun.Status.PARTIAL],
        )
        .order_by("-history_end", "-id")
        .select_related("run")
        .prefetch_related("projections")
        .first()
    )


def series_forecasts_for_run(*, run: ForecastRun) -> QuerySet[SeriesForecast]:
    return SeriesForecast.objects.filter(run=run).prefetch_related("projections").order_by("metric", "dimension", "key")


def anomalies_recent(*, organization: Organization, since: datetime) -> QuerySet[Anomaly]:
    return Anomaly.objects.filter(organization=organization, created_at__gte=since).order_by("-day", "id")


def anomaly_subscription_of(*, user: AbstractBaseUser, organization: Organization) -> AnomalySubscription | None:
    """The user's own anomaly subscription in the organization (rows naming only an email are not theirs)."""
    return AnomalySubscription.objects.filter(user=user, organization=organization).order_by("id").first()


def anomalies_visible_to_subscriber(subscription: AnomalySubscription, anomalies: Sequence[Anomaly]) -> list[Anomaly]:
    """Of ``anomalies``, those the subscription's recipient may be emailed: a subscribed engineer of the
    organization gets the anomalies of their teams' series only (as on their anomalies page); an address
    without a team-scoped member behind it gets every one."""
    if subscription.user_id is None:
        return list(anomalies)
    try:
        policy = policy_for_member(user=subscription.user, organization_id=subscription.organization_id)
    except Membership.DoesNotExist:
        return list(anomalies)
    if policy.sees_all_teams:
        return list(anomalies)
    visible = set(
        anomalies_visible(policy, include_suppressed=True)
        .filter(pk__in=[a.pk for a in anomalies])
        .values_list("pk", flat=True)
    )
    return [a for a in anomalies if a.pk in visible]
