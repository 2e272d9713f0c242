"""Rebuild the small price files in this folder from the project's shared real data.

Run from the repository root (not imported by the package):

    .venv/bin/python finops/demo/data/extract.py /work/shared/data

tests/demo/test_generator.py re-runs it into a temporary folder and checks the files are identical.

Every value written is copied from a real file; nothing is computed here except filtering.
Unknown prices (libcloud's 0.0) are dropped, never written.
"""

from __future__ import annotations

import csv
import json
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
# Spot price history uses availability-zone IDs (use1-az4); their prefix names the region.
ZONE_PREFIX = {"use1": "us-east-1", "usw2": "us-west-2", "euw1": "eu-west-1"}
FAMILIES = ("m5", "c5", "r5", "t3")
SIZES = ("small", "medium", "large", "xlarge", "2xlarge", "4xlarge")
TYPES = tuple(f"{family}.{size}" for family in FAMILIES for size in SIZES)
# Azure VM sizes the demo's Azure subscription runs: the Linux pay-as-you-go ("Consumption") meter of each in
# each region, from a raw Azure Retail Prices API response.
AZURE_RETAIL_FILES = ("azure/retail_prices/eastus_standard_d2s_v3_nofilter.json",)
RESERVED_TERMS = (
    "yrTerm1Standard.noUpfront",
    "yrTerm3Standard.noUpfront",
    "yrTerm1Convertible.noUpfront",
)

# FOCUS sample rows to copy, by (SkuId, RegionId) -> the generator's rate key. Where one SkuId has
# several tiers, FOCUS_SAMPLE_TIER picks the ListUnitPrice (first 10 TB/month of data transfer out).
FOCUS_SAMPLE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("ebs_gp3", "us-east-1", "JG3KUJMBRGHV3N8G"),
    ("ebs_gp3", "us-west-2", "BB8UJWJ4XPFJB95G"),
    ("ebs_snapshot", "us-east-1", "7U7TWP44UP36AT3R"),
    ("ebs_snapshot", "us-west-2", "CNYETXBBP73CTYPG"),
    ("nat_gateway_hours", "us-west-2", "44T683R45QPT8RYQ"),
    ("nat_gateway_bytes", "us-east-1", "59S5R83GFPUAGVR5"),
    ("nat_gateway_bytes", "us-west-2", "9AXD6XJT8GZWPQED"),
    ("dt_out_internet", "us-east-1", "HQEH3ZWJVT46JHRG"),
    ("dt_out_internet", "us-west-2", "5M4327XEUKBBTWAT"),
    ("dt_out_internet", "eu-west-1", "FSEU4E6BRE95JTX8"),
    ("dt_inter_region", "us-east-1", "NW4B786HNAH6HZ7R"),
    ("dt_inter_region", "us-west-2", "EAUDKWWNQJZTV253"),
    ("dt_inter_az", "us-east-1", "PNUBVW4CPC8XA46W"),
    ("dt_inter_az", "us-west-2", "62WNQUZDQQ6GRJC5"),
    ("dt_inter_az", "eu-west-1", "F8E5RBBTWDY6X6HP"),
    ("s3_standard", "us-east-1", "WP9ANXZGBYYSGJEA"),
    ("s3_standard", "us-west-2", "Z3FQZG73HYSPVABR"),
    ("s3_put", "us-west-2", "D4PMUVH6F64HK2D6"),
    ("s3_get", "us-east-1", "ZWQ6Q48CRJXX4FXE"),
    ("s3_get", "us-west-2", "E77AQEM2DC4VV3FC"),
    ("lambda_requests", "us-east-1", "GU2ZS9HVP6QTQ7KE"),
    ("lambda_compute", "us-east-1", "TG3M4CAGBA3NYQBH"),
    ("lambda_compute", "us-west-2", "XCU6U9G4FCKZQWG9"),
    ("cloudfront_dt_out", "eu-west-1", "VU3485RNDU6HBQF6"),
    ("cloudfront_https", "us-east-1", "NPFD6SEH9MXS8M4J"),
    ("dynamodb_read", "us-west-2", "K6UMRY3TVDVCBP56"),
    ("dynamodb_write", "us-west-2", "4G4G98VBTENWGY5R"),
    ("aurora_storage", "us-west-2", "XN6AM4AHVSYQ6BFC"),
    ("cw_logs_ingest", "us-east-1", "S8QGXX5R2BKKMDSJ"),
    ("cw_logs_ingest", "us-west-2", "CWY7X4MZ4F3MP5SD"),
    ("cw_logs_storage", "us-west-2", "MN45SJANDTCPR9QA"),
    ("cw_metrics", "us-west-2", "CN6TP6ZEVS58RK7M"),
    ("cw_alarms", "us-east-1", "EVETVUGEN3MUTMXM"),
    ("cw_alarms", "us-west-2", "SJTFAZNHSW2WVZB2"),
    ("alb_hours", "us-east-1", "37CUWUT8GSNQEPUV"),
    ("alb_hours", "us-west-2", "7AKU6NT3G9ZEJTB5"),
    ("alb_lcu", "us-west-2", "2ETY8Y426S4237JU"),
    ("public_ipv4_in_use", "us-east-1", "4GQUNXTFWVSGPUZK"),
    ("public_ipv4_idle", "us-west-2", "4KKZ7RH6GMEH6Q4Q"),
    ("sqs_requests", "us-east-1", "8RN6B8U4MERHRXP3"),
    ("sqs_requests", "us-west-2", "G95FST5FTYV3JSRX"),
    ("kms_keys", "us-west-2", "S8HBXBVJKWKDP9AS"),
    ("ecr_storage", "us-west-2", "2BSQ677HKG6WUUKA"),
    ("ecr_storage", "eu-west-1", "4NWTEXUZBWQH8MDW"),
    ("route53_queries", "global", "JHRA6QBEDT9FZVT5"),
    ("sfn_transitions", "us-west-2", "XMHKSF96BVDUEV9U"),
)
FOCUS_SAMPLE_TIER = {"dt_out_internet": "0.09"}
# Legacy CUR rows to copy, by (lineItem/ProductCode, lineItem/UsageType) -> rate key.
CUR_ROWS: tuple[tuple[str, str, str], ...] = (
    ("s3_put", "AmazonS3", "Requests-Tier1"),
    ("s3_glacier", "AmazonS3", "USW2-TimedStorage-GlacierByteHrs"),
    ("sns_requests", "AmazonSNS", "Requests-Tier1"),
    ("sns_requests", "AmazonSNS", "USW2-Requests-Tier1"),
    ("cloudtrail_data_events", "AWSCloudTrail", "USW2-DataEventsRecorded"),
)
RATE_FIELDS = (
    "key",
    "region_id",
    "list_unit_price",
    "pricing_unit",
    "sku_id",
    "sku_price_id",
    "charge_description",
    "source_file",
    "source_ref",
)


def _focus_rates(shared: Path) -> list[dict[str, str]]:
    with (shared / "focus/focus_sample.csv").open(newline="") as f:
        rows: dict[tuple[str, str], list[dict[str, str]]] = {}
        for r in csv.DictReader(f):
            rows.setdefault((r["SkuId"], r["RegionId"]), []).append(r)
    out = []
    for key, region, sku_id in FOCUS_SAMPLE_ROWS:
        candidates = rows[(sku_id, region)]
        if key in FOCUS_SAMPLE_TIER:
            candidates = [r for r in candidates if r["ListUnitPrice"] == FOCUS_SAMPLE_TIER[key]]
        row = min(candidates, key=lambda r: int(r["Id"]))
        out.append(
            {
                "key": key,
                "region_id": region,
                "list_unit_price": row["ListUnitPrice"],
                "pricing_unit": row["PricingUnit"],
                "sku_id": row["SkuId"],
                "sku_price_id": row["SkuPriceId"],
                "charge_description": row["ChargeDescription"],
                "source_file": "focus/focus_sample.csv",
                "source_ref": f"Id={row['Id']}",
            }
        )
    return out


def _plain_decimal(text: str) -> str:
    plain = format(Decimal(text), "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def _cur_rates(shared: Path) -> list[dict[str, str]]:
    with (shared / "aws_cur/sample-anonymous-aws-export-dataset.csv").open(newline="") as f:
        rows: dict[tuple[str, str], dict[str, str]] = {}
        for r in csv.DictReader(f):
            rows.setdefault((r["lineItem/ProductCode"], r["lineItem/UsageType"]), r)
    out = []
    for key, product, usage_type in CUR_ROWS:
        row = rows[(product, usage_type)]
        out.append(
            {
                "key": key,
                "region_id": row["product/region"],
                # The CUR writes small rates in exponent form (5.0E-6); store the plain decimal.
                "list_unit_price": _plain_decimal(row["pricing/publicOnDemandRate"]),
                "pricing_unit": row["pricing/unit"],
                "sku_id": "",  # anonymised in the source (D4PMUxxxxxxHK2D6), not copied
                "sku_price_id": "",
                "charge_description": row["lineItem/LineItemDescription"],
                "source_file": "aws_cur/sample-anonymous-aws-export-dataset.csv",
                "source_ref": f"identity/LineItemId={row['identity/LineItemId']}",
            }
        )
    return out


def _azure_linux_meters(shared: Path) -> list[dict]:
    """The Linux pay-as-you-go meters (productName without "Windows", type "Consumption", not Spot or Low
    Priority) of the Azure Retail Prices responses, with the fields a cost export repeats."""
    out = []
    for name in AZURE_RETAIL_FILES:
        for item in json.loads((shared / name).read_text())["Items"]:
            if (
                item["type"] == "Consumption"
                and "Windows" not in item["productName"]
                and not item["meterName"].endswith(("Spot", "Low Priority"))
            ):
                out.append(
                    {
                        key: item[key]
                        for key in (
                            "armRegionName",
                            "armSkuName",
                            "currencyCode",
                            "meterId",
                            "meterName",
                            "productName",
                            "retailPrice",
                            "serviceName",
                            "skuId",
                            "unitOfMeasure",
                        )
                    }
                    | {"source_file": name}
                )
    return sorted(out, key=lambda m: (m["armSkuName"], m["armRegionName"]))


def main(shared: Path, out: Path = HERE) -> None:
    libcloud = json.loads((shared / "aws_pricing/libcloud_pricing.json").read_text())
    linux = libcloud["compute"]["ec2_linux"]
    ondemand = {t: {r: linux[t][r] for r in REGIONS if linux.get(t, {}).get(r, 0.0) > 0.0} for t in TYPES if t in linux}
    record = json.loads((shared / "aws_pricing/ec2instances_x2iedn.32xlarge.json").read_text())
    ratios = {
        r: {"ondemand": record["pricing"][r]["linux"]["ondemand"]}
        | {term: record["pricing"][r]["linux"]["reserved"][term] for term in RESERVED_TERMS}
        for r in REGIONS
    }
    (out / "ec2_ondemand_linux.json").write_text(
        json.dumps(
            {
                "source": "aws_pricing/libcloud_pricing.json compute.ec2_linux (apache-libcloud 3.9.1)",
                "updated": libcloud["updated"],
                "usd_per_hour": ondemand,
            },
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )
    (out / "ec2_commitment_ratios.json").write_text(
        json.dumps(
            {
                "source": "aws_pricing/ec2instances_x2iedn.32xlarge.json pricing.<region>.linux",
                "instance_type": record["instance_type"],
                "usd_per_hour": ratios,
            },
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )
    (out / "azure_vm_ondemand_linux.json").write_text(
        json.dumps(
            {"source": list(AZURE_RETAIL_FILES), "meters": _azure_linux_meters(shared)}, indent=1, sort_keys=True
        )
        + "\n"
    )
    lines = []
    with (shared / "aws_spot/spot_price_history_2022-05.tsv").open() as f:
        for line in f:
            zone, itype, product, _price, _ts = line.rstrip("\n").split("\t")
            if product == "Linux/UNIX" and zone.split("-")[0] in ZONE_PREFIX and itype in TYPES:
                lines.append(line)
    (out / "ec2_spot_linux_2022-05-31.tsv").write_text("".join(sorted(lines)))
    with (out / "service_rates.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, RATE_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_focus_rates(shared) + _cur_rates(shared))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
