"""Writes for carbon: registering coefficient sets and (re)building the daily carbon rollup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
from django.db import connection, transaction

from finops.accounts.models import Organization, Team
from finops.carbon.calc import Coefficients, estimate, load_shipped
from finops.carbon.models import CarbonDaily, CoefficientSet
from finops.carbon.selectors import coefficient_set_latest, line_item_groups, usage_day_range

# Rollup dimensions of CarbonDaily, as named in the estimated frame.
ROLLUP_KEYS = [
    "day",
    "provider_name",
    "billing_account_id",
    "billing_currency",
    "sub_account_id",
    "service_name",
    "service_category",
    "region_id",
    "team_tag_value",
    "instance_shape",
    "method",
    "grid_estimated",
]
ROLLUP_SUMS = [
    "usage_hours",
    "vcpu_hours",
    "compute_kwh",
    "memory_kwh",
    "storage_kwh",
    "network_kwh",
    "kwh",
    "operational_kgco2e",
    "embodied_kgco2e",
    "cost",
    "rows",
]
# CarbonDaily decimal column -> estimated-frame column.
DECIMAL_COLUMNS = {
    "usage_hours": "usage_hours",
    "vcpu_hours": "vcpu_hours",
    "compute_kwh": "compute_kwh",
    "memory_kwh": "memory_kwh",
    "storage_kwh": "storage_kwh",
    "network_kwh": "network_kwh",
    "kwh": "kwh",
    "operational_kgco2e": "operational_kgco2e",
    "embodied_kgco2e": "embodied_kgco2e",
    "effective_cost": "cost",
}
PLACES = 10  # stored decimals: kWh and kgCO2e to 1e-10 (float math underneath, rounded once here)


class CarbonError(ValueError):
    """Bad input to a carbon service; the message says what, and nothing was written."""


@dataclass(frozen=True)
class RefreshResult:
    organization_id: int
    start: date
    end: date
    coefficients: str
    groups: int  # line-item groups estimated
    rows_written: int
    rows_deleted: int


def _decimal(value: float) -> Decimal:
    return Decimal(f"{float(value):.{PLACES}f}")


@transaction.atomic
def coefficient_set_register(*, coefficients: Coefficients) -> CoefficientSet:
    """Store a coefficient set under its version. The same version with other numbers is refused: a changed
    set must carry a new version, so the estimates that name a version keep meaning what they meant."""
    data = coefficients.to_dict()
    existing = CoefficientSet.objects.filter(version=coefficients.version).first()
    if existing is not None:
        if existing.data != data:
            raise CarbonError(
                f"coefficient set {coefficients.version!r} is already stored with different values; "
                "give the changed set a new version"
            )
        return existing
    published = date.fromisoformat(coefficients.published) if coefficients.published else None
    return CoefficientSet.objects.create(
        version=coefficients.version, published=published, source=coefficients.source, data=data
    )


def coefficient_set_current() -> CoefficientSet:
    """The newest stored set (by published date); the shipped set is registered on first use."""
    shipped = load_shipped()
    if not CoefficientSet.objects.filter(version=shipped.version).exists():
        coefficient_set_register(coefficients=shipped)
    latest = coefficient_set_latest()
    assert latest is not None
    return latest


def _insert(rows: list[dict]) -> None:
    """executemany INSERT: bulk_create spent most of a refresh building per-object SQL (see MEASURED.md)."""
    if not rows:
        return
    names = list(rows[0])
    fields = [CarbonDaily._meta.get_field(name) for name in names]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(CarbonDaily._meta.db_table)} ({columns}) VALUES ({placeholders})"
    # The connection itself, not the thread-local ``django.db.connection`` proxy: every attribute read through
    # the proxy costs a thread-local lookup, and the fields' preparation reads one per value (~900,000 a demo).
    db = transaction.get_connection()
    params = [tuple(f.get_db_prep_save(row[n], db) for n, f in zip(names, fields, strict=True)) for row in rows]
    with db.cursor() as cursor:
        cursor.executemany(sql, params)


def _team_ids(organization: Organization, values: list[str]) -> dict[str, int | None]:
    teams = dict(
        Team.objects.filter(organization=organization, tag_value__in=[v for v in values if v]).values_list(
            "tag_value", "id"
        )
    )
    return {v: teams.get(v) for v in values}


@transaction.atomic
def carbon_rollup_refresh(
    *,
    organization: Organization,
    start: date,
    end: date,
    coefficients: CoefficientSet | None = None,
) -> RefreshResult:
    """Replace the organization's CarbonDaily rows of [start, end] (inclusive days) with fresh estimates.

    ``coefficients`` defaults to the current set. Days outside the range keep their rows and the version
    they were computed with: registering a newer set rewrites nothing until a refresh/recompute asks for it.
    """
    if start > end:
        raise CarbonError(f"start {start} is after end {end}")
    coefficient_set = coefficients or coefficient_set_current()
    model = Coefficients.from_dict(coefficient_set.data)
    groups = line_item_groups(organization=organization, start=start, end=end)
    deleted, _ = CarbonDaily.objects.filter(organization=organization, day__gte=start, day__lte=end).delete()
    if groups.empty:
        return RefreshResult(organization.pk, start, end, coefficient_set.version, 0, 0, deleted)
    estimated = estimate(groups, model)
    estimated["instance_shape"] = estimated["instance_shape"].fillna("").astype(str)
    rolled = estimated.groupby(ROLLUP_KEYS, dropna=False, sort=False)[ROLLUP_SUMS].sum().reset_index()
    teams = _team_ids(organization, sorted(set(rolled["team_tag_value"])))
    rows = [
        {
            "organization_id": organization.pk,
            "coefficient_set_id": coefficient_set.pk,
            "day": pd.Timestamp(r.day).date() if not isinstance(r.day, date) else r.day,
            "provider_name": r.provider_name,
            "billing_account_id": r.billing_account_id,
            "billing_currency": r.billing_currency,
            "sub_account_id": r.sub_account_id,
            "service_name": r.service_name,
            "service_category": r.service_category,
            "region_id": r.region_id,
            "team_id": teams.get(r.team_tag_value),
            "instance_type": r.instance_shape,
            "method": r.method,
            "grid_estimated": bool(r.grid_estimated),
            **{name: _decimal(getattr(r, source)) for name, source in DECIMAL_COLUMNS.items()},
            "row_count": int(r.rows),
        }
        for r in rolled.itertuples(index=False)
    ]
    _insert(rows)
    return RefreshResult(organization.pk, start, end, coefficient_set.version, len(groups), len(rows), deleted)


def carbon_recompute(
    *,
    organization: Organization,
    start: date | None = None,
    end: date | None = None,
    version: str | None = None,
) -> RefreshResult | None:
    """Recompute on demand (e.g. after a new coefficient set): the whole ingested range unless dates are given.

    ``version`` picks a stored set (default: the current one). Returns None when there is no usage at all.
    """
    if version:
        coefficient_set = CoefficientSet.objects.filter(version=version).first()
        if coefficient_set is None:
            known = ", ".join(CoefficientSet.objects.values_list("version", flat=True)) or "none"
            raise CarbonError(f"no coefficient set {version!r} (stored: {known})")
    else:
        coefficient_set = coefficient_set_current()
    if start is None or end is None:
        span = usage_day_range(organization=organization)
        if span is None:
            return None
        start, end = start or span[0], end or span[1]
    return carbon_rollup_refresh(organization=organization, start=start, end=end, coefficients=coefficient_set)
