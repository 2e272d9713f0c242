"""The optimizer pairs demand only with offers of the same provider: the catalog holds AWS offers, so Azure
compute usage is left out (named in the run's notes), never priced as an AWS SKU."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from finops.accounts.services import organization_get_or_create
from finops.usage.models import LineItem
from optimizer.selectors import (
    Scope,
    compute_line_items,
    compute_usage_span,
    optimization_run_detail,
    other_provider_compute,
)
from optimizer.services import OptimizationError, optimization_run_create, optimization_run_execute
from tests import factories

pytestmark = pytest.mark.django_db


def azure_vm_hours(organization, last_start: datetime, hours: int) -> None:
    job = factories.placeholder_ingest_job(organization)
    rows = []
    for h in range(hours):
        start = last_start - timedelta(hours=h)
        row = factories.line_item(
            organization,
            job,
            start.date(),
            provider_name="Microsoft",
            billing_account_id="azure-ea",
            charge_period_start=start,
            charge_period_end=start + timedelta(hours=1),
            instance_type="Standard_D2s_v3",
            region_id="eastus",
            pricing_unit="1 Hour",
            consumed_unit="1 Hour",
            consumed_quantity=Decimal(3),
            pricing_quantity=Decimal(3),
            billed_cost=Decimal("0.288"),
            effective_cost=Decimal("0.288"),
        )
        rows.append(row)
    LineItem.objects.bulk_create(rows)


def test_azure_compute_is_left_out_with_a_note(org) -> None:
    first, last = compute_usage_span(org, Scope())
    aws_rows = compute_line_items(org, start=first, end=last, scope=Scope())
    azure_vm_hours(org, last - timedelta(hours=1), 48)
    assert other_provider_compute(org, Scope()) == {"Microsoft": 48}
    assert compute_usage_span(org, Scope()) == (first, last)
    lines = compute_line_items(org, start=first, end=last, scope=Scope())
    assert len(lines) == len(aws_rows) and "Standard_D2s_v3" not in set(lines["instance_type"])

    run = optimization_run_execute(
        optimization_run_create(organization=org, parameters={"lookback_days": 7}, enqueue=False)
    )
    assert run.status == "succeeded", run.error
    detail = optimization_run_detail(run)
    text = repr(detail)
    assert "Standard_D2s_v3" not in text.replace("Microsoft (48 compute rows)", "")
    assert "Microsoft (48 compute rows) stays on its current pricing" in text


def test_azure_only_organization_names_why_there_is_no_demand() -> None:
    organization, _ = organization_get_or_create(slug="azure-only", name="Azure only")
    azure_vm_hours(organization, datetime(2026, 3, 10, tzinfo=UTC), 24)
    run = optimization_run_create(organization=organization, parameters={}, enqueue=False)
    with pytest.raises(OptimizationError, match=r"no compute usage .*Microsoft \(24 compute rows\).*AWS offers only"):
        optimization_run_execute(run)
