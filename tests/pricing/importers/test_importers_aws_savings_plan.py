"""AWS Savings Plans rate files: the real Database Savings Plans CSV (ap-south-2) from the shared data, and
Compute / EC2 Instance Savings Plans JSON written here in the real layout (no such file is in the shared
data; codes and rates below are illustrative)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from price_helpers import AWS_PREAMBLE, DATABASE_SP, collect, needs_shared_data, raw_csv

from pricing.importers import PriceImportError, read_catalog
from pricing.importers.aws_savings_plan import plan_type

UTC = dt.UTC


@needs_shared_data
def test_database_plan_meta() -> None:
    meta, _ = read_catalog(DATABASE_SP)
    assert (meta.format, meta.provider, meta.source, meta.version) == (
        "aws-savings-plan",
        "aws",
        "AmazonDatabaseSavingsPlans",  # OfferCode,AmazonDatabaseSavingsPlans
        "20260422194203",
    )
    assert meta.publication_date == dt.datetime(2026, 4, 22, 19, 42, 3, tzinfo=UTC)  # 2026-04-22T19:42:03Z


@needs_shared_data
def test_database_plan_rates_read_back_as_published() -> None:
    prices = {p["rate_code"]: p for p in collect(DATABASE_SP).price_rows()}
    # DZCHH8H3SPVYZ2Z4,DZCHH8H3SPVYZ2Z4.245EPUU8S7HP5WUD,Hrs,2026-04-20T21:53:43Z,10.9760000000,USD,
    # 245EPUU8S7HP5WUD,AWSDatabaseMigrationSvc,APS5-Multi-AZUsg:dms.r7i.12xlarge,CreateDMSInstance,No Upfront,1,year,...
    dms = prices["DZCHH8H3SPVYZ2Z4.245EPUU8S7HP5WUD"]
    assert dms["sku_key"] == "aws:245EPUU8S7HP5WUD"  # the discounted product, beside its on-demand price
    assert dms["term"] == "savings_plan"
    assert dms["plan_type"] == "database"
    assert (dms["lease_years"], dms["purchase_option"], dms["offering_class"]) == (1, "no_upfront", None)
    assert (dms["hourly"], dms["upfront"], dms["unit"], dms["currency"]) == (Decimal("10.976"), 0, "Hrs", "USD")
    assert dms["effective_from"] == dt.datetime(2026, 4, 20, 21, 53, 43, tzinfo=UTC)
    assert dms["description"] == "1 year No Upfront Database Savings Plan"
    assert dms["source_row"] == 1
    # line 101 (data row 95): ...,ACU-Hr,2026-04-20T21:53:43Z,0.1560000000,USD,8EPKSE59Z6N5TXR6,AmazonRDS,...
    aurora = prices["DZCHH8H3SPVYZ2Z4.8EPKSE59Z6N5TXR6"]
    assert (aurora["hourly"], aurora["unit"], aurora["source_row"]) == (Decimal("0.156"), "ACU-Hr", 95)
    # ...,WriteRequestUnits,2026-04-20T21:53:43Z,0.0000005822,USD,2MTFZQBFNY8X33AS,AmazonDynamoDB,...
    dynamo = prices["DZCHH8H3SPVYZ2Z4.2MTFZQBFNY8X33AS"]
    assert (dynamo["hourly"], dynamo["unit"]) == (Decimal("0.0000005822"), "WriteRequestUnits")


@needs_shared_data
def test_database_plan_every_rate_exactly_and_counts() -> None:
    header, rows = raw_csv(DATABASE_SP)
    col = {name: i for i, name in enumerate(header)}
    catalog = collect(DATABASE_SP)
    prices = catalog.price_rows()
    assert catalog.rows == len(rows) == len(prices) == 455
    for price, row in zip(prices, rows, strict=True):
        assert price["hourly"] == Decimal(row[col["DiscountedRate"]])
        assert price["sku_key"] == "aws:" + row[col["DiscountedSKU"]]
    # SKUs: the plan itself, and each discounted product once.
    plans = {row[col["SKU"]] for row in rows}
    products = {row[col["DiscountedSKU"]] for row in rows}
    assert catalog.skus.num_rows == len(plans) + len(products) == 1 + 455


@needs_shared_data
def test_database_plan_skus() -> None:
    catalog = collect(DATABASE_SP)
    plan = catalog.sku("aws:DZCHH8H3SPVYZ2Z4")
    assert (plan["service"], plan["product_family"], plan["region"]) == (
        "DatabaseSavingsPlans",
        "DatabaseSavingsPlans",
        None,
    )
    assert json.loads(plan["attributes"])["UsageType"] == "DatabaseSP:1yrNoUpfront"
    # ...,25B2RB2TJW9VCXZ6,AmazonRDS,APS5-Multi-AZUsage:db.r7i.2xl,CreateDBInstance:0005,...,ap-south-2,db.r7i.2xlarge
    rds = catalog.sku("aws:25B2RB2TJW9VCXZ6")
    assert (rds["service"], rds["region"], rds["instance_type"]) == ("AmazonRDS", "ap-south-2", "db.r7i.2xlarge")
    assert (rds["instance_family"], rds["normalization_factor"]) == ("db.r7i", Decimal(16))
    assert json.loads(rds["attributes"])["DiscountedUsageType"] == "APS5-Multi-AZUsage:db.r7i.2xl"
    # ...,2W284E62J5CUFN9F,AmazonRDS,APS5-InstanceUsage:db.r7g.2xl,...,ap-south-2,R7G  (a family, not a type)
    family_only = catalog.sku("aws:2W284E62J5CUFN9F")
    assert family_only["instance_type"] is None
    assert json.loads(family_only["attributes"])["DiscountedInstanceType"] == "R7G"


@pytest.mark.parametrize(
    ("family", "usage", "expected"),
    [
        ("ComputeSavingsPlans", "ComputeSP:1yrNoUpfront", "compute"),
        ("EC2InstanceSavingsPlans", "EC2SP:m5.1yrNoUpfront", "ec2_instance"),
        ("DatabaseSavingsPlans", "DatabaseSP:1yrNoUpfront", "database"),
        ("SageMakerSavingsPlans", "", "sagemaker"),
        ("MachineLearningSavingsPlans", "", "sagemaker"),
        ("SomethingNew", "", "other"),
    ],
)
def test_plan_types(family: str, usage: str, expected: str) -> None:
    assert plan_type(family, usage) == expected


# ----------------------------------------------------------------------------------------------- JSON


def plan_document() -> dict:
    """A Compute and an EC2 Instance Savings Plan in the AWS savings plan rate file JSON layout."""
    return {
        "version": "20251201000000",
        "publicationDate": "2025-12-01T00:00:00Z",
        "regionCode": "us-east-1",
        "products": [
            {
                "sku": "TESTCOMPUTESP001",
                "productFamily": "ComputeSavingsPlans",
                "serviceCode": "ComputeSavingsPlans",
                "usageType": "ComputeSP:3yrPartialUpfront",
                "operation": "",
                "attributes": {
                    "purchaseOption": "Partial Upfront",
                    "granularity": "hourly",
                    "instanceType": "",
                    "purchaseTerm": "3yr",
                    "locationType": "AWS Region",
                    "location": "Any",
                },
            },
            {
                "sku": "TESTEC2INSTSP001",
                "productFamily": "EC2InstanceSavingsPlans",
                "serviceCode": "ComputeSavingsPlans",
                "usageType": "EC2SP:m5.1yrNoUpfront",
                "operation": "",
                "attributes": {
                    "purchaseOption": "No Upfront",
                    "granularity": "hourly",
                    "instanceType": "m5",
                    "purchaseTerm": "1yr",
                    "locationType": "AWS Region",
                    "location": "US East (N. Virginia)",
                },
            },
        ],
        "terms": {
            "savingsPlan": [
                {
                    "sku": "TESTCOMPUTESP001",
                    "description": "3 year Partial Upfront Compute Savings Plan",
                    "effectiveDate": "2025-11-01T00:00:00Z",
                    "leaseContractLength": {"duration": 3, "unit": "year"},
                    "rates": [
                        {
                            "discountedSku": "TESTSKUM5LARGE01",
                            "discountedUsageType": "BoxUsage:m5.large",
                            "discountedOperation": "RunInstances",
                            "discountedServiceCode": "AmazonEC2",
                            "rateCode": "TESTCOMPUTESP001.TESTSKUM5LARGE01",
                            "unit": "Hrs",
                            "discountedRate": {"price": "0.0410000000", "currency": "USD"},
                            "discountedRegionCode": "us-east-1",
                            "discountedInstanceType": "m5.large",
                        },
                        {
                            "discountedSku": "TESTSKULAMBDA001",
                            "discountedUsageType": "Lambda-GB-Second",
                            "discountedOperation": "Invoke",
                            "discountedServiceCode": "AWSLambda",
                            "rateCode": "TESTCOMPUTESP001.TESTSKULAMBDA001",
                            "unit": "Lambda-GB-Second",
                            "discountedRate": {"price": "0.0000138336", "currency": "USD"},
                        },
                    ],
                },
                {
                    "sku": "TESTEC2INSTSP001",
                    "description": "1 year No Upfront EC2 Instance Savings Plan",
                    "effectiveDate": "2025-11-01T00:00:00Z",
                    "leaseContractLength": {"duration": 1, "unit": "year"},
                    "rates": [
                        {
                            "discountedSku": "TESTSKUM5LARGE01",
                            "discountedUsageType": "BoxUsage:m5.large",
                            "discountedOperation": "RunInstances",
                            "discountedServiceCode": "AmazonEC2",
                            "rateCode": "TESTEC2INSTSP001.TESTSKUM5LARGE01",
                            "unit": "Hrs",
                            "discountedRate": {"price": "0.0600000000", "currency": "USD"},
                        }
                    ],
                },
            ]
        },
    }


@pytest.fixture
def plan_json(tmp_path: Path) -> Path:
    path = tmp_path / "savingsPlan.json"
    path.write_text(json.dumps(plan_document(), indent=1))
    return path


@pytest.mark.parametrize("batch_rows", [1, 100_000])
def test_compute_and_ec2_instance_plans_json(plan_json: Path, batch_rows: int) -> None:
    catalog = collect(plan_json, batch_rows=batch_rows)
    assert catalog.meta.format == "aws-savings-plan"
    assert catalog.meta.source == "AWS Savings Plans rate file (us-east-1)"
    assert catalog.meta.version == "20251201000000"
    assert catalog.rows == 2 + 3  # 2 products, 3 rates
    prices = {p["rate_code"]: p for p in catalog.price_rows()}
    compute = prices["TESTCOMPUTESP001.TESTSKUM5LARGE01"]
    assert (compute["plan_type"], compute["lease_years"], compute["purchase_option"]) == (
        "compute",
        3,
        "partial_upfront",
    )
    assert (compute["hourly"], compute["upfront"], compute["sku_key"]) == (Decimal("0.041"), 0, "aws:TESTSKUM5LARGE01")
    assert compute["source_row"] == 3
    assert compute["effective_from"] == dt.datetime(2025, 11, 1, tzinfo=UTC)
    lam = prices["TESTCOMPUTESP001.TESTSKULAMBDA001"]
    assert (lam["hourly"], lam["unit"]) == (Decimal("0.0000138336"), "Lambda-GB-Second")
    ec2 = prices["TESTEC2INSTSP001.TESTSKUM5LARGE01"]
    assert (ec2["plan_type"], ec2["lease_years"], ec2["purchase_option"], ec2["hourly"]) == (
        "ec2_instance",
        1,
        "no_upfront",
        Decimal("0.06"),
    )
    m5 = catalog.sku("aws:TESTSKUM5LARGE01")  # once, though two plans discount it
    assert (m5["service"], m5["instance_type"], m5["vcpu"], m5["normalization_factor"]) == (
        "AmazonEC2",
        "m5.large",
        2,
        4,
    )
    assert catalog.skus.num_rows == 2 + 2


def test_gzip_json(tmp_path: Path, plan_json: Path) -> None:
    packed = tmp_path / "savingsPlan.json.gz"
    packed.write_bytes(gzip.compress(plan_json.read_bytes()))
    assert collect(packed).prices.equals(collect(plan_json).prices)


# ------------------------------------------------------------------------------------------------ bad input


def sp_csv(tmp_path: Path, change: dict[str, str]) -> Path:
    header, rows = raw_csv(DATABASE_SP)
    row = dict(zip(header, rows[0], strict=True))
    row.update(change)
    path = tmp_path / "sp.csv"
    path.write_text(AWS_PREAMBLE + ",".join(header) + "\n" + ",".join(rows[1]) + "\n" + ",".join(row.values()) + "\n")
    return path


@needs_shared_data
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"DiscountedRate": "n/a"}, "DiscountedRate", "not a number: 'n/a'"),
        ({"DiscountedRate": ""}, "DiscountedRate", "empty DiscountedRate (no rate)"),
        ({"DiscountedSKU": ""}, "DiscountedSKU", "empty DiscountedSKU"),
        ({"SKU": ""}, "SKU", "empty SKU (the plan's)"),
        ({"LeaseContractLength": "x"}, "LeaseContractLength", "unreadable lease 'x year'"),
    ],
)
def test_bad_csv_rows(tmp_path: Path, change: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(PriceImportError) as caught:
        collect(sp_csv(tmp_path, change))
    err = caught.value
    assert (err.row, err.field) == (2, field)
    assert err.message.startswith(message)
    assert "(line 8 of the file)" in err.message


@pytest.mark.parametrize("missing", ["products", "terms"])
def test_json_without_products_or_terms(tmp_path: Path, missing: str) -> None:
    document = plan_document()
    del document[missing]
    path = tmp_path / "sp.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PriceImportError) as caught:
        collect(path, fmt="aws-savings-plan")
    assert caught.value.field in (missing, "terms.savingsPlan[0].sku")


def test_json_non_numeric_rate(tmp_path: Path) -> None:
    document = plan_document()
    document["terms"]["savingsPlan"][1]["rates"][0]["discountedRate"]["price"] = "cheap"
    path = tmp_path / "sp.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PriceImportError) as caught:
        collect(path)
    assert (caught.value.row, caught.value.field) == (5, "terms.savingsPlan[1].rates[0].discountedRate.price")
