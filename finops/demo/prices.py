"""Unit prices for the demo organization, read from the small real-data files in ``data/``.

Pure module: no Django imports. Every price the generator uses comes from here, and
``PROVENANCE`` says where each one came from (``data/LICENSES.md`` has the licences).

- EC2 Linux on-demand: Apache Libcloud's price table (``data/ec2_ondemand_linux.json``).
- Reserved Instance and Compute Savings Plan rates: on-demand x the ratio of the effective hourly
  commitment rate to on-demand for one real instance type (x2iedn.32xlarge, ec2instances.info) in the
  same region (``data/ec2_commitment_ratios.json``).
- Spot: on-demand x the ratio (mean observed spot price / on-demand) for the same type and region
  (``data/ec2_spot_linux_2022-05-31.tsv``).
- Azure VMs: the Linux pay-as-you-go meter of an Azure Retail Prices API response
  (``data/azure_vm_ondemand_linux.json``).
- Everything else: rates copied from the FOCUS sample or the anonymised CUR
  (``data/service_rates.csv``), or, where no shared file has the rate, ``PUBLISHED_LIST_PRICES``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
PUBLISHED = "published list price, not from shared data"

# Commitment offers the demo buys -> the ec2instances.info reserved term whose discount ratio prices it.
# AWS publishes no Compute Savings Plan rates in the shared data; a 1-year No Upfront Compute Savings
# Plan is priced like a 1-year No Upfront Convertible RI (AWS quotes the same "up to 66%" for both).
COMMITMENT_TERMS: dict[str, str] = {
    "ri_1yr_standard_no_upfront": "yrTerm1Standard.noUpfront",
    "ri_3yr_standard_no_upfront": "yrTerm3Standard.noUpfront",
    "sp_1yr_compute_no_upfront": "yrTerm1Convertible.noUpfront",
}


@dataclass(frozen=True)
class Rate:
    """One non-compute unit price: a usage type of a service in a region."""

    key: str
    region_id: str
    list_unit_price: Decimal
    pricing_unit: str
    sku_id: str
    sku_price_id: str
    charge_description: str
    source: str


# Rates no shared data file carries: AWS public on-demand list prices (us-east-1/us-west-2/eu-west-1
# pricing pages as of 2024-2025), written here by hand. Not verified against a machine-readable file.
# key -> region -> (USD per unit, pricing unit, charge description)
PUBLISHED_LIST_PRICES: dict[str, dict[str, tuple[str, str, str]]] = {
    "ebs_gp3": {
        "eu-west-1": (
            "0.088",
            "GB-Months",
            "$0.088 per GB-month of General Purpose (gp3) provisioned storage - EU (Ireland)",
        ),
    },
    "ebs_snapshot": {
        "eu-west-1": ("0.05", "GB-Months", "$0.05 per GB-Month of snapshot data stored - EU (Ireland)"),
    },
    "nat_gateway_hours": {
        "us-east-1": ("0.045", "Hours", "$0.045 per NAT Gateway Hour"),
    },
    "cloudfront_dt_out": {
        # Same rate as the FOCUS sample's eu-west-1 row: CloudFront's first 10 TB/month to the US.
        "us-east-1": ("0.085", "GB", "$0.085 per GB - first 10 TB / month data transfer out"),
    },
    "eks_cluster": {
        # The FOCUS sample has the same $0.10 in us-east-2 (SkuId SQ9N99HNC768KCKN).
        "us-east-1": ("0.1", "Hours", "Amazon EKS cluster usage in US East (N. Virginia)"),
        "us-west-2": ("0.1", "Hours", "Amazon EKS cluster usage in US West (Oregon)"),
        "eu-west-1": ("0.1", "Hours", "Amazon EKS cluster usage in EU (Ireland)"),
    },
    "alb_hours": {
        "eu-west-1": ("0.0252", "Hours", "$0.0252 per Application LoadBalancer-hour (or partial hour)"),
    },
    "alb_lcu": {
        "us-east-1": (
            "0.008",
            "LCU-Hours",
            "$0.008 per used Application load balancer capacity unit-hour (or partial hour)",
        ),
    },
    "rds_postgres_r5_xlarge_multi_az": {
        "us-east-1": (
            "1",
            "Hours",
            "$1.00 per RDS db.r5.xlarge Multi-AZ instance hour (or partial hour) running PostgreSQL",
        ),
    },
    "rds_postgres_r5_large": {
        "us-east-1": (
            "0.25",
            "Hours",
            "$0.25 per RDS db.r5.large Single-AZ instance hour (or partial hour) running PostgreSQL",
        ),
    },
    "rds_gp2_storage_multi_az": {
        "us-east-1": ("0.23", "GB-Months", "$0.23 per GB-month of provisioned gp2 storage running Multi-AZ"),
    },
    "rds_gp2_storage": {
        "us-east-1": ("0.115", "GB-Months", "$0.115 per GB-month of provisioned gp2 storage"),
    },
    "aurora_postgres_r5_2xlarge": {
        "us-west-2": (
            "1.16",
            "Hours",
            "$1.16 per RDS db.r5.2xlarge instance hour (or partial hour) running Aurora PostgreSQL",
        ),
    },
    "aurora_io": {
        # The FOCUS sample has the same $0.20 per million in us-east-2 (SkuId BY4H8DC28FBCKJSH).
        "us-west-2": ("0.0000002", "IOs", "$0.20 per RDS million I/O requests (Aurora PostgreSQL)"),
    },
    "dynamodb_storage": {
        "us-west-2": (
            "0.25",
            "GB-Months",
            "$0.25 per GB-Month of storage used beyond first 25 free GB-Months",
        ),
    },
    "elasticache_r5_large": {
        "us-east-1": ("0.216", "Hours", "$0.216 per On-Demand cache.r5.large node hour"),
    },
    "elasticache_m5_large": {
        "us-east-1": ("0.156", "Hours", "$0.156 per On-Demand cache.m5.large node hour"),
    },
    "cw_metrics": {
        "us-east-1": (
            "0.3",
            "Metrics",
            "$0.30 per metric-month for the first 10,000 metrics - US East (N. Virginia)",
        ),
    },
    "kms_keys": {
        # Same $1 as the FOCUS sample's us-west-2, us-east-2 and eu-central-1 rows.
        "us-east-1": ("1", "Keys", "$1 per customer managed KMS key version in US East (N. Virginia)"),
    },
}

# The anonymised CUR's SNS row describes the free tier while carrying the paid rate; describe the rate.
DESCRIPTION_OVERRIDES: dict[str, str] = {
    "sns_requests": "$0.50 per 1 million Amazon SNS API requests",
}
# CUR spells some units differently from FOCUS exports.
UNIT_ALIASES: dict[str, str] = {"GB-Mo": "GB-Months"}

EC2_SOURCE = "libcloud_pricing.json compute.ec2_linux[{type}][{region}]"


@cache
def ec2_ondemand() -> dict[tuple[str, str], Decimal]:
    """(instance type, region) -> Linux on-demand USD/hour; only prices libcloud knows (never its 0.0)."""
    raw = json.loads((DATA_DIR / "ec2_ondemand_linux.json").read_text())
    return {
        (itype, region): Decimal(str(price))
        for itype, by_region in raw["usd_per_hour"].items()
        for region, price in by_region.items()
        if price > 0
    }


@dataclass(frozen=True)
class AzureMeter:
    """One Azure Retail Prices meter: what an Azure cost export repeats on every row it prices."""

    arm_sku_name: str  # Standard_D2s_v3
    region: str  # eastus
    meter_id: str
    meter_name: str
    product_name: str
    service_name: str
    sku_id: str
    unit_of_measure: str
    usd_per_hour: Decimal
    source_file: str


@cache
def azure_vm_ondemand() -> dict[tuple[str, str], AzureMeter]:
    """(VM size, region) -> its Linux pay-as-you-go meter."""
    raw = json.loads((DATA_DIR / "azure_vm_ondemand_linux.json").read_text())
    return {
        (m["armSkuName"], m["armRegionName"]): AzureMeter(
            arm_sku_name=m["armSkuName"],
            region=m["armRegionName"],
            meter_id=m["meterId"],
            meter_name=m["meterName"],
            product_name=m["productName"],
            service_name=m["serviceName"],
            sku_id=m["skuId"],
            unit_of_measure=m["unitOfMeasure"],
            usd_per_hour=Decimal(str(m["retailPrice"])),
            source_file=m["source_file"],
        )
        for m in raw["meters"]
        if m["currencyCode"] == "USD" and m["retailPrice"] > 0
    }


@cache
def commitment_ratios() -> dict[tuple[str, str], Decimal]:
    """(offer, region) -> effective hourly commitment rate / on-demand, for x2iedn.32xlarge Linux."""
    raw = json.loads((DATA_DIR / "ec2_commitment_ratios.json").read_text())["usd_per_hour"]
    return {
        (offer, region): Decimal(prices[term]) / Decimal(prices["ondemand"])
        for offer, term in COMMITMENT_TERMS.items()
        for region, prices in raw.items()
    }


@cache
def spot_ratios() -> dict[tuple[str, str], Decimal]:
    """(instance type, region) -> mean observed Linux spot price / libcloud on-demand price."""
    zone_region = {"use1": "us-east-1", "usw2": "us-west-2", "euw1": "eu-west-1"}
    observed: dict[tuple[str, str], list[Decimal]] = {}
    for line in (DATA_DIR / "ec2_spot_linux_2022-05-31.tsv").read_text().splitlines():
        zone, itype, _product, price, _ts = line.split("\t")
        observed.setdefault((itype, zone_region[zone.split("-")[0]]), []).append(Decimal(price))
    ondemand = ec2_ondemand()
    return {
        key: sum(prices, Decimal(0)) / len(prices) / ondemand[key]
        for key, prices in observed.items()
        if key in ondemand
    }


@cache
def service_rates() -> dict[tuple[str, str], Rate]:
    """(rate key, region) -> Rate, from the shared-data extract plus ``PUBLISHED_LIST_PRICES``."""
    rates: dict[tuple[str, str], Rate] = {}
    with (DATA_DIR / "service_rates.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            key, region = row["key"], row["region_id"]
            rates[(key, region)] = Rate(
                key=key,
                region_id=region,
                list_unit_price=Decimal(row["list_unit_price"]),
                pricing_unit=UNIT_ALIASES.get(row["pricing_unit"], row["pricing_unit"]),
                sku_id=row["sku_id"],
                sku_price_id=row["sku_price_id"],
                charge_description=DESCRIPTION_OVERRIDES.get(key, row["charge_description"]),
                source=f"{row['source_file']} ({row['source_ref']})",
            )
    for key, by_region in PUBLISHED_LIST_PRICES.items():
        for region, (price, unit, description) in by_region.items():
            if (key, region) in rates:
                raise ValueError(f"{key} in {region} has both a shared-data rate and a published one")
            rates[(key, region)] = Rate(key, region, Decimal(price), unit, "", "", description, PUBLISHED)
    return rates


def provenance() -> dict[str, str]:
    """Where every price comes from: '<what> <region>' -> source (file and row, or PUBLISHED)."""
    out = {f"ec2 {t} {r}": EC2_SOURCE.format(type=t, region=r) for t, r in ec2_ondemand()}
    ratio_source = "ec2instances_x2iedn.32xlarge.json pricing.{region}.linux: {term} / ondemand"
    for offer, region in commitment_ratios():
        out[f"{offer} ratio {region}"] = ratio_source.format(region=region, term=COMMITMENT_TERMS[offer])
    for itype, region in spot_ratios():
        out[f"spot {itype} {region}"] = (
            f"spot_price_history_2022-05.tsv: mean Linux/UNIX price of {itype} in {region} zones / libcloud on-demand"
        )
    for (size, region), meter in azure_vm_ondemand().items():
        out[f"azure vm {size} {region}"] = f"{meter.source_file} meterId {meter.meter_id} retailPrice"
    for (key, region), rate in service_rates().items():
        out[f"{key} {region}"] = rate.source
    out["sales tax rate"] = "demo assumption (a flat rate, not any real jurisdiction's)"
    return out
