"""A tiny organization for the rightsizing database tests: EC2 line items through the real FOCUS ingest,
a hand-written on-demand catalog, and utilisation CSVs. Every number is stated here."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from tests import factories
from tests.conftest import FOCUS_SAMPLE

REGION = "us-east-1"
WINDOW_END = datetime(2026, 3, 15, tzinfo=UTC)
WINDOW_START = WINDOW_END - timedelta(days=14)
# Hand-written on-demand prices (USD/hour, Linux, us-east-1). Specs come from moto's data:
# m5.xlarge 4/16, m5.large 2/8, m5.2xlarge 8/32, m7i.large 2/8, c7i.large 2/4, r7i.large 2/16, m7g.large arm64 2/8.
PRICES = {
    "m5.2xlarge": "0.384",
    "m5.xlarge": "0.192",
    "m5.large": "0.096",
    "m7i.large": "0.1008",
    "c7i.large": "0.08925",
    "r7i.large": "0.1323",
    "m7g.large": "0.0816",
}
# resource id -> (instance type, team tag, running instances per hour)
RESOURCES = {
    "i-over": ("m5.xlarge", "web", 1),
    "i-idle": ("m5.xlarge", "web", 1),
    "asg-busy": ("m5.2xlarge", "data", 2),
    "i-nometrics": ("m5.large", "data", 1),
}


def _focus_template() -> tuple[list[str], dict[str, str]]:
    with open(FOCUS_SAMPLE, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        first = next(reader)
        return [*reader.fieldnames, "x_InstanceType"], first


def write_billing(path: Path) -> Path:
    """Hourly EC2 usage rows for RESOURCES over the 14-day window, one out-of-window row, and a
    commitment's Unused row that carries an instance type (must not count as a machine)."""
    fields, template = _focus_template()
    rows = []

    def row(resource_id: str, itype: str, team: str, start: datetime, quantity: int, **extra) -> dict:
        price = Decimal(PRICES[itype])
        cost = str(price * quantity)
        out = {k: "NULL" for k in fields}
        out.update(
            {
                "BilledCost": cost,
                "EffectiveCost": cost,
                "ListCost": cost,
                "ContractedCost": cost,
                "ListUnitPrice": str(price),
                "ContractedUnitPrice": str(price),
                "BillingAccountId": "111111111111",
                "BillingAccountName": "Test",
                "BillingCurrency": "USD",
                "BillingPeriodStart": f"{start:%Y-%m}-01 00:00:00",
                "BillingPeriodEnd": f"{start.year + start.month // 12}-{start.month % 12 + 1:02d}-01 00:00:00",
                "ChargeCategory": "Usage",
                "ChargeDescription": f"${price} per On Demand Linux {itype} Instance Hour",
                "ChargeFrequency": "Usage-Based",
                "ChargePeriodStart": f"{start:%Y-%m-%d %H:%M:%S}",
                "ChargePeriodEnd": f"{start + timedelta(hours=1):%Y-%m-%d %H:%M:%S}",
                "ConsumedQuantity": str(quantity),
                "ConsumedUnit": "Hours",
                "InvoiceIssuerName": template["InvoiceIssuerName"],
                "PricingCategory": "Standard",
                "PricingQuantity": str(quantity),
                "PricingUnit": "Hours",
                "ProviderName": "AWS",
                "PublisherName": template["PublisherName"],
                "RegionId": REGION,
                "RegionName": "US East (N. Virginia)",
                "ResourceId": resource_id,
                "ResourceName": resource_id,
                "ServiceCategory": "Compute",
                "ServiceName": "Amazon Elastic Compute Cloud",
                "SubAccountId": "222222222222",
                "SubAccountName": "test-prod",
                "Tags": f'{{"team": "{team}"}}',
                "x_InstanceType": itype,
                "Id": str(len(rows) + 1),
            }
        )
        out.update(extra)
        return out

    for hour in range(14 * 24):
        start = WINDOW_START + timedelta(hours=hour)
        for resource_id, (itype, team, count) in RESOURCES.items():
            rows.append(row(resource_id, itype, team, start, count))
        rows.append(
            row(
                "arn:aws:ec2:us-east-1:222222222222:reserved-instances/abc",
                "m5.large",
                "web",
                start,
                1,
                CommitmentDiscountStatus="Unused",
                CommitmentDiscountId="arn:aws:ec2:us-east-1:222222222222:reserved-instances/abc",
                CommitmentDiscountType="Reserved Instance",
                CommitmentDiscountCategory="Usage",
                PricingCategory="Committed",
            )
        )
    # Before the window: i-over ran as an m5.2xlarge. Ignored (outside the 14 days).
    rows.append(row("i-over", "m5.2xlarge", "web", datetime(2026, 2, 10, tzinfo=UTC), 1))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def make_catalog() -> None:
    record = factories.catalog_record("test prices", "tests")
    for itype, hourly in PRICES.items():
        factories.ec2_on_demand(record, itype, REGION, Decimal(hourly))


def make_org(tmp_path: Path, slug: str = "acme"):
    organization = factories.organization(slug, name=slug)
    job = factories.ingest_files(organization, [write_billing(tmp_path / "bill.csv")])
    assert job.status == "succeeded", job.error
    make_catalog()
    return organization


def metric_samples(seed: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """5-minute CPU (and memory) samples over the window per resource (i-nometrics has none)."""
    rng = np.random.default_rng(seed)
    n = 14 * 288
    return {
        "i-over": (rng.uniform(5, 20, n), rng.uniform(25, 30, n)),  # p95 < 20%: needs < 0.96 vCPU, < 5.76 GiB
        "i-idle": (rng.uniform(0.1, 1.0, n), None),  # max < 2%: stop
        "asg-busy": (rng.uniform(50, 65, n), rng.uniform(60, 70, n)),  # needs > 5.76 vCPU of 8: keep
    }


def write_metrics(path: Path, samples: dict | None = None, start: datetime = WINDOW_START) -> Path:
    samples = samples or metric_samples()
    lines = ["resource_id,timestamp,cpu_percent,memory_percent"]
    for resource_id, (cpu, memory) in samples.items():
        for i, value in enumerate(cpu):
            stamp = start + timedelta(minutes=5 * i)
            mem = "" if memory is None else f"{memory[i]:.3f}"
            lines.append(f"{resource_id},{stamp:%Y-%m-%dT%H:%M:%SZ},{value:.3f},{mem}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
