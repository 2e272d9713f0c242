"""A small synthetic organization for the forecasting app tests: line items (one per resource and day) and their
daily rollups, both written from one pandas frame that the tests also use for their expected numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from finops.accounts.models import Organization
from finops.usage.models import DailyCost, IngestJob, LineItem
from tests import factories

FIRST_DAY = date(2025, 10, 23)
LAST_DAY = date(2026, 4, 20)  # a Monday in the middle of a month: 20 actual days of April


@dataclass(frozen=True)
class Resource:
    resource: str
    service: str
    account: str
    region: str
    team: str  # team tag value ("" untagged)
    usage_type: str
    base: float  # cost on a weekday
    noise: float = 2.0
    first_day: date = FIRST_DAY


RESOURCES = (
    Resource("i-web-1", "Amazon Elastic Compute Cloud", "111111111111", "us-east-1", "web", "BoxUsage:m5.large", 400.0),
    Resource("db-1", "Amazon Relational Database Service", "222222222222", "eu-west-1", "data", "InstanceUsage", 300.0),
    Resource("bucket-1", "Amazon Simple Storage Service", "111111111111", "us-east-1", "", "TimedStorage", 200.0),
    # Under the spend floor (28 x 0.05 < 10): never forecast.
    Resource("key-1", "AWS Key Management Service", "222222222222", "eu-west-1", "data", "KMS-Keys", 0.05, 0.0),
    # Too little history (first seen 10 days before the end, in its own account, region and team): never forecast.
    Resource(
        "queue-1",
        "Amazon Simple Queue Service",
        "333333333333",
        "ap-south-1",
        "ml",
        "Requests",
        60.0,
        1.0,
        LAST_DAY - timedelta(days=9),
    ),
)


def usage_frame(
    *, last_day: date = LAST_DAY, spikes: dict[tuple[str, date], float] | None = None, seed: int = 7
) -> pd.DataFrame:
    """One row per resource and day: weekly shape (weekends at 80%), a small trend and Gaussian noise, rounded
    to cents; ``spikes`` adds an amount to (resource, day)."""
    rng = np.random.default_rng(seed)
    records = []
    day = FIRST_DAY
    while day <= last_day:
        for r in RESOURCES:
            noise = rng.normal(0.0, r.noise)
            if day < r.first_day:
                continue
            weekly = 0.8 if day.weekday() >= 5 else 1.0
            trend = 1.0 + 0.0005 * (day - FIRST_DAY).days
            cost = r.base * weekly * trend + noise + (spikes or {}).get((r.resource, day), 0.0)
            records.append(
                {
                    "day": day,
                    "resource": r.resource,
                    "service": r.service,
                    "account": r.account,
                    "region": r.region,
                    "team": r.team,
                    "usage_type": r.usage_type,
                    "cost": Decimal(f"{cost:.2f}"),
                }
            )
        day += timedelta(days=1)
    return pd.DataFrame.from_records(records)


def _opt(row, column: str) -> str | None:
    """An optional text column of a frame row: None when the frame lacks it or the row leaves it empty (NaN)."""
    value = getattr(row, column, None)
    return value if isinstance(value, str) and value else None


def load(organization: Organization, frame: pd.DataFrame) -> IngestJob:
    """Write the frame as line items and daily rollups (effective = billed + 1% to tell the metrics apart).
    Optional columns: ``charge`` (ChargeCategory, default Usage), ``charge_class``, ``resource_name``."""
    job = factories.placeholder_ingest_job(organization)
    teams = {
        value: factories.team(organization, value, name=value.title()) for value in sorted(set(frame["team"]) - {""})
    }
    items, rollups = [], []
    for row in frame.itertuples(index=False):
        effective = (row.cost * Decimal("1.01")).quantize(Decimal("0.0001"))
        items.append(
            factories.line_item(
                organization,
                job,
                row.day,
                team_tag_value=row.team,
                billing_account_id="999999999999",
                sub_account_id=row.account,
                billed_cost=row.cost,
                effective_cost=effective,
                list_cost=row.cost,
                service_name=row.service,
                region_id=row.region,
                resource_id=row.resource,
                sku_id=f"SKU-{row.resource}",
                extras={"x_UsageType": row.usage_type},
                charge_category=_opt(row, "charge") or "Usage",
                charge_class=_opt(row, "charge_class"),
                resource_name=_opt(row, "resource_name"),
            )
        )
        rollups.append(
            factories.daily_cost(
                organization,
                job,
                row.day,
                billing_account_id="999999999999",
                sub_account_id=row.account,
                service_name=row.service,
                region_id=row.region,
                team=teams.get(row.team),
                billed_cost=row.cost,
                effective_cost=effective,
                list_cost=row.cost,
                charge_category=_opt(row, "charge") or "Usage",
                charge_class=_opt(row, "charge_class") or "",
            )
        )
    LineItem.objects.bulk_create(items, batch_size=2000)
    DailyCost.objects.bulk_create(rollups, batch_size=2000)
    return job


def effective(frame: pd.DataFrame) -> pd.Series:
    return frame["cost"].map(lambda c: (c * Decimal("1.01")).quantize(Decimal("0.0001")))


@contextmanager
def committed_usage(django_db_blocker, frame: pd.DataFrame) -> Iterator[int]:
    """For a module-scoped fixture: the organization "acme" with ``frame`` loaded, committed outside the tests'
    transactions (each test's own writes roll back with its transaction), and deleted afterwards. Yields its pk."""
    with django_db_blocker.unblock():
        organization = Organization.objects.create(slug="acme", name="Acme")
        load(organization, frame)
    try:
        yield organization.pk
    finally:
        with django_db_blocker.unblock():
            factories.delete_organizations([organization])
