"""Reads over usage data. Reports come from the daily rollups; only tag group-bys read line items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import F, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

from finops.accounts.models import Organization
from finops.core.money import MoneySum
from finops.usage.models import DailyCost, LineItem

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
NONE_LABEL = "(none)"


class ReportError(ValueError):
    """A report was asked for with parameters that make no sense; the message says which."""


@dataclass(frozen=True)
class CostRow:
    group: str
    currency: str
    cost: Decimal


def parse_group_by(group_by: str) -> str:
    if group_by in GROUP_FIELDS or (group_by.startswith("tag:") and len(group_by) > 4):
        return group_by
    raise ReportError(f"unknown group-by {group_by!r}; choose one of {', '.join(GROUP_FIELDS)} or tag:KEY")


def parse_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ReportError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return METRICS[metric]


def cost_summary(
    *,
    organization: Organization,
    group_by: str = "service",
    metric: str = "billed",
    start: date | None = None,
    end: date | None = None,
) -> list[CostRow]:
    """Cost per group and currency over [start, end] (both inclusive days, UTC), largest first.

    Without dates it covers everything ingested. Charges are dated by the day their charge period starts.
    """
    field = parse_metric(metric)
    group_by = parse_group_by(group_by)
    if start and end and start > end:
        raise ReportError(f"start {start} is after end {end}")
    if group_by.startswith("tag:"):
        key = group_by[4:]
        queryset = LineItem.objects.filter(organization=organization)
        if start:
            queryset = queryset.filter(charge_period_start__gte=datetime.combine(start, time(), UTC))
        if end:
            queryset = queryset.filter(charge_period_start__lt=datetime.combine(end + timedelta(days=1), time(), UTC))
        # KT() would split a key on "__"; tag keys are used as given.
        queryset = queryset.annotate(group=Coalesce(KT(f"tags__{key}"), Value(""), output_field=TextField()))
    else:
        queryset = DailyCost.objects.filter(organization=organization)
        if start:
            queryset = queryset.filter(day__gte=start)
        if end:
            queryset = queryset.filter(day__lte=end)
        queryset = queryset.annotate(group=Coalesce(F(GROUP_FIELDS[group_by]), Value(""), output_field=TextField()))
    totals = queryset.values("group", "billing_currency").annotate(cost=MoneySum(field)).order_by()
    rows = [
        CostRow(group=r["group"] or NONE_LABEL, currency=r["billing_currency"], cost=r["cost"] or Decimal(0))
        for r in totals
    ]
    # Ranked in Python: money is text on SQLite (exactness), so SQL ORDER BY would sort lexically.
    return sorted(rows, key=lambda r: (-r.cost, r.group, r.currency))
