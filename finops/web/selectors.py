"""Reads behind the pages. All answer from the daily rollups: DailyCost, and DailyTagCost for tag group-bys (Explore's
split-cost-allocation group-bys excepted: cost_breakdown reads those from line items).
Results are cached per organization version and scope (see cache.py). Money stays Decimal here; pages
round for display only."""

from __future__ import annotations

import calendar
import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, Q, Sum, TextField, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Team
from finops.core.amounts import exact_add
from finops.core.money import MoneySum
from finops.usage.charges import CORRECTION_CLASS, KIND_LABELS, OTHER_KINDS, USAGE_CATEGORY, charge_kind, same_stage
from finops.usage.models import DailyTagCost
from finops.usage.selectors import (
    ALLOCATED_TAG_PREFIX,
    GRANULARITIES,
    METRICS,
    NONE_LABEL,
    TAG_PREFIX,
    ReportError,
    account_names,
    cost_breakdown,
    daily_costs_visible,
    period_start,
    usage_q,
)
from finops.web.access import cache_prefix
from finops.web.cache import cached
from finops.web.models import BusinessMetric

# Explore dimensions: name -> (rollup field, label).
DIMENSIONS: dict[str, tuple[str, str]] = {
    "service": ("service_name", "Service"),
    "account": ("billing_account_id", "Billing account"),
    "sub_account": ("sub_account_id", "Sub account"),
    "region": ("region_id", "Region"),
    "team": ("team__slug", "Team"),
    "charge_category": ("charge_category", "Charge category"),
    "pricing_category": ("pricing_category", "Pricing category"),
    "provider": ("provider_name", "Provider"),
}
# Explore group-bys read from line items (FOCUS 1.3 split cost allocation): name -> label. Besides these and
# DIMENSIONS, Explore groups by tag:KEY and allocated_tag:KEY.
LINE_ITEM_DIMENSIONS: dict[str, str] = {"allocated_resource": "Allocated resource"}
# Explore's filters: the dimensions plus the billing currency (a filter only: every row already names its currency).
FILTER_DIMENSIONS: dict[str, tuple[str, str]] = {**DIMENSIONS, "currency": ("billing_currency", "Currency")}
STACK_DIMENSIONS = ("service", "account", "team", "provider")
OVERVIEW_METRICS = ("billed", "effective")


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """First-of-month arithmetic (``day`` must be a first of month)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def same_day_last_month(day: date) -> date:
    previous = add_months(month_start(day), -1)
    return previous.replace(day=min(day.day, calendar.monthrange(previous.year, previous.month)[1]))


def as_of(scope: AccessPolicy) -> date | None:
    """The last day with data in scope: 'today' for the dashboards (bills lag real time by a day or two)."""
    return cached(
        cache_prefix(scope),
        "as_of",
        {},
        lambda: daily_costs_visible(scope).aggregate(last=Max("day"))["last"],
    )


def _currency_rows(scope: AccessPolicy) -> dict[str, int]:
    """Line items per currency in scope: one read answers both main_currency and currencies."""

    def compute() -> dict[str, int]:
        counts = daily_costs_visible(scope).values("billing_currency").annotate(n=Sum("row_count")).order_by()
        return {r["billing_currency"]: r["n"] or 0 for r in counts}

    return cached(cache_prefix(scope), "currency_rows", {}, compute)


def main_currency(scope: AccessPolicy) -> str:
    """The currency most of the scope's rows are billed in (pages show one currency at a time)."""
    ranked = sorted(_currency_rows(scope).items(), key=lambda item: (-item[1], item[0]))
    return ranked[0][0] if ranked else "USD"


def currencies(scope: AccessPolicy) -> list[str]:
    """Every currency the scope's costs are billed in, sorted."""
    return sorted(_currency_rows(scope))


def other_currencies(scope: AccessPolicy, shown: str | None = None) -> list[str]:
    """The currencies besides ``shown`` (default: the main one): a page in one currency names these."""
    shown = shown or main_currency(scope)
    return [c for c in currencies(scope) if c != shown]


def currency_choice(scope: AccessPolicy, asked: str | None) -> str:
    """The currency a page shows: the one asked for (``?currency=``) when the scope has costs in it, else the
    main one. Pages never add amounts of two currencies."""
    return asked if asked and asked in currencies(scope) else main_currency(scope)


# --- Overview -------------------------------------------------------------------------------


def _rows_of(scope: AccessPolicy, usage_only: bool):
    rows = daily_costs_visible(scope)
    return rows.filter(usage_q()) if usage_only else rows


UNALLOCATED = "Unallocated"


def none_label(dimension: str) -> str:
    """The pages' name of a dimension's empty group: cost without a team is "Unallocated", shown as a row."""
    return UNALLOCATED if dimension == "team" else NONE_LABEL


def charge_kind_totals(
    scope: AccessPolicy, *, metric: str, start: date, end: date, currency: str
) -> dict[str, Decimal]:
    """The metric's total over [start, end] per kind of charge (finops.usage.charges: usage, purchase, tax, fee,
    credit, adjustment, correction, other); kinds without rows are absent."""
    field_name = METRICS[metric]

    def compute() -> dict[str, Decimal]:
        rows = (
            daily_costs_visible(scope)
            .filter(day__gte=start, day__lte=end, billing_currency=currency)
            .values("charge_category", "charge_class")
            .annotate(cost=MoneySum(field_name))
            .order_by()
        )
        totals: dict[str, Decimal] = {}
        for row in rows:
            kind = charge_kind(row["charge_category"], row["charge_class"])
            totals[kind] = totals.get(kind, Decimal(0)) + (row["cost"] or Decimal(0))
        return totals

    params = {"metric": metric, "start": start, "end": end, "currency": currency}
    return cached(cache_prefix(scope), "charge_kind_totals", params, compute)


@dataclass(frozen=True)
class MonthToDate:
    """The overview's month-to-date numbers in one currency: totals (all charges, and usage only) this month to
    date and last month to the same day, the total per kind of charge this month and over the whole previous
    month, and the usage per group of a dimension over both windows (what the movers compare)."""

    mtd: Decimal
    previous: Decimal
    mtd_usage: Decimal
    previous_usage: Decimal
    kinds: dict[str, Decimal]
    previous_month_kinds: dict[str, Decimal]
    groups: dict[str, Decimal]
    previous_groups: dict[str, Decimal]


def month_to_date(scope: AccessPolicy, *, dimension: str, metric: str, last: date, currency: str) -> MonthToDate:
    """The overview's totals, totals per kind of charge and usage per group for this month to ``last`` and the
    previous month (to the same day, and whole), from one read of the rollups over both months instead of one per
    window and figure: the rows are summed per (window, group, charge category, charge class) in the database
    and split in Python, exactly (a scan of the rollups costs in proportion to the accounts billed)."""
    field_name = METRICS[metric]
    mtd_start = month_start(last)
    prev_start = add_months(mtd_start, -1)
    prev_end = same_day_last_month(last)

    def compute() -> MonthToDate:
        window = Case(
            When(day__gte=mtd_start, then=Value(0)),
            When(day__lte=prev_end, then=Value(1)),
            default=Value(2),  # last month after the same day: its charge kinds only
            output_field=IntegerField(),
        )
        rows = (
            daily_costs_visible(scope)
            .filter(day__gte=prev_start, day__lte=last, billing_currency=currency)
            .annotate(window=window, group=_group_expression(dimension))
            .values("window", "group", "charge_category", "charge_class")
            .annotate(cost=MoneySum(field_name))
            .order_by()
        )
        zero = Decimal(0)
        totals = {"mtd": zero, "previous": zero, "mtd_usage": zero, "previous_usage": zero}
        kinds: dict[str, Decimal] = {}
        previous_month_kinds: dict[str, Decimal] = {}
        groups: dict[str, Decimal] = {}
        previous_groups: dict[str, Decimal] = {}
        for row in rows:
            cost = row["cost"] or zero
            # usage_q(): ChargeCategory Usage, not a correction (the rollups store charge_class, "" when none).
            usage = row["charge_category"] == USAGE_CATEGORY and row["charge_class"] != CORRECTION_CLASS
            kind = charge_kind(row["charge_category"], row["charge_class"])
            group = row["group"] or none_label(dimension)
            if row["window"] == 0:
                totals["mtd"] = exact_add(totals["mtd"], cost)
                kinds[kind] = exact_add(kinds.get(kind, zero), cost)
                if usage:
                    totals["mtd_usage"] = exact_add(totals["mtd_usage"], cost)
                    groups[group] = exact_add(groups.get(group, zero), cost)
                continue
            previous_month_kinds[kind] = exact_add(previous_month_kinds.get(kind, zero), cost)
            if row["window"] == 1:
                totals["previous"] = exact_add(totals["previous"], cost)
                if usage:
                    totals["previous_usage"] = exact_add(totals["previous_usage"], cost)
                    previous_groups[group] = exact_add(previous_groups.get(group, zero), cost)
        return MonthToDate(
            **totals,
            kinds=kinds,
            previous_month_kinds=previous_month_kinds,
            groups=groups,
            previous_groups=previous_groups,
        )

    params = {"dimension": dimension, "metric": metric, "last": last, "currency": currency}
    return cached(cache_prefix(scope), "month_to_date", params, compute)


@dataclass(frozen=True)
class ChargeLine:
    """A non-usage kind of charge this month to date against last month: whole, and prorated to the same stage."""

    kind: str
    label: str
    current: Decimal
    previous_month: Decimal
    previous_same_stage: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous_same_stage


def charge_lines(current: dict[str, Decimal], previous_month: dict[str, Decimal], *, as_of: date) -> list[ChargeLine]:
    """The non-usage lines of a month-to-date comparison (pure): each kind with a non-zero amount in either month,
    in display order. Tax, fees and recurring purchases accrue on the 1st in proportion to the days billed, so
    last month's amount is compared at the same stage (charges.same_stage)."""
    lines = []
    for kind in OTHER_KINDS:
        if kind not in current and kind not in previous_month:
            continue
        previous = previous_month.get(kind, Decimal(0))
        if not current.get(kind) and not previous:
            continue  # e.g. purchases in amortized cost: spread over the usage they cover, zero here
        lines.append(
            ChargeLine(
                kind=kind,
                label=KIND_LABELS[kind],
                current=current.get(kind, Decimal(0)),
                previous_month=previous,
                previous_same_stage=same_stage(previous, as_of=as_of),
            )
        )
    return lines


def _group_expression(dimension: str) -> Coalesce:
    return Coalesce(F(DIMENSIONS[dimension][0]), Value(""), output_field=TextField())


def monthly_by(
    scope: AccessPolicy, *, dimension: str, metric: str, start: date, end: date, currency: str
) -> pd.DataFrame:
    """Columns month (date), group (str), cost (Decimal): one row per month and group with cost."""
    field_name = METRICS[metric]

    def compute() -> pd.DataFrame:
        rows = (
            daily_costs_visible(scope)
            .filter(day__gte=start, day__lte=end, billing_currency=currency)
            .annotate(month=TruncMonth("day"), group=_group_expression(dimension))
            .values("month", "group")
            .annotate(cost=MoneySum(field_name))
            .order_by()
        )
        frame = pd.DataFrame.from_records(list(rows), columns=["month", "group", "cost"])
        frame["group"] = frame["group"].replace("", none_label(dimension))
        frame["cost"] = frame["cost"].map(lambda v: v or Decimal(0))
        return frame.sort_values(["month", "group"]).reset_index(drop=True)

    params = {"dimension": dimension, "metric": metric, "start": start, "end": end, "currency": currency}
    return cached(cache_prefix(scope), "monthly_by", params, compute)


def group_totals(
    scope: AccessPolicy,
    *,
    dimension: str,
    metric: str,
    start: date,
    end: date,
    currency: str,
    usage_only: bool = False,
) -> dict[str, Decimal]:
    """The metric's total per group of ``dimension``; ``usage_only``: of the charges that count as usage."""
    field_name = METRICS[metric]

    def compute() -> dict[str, Decimal]:
        rows = (
            _rows_of(scope, usage_only)
            .filter(day__gte=start, day__lte=end, billing_currency=currency)
            .annotate(group=_group_expression(dimension))
            .values("group")
            .annotate(cost=MoneySum(field_name))
            .order_by()
        )
        return {(r["group"] or none_label(dimension)): (r["cost"] or Decimal(0)) for r in rows}

    params = {
        "dimension": dimension,
        "metric": metric,
        "start": start,
        "end": end,
        "currency": currency,
        "usage_only": usage_only,
    }
    return cached(cache_prefix(scope), "group_totals", params, compute)


@dataclass(frozen=True)
class Mover:
    group: str
    current: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous


def top_movers(current: dict[str, Decimal], previous: dict[str, Decimal], limit: int = 10) -> list[Mover]:
    """Largest absolute change first (ties by name). Pure."""
    movers = [
        Mover(group=g, current=current.get(g, Decimal(0)), previous=previous.get(g, Decimal(0)))
        for g in set(current) | set(previous)
    ]
    movers = [m for m in movers if m.change != 0]
    return sorted(movers, key=lambda m: (-abs(m.change), m.group))[:limit]


COMMITMENT_COLUMNS = [
    "month",
    "usage_list",
    "covered_list",
    "used_effective",
    "unused_effective",
    "coverage",
    "utilisation",
    "savings",
]


def _commitment_frame(months: dict[date, dict[str, Decimal]]) -> pd.DataFrame:
    """commitment_monthly's frame from its sums per month (pure): ``usage_list`` (list cost of the Usage rows),
    ``used_effective``, ``unused_effective``, ``used_list``, ``unused_list`` (absent: 0)."""
    zero = Decimal(0)
    records = []
    for month in sorted(months):
        b = months[month]
        used_eff, unused_eff = b.get("used_effective", zero), b.get("unused_effective", zero)
        used_list = b.get("used_list", zero)
        usage_list = b.get("usage_list", zero) - b.get("unused_list", zero)
        records.append(
            {
                "month": month,
                "usage_list": usage_list,
                "covered_list": used_list,
                "used_effective": used_eff,
                "unused_effective": unused_eff,
                "coverage": float(used_list / usage_list) if usage_list > 0 else None,
                "utilisation": float(used_eff / (used_eff + unused_eff)) if used_eff + unused_eff > 0 else None,
                "savings": used_list - used_eff,
            }
        )
    return pd.DataFrame.from_records(records, columns=COMMITMENT_COLUMNS)


def _as_month(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def commitment_monthly(scope: AccessPolicy, *, start: date, end: date, currency: str) -> pd.DataFrame:
    """Per month: usage list cost, covered (Used) list/effective cost, unused commitment cost, coverage,
    utilisation and savings, from the daily rollups (they keep CommitmentDiscountStatus).

    coverage    = list cost of covered usage / list cost of all usage (on-demand equivalent, Unused rows excluded)
    utilisation = effective cost of Used rows / effective cost of Used + Unused rows
    savings     = list cost - effective cost of covered (Used) usage
    """

    def compute() -> pd.DataFrame:
        rows = (
            daily_costs_visible(scope)
            .filter(day__gte=start, day__lte=end, billing_currency=currency, charge_category="Usage")
            .annotate(month=TruncMonth("day"))
            .values("month", "commitment_discount_status")
            .annotate(effective=MoneySum("effective_cost"), listed=MoneySum("list_cost"))
            .order_by()
        )
        months: dict[date, dict[str, Decimal]] = {}
        zero = Decimal(0)
        for row in rows:
            bucket = months.setdefault(_as_month(row["month"]), {})
            bucket["usage_list"] = bucket.get("usage_list", zero) + (row["listed"] or zero)
            status = row["commitment_discount_status"].lower()
            if status in ("used", "unused"):
                bucket[f"{status}_effective"] = bucket.get(f"{status}_effective", zero) + (row["effective"] or zero)
                bucket[f"{status}_list"] = bucket.get(f"{status}_list", zero) + (row["listed"] or zero)
        return _commitment_frame(months)

    params = {"start": start, "end": end, "currency": currency}
    return cached(cache_prefix(scope), "commitments", params, compute)


def overview_monthly(
    scope: AccessPolicy, *, dimension: str, metric: str, start: date, end: date, currency: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """monthly_by and commitment_monthly of the overview from one read of the rollups: per (month, group) the
    metric's sum and, with filtered sums, the Usage rows' list and effective cost by commitment status, added up
    per month in Python (exactly). Same frames as those two selectors."""
    field_name = METRICS[metric]

    def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
        usage = Q(charge_category="Usage")
        used = usage & Q(commitment_discount_status__iexact="used")
        unused = usage & Q(commitment_discount_status__iexact="unused")
        rows = (
            daily_costs_visible(scope)
            .filter(day__gte=start, day__lte=end, billing_currency=currency)
            .annotate(month=TruncMonth("day"), group=_group_expression(dimension))
            .values("month", "group")
            .annotate(
                cost=MoneySum(field_name),
                usage_rows=Count("id", filter=usage),
                usage_list=MoneySum("list_cost", filter=usage),
                used_effective=MoneySum("effective_cost", filter=used),
                unused_effective=MoneySum("effective_cost", filter=unused),
                used_list=MoneySum("list_cost", filter=used),
                unused_list=MoneySum("list_cost", filter=unused),
            )
            .order_by()
        )
        records = []
        months: dict[date, dict[str, Decimal]] = {}
        sums = ("usage_list", "used_effective", "unused_effective", "used_list", "unused_list")
        for row in rows:
            month = row["month"]
            records.append({"month": month, "group": row["group"], "cost": row["cost"]})
            if row["usage_rows"]:  # commitment_monthly's months are those with usage
                bucket = months.setdefault(_as_month(month), {})
                for name in sums:
                    bucket[name] = exact_add(bucket.get(name, Decimal(0)), row[name] or Decimal(0))
        frame = pd.DataFrame.from_records(records, columns=["month", "group", "cost"])
        frame["group"] = frame["group"].replace("", none_label(dimension))
        frame["cost"] = frame["cost"].map(lambda v: v or Decimal(0))
        return frame.sort_values(["month", "group"]).reset_index(drop=True), _commitment_frame(months)

    params = {"dimension": dimension, "metric": metric, "start": start, "end": end, "currency": currency}
    return cached(cache_prefix(scope), "overview_monthly", params, compute)


# --- Explore --------------------------------------------------------------------------------


EXPLORE_DEFAULT_GRANULARITY = "month"
EXPLORE_DEFAULT_MONTHS = 3
EXPLORE_MAX_DAYS = 3 * 366
EXPLORE_VIEWS = ("table", "pivot")


@dataclass(frozen=True)
class ExploreQuery:
    metric: str
    group: str  # a DIMENSIONS or LINE_ITEM_DIMENSIONS key, tag:KEY or allocated_tag:KEY
    granularity: str
    start: date
    end: date
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tag: tuple[str, str] | None = None  # (key, value): only the cost carrying this tag value
    # How the page shows the numbers (not part of what is computed, nor of params()): the table as rows or
    # as a pivot (groups x periods), and whether to compare with the previous period of equal length.
    view: str = "table"
    compare: bool = False
    group2: str = ""  # a second group-by, as ``group`` ("": one dimension): rows are keyed by the pair

    @property
    def group_by(self) -> list[str]:
        """The group-bys of cost_breakdown: ``group``, then ``group2`` when set."""
        return [self.group, self.group2] if self.group2 else [self.group]

    def params(self) -> dict:
        return {
            "metric": self.metric,
            "group": self.group,
            **({"group2": self.group2} if self.group2 else {}),
            "granularity": self.granularity,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "filters": {k: sorted(v) for k, v in sorted(self.filters.items())},
            **({"tag": list(self.tag)} if self.tag else {}),
        }


class ExploreQueryError(ReportError):
    """Explore's query string had bad fields: ``errors`` maps each field name to a message naming it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def _parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ReportError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from error


def explore_default_start(end: date) -> date:
    """The first day of the default window: the last EXPLORE_DEFAULT_MONTHS calendar months up to ``end``."""
    return add_months(month_start(end), 1 - EXPLORE_DEFAULT_MONTHS)


def explore_query_parse(params: dict[str, list[str]], *, default_end: date) -> ExploreQuery:
    """Validate Explore's query string (a QueryDict as lists). Every bad field is reported at once: raises
    ExploreQueryError whose ``errors`` names each field. ``group=tag&tag_key=KEY`` (the form's choice) is
    ``group=tag:KEY``; allocated_tag alike."""
    errors: dict[str, str] = {}

    def one(name: str, default: str) -> str:
        values = params.get(name) or [default]
        return values[-1] or default

    metric = one("metric", "billed")
    if metric not in METRICS:
        errors["metric"] = f"metric: unknown {metric!r}; choose one of {', '.join(METRICS)}"
    group = one("group", "service")
    if group in ("tag", "allocated_tag"):
        key = (params.get("tag_key") or [""])[-1].strip()
        if key:
            group = f"{group}:{key}"
        else:
            errors["tag_key"] = "group: choose a tag key (Tag key is empty)"
    elif not _is_group_by(group):
        errors["group"] = f"group: unknown {group!r}; choose one of {_GROUP_CHOICES}, tag:KEY or allocated_tag:KEY"
    group2 = one("group2", "")
    if group2 and not _is_group_by(group2):
        errors["group2"] = (
            f"group2: unknown {group2!r}; choose one of {_GROUP_CHOICES}, tag:KEY or allocated_tag:KEY, or none"
        )
    elif group2 and group2 == group:
        errors["group2"] = f"group2: {group2!r} is already the first group-by; choose another dimension"
    granularity = one("granularity", EXPLORE_DEFAULT_GRANULARITY)
    if granularity not in GRANULARITIES:
        errors["granularity"] = f"granularity: unknown {granularity!r}; choose one of {', '.join(GRANULARITIES)}"
    end = start = None
    try:
        end = _parse_date(one("end", default_end.isoformat()), "end")
    except ReportError as error:
        errors["end"] = str(error)
    try:
        start = _parse_date(one("start", explore_default_start(end or default_end).isoformat()), "start")
    except ReportError as error:
        errors["start"] = str(error)
    if start and end and start > end:
        errors["start"] = f"start {start} is after end {end}"
    elif start and end and (end - start).days > EXPLORE_MAX_DAYS:
        errors["end"] = (
            f"end: {start}..{end} is {(end - start).days + 1} days; start..end: at most three years at a time"
        )
    view = one("view", "table")
    if view not in EXPLORE_VIEWS:
        errors["view"] = f"view: unknown {view!r}; choose one of {', '.join(EXPLORE_VIEWS)}"
    compare = one("compare", "")
    if compare not in ("", "previous"):
        errors["compare"] = f"compare: unknown {compare!r}; the one comparison is 'previous'"
    tag_text = one("tag", "")
    tag = None
    if tag_text:
        key, sep, value = tag_text.partition("=")
        if not sep or not key:
            errors["tag"] = f"tag: {tag_text!r} is not KEY=VALUE"
        else:
            tag = (key, value)
    if errors:
        raise ExploreQueryError(errors)
    filters = {name: tuple(v for v in params.get(name, []) if v) for name in FILTER_DIMENSIONS}
    return ExploreQuery(
        metric=metric,
        group=group,
        granularity=granularity,
        start=start,
        end=end,
        filters={k: v for k, v in filters.items() if v},
        tag=tag,
        view=view,
        compare=compare == "previous",
        group2=group2,
    )


_GROUP_CHOICES = ", ".join([*DIMENSIONS, *LINE_ITEM_DIMENSIONS])


def _is_group_by(name: str) -> bool:
    keyed = any(name.startswith(p) and len(name) > len(p) for p in (TAG_PREFIX, ALLOCATED_TAG_PREFIX))
    return name in DIMENSIONS or name in LINE_ITEM_DIMENSIONS or keyed


def explore_form_values(params: dict[str, list[str]], query: ExploreQuery | None = None) -> dict:
    """What Explore's form shows: the parsed query's values, or (``query`` None, after an error) the values as
    submitted, so no field loses what the user typed."""
    if query is not None:
        kind, _, key = query.group.partition(":")
        return {
            "metric": query.metric,
            "group": kind if key else query.group,
            "group2": query.group2,
            "tag_key": key,
            "granularity": query.granularity,
            "start": query.start.isoformat(),
            "end": query.end.isoformat(),
            "filters": {name: list(values) for name, values in query.filters.items()},
            "tag": "=".join(query.tag) if query.tag else "",
            "view": query.view,
            "compare": "previous" if query.compare else "",
        }

    def one(name: str) -> str:
        return (params.get(name) or [""])[-1]

    group = one("group")
    kind, _, key = group.partition(":")
    if kind in ("tag", "allocated_tag") and key:
        group = kind
    return {
        "metric": one("metric"),
        "group": group,
        "group2": one("group2"),
        "tag_key": key or one("tag_key"),
        "granularity": one("granularity"),
        "start": one("start"),
        "end": one("end"),
        "filters": {name: [v for v in params.get(name, []) if v] for name in FILTER_DIMENSIONS if params.get(name)},
        "tag": one("tag"),
        "view": one("view"),
        "compare": one("compare"),
    }


def period_starts(start: date, end: date, granularity: str) -> list[date]:
    """Every period of [start, end] by its first day (ISO weeks start on Monday). Pure."""
    out: list[date] = []
    current = period_start(start, granularity)
    while current <= end:
        out.append(current)
        if granularity == "month":
            current = add_months(current, 1)
        elif granularity == "week":
            current += timedelta(days=7)
        else:
            current += timedelta(days=1)
    return out


EXPLORE_COLUMNS = ["period", "group", "group2", "currency", "cost"]


def explore_rows(scope: AccessPolicy, query: ExploreQuery) -> pd.DataFrame:
    """Columns period (date), group, group2 (the second group-by's value, "" without one), currency, cost
    (Decimal), sorted by period then cost (largest first): the cost breakdown the API's costs/timeseries
    answers (``group_by=group,group2``), for the caller's visible teams."""

    def compute() -> pd.DataFrame:
        rows = cost_breakdown(
            organization=scope.organization,
            group_by=query.group_by,
            metric=query.metric,
            start=query.start,
            end=query.end,
            filters=query.filters,
            tag=query.tag,
            granularity=query.granularity,
            team_ids=scope.team_ids,
        )
        records = [
            {
                "period": r.period,
                "group": r.groups[0],
                "group2": r.groups[1] if len(r.groups) > 1 else "",
                "currency": r.currency,
                "cost": r.cost,
            }
            for r in rows
        ]
        return pd.DataFrame.from_records(records, columns=EXPLORE_COLUMNS)

    return cached(cache_prefix(scope), "explore", query.params(), compute)


def explore_choices(scope: AccessPolicy, *, start: date, end: date) -> dict[str, list[str]]:
    """Values offered in Explore's filter selects (rollup dimensions only): one read of the distinct combinations
    of the dimensions in the window (far fewer than the rollup rows: no day, no measure), split in Python. Teams
    are read by id and named from the team table: a join there makes PostgreSQL sort the window's rows."""

    def compute() -> dict[str, list[str]]:
        fields = ["team_id" if name == "team" else column for name, (column, _) in FILTER_DIMENSIONS.items()]
        base = daily_costs_visible(scope).filter(day__gte=start, day__lte=end)
        seen: list[set] = [set() for _ in fields]
        for combination in base.values_list(*fields).distinct().order_by():
            for values, value in zip(seen, combination, strict=True):
                values.add(value)
        out = dict(zip(FILTER_DIMENSIONS, seen, strict=True))
        slugs = dict(Team.objects.filter(pk__in=[pk for pk in out["team"] if pk is not None]).values_list("pk", "slug"))
        out["team"] = {slugs.get(pk) for pk in out["team"]}
        return {name: sorted({value or NONE_LABEL for value in values}) for name, values in out.items()}

    return cached(cache_prefix(scope), "choices", {"start": start, "end": end}, compute)


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of equal length just before [start, end]: the same number of whole months when the window is
    whole months (Jul-Sep -> Apr-Jun), otherwise the same number of days. Pure."""
    next_day = end + timedelta(days=1)
    if start.day == 1 and next_day.day == 1:
        months = (next_day.year - start.year) * 12 + next_day.month - start.month
        return add_months(start, -months), start - timedelta(days=1)
    return start - (next_day - start), start - timedelta(days=1)


@dataclass(frozen=True)
class Comparison:
    group: str | tuple[str, str]  # a group, or the pair of a two-dimension query
    current: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def change_percent(self) -> float | None:
        """Change as a fraction of the previous period's cost; None when that was zero."""
        return float(self.change / abs(self.previous)) if self.previous else None


def compare_groups(current: dict, previous: dict) -> list[Comparison]:
    """Each group (or pair of groups) of either period, largest absolute change first (ties by name). Pure."""
    rows = [
        Comparison(group=g, current=current.get(g, Decimal(0)), previous=previous.get(g, Decimal(0)))
        for g in set(current) | set(previous)
    ]
    return sorted(rows, key=lambda r: (-abs(r.change), r.group))


def explore_group_totals(scope: AccessPolicy, query: ExploreQuery, *, currency: str) -> dict:
    """Cost per group of ``query`` over its whole window in ``currency`` (its rows summed over periods), keyed
    by the group, or by the pair (group, group2) when the query groups by two dimensions."""
    frame = explore_rows(scope, query)
    totals: dict = {}
    for row in frame[frame["currency"] == currency].itertuples() if not frame.empty else ():
        key = (row.group, row.group2) if query.group2 else row.group
        totals[key] = exact_add(totals.get(key, Decimal(0)), row.cost)
    return totals


def explore_comparison(scope: AccessPolicy, query: ExploreQuery, *, currency: str) -> tuple[date, date, list]:
    """This period against the previous one of equal length, per group: (previous start, previous end, rows)."""
    previous_start, previous_end = previous_period(query.start, query.end)
    before = dataclasses.replace(query, start=previous_start, end=previous_end)
    rows = compare_groups(
        explore_group_totals(scope, query, currency=currency), explore_group_totals(scope, before, currency=currency)
    )
    return previous_start, previous_end, rows


def explore_account_names(scope: AccessPolicy) -> dict[str, dict[str, str]]:
    """Account and sub-account names by id (usage.selectors.account_names), cached per organization version."""
    return cached(cache_prefix(scope), "account_names", {}, lambda: account_names(organization=scope.organization))


def _distinct_ascending(
    scope: AccessPolicy, column: str, *, key: str | None = None, limit: int | None = None
) -> list[str]:
    """The first ``limit`` (None: all) distinct values of DailyTagCost's ``column`` (tag_key; tag_value of
    ``key``) in the caller's rows, in code point order (Python's sort): a loose index scan, one index probe per
    value (the smallest above the previous one) on dailytagcost_org_key_value_idx, so it costs what it returns,
    however many days and accounts the rollups hold. PostgreSQL compares with the byte-wise operators of that
    index's text_pattern_ops (code point order in UTF-8, whatever the database's collation); SQLite's text
    compares so."""
    table = connection.ops.quote_name(DailyTagCost._meta.db_table)
    column = connection.ops.quote_name(column)
    where = "organization_id = %s"
    params: list = [scope.organization.pk]
    if key is not None:
        where += " AND tag_key = %s"
        params.append(key)
    if scope.team_ids is not None:  # daily_tag_costs_visible's team filter
        if not scope.team_ids:
            return []
        where += f" AND team_id IN ({', '.join(['%s'] * len(scope.team_ids))})"
        params.extend(scope.team_ids)
    if connection.vendor == "postgresql":
        first = f"SELECT {column} FROM {table} WHERE {where} ORDER BY {column} USING ~<~ LIMIT 1"
        above = (
            f"SELECT {column} FROM {table} WHERE {where} AND {column} ~>~ found.value "
            f"ORDER BY {column} USING ~<~ LIMIT 1"
        )
    else:
        first = f"SELECT MIN({column}) FROM {table} WHERE {where}"
        above = f"SELECT MIN({column}) FROM {table} WHERE {where} AND {column} > found.value"
    bound = "" if limit is None else " AND n < %s"
    sql = (
        f"WITH RECURSIVE found(value, n) AS (SELECT ({first}), 1 "
        f"UNION ALL SELECT ({above}), n + 1 FROM found WHERE found.value IS NOT NULL{bound}) "
        f"SELECT value FROM found WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *params, *([] if limit is None else [limit])])
        return [value for (value,) in cursor.fetchall()]


def explore_tag_keys(scope: AccessPolicy) -> list[str]:
    """The tag keys present in the caller's tag rollups, sorted: the choices of Explore's "Tag key"."""

    def compute() -> list[str]:
        return _distinct_ascending(scope, "tag_key")

    return cached(cache_prefix(scope), "tag_keys", {}, compute)


EXPLORE_TAG_VALUES = 500  # tag filter choices offered at most (more: typed into the URL)


def explore_tag_values(scope: AccessPolicy) -> list[str]:
    """ "KEY=VALUE" choices of Explore's tag filter: the pairs in the caller's tag rollups, sorted, at most
    EXPLORE_TAG_VALUES, read key by key with a loose index scan (only the pairs offered are read)."""

    def compute() -> list[str]:
        pairs: list[str] = []
        for key in explore_tag_keys(scope):
            if len(pairs) >= EXPLORE_TAG_VALUES:
                break
            values = _distinct_ascending(scope, "tag_value", key=key, limit=EXPLORE_TAG_VALUES - len(pairs))
            pairs.extend(f"{key}={value}" for value in values)
        return pairs

    return cached(cache_prefix(scope), "tag_values", {}, compute)


def explore_names(scope: AccessPolicy) -> dict[str, dict[str, str]]:
    """What Explore shows for ids: account and sub-account names (explore_account_names) and the names of the
    teams the caller sees, by slug (read each time: renaming a team does not change the organization's data)."""
    return {**explore_account_names(scope), "team": dict(scope.teams().values_list("slug", "name"))}


def labelled(dimension: str, value: str, names: dict[str, dict[str, str]]) -> str:
    """A group value as shown: a team by its name, an account as "name (id)" when the data names it, anything
    else as is. Pure."""
    name = names.get(dimension, {}).get(value)
    if dimension == "team" and name:
        return name
    return f"{name} ({value})" if name and name != value else value


# --- Team -----------------------------------------------------------------------------------


def team_daily(
    scope: AccessPolicy, *, team_id: int, metric: str, start: date, end: date, currency: str
) -> pd.DataFrame:
    """Columns day, cost (Decimal) for one team."""
    field_name = METRICS[metric]

    def compute() -> pd.DataFrame:
        rows = (
            daily_costs_visible(scope)
            .filter(team_id=team_id, day__gte=start, day__lte=end, billing_currency=currency)
            .values("day")
            .annotate(cost=MoneySum(field_name))
            .order_by()
        )
        frame = pd.DataFrame.from_records(list(rows), columns=["day", "cost"])
        return frame.sort_values("day").reset_index(drop=True)

    params = {"team": team_id, "metric": metric, "start": start, "end": end, "currency": currency}
    return cached(cache_prefix(scope), "team_daily", params, compute)


def unit_costs(daily: pd.DataFrame, metrics: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Cost per unit of a business metric. Pure.

    ``daily``: day, cost (Decimal); ``metrics``: day, value (Decimal). ``by`` "day" or "month". Only periods
    with both a cost and a positive metric value are kept. Columns: period, cost, units, cost_per_unit.
    """
    if daily.empty or metrics.empty:
        return pd.DataFrame(columns=["period", "cost", "units", "cost_per_unit"])
    joined = daily.merge(metrics, on="day", how="inner")
    if by == "month":
        joined["period"] = joined["day"].map(lambda d: d.replace(day=1))
    else:
        joined["period"] = joined["day"]
    grouped = joined.groupby("period", sort=True).agg(
        cost=("cost", lambda s: sum(s, Decimal(0))), units=("value", lambda s: sum(s, Decimal(0)))
    )
    grouped = grouped[grouped["units"] > 0].reset_index()
    grouped["cost_per_unit"] = [c / u for c, u in zip(grouped["cost"], grouped["units"], strict=True)]
    return grouped[["period", "cost", "units", "cost_per_unit"]]


def business_metric_frame(*, organization_id: int, team_id: int, metric: str) -> pd.DataFrame:
    rows = BusinessMetric.objects.filter(organization_id=organization_id, team_id=team_id, metric=metric).values(
        "date", "value"
    )
    return pd.DataFrame.from_records(list(rows), columns=["date", "value"]).rename(columns={"date": "day"})


def business_metric_names(*, organization_id: int, team_id: int) -> list[str]:
    return list(
        BusinessMetric.objects.filter(organization_id=organization_id, team_id=team_id)
        .values_list("metric", flat=True)
        .distinct()
        .order_by("metric")
    )
