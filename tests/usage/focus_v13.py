"""Small FOCUS 1.3 and 1.4 Cost and Usage files for tests, built from the spec's column list, with the
independent expectations (Decimal sums of the rows as written)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

# The FOCUS 1.3 Cost and Usage dataset's columns, as its column table lists them (ProviderName and
# PublisherName deprecated there, still mandatory).
COLUMNS_1_3: tuple[str, ...] = (
    "AllocatedMethodDetails",
    "AllocatedMethodId",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractApplied",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "HostProviderName",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
)
# FOCUS 1.4 removed ProviderName and PublisherName and added InvoiceDetailId to Cost and Usage.
COLUMNS_1_4: tuple[str, ...] = (
    *(c for c in COLUMNS_1_3 if c not in ("ProviderName", "PublisherName")),
    "InvoiceDetailId",
)

# (AllocatedResourceId, AllocatedTags app value, ratio): the shares of a shared cluster's cost; None = the
# unallocated remainder of the origin charge (AllocatedResourceId MUST be null there).
_SPLITS = (("pod/api", "api", "0.5"), ("pod/web", "web", "0.3"), (None, None, None))


def focus13_rows(count: int = 12) -> list[dict[str, str]]:
    """Cost rows in USD and EUR: a shared cluster's hourly charge split to pods, a contract commitment applied."""
    rows = []
    for i in range(count):
        resource, app, ratio = _SPLITS[i % len(_SPLITS)]
        currency = "USD" if i % 4 else "EUR"
        hour = f"2026-05-{1 + i // 6:02d}T{i % 6:02d}:00:00Z"
        billed = Decimal("1.2345678901") * (i + 1)
        row = dict.fromkeys((*COLUMNS_1_4, "ProviderName", "PublisherName"), "")
        row.update(
            {
                "BilledCost": str(billed),
                "EffectiveCost": str(billed - Decimal("0.0000000001")),
                "ListCost": str(billed + Decimal("0.5")),
                "ContractedCost": str(billed),
                # A billing account has one billing currency: the EUR rows are another account's.
                "BillingAccountId": "ba-1" if currency == "USD" else "ba-eu",
                "BillingAccountName": "Main" if currency == "USD" else "Europe",
                "BillingCurrency": currency,
                "BillingPeriodStart": "2026-05-01T00:00:00Z",
                "BillingPeriodEnd": "2026-06-01T00:00:00Z",
                "ChargePeriodStart": hour,
                "ChargePeriodEnd": hour.replace(":00:00Z", ":59:59Z"),
                "ChargeCategory": "Usage",
                "ChargeDescription": "Shared cluster node hours",
                "ChargeFrequency": "Usage-Based",
                "PricingQuantity": "1",
                "PricingUnit": "Hours",
                "ServiceCategory": "Compute",
                "ServiceName": "Kubernetes Service",
                "ServiceProviderName": "Contoso Cloud",
                "HostProviderName": "Contoso Cloud",
                "ProviderName": "Contoso Cloud",
                "PublisherName": "Contoso Cloud",
                "InvoiceIssuerName": "Contoso Cloud",
                "RegionId": "eu-1",
                "RegionName": "EU 1",
                "ResourceId": "cluster-1",
                "Tags": '{"env": "prod"}',
                "ContractApplied": (
                    '{"Elements": [{"ContractID": "c-1", "ContractCommitmentID": "cc-1", '
                    f'"ContractCommitmentAppliedCost": {billed}}}]}}'
                ),
            }
        )
        if resource is not None:
            row.update(
                {
                    "AllocatedMethodId": "cpu-memory-requests",
                    "AllocatedMethodDetails": (
                        f'{{"Elements": [{{"AllocatedRatio": {ratio}, "UsageUnit": "CPU", "UsageQuantity": 2}}]}}'
                    ),
                    "AllocatedResourceId": resource,
                    "AllocatedResourceName": resource.split("/")[1],
                    "AllocatedTags": f'{{"app": "{app}"}}',
                }
            )
        rows.append(row)
    return rows


def write_focus(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS_1_3) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def totals(rows: list[dict[str, str]], column: str = "BilledCost", key: str | None = None) -> dict[tuple, Decimal]:
    """Decimal sum of ``column`` per (currency, value of ``key``) ("" for a blank key)."""
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in rows:
        sums[(row["BillingCurrency"], row[key] if key else "")] += Decimal(row[column])
    return dict(sums)
