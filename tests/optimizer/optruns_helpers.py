"""A reduced demo-like organization for optimizer-run tests: a FOCUS file written here, ingested through the
real path, and a catalog of real prices for its SKUs (on-demand from the demo's Libcloud extract, reserved
and savings-plan rates by the real derivation, spot from the demo's real spot history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from finops.accounts.models import Organization
from finops.demo import prices as demo_prices
from pricing.services import catalog_import, derive_commitment_prices
from pricing.specs import normalization_factor
from tests import factories
from tests.usage.helpers import write_csv

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 14
SPOT_HISTORY = Path(demo_prices.DATA_DIR) / "ec2_spot_linux_2022-05-31.tsv"
RI_ID = "arn:aws:ec2:us-east-1:111111111111:reserved-instances/test-ri"
RI_COUNT = 8
RI_RATE = 0.059069  # effective hourly the fixture bills the RI at (what it bills is irrelevant to demand)
# name, instance type, region, mean instances, daily swing, growth per day, spot, team
FLEETS = (
    ("api", "m5.large", "us-east-1", 20.0, 0.5, 0.01, False, "checkout"),
    ("steady", "m5.2xlarge", "us-east-1", 6.0, 0.0, 0.0, False, "platform"),
    ("batch", "c5.2xlarge", "us-west-2", 12.0, 0.4, 0.015, False, "data"),
    ("ci", "c5.2xlarge", "us-east-1", 10.0, 0.8, 0.01, True, "platform"),
    ("dev", "t3.medium", "eu-west-1", 8.0, 0.6, 0.0, False, "web"),
)
COLUMNS = [
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ContractedCost", "EffectiveCost", "ListCost", "InvoiceIssuerName", "ProviderName",
    "PublisherName", "PricingQuantity", "PricingUnit", "ConsumedQuantity", "ConsumedUnit", "ServiceCategory",
    "ServiceName", "RegionId", "SubAccountId", "ResourceId", "PricingCategory", "CommitmentDiscountId",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "Tags", "x_InstanceType",
]  # fmt: skip


def on_demand(instance_type: str, region: str) -> Decimal:
    return demo_prices.ec2_ondemand()[(instance_type, region)]


def fleet_counts(seed: int = 7) -> dict[str, np.ndarray]:
    """Running instances per hour of each fleet (thousandths, like the demo), DAYS x 24 hours."""
    rng = np.random.default_rng(seed)
    t = np.arange(DAYS * 24)
    out = {}
    for name, _, _, mean, swing, growth, _, _ in FLEETS:
        shape = 1 + swing * np.sin(2 * np.pi * (t % 24 - 8) / 24)
        count = mean * shape * (1 + growth) ** (t / 24) * rng.lognormal(0, 0.05, len(t))
        out[name] = np.round(count, 3)
    return out


def fixture_rows(seed: int = 7) -> list[dict[str, str]]:
    counts = fleet_counts(seed)
    rows: list[dict[str, str]] = []
    base = {
        "BillingAccountId": "111111111111",
        "BillingAccountName": "Fixture",
        "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-03-01T00:00:00Z",
        "BillingPeriodEnd": "2026-04-01T00:00:00Z",
        "ChargeClass": "",
        "InvoiceIssuerName": "Amazon Web Services, Inc.",
        "ProviderName": "AWS",
        "PublisherName": "Amazon Web Services, Inc.",
        "PricingUnit": "Hours",
        "ConsumedUnit": "Hours",
        "ServiceCategory": "Compute",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "SubAccountId": "222222222222",
        "ChargeCategory": "Usage",
    }
    for h in range(DAYS * 24):
        start = START + timedelta(hours=h)
        period = {
            "ChargePeriodStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ChargePeriodEnd": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        ri_left = float(RI_COUNT)
        for name, itype, region, _, _, _, spot, team in FLEETS:
            q = float(counts[name][h])
            od = float(on_demand(itype, region))
            common = base | period | {
                "RegionId": region, "x_InstanceType": itype, "ResourceId": f"asg/{name}",
                "Tags": f'{{"team": "{team}"}}', "CommitmentDiscountId": "", "CommitmentDiscountStatus": "",
                "CommitmentDiscountType": "", "ChargeDescription": f"{itype} usage",
            }  # fmt: skip
            if spot:
                price = od * 0.35
                rows.append(_usage(common, q, od, price, "Dynamic"))
                continue
            if name == "api":
                covered = min(q, ri_left)
                ri_left -= covered
                if covered > 0:
                    rows.append(
                        common
                        | _money(covered, od, 0.0, covered * RI_RATE)
                        | {
                            "PricingCategory": "Committed",
                            "CommitmentDiscountId": RI_ID,
                            "CommitmentDiscountStatus": "Used",
                            "CommitmentDiscountType": "Reserved Instance",
                        }
                    )
                q = round(q - covered, 3)
            if q > 0:
                rows.append(_usage(common, q, od, od, "Standard"))
        if ri_left > 1e-9:
            rows.append(
                base
                | period
                | _money(ri_left, 0.096, 0.0, ri_left * RI_RATE)
                | {
                    "RegionId": "us-east-1",
                    "x_InstanceType": "m5.large",
                    "ResourceId": RI_ID,
                    "Tags": "",
                    "PricingCategory": "Committed",
                    "CommitmentDiscountId": RI_ID,
                    "ChargeDescription": "Unused RI",
                    "CommitmentDiscountStatus": "Unused",
                    "CommitmentDiscountType": "Reserved Instance",
                }
            )
    return rows


def _money(q: float, od: float, billed: float, effective: float) -> dict[str, str]:
    return {
        "PricingQuantity": f"{q:.3f}",
        "ConsumedQuantity": f"{q:.3f}",
        "ListCost": f"{q * od:.10f}",
        "ContractedCost": f"{q * od:.10f}",
        "BilledCost": f"{billed:.10f}",
        "EffectiveCost": f"{effective:.10f}",
    }


def _usage(common: dict[str, str], q: float, od: float, price: float, category: str) -> dict[str, str]:
    return common | _money(q, od, q * price, q * price) | {"PricingCategory": category}


def ingest_fixture(organization: Organization, tmp_path: Path, rows: list[dict[str, str]] | None = None) -> list:
    rows = fixture_rows() if rows is None else rows
    path = write_csv(tmp_path / "fixture-focus.csv", rows, COLUMNS)
    factories.ingest_files(organization, [path])
    return rows


def seed_catalog(types: list[tuple[str, str]] | None = None) -> None:
    """Real on-demand prices for the fixture's SKUs, derived commitment rates, real spot history."""
    types = types or sorted({(f[1], f[2]) for f in FLEETS})
    record = factories.catalog_record("demo libcloud extract", str(demo_prices.DATA_DIR))
    for itype, region in types:
        factories.ec2_on_demand(
            record,
            itype,
            region,
            on_demand(itype, region),
            sku_fields={
                "instance_family": itype.split(".")[0],
                "normalization_factor": normalization_factor(itype, {}),
            },
            effective_from=datetime(2025, 1, 1, tzinfo=UTC),
        )
    derive_commitment_prices()
    catalog_import(paths=[SPOT_HISTORY])


def steady_rows(
    resources: dict[str, tuple[str, str, int]], prices: dict[tuple[str, str], float], days: int = DAYS
) -> list[dict[str, str]]:
    """Hourly on-demand FOCUS rows from START: resource id -> (instance type, region, instances running every
    hour), billed at ``prices[(type, region)]``."""
    rows = []
    for h in range(days * 24):
        start = START + timedelta(hours=h)
        for resource, (itype, region, count) in resources.items():
            cost = f"{count * prices[(itype, region)]:.10f}"
            rows.append(
                {k: "" for k in COLUMNS}
                | {
                    "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
                    "BillingAccountId": "111111111111", "BillingAccountName": "Steady", "BillingCurrency": "USD",
                    "BillingPeriodStart": "2026-03-01T00:00:00Z", "BillingPeriodEnd": "2026-04-01T00:00:00Z",
                    "ChargePeriodStart": f"{start:%Y-%m-%dT%H:%M:%SZ}",
                    "ChargePeriodEnd": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
                    "ChargeCategory": "Usage", "ChargeDescription": f"{itype} usage",
                    "InvoiceIssuerName": "Amazon Web Services, Inc.", "ProviderName": "AWS",
                    "PublisherName": "Amazon Web Services, Inc.", "PricingQuantity": str(count),
                    "PricingUnit": "Hours", "ConsumedQuantity": str(count), "ConsumedUnit": "Hours",
                    "ServiceCategory": "Compute", "ServiceName": "Amazon Elastic Compute Cloud",
                    "RegionId": region, "SubAccountId": "222222222222", "ResourceId": resource,
                    "PricingCategory": "Standard", "Tags": '{"team": "web"}', "x_InstanceType": itype,
                }
            )  # fmt: skip
    return rows
