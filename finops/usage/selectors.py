"""Reads over usage data. Reports come from the daily rollups: DailyCost, and DailyTagCost for one tag key
(a group-by or a filter). Only a report on two different tag keys, or on an empty tag value, reads line items.

Group-bys on FOCUS 1.3 split cost allocation (``allocated_resource``, ``allocated_tag:KEY``) read line items: the
rollups do not carry allocation columns, whose values can be as many as the resources a cost is split to.

``cost_breakdown`` is the one code path for cost reports: one or two group-bys, filters (one value or several,
"(none)" for "not set"), the caller's team visibility and a time granularity. ``cost_summary`` (the
``cost_report`` command, budgets' digests), the API's costs/summary and costs/timeseries and the Explore page
all call it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Sum, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Organization, Team
from finops.core.amounts import exact_add
from finops.core.money import MoneySum
from finops.usage.charges import CORRECTION_CLASS, USAGE_CATEGORY
from finops.usage.export import DEFAULT_VERSION as DEFAULT_FOCUS_VERSION
from finops.usage.export import ExportError, FocusColumn, focus_columns, source_fields
from finops.usage.models import BillingSlice, DailyCost, DailyTagCost, LineItem, LineItemPrune

METRICS = {"billed": "billed_cost", "effective": "effective_cost", "list": "list_cost"}
# group-by name -> rollup field
GROUP_FIELDS = {
    "service": "service_name",
    "account": "billing_account_id",
    "sub_account": "sub_account_id",
    "region": "region_id",
    "team": "team__slug",
    "provider": "provider_name",
    "charge_category": "charge_category",
    "pricing_category": "pricing_category",
    "service_category": "service_category",
}
# group-by name -> line-item column: dimensions the rollups do not carry (FOCUS 1.3 split cost allocation).
LINE_ITEM_GROUP_FIELDS = {"allocated_resource": "allocated_resource_id"}
NONE_LABEL = "(none)"
TAG_PREFIX = "tag:"
ALLOCATED_TAG_PREFIX = "allocated_tag:"


def usage_q() -> Q:
    """The rows (DailyCost, DailyTagCost or LineItem) that count as usage: ChargeCategory Usage and not a
    correction of an earlier period (finops.usage.charges). Nullable charge_class: Django's negation keeps nulls."""
    return Q(charge_category=USAGE_CATEGORY) & ~Q(charge_class=CORRECTION_CLASS)


class ReportError(ValueError):
    """A report was asked for with parameters that make no sense; the message says which."""


@dataclass(frozen=True)
class CostRow:
    group: str
    currency: str
    cost: Decimal


def parse_group_by(group_by: str) -> str:
    if group_by in GROUP_FIELDS or group_by in LINE_ITEM_GROUP_FIELDS:
        return group_by
    for prefix in (TAG_PREFIX, ALLOCATED_TAG_PREFIX):
        if group_by.startswith(prefix) and len(group_by) > len(prefix):
            return group_by
    raise ReportError(
        f"unknown group-by {group_by!r}; choose one of {', '.join([*GROUP_FIELDS, *LINE_ITEM_GROUP_FIELDS])}, "
        "tag:KEY or allocated_tag:KEY"
    )


def reads_line_items(group_by: str) -> bool:
    """Whether a group-by needs line items (its dimension is not in the rollups)."""
    return group_by in LINE_ITEM_GROUP_FIELDS or group_by.startswith(ALLOCATED_TAG_PREFIX)


def parse_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ReportError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return METRICS[metric]


GRANULARITIES = ("day", "week", "month")
# filter name -> rollup field (values compared exactly; "" and "(none)" match "not set")
FILTER_FIELDS = {
    "account": "billing_account_id",
    "sub_account": "sub_account_id",
    "service": "service_name",
    "service_category": "service_category",
    "region": "region_id",
    "provider": "provider_name",
    "charge_category": "charge_category",
    "pricing_category": "pricing_category",
    "currency": "billing_currency",
}
# Filters of cost_breakdown: FILTER_FIELDS plus ``team`` (team slugs; "(none)" is the rows without a team).
BREAKDOWN_FILTERS = (*FILTER_FIELDS, "team")
FilterValues = str | Sequence[str]


@dataclass(frozen=True)
class BreakdownRow:
    period: date | None  # first day of the period; None without a granularity
    groups: tuple[str, ...]
    currency: str
    cost: Decimal

    @property
    def group(self) -> str:
        return " / ".join(self.groups)


def parse_group_bys(text: str) -> list[str]:
    """``service`` or ``service,region`` (at most two dimensions, tags included)."""
    names = [name.strip() for name in text.split(",")] if text else []
    if len(names) > 2:
        raise ReportError("group by at most two dimensions")
    if len(set(names)) != len(names):
        raise ReportError("a dimension appears twice in group_by")
    return [parse_group_by(name) for name in names]


def period_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if granularity == "month":
        return day.replace(day=1)
    return day


def _line_item_fields() -> dict[str, object]:
    """Line-item expressions matching the rollup's dimensions (nulls as "", region falling back to its name)."""
    text = TextField()
    return {
        "service": Coalesce(F("service_name"), Value(""), output_field=text),
        "account": Coalesce(F("billing_account_id"), Value(""), output_field=text),
        "sub_account": Coalesce(F("sub_account_id"), Value(""), output_field=text),
        "region": Coalesce(F("region_id"), F("region_name"), Value(""), output_field=text),
        "team": Coalesce(F("team_tag_value"), Value(""), output_field=text),
        "provider": Coalesce(F("provider_name"), Value(""), output_field=text),
        "charge_category": Coalesce(F("charge_category"), Value(""), output_field=text),
        "pricing_category": Coalesce(F("pricing_category"), Value(""), output_field=text),
        "service_category": Coalesce(F("service_category"), Value(""), output_field=text),
        "currency": F("billing_currency"),
        **{name: Coalesce(F(column), Value(""), output_field=text) for name, column in LINE_ITEM_GROUP_FIELDS.items()},
    }


def tag_expression(key: str, column: str = "tags"):
    # As in cost_summary: KT() would split a key on "__"; tag keys are used as given.
    return Coalesce(KT(f"{column}__{key}"), Value(""), output_field=TextField())


def _line_item_group(dimension: str, fields: Mapping[str, object]):
    if dimension.startswith(TAG_PREFIX):
        return tag_expression(dimension[len(TAG_PREFIX) :])
    if dimension.startswith(ALLOCATED_TAG_PREFIX):
        return tag_expression(dimension[len(ALLOCATED_TAG_PREFIX) :], "allocated_tags")
    return fields[dimension]


def _filter_values(filters: Mapping[str, FilterValues] | None, *, allowed: Collection[str]) -> dict[str, tuple]:
    """Filters as name -> tuple of values (a single value is a one-element tuple); unknown names refused."""
    filters = dict(filters or {})
    unknown = set(filters) - set(allowed)
    if unknown:
        raise ReportError(f"unknown filter(s) {', '.join(sorted(unknown))}")
    return {name: (values,) if isinstance(values, str) else tuple(values) for name, values in filters.items()}


def _set_values(values: tuple[str, ...]) -> tuple[list[str], bool]:
    """The values to match exactly, and whether "not set" ("" or "(none)") is wanted too."""
    return [v for v in values if v not in ("", NONE_LABEL)], any(v in ("", NONE_LABEL) for v in values)


def _rollup_filter(name: str, values: tuple[str, ...]) -> Q:
    wanted, unset = _set_values(values)
    if name == "team":
        condition = Q(team__slug__in=wanted)
        unset_condition = Q(team__isnull=True)
    else:
        field_name = FILTER_FIELDS[name]
        condition = Q(**{f"{field_name}__in": wanted})
        unset_condition = Q(**{field_name: ""}) | Q(**{f"{field_name}__isnull": True})
    return condition | unset_condition if unset else condition


def _team_tag_values(
    *, organization: Organization, slugs: Sequence[str] | None = None, team_ids: Collection[int] | None = None
) -> QuerySet:
    teams = Team.objects.filter(organization=organization)
    if slugs is not None:
        teams = teams.filter(slug__in=slugs)
    if team_ids is not None:
        teams = teams.filter(pk__in=team_ids)
    return teams.values("tag_value")


def line_items_pruned_check(*, organization: Organization, start: date | None, end: date | None) -> None:
    """Refuse (ReportError) a report on line items over days whose line items retention removed while their
    rollups stay (FINOPS_LINE_ITEM_RETENTION_MONTHS), rather than let it show zeros there."""
    horizon = LineItemPrune.objects.order_by("-before").values_list("before", flat=True).first()
    if horizon is None:
        return
    gone = DailyCost.objects.filter(organization=organization, billing_period_start__lt=horizon)
    if start:
        gone = gone.filter(day__gte=start)
    if end:
        gone = gone.filter(day__lte=end)
    if gone.exists():
        raise ReportError(
            f"line items of billing periods before {horizon:%Y-%m-%d} were removed by retention "
            f"(FINOPS_LINE_ITEM_RETENTION_MONTHS) and this report reads line items: choose a start on or after "
            f"{horizon:%Y-%m-%d} (reports on the daily rollups still cover the earlier periods)"
        )


def line_items_filtered(
    *,
    organization: Organization,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, FilterValues] | None = None,
    team: str | None = None,
    tag: tuple[str, str] | None = None,
    team_ids: Collection[int] | None = None,
):
    """Line items of ``organization`` matching the breakdown's filters, with the rollup's semantics
    (inclusive UTC days by charge period start, nulls equal "", region falling back to its name).
    ``team_ids`` (None: every row) keeps the rows of those teams only."""
    filters = _filter_values(filters, allowed=BREAKDOWN_FILTERS)
    if team is not None:
        filters["team"] = (team,)
    queryset = LineItem.objects.filter(organization=organization)
    if start:
        queryset = queryset.filter(charge_period_start__gte=datetime.combine(start, time(), UTC))
    if end:
        queryset = queryset.filter(charge_period_start__lt=datetime.combine(end + timedelta(days=1), time(), UTC))
    fields = _line_item_fields()
    annotations = {f"f_{name}": fields[name] for name in filters if name != "team"}
    if tag is not None:
        annotations["f_tag"] = tag_expression(tag[0])
    if annotations:
        queryset = queryset.annotate(**annotations)
    conditions = Q()
    for name, values in filters.items():
        wanted, unset = _set_values(values)
        if name == "team":
            column = "team_tag_value"
            condition = Q(team_tag_value__in=_team_tag_values(organization=organization, slugs=wanted))
        else:
            column, condition = f"f_{name}", Q(**{f"f_{name}__in": wanted})
        if unset:
            condition |= Q(**{column: ""})
        conditions &= condition
    if tag is not None:
        conditions &= Q(f_tag=tag[1])
    if team_ids is not None:
        conditions &= Q(team_tag_value__in=_team_tag_values(organization=organization, team_ids=team_ids))
    return queryset.filter(conditions)


def cost_breakdown(
    *,
    organization: Organization,
    group_by: Sequence[str] = ("service",),
    metric: str = "billed",
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, FilterValues] | None = None,
    team: str | None = None,
    tag: tuple[str, str] | None = None,
    granularity: str | None = None,
    team_ids: Collection[int] | None = None,
) -> list[BreakdownRow]:
    """Cost per (period, groups, currency) over [start, end] (inclusive UTC days).

    ``filters`` maps BREAKDOWN_FILTERS names to a value or a sequence of values (any of them matches; "" and
    "(none)" match "not set"); ``team`` is a team slug (the same as ``filters["team"]``); ``tag`` is (key, value).
    ``team_ids`` is the caller's visibility (``AccessPolicy.team_ids``): None = every row, otherwise those
    teams' rows only, teamless rows excluded.
    Rows: by period, then largest cost first (ranked in Python: money is text on SQLite).
    """
    field = parse_metric(metric)
    dimensions = [parse_group_by(name) for name in group_by]
    filters = _filter_values(filters, allowed=BREAKDOWN_FILTERS)
    if team is not None:
        filters["team"] = (team,)
    if granularity is not None and granularity not in GRANULARITIES:
        raise ReportError(f"unknown granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}")
    if start and end and start > end:
        raise ReportError(f"start {start} is after end {end}")
    tag_keys = {dim[4:] for dim in dimensions if dim.startswith("tag:")} | ({tag[0]} if tag else set())
    read_line_items = (
        len(tag_keys) > 1
        or (tag is not None and tag[1] in ("", NONE_LABEL))
        or any(reads_line_items(dim) for dim in dimensions)
    )
    teams_by_value: dict[str, str] = {}
    keys = [f"g{i}" for i in range(len(dimensions))] + (["period"] if granularity else [])
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    if read_line_items:
        line_items_pruned_check(organization=organization, start=start, end=end)
        queryset = line_items_filtered(
            organization=organization, start=start, end=end, filters=filters, tag=tag, team_ids=team_ids
        )
        fields = _line_item_fields()
        annotations: dict[str, object] = {}
        for i, dim in enumerate(dimensions):
            annotations[f"g{i}"] = _line_item_group(dim, fields)
        if granularity:
            annotations["period"] = TruncDate("charge_period_start", tzinfo=UTC)
        totals = queryset.annotate(**annotations).values(*keys, "billing_currency").annotate(cost=MoneySum(field))
        team_values = Team.objects.filter(organization=organization)
        teams_by_value = dict(team_values.values_list("tag_value", "slug"))
        rows_read = [{**r, "rows": 1} for r in totals.order_by()]
    else:

        def rollup_rows(queryset, *, tag_dimension_as: object) -> list[dict]:
            if start:
                queryset = queryset.filter(day__gte=start)
            if end:
                queryset = queryset.filter(day__lte=end)
            for name, values in filters.items():
                queryset = queryset.filter(_rollup_filter(name, values))
            if team_ids is not None:
                queryset = queryset.filter(team_id__in=list(team_ids))
            annotations: dict[str, object] = {}
            for i, dim in enumerate(dimensions):
                if dim.startswith("tag:"):
                    annotations[f"g{i}"] = tag_dimension_as
                elif dim == "team":  # by id, named below: joining the team table costs the scan a third
                    annotations[f"g{i}"] = F("team_id")
                else:
                    annotations[f"g{i}"] = Coalesce(F(GROUP_FIELDS[dim]), Value(""), output_field=TextField())
            if granularity:
                annotations["period"] = F("day")
            grouped = queryset.annotate(**annotations).values(*keys, "billing_currency")
            rows = list(grouped.annotate(cost=MoneySum(field), rows=Sum("row_count")).order_by())
            team_keys = [f"g{i}" for i, dim in enumerate(dimensions) if dim == "team"]
            if team_keys:
                ids = {r[key] for r in rows for key in team_keys} - {None}
                slugs = dict(Team.objects.filter(pk__in=ids).values_list("pk", "slug"))
                for r in rows:
                    for key in team_keys:
                        r[key] = slugs.get(r[key], "")
            return rows

        if not tag_keys:
            rows_read = rollup_rows(DailyCost.objects.filter(organization=organization), tag_dimension_as=None)
        else:
            (key,) = tag_keys
            tagged = DailyTagCost.objects.filter(organization=organization, tag_key=key)
            if tag is not None:
                tagged = tagged.filter(tag_value=tag[1])
            rows_read = rollup_rows(tagged, tag_dimension_as=F("tag_value"))
            if tag is None:  # the rows without the tag: all rows minus the tagged ones
                everything = rollup_rows(
                    DailyCost.objects.filter(organization=organization),
                    tag_dimension_as=Value("", output_field=TextField()),
                )
                tag_group = next(f"g{i}" for i, dim in enumerate(dimensions) if dim.startswith("tag:"))
                rows_read += untagged_remainder(tagged=rows_read, everything=everything, keys=keys, tag_group=tag_group)
    for r in rows_read:
        labels = []
        for i, dim in enumerate(dimensions):
            value = r[f"g{i}"] or ""
            if read_line_items and dim == "team":
                value = teams_by_value.get(value, value)
            labels.append(value or NONE_LABEL)
        period = period_start(_as_date(r["period"]), granularity) if granularity else None
        key = (period, tuple(labels), r["billing_currency"])
        sums[key] = exact_add(sums[key], r["cost"] or Decimal(0))
    rows = [BreakdownRow(period=p, groups=g, currency=c, cost=cost) for (p, g, c), cost in sums.items()]
    return sorted(rows, key=lambda r: (r.period or date.min, -r.cost, r.groups, r.currency))


def untagged_remainder(
    *, tagged: list[dict], everything: list[dict], keys: Sequence[str], tag_group: str
) -> list[dict]:
    """Rows for what carries no value of the tag: per group of ``everything`` (whose ``tag_group`` is ""),
    its cost and row count minus those of the ``tagged`` rows with the same other keys. Pure.

    Rows are dicts with ``keys``, ``billing_currency``, ``cost`` (Decimal) and ``rows`` (line items). A
    remainder is kept when line items remain (even if their cost nets to zero), never by comparing money.
    """
    other = [k for k in keys if k != tag_group]
    covered: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    for r in tagged:
        bucket = covered[(*(r[k] for k in other), r["billing_currency"])]
        bucket[0] = exact_add(bucket[0], r["cost"] or Decimal(0))
        bucket[1] += r["rows"] or 0
    remainder = []
    for r in everything:
        cost, rows = covered.get((*(r[k] for k in other), r["billing_currency"]), (Decimal(0), 0))
        left = (r["rows"] or 0) - rows
        if left > 0:
            remainder.append({**r, "cost": exact_add(r["cost"] or Decimal(0), -cost), "rows": left})
    return remainder


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def currency_totals(rows: Sequence[CostRow | BreakdownRow]) -> dict[str, Decimal]:
    """The rows' cost summed per currency, currencies sorted (pure): a report's total is one per currency,
    never one number across currencies."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.currency] = exact_add(totals.get(row.currency, Decimal(0)), row.cost)
    return dict(sorted(totals.items()))


def parse_filters(pairs: Sequence[str]) -> dict[str, list[str]]:
    """``NAME=VALUE`` texts (``provider=Microsoft``, repeatable: any value of a name matches) as filters for
    ``cost_breakdown``; unknown names and texts without ``=`` refused."""
    filters: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ReportError(f"filter {pair!r}: write NAME=VALUE, e.g. provider=Microsoft")
        if name not in BREAKDOWN_FILTERS:
            raise ReportError(f"unknown filter {name!r}; choose one of {', '.join(BREAKDOWN_FILTERS)}")
        filters.setdefault(name, []).append(value.strip())
    return filters


def cost_summary(
    *,
    organization: Organization,
    group_by: str = "service",
    metric: str = "billed",
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, FilterValues] | None = None,
) -> list[CostRow]:
    """Cost per group and currency over [start, end] (both inclusive days, UTC), largest first.

    Without dates it covers everything ingested. Charges are dated by the day their charge period starts.
    A one-dimension ``cost_breakdown`` (``filters`` as there).
    """
    rows = cost_breakdown(
        organization=organization, group_by=[group_by], metric=metric, start=start, end=end, filters=filters
    )
    return [CostRow(group=r.group, currency=r.currency, cost=r.cost) for r in rows]


def account_names(*, organization: Organization) -> dict[str, dict[str, str]]:
    """The names the billing data carries for account ids: {"account": {BillingAccountId: BillingAccountName},
    "sub_account": {SubAccountId: SubAccountName}}; ids without a name are absent (one name per id: the
    smallest, when a provider renamed an account)."""
    out: dict[str, dict[str, str]] = {"account": {}, "sub_account": {}}
    recorded = BillingSlice.objects.filter(organization=organization).values_list("account_names", flat=True)
    for names in recorded.order_by():
        for dimension, known in out.items():
            for account_id, name in (names or {}).get(dimension, {}).items():
                if account_id not in known or name < known[account_id]:
                    known[account_id] = name
    return {dimension: dict(sorted(known.items())) for dimension, known in out.items()}


def daily_costs_visible(policy: AccessPolicy) -> QuerySet[DailyCost]:
    """The daily rollup rows a caller may read."""
    return policy.scope(DailyCost.objects.all(), team_field="team_id")


def daily_tag_costs_visible(policy: AccessPolicy) -> QuerySet[DailyTagCost]:
    """The daily tag rollup rows a caller may read."""
    return policy.scope(DailyTagCost.objects.all(), team_field="team_id")


def focus_export(
    *,
    organization: Organization,
    version: str = DEFAULT_FOCUS_VERSION,
    start: date | None = None,
    end: date | None = None,
    team_ids: Collection[int] | None = None,
    chunk_size: int = 2000,
) -> tuple[tuple[FocusColumn, ...], Iterator[dict]]:
    """The columns of FOCUS ``version`` and the organization's line items as records for them, charged over
    [start, end] (inclusive UTC days by charge period start), in ingest order. ``team_ids`` is the caller's
    visibility (``AccessPolicy.team_ids``; None: every row). The records are fetched ``chunk_size`` at a time
    when iterated, never all at once; ``finops.usage.export`` turns them into CSV or Parquet."""
    if start and end and start > end:
        raise ReportError(f"start {start} is after end {end}")
    try:
        columns = focus_columns(version, (field.name for field in LineItem._meta.concrete_fields))
    except ExportError as error:
        raise ReportError(str(error)) from error
    line_items_pruned_check(organization=organization, start=start, end=end)
    queryset = line_items_filtered(organization=organization, start=start, end=end, team_ids=team_ids)
    records = queryset.order_by("id").values(*source_fields(columns)).iterator(chunk_size=chunk_size)
    return columns, records
