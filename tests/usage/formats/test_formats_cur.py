"""AWS CUR parsing: the real anonymised CUR sample, the koku snake_case file, a CUR 2.0-shaped Parquet
file and a hand-computed synthetic CUR with Savings Plans and Reserved Instances line items."""

from __future__ import annotations

import gzip
import json
import zipfile
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from formats_helpers import CUR_SAMPLE, KOKU_CUR, dec, needs_shared_data, raw_dicts, read_all, write_csv

from finops.usage.formats import IngestError, detect_format, read_chunks
from finops.usage.formats.schema import CANONICAL_SCHEMA

# CUR columns whose value the canonical schema carries unchanged (listed here independently of the
# parser); every other non-empty cell must be found verbatim in extras.
COPIED_AS_IS = {
    "bill/PayerAccountId",
    "bill/InvoicingEntity",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/UsageAmount",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedCost",
    "lineItem/LineItemDescription",
    "lineItem/LegalEntity",
    "lineItem/AvailabilityZone",
    "lineItem/ResourceId",
    "product/ProductName",
    "product/location",
    "product/regionCode",
    "product/sku",
    "product/instanceType",
    "pricing/RateCode",
    "pricing/publicOnDemandCost",
    "pricing/publicOnDemandRate",
    "pricing/unit",
}


@pytest.fixture(scope="module")
def raw() -> list[dict[str, str]]:
    return raw_dicts(CUR_SAMPLE)


@pytest.fixture(scope="module")
def parsed() -> pa.Table:
    return read_all(CUR_SAMPLE)


@needs_shared_data
def test_sample_rows_and_schema(parsed):
    assert detect_format(CUR_SAMPLE) == "aws-cur"
    chunks = list(read_chunks(CUR_SAMPLE))
    assert [c.fmt for c in chunks] == ["aws-cur"]
    assert parsed.schema.equals(CANONICAL_SCHEMA)
    assert parsed.num_rows == 1281


@needs_shared_data
def test_sample_costs_are_exact(raw, parsed):
    # The sample has no NetUnblendedCost column and no SP/RI lines: billed = effective = unblended.
    unblended = sum(Decimal(r["lineItem/UnblendedCost"]) for r in raw)
    assert sum(parsed["billed_cost"].to_pylist()) == unblended
    assert sum(parsed["effective_cost"].to_pylist()) == unblended
    assert parsed["billed_cost"].to_pylist() == [Decimal(r["lineItem/UnblendedCost"]) for r in raw]
    on_demand = sum(Decimal(r["pricing/publicOnDemandCost"]) for r in raw)
    assert sum(parsed["list_cost"].to_pylist()) == on_demand
    assert parsed["list_unit_price"].to_pylist() == [dec(r["pricing/publicOnDemandRate"]) for r in raw]
    assert parsed["pricing_quantity"].to_pylist() == [Decimal(r["lineItem/UsageAmount"]) for r in raw]
    assert unblended > 0


@needs_shared_data
def test_sample_categories_and_dimensions(raw, parsed):
    assert Counter(parsed["charge_category"].to_pylist()) == Counter(r["lineItem/LineItemType"] for r in raw)
    assert Counter(parsed["charge_category"].to_pylist()) == {"Usage": 1269, "Tax": 12}
    rows = parsed.to_pylist()
    for r, out in zip(raw, rows, strict=True):
        assert out["provider_name"] == "AWS"
        assert out["billing_account_id"] == r["bill/PayerAccountId"]
        assert out["sub_account_id"] == r["lineItem/UsageAccountId"]
        assert out["publisher_name"] == r["lineItem/LegalEntity"]
        assert out["invoice_issuer_name"] == r["bill/InvoicingEntity"]
        assert out["billing_currency"] == r["lineItem/CurrencyCode"]
        assert out["region_id"] == (r["product/regionCode"] or r["product/region"] or None)
        assert out["service_name"] == (r["product/ProductName"] or r["lineItem/ProductCode"])
        assert out["sku_price_id"] == (r["pricing/RateCode"] or r["pricing/RateId"] or None)
        assert out["charge_period_start"] == datetime.fromisoformat(r["lineItem/UsageStartDate"])
        assert out["billing_period_end"] == datetime(2023, 12, 1, tzinfo=UTC)
        assert out["pricing_category"] == ("Standard" if r["pricing/term"] == "OnDemand" else None)
        expected_frequency = "Usage-Based" if r["lineItem/LineItemType"] == "Usage" else "Recurring"
        assert out["charge_frequency"] == expected_frequency
    categories = {(r["lineItem/ProductCode"], out["service_category"]) for r, out in zip(raw, rows, strict=True)}
    assert ("AmazonS3", "Storage") in categories
    assert ("AWSGlue", "Analytics") in categories
    assert ("AWSQueueService", "Integration") in categories
    assert ("awskms", "Identity") in categories
    assert ("AWSIoT", "Internet of Things") in categories
    assert all(category != "Other" for _, category in categories)


@needs_shared_data
def test_sample_loses_nothing(raw, parsed):
    for r, extras in zip(raw, parsed["extras"].to_pylist(), strict=True):
        kept = json.loads(extras)
        expected = {k: v for k, v in r.items() if v != "" and k not in COPIED_AS_IS}
        assert kept == expected
        assert kept["identity/LineItemId"] == r["identity/LineItemId"]


@needs_shared_data
@pytest.mark.parametrize("kind", ["gz", "zip"])
def test_sample_compressed_gives_identical_rows(tmp_path, parsed, kind):
    if kind == "gz":
        path = tmp_path / "cur.csv.gz"
        path.write_bytes(gzip.compress(CUR_SAMPLE.read_bytes()))
    else:
        path = tmp_path / "cur.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(CUR_SAMPLE, "report-00001.csv")
    assert detect_format(path) == "aws-cur"
    chunks = list(read_chunks(path, chunk_rows=500))
    assert [c.first_row for c in chunks] == [1, 501, 1001]
    assert chunks[-1].bytes_read == chunks[-1].bytes_total == path.stat().st_size
    assert pa.concat_tables(c.table for c in chunks).to_pylist() == parsed.to_pylist()


@needs_shared_data
def test_koku_snake_case_file():
    raw = raw_dicts(KOKU_CUR)
    table = read_all(KOKU_CUR)
    assert detect_format(KOKU_CUR) == "aws-cur"
    assert table.num_rows == len(raw) == 2
    first = table.to_pylist()[0]
    assert first["billing_account_id"] == "999999"
    assert first["publisher_name"] == "Red Hat, Inc."
    assert first["service_name"] == "Red Hat® Enterprise Linux®"
    assert first["service_category"] == "Other"  # a Marketplace product code
    assert first["region_id"] == "us-east-1"  # product_region_code is empty: product_region
    assert first["availability_zone"] == "us-east-1a"
    assert first["billing_period_start"] == datetime(2022, 7, 1, tzinfo=UTC)  # "2022-07-01 00:00:00.000"
    assert first["charge_period_end"] == datetime(2022, 7, 1, 1, tzinfo=UTC)
    assert first["pricing_category"] == "Standard"
    assert first["sku_price_id"] == "52KUDV3HNNAWJGTF.4799GE89SK.6YS6EN2CT7"
    assert json.loads(first["tags"]) == {"aws:created_by": "IAMUser:fake:and"}
    assert [row["billed_cost"] for row in table.to_pylist()] == [Decimal(r["line_item_unblended_cost"]) for r in raw]
    extras = json.loads(first["extras"])
    assert extras["identity_line_item_id"] == "notreal"
    assert extras["line_item_line_item_type"] == "Usage"
    assert "resource_tags_aws_created_by" not in extras


# --------------------------------------------------------------------------- synthetic SP / RI CUR

SYNTHETIC_HEADER = [
    "identity/LineItemId",
    "bill/BillType",
    "bill/PayerAccountId",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/UsageAmount",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedCost",
    "lineItem/NetUnblendedCost",
    "product/ProductName",
    "product/instanceType",
    "product/regionCode",
    "pricing/publicOnDemandCost",
    "pricing/publicOnDemandRate",
    "pricing/term",
    "reservation/ReservationARN",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "resourceTags/user:team",
    "resourceTags/aws:createdBy",
]
SP = "arn:aws:savingsplans::111111111111:savingsplan/sp-1"
RI = "arn:aws:ec2:us-east-1:111111111111:reserved-instances/ri-1"
EC2 = "Amazon Elastic Compute Cloud"
BOX = "USE1-BoxUsage:m5.large"


class Expected(NamedTuple):
    billed: str
    effective: str
    list_cost: str | None
    category: str
    frequency: str
    pricing: str | None


def cur_line(line_type: str, unblended: str, **fields: str) -> dict[str, str]:
    """One synthetic CUR line: the line type and unblended cost, plus the columns it needs."""
    names = {
        "bill_type": "bill/BillType",
        "usage_type": "lineItem/UsageType",
        "amount": "lineItem/UsageAmount",
        "net": "lineItem/NetUnblendedCost",
        "on_demand": "pricing/publicOnDemandCost",
        "rate": "pricing/publicOnDemandRate",
        "term": "pricing/term",
        "ri": "reservation/ReservationARN",
        "ri_effective": "reservation/EffectiveCost",
        "ri_unused_upfront": "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
        "ri_unused_recurring": "reservation/UnusedRecurringFee",
        "sp": "savingsPlan/SavingsPlanARN",
        "sp_effective": "savingsPlan/SavingsPlanEffectiveCost",
        "sp_commitment": "savingsPlan/TotalCommitmentToDate",
        "sp_used": "savingsPlan/UsedCommitment",
        "team": "resourceTags/user:team",
    }
    line = dict.fromkeys(SYNTHETIC_HEADER, "")
    line.update({
        "bill/BillType": "Anniversary",
        "bill/PayerAccountId": "111111111111",
        "bill/BillingPeriodStartDate": "2024-05-01T00:00:00Z",
        "bill/BillingPeriodEndDate": "2024-06-01T00:00:00Z",
        "lineItem/UsageAccountId": "222222222222",
        "lineItem/LineItemType": line_type,
        "lineItem/UsageStartDate": "2024-05-03T10:00:00Z",
        "lineItem/UsageEndDate": "2024-05-03T11:00:00Z",
        "lineItem/ProductCode": "AmazonEC2",
        "lineItem/UsageAmount": "1",
        "lineItem/CurrencyCode": "USD",
        "lineItem/UnblendedCost": unblended,
        "product/ProductName": EC2,
        "product/regionCode": "us-east-1",
    })  # fmt: skip
    line.update({names[key]: value for key, value in fields.items()})
    if "m5" in line["lineItem/UsageType"]:
        line["product/instanceType"] = "m5.large"
    if line["resourceTags/user:team"]:
        line["resourceTags/aws:createdBy"] = "AssumedRole:bot"
    return line


SYNTHETIC: list[tuple[dict[str, str], Expected]] = [
    # 1 plain on-demand usage
    (
        cur_line("Usage", "0.96", usage_type=BOX, amount="10", on_demand="0.96", rate="0.096",
                 term="OnDemand", team="web"),
        Expected("0.96", "0.96", "0.96", "Usage", "Usage-Based", "Standard"),
    ),
    # 2 usage covered by a Savings Plan: amortised at the SP effective cost
    (
        cur_line("SavingsPlanCoveredUsage", "0.192", usage_type=BOX, amount="2", on_demand="0.192",
                 rate="0.096", term="OnDemand", sp=SP, sp_effective="0.12", team="web"),
        Expected("0.192", "0.12", "0.192", "Usage", "Usage-Based", "Committed"),
    ),
    # 3 its negation: billed -0.192, amortised 0
    (
        cur_line("SavingsPlanNegation", "-0.192", usage_type=BOX, amount="2", sp=SP),
        Expected("-0.192", "0", None, "Usage", "Usage-Based", None),
    ),
    # 4 SP recurring fee: only the unused commitment (0.15 - 0.12) is amortised cost
    (
        cur_line("SavingsPlanRecurringFee", "0.15", usage_type="ComputeSP:1yrNoUpfront", sp=SP,
                 sp_commitment="0.15", sp_used="0.12"),
        Expected("0.15", "0.03", None, "Purchase", "Recurring", None),
    ),
    # 5 RI-covered usage: billed 0, amortised at the RI effective cost
    (
        cur_line("DiscountedUsage", "0", usage_type=BOX, on_demand="0.096", rate="0.096", term="Reserved",
                 ri=RI, ri_effective="0.062", team="api"),
        Expected("0", "0.062", "0.096", "Usage", "Usage-Based", "Committed"),
    ),
    # 6 RI monthly fee: billed 45, amortised only its unused part 3.10 + 4.50 (the used part is in line 5)
    (
        cur_line("RIFee", "45.00", usage_type="HeavyUsage:m5.large", amount="720", term="Reserved", ri=RI,
                 ri_unused_upfront="3.10", ri_unused_recurring="4.50"),
        Expected("45.00", "7.60", None, "Purchase", "Recurring", "Committed"),
    ),
    # 7 RI upfront fee: billed 1000 once, amortised 0 (spread over the DiscountedUsage lines)
    (
        cur_line("Fee", "1000.00", bill_type="Purchase", usage_type="HeavyUsage:m5.large", ri=RI),
        Expected("1000.00", "0", None, "Purchase", "One-Time", None),
    ),
    # 8 a fee not tied to a reservation is cost as billed
    (
        cur_line("Fee", "12.00", usage_type="Domain-registration"),
        Expected("12.00", "12.00", None, "Purchase", "One-Time", None),
    ),
    # 9 tax
    (cur_line("Tax", "1.50"), Expected("1.50", "1.50", None, "Tax", "Recurring", None)),
    # 10 credit (negative: valid data)
    (cur_line("Credit", "-5.00"), Expected("-5.00", "-5.00", None, "Credit", "Recurring", None)),
    # 11 refund
    (
        cur_line("Refund", "-2.00", bill_type="Refund"),
        Expected("-2.00", "-2.00", None, "Adjustment", "One-Time", None),
    ),
    # 12 SP upfront fee: amortised 0
    (
        cur_line("SavingsPlanUpfrontFee", "500", bill_type="Purchase", usage_type="ComputeSP:1yrAllUpfront",
                 sp=SP),
        Expected("500", "0", None, "Purchase", "One-Time", None),
    ),
    # 13 private pricing: billed is the net cost, amortised stays the unblended cost (as the converter)
    (
        cur_line("Usage", "0.96", usage_type=BOX, amount="10", net="0.80", on_demand="0.96", rate="0.096",
                 term="OnDemand", team="web"),
        Expected("0.80", "0.96", "0.96", "Usage", "Usage-Based", "Standard"),
    ),
    # 14 spot usage
    (
        cur_line("Usage", "0.04", usage_type="USE1-SpotUsage:c5.xlarge"),
        Expected("0.04", "0.04", None, "Usage", "Usage-Based", "Dynamic"),
    ),
    # 15 no public on-demand cost: list cost = rate x amount
    (
        cur_line("Usage", "0.0348", usage_type="USE1-BoxUsage:t3.micro", amount="3", rate="0.0116",
                 term="OnDemand"),
        Expected("0.0348", "0.0348", "0.0348", "Usage", "Usage-Based", "Standard"),
    ),
]  # fmt: skip


def _synthetic_rows() -> list[list[str]]:
    rows = []
    for i, (line, _) in enumerate(SYNTHETIC, start=1):
        rows.append([f"line-{i}" if c == "identity/LineItemId" else line[c] for c in SYNTHETIC_HEADER])
    return rows


def test_synthetic_commitments_map_like_the_converter(tmp_path):
    path = write_csv(tmp_path / "sp_ri.csv", SYNTHETIC_HEADER, _synthetic_rows())
    table = read_all(path)
    rows = table.to_pylist()
    assert len(rows) == len(SYNTHETIC)
    for i, (row, (_, expected)) in enumerate(zip(rows, SYNTHETIC, strict=True), start=1):
        assert row["billed_cost"] == Decimal(expected.billed), i
        assert row["effective_cost"] == Decimal(expected.effective), i
        assert row["list_cost"] == (None if expected.list_cost is None else Decimal(expected.list_cost)), i
        got = (row["charge_category"], row["charge_frequency"], row["pricing_category"])
        assert got == (expected.category, expected.frequency, expected.pricing), i
    # Amortised total, by hand: 0.96 + 0.12 + 0 + 0.03 + 0.062 + 7.60 + 0 + 12 + 1.50 - 5 - 2 + 0 + 0.96
    # + 0.04 + 0.0348; the RI fee contributes only its unused 7.60, never the 45 or the 1000 upfront.
    assert sum(table["effective_cost"].to_pylist()) == Decimal("16.3068")
    assert sum(table["billed_cost"].to_pylist()) == Decimal("1553.4848")


def test_synthetic_commitment_columns_and_tags(tmp_path):
    path = write_csv(tmp_path / "sp_ri.csv", SYNTHETIC_HEADER, _synthetic_rows())
    rows = read_all(path).to_pylist()
    covered, negation, _, discounted, ri_fee = rows[1], rows[2], rows[3], rows[4], rows[5]
    assert (covered["commitment_discount_id"], covered["commitment_discount_type"]) == (SP, "Savings Plan")
    assert (covered["commitment_discount_category"], covered["commitment_discount_status"]) == (
        "Spend",
        "Used",
    )
    assert negation["commitment_discount_status"] is None
    assert (discounted["commitment_discount_id"], discounted["commitment_discount_type"]) == (
        RI,
        "Reserved Instances (RI)",
    )
    assert (discounted["commitment_discount_category"], discounted["commitment_discount_status"]) == (
        "Usage",
        "Used",
    )
    assert ri_fee["commitment_discount_id"] == RI
    assert rows[0]["commitment_discount_id"] is None
    assert json.loads(rows[0]["tags"]) == {"team": "web", "aws:createdBy": "AssumedRole:bot"}
    assert rows[8]["tags"] is None
    assert rows[0]["instance_type"] == "m5.large"
    assert rows[0]["service_category"] == "Compute"
    assert rows[0]["charge_period_start"] == datetime(2024, 5, 3, 10, tzinfo=UTC)
    extras = json.loads(rows[12]["extras"])
    # Net cost became BilledCost; the unblended cost it replaced is kept.
    assert extras["lineItem/UnblendedCost"] == "0.96"
    assert "lineItem/NetUnblendedCost" not in extras
    assert extras["lineItem/LineItemType"] == "Usage"


def test_unknown_line_item_type_is_refused(tmp_path):
    rows = _synthetic_rows()
    rows[6][SYNTHETIC_HEADER.index("lineItem/LineItemType")] = "MysteryFee"
    path = write_csv(tmp_path / "bad_type.csv", SYNTHETIC_HEADER, rows)
    with pytest.raises(IngestError) as caught:
        read_all(path)
    assert (caught.value.row, caught.value.column) == (7, "lineItem/LineItemType")
    assert "'MysteryFee'" in str(caught.value)
    assert "bad_type.csv" in str(caught.value)


# ------------------------------------------------------------------------------ CUR 2.0 Parquet


def test_cur2_parquet_with_map_columns(tmp_path):
    t = datetime(2024, 5, 3, 10, tzinfo=UTC)
    string_map = pa.map_(pa.string(), pa.string())
    ms = pa.timestamp("ms", tz="UTC")
    table = pa.table({
        "bill_payer_account_id": ["111111111111", "111111111111", "111111111111"],
        "bill_payer_account_name": ["Payer", "Payer", "Payer"],
        "bill_billing_period_start_date": pa.array([datetime(2024, 5, 1, tzinfo=UTC)] * 3, ms),
        "bill_billing_period_end_date": pa.array([datetime(2024, 6, 1, tzinfo=UTC)] * 3, ms),
        "line_item_usage_account_id": ["222222222222"] * 3,
        "line_item_usage_account_name": ["Workloads"] * 3,
        "line_item_line_item_type": ["Usage", "SavingsPlanCoveredUsage", "Tax"],
        "line_item_usage_start_date": pa.array([t] * 3, ms),
        "line_item_usage_end_date": pa.array([t.replace(hour=11)] * 3, ms),
        "line_item_product_code": ["AmazonEC2", "AmazonEC2", "AmazonS3"],
        "line_item_usage_type": ["BoxUsage:m5.large", "BoxUsage:m5.large", ""],
        "line_item_usage_amount": pa.array([1.0, 2.0, 1.0]),
        "line_item_currency_code": ["USD"] * 3,
        "line_item_unblended_cost": pa.array([0.096, 0.192, 0.1]),
        "line_item_net_unblended_cost": pa.array([None, None, None], pa.float64()),
        "pricing_public_on_demand_cost": pa.array([0.096, 0.192, None]),
        "pricing_term": ["OnDemand", "OnDemand", ""],
        "product": pa.array(
            [
                [("product_name", EC2), ("region", "us-east-1"), ("vcpu", "2")],
                [("product_name", EC2), ("region", "us-east-1")],
                [("product_name", "Amazon Simple Storage Service")],
            ],
            string_map,
        ),
        "product_instance_type": ["m5.large", "m5.large", None],
        "product_region_code": [None, "us-east-1", None],
        "resource_tags": pa.array(
            [[("user_team", "web"), ("aws_created_by", "bot"), ("user_empty", "")], [], None], string_map
        ),
        "savings_plan_savings_plan_a_r_n": [None, SP, None],
        "savings_plan_savings_plan_effective_cost": pa.array([None, 0.12, None]),
        "cost_category": pa.array([[("env", "prod")], None, None], string_map),
    })  # fmt: skip
    path = tmp_path / "cur2.parquet"
    pq.write_table(table, path)
    assert detect_format(path) == "aws-cur"
    rows = read_all(path).to_pylist()
    first, covered, tax = rows
    assert first["service_name"] == EC2  # from the product map
    assert first["region_id"] == "us-east-1"  # product_region_code null: the map's region
    assert first["billing_account_name"] == "Payer"
    assert first["sub_account_name"] == "Workloads"
    assert first["billed_cost"] == Decimal("0.096")  # a double's shortest text, not its binary expansion
    assert first["instance_type"] == "m5.large"
    assert json.loads(first["tags"]) == {"team": "web", "aws:created_by": "bot"}
    assert covered["tags"] is None and tax["tags"] is None
    assert covered["effective_cost"] == Decimal("0.12")
    assert covered["commitment_discount_category"] == "Spend"
    assert tax["service_category"] == "Storage"
    assert tax["list_cost"] is None
    extras = json.loads(first["extras"])
    assert json.loads(extras["product"]) == {"product_name": EC2, "region": "us-east-1", "vcpu": "2"}
    assert json.loads(extras["cost_category"]) == {"env": "prod"}
    assert "resource_tags" not in extras


def test_cur2_csv_with_json_map_columns(tmp_path):
    """CUR 2.0 exported as CSV carries its map columns as JSON text."""
    header = [
        "bill_payer_account_id",
        "bill_billing_period_start_date",
        "bill_billing_period_end_date",
        "line_item_line_item_type",
        "line_item_usage_start_date",
        "line_item_usage_end_date",
        "line_item_product_code",
        "line_item_currency_code",
        "line_item_unblended_cost",
        "product",
        "resource_tags",
    ]
    product = json.dumps({"product_name": "Amazon Simple Storage Service", "region": "eu-west-1"})
    tags = json.dumps({"user:team": "data", "user_env": "prod", "aws:createdBy": "root", "user:blank": ""})
    periods = ["2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"]
    charge = ["2024-05-02T00:00:00Z", "2024-05-02T01:00:00Z"]
    rows = [
        ["111", *periods, "Usage", *charge, "AmazonS3", "EUR", "1.5", product, tags],
        ["111", *periods, "Usage", *charge, "AmazonS3", "EUR", "2", "", ""],
    ]
    path = write_csv(tmp_path / "cur2.csv", header, rows)
    first, second = read_all(path).to_pylist()
    assert first["service_name"] == "Amazon Simple Storage Service"
    assert first["region_id"] == "eu-west-1"
    assert first["billing_currency"] == "EUR"
    assert json.loads(first["tags"]) == {"team": "data", "env": "prod", "aws:createdBy": "root"}
    assert second["service_name"] == "AmazonS3"  # no product attributes: the product code
    assert second["tags"] is None
    assert json.loads(json.loads(first["extras"])["product"]) == json.loads(product)
