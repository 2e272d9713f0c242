"""AWS Price List bulk offer CSV: the real Comprehend file from the shared data, and an EC2 file in the
real EC2 layout written here (no real EC2 bulk CSV fits in the shared data)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from price_helpers import COMPREHEND, collect, gzipped, needs_shared_data, raw_csv, truncated, write_offer_csv

from pricing.importers import PriceImportError, read_catalog

UTC = dt.UTC

# The EC2 offer CSV layout: term columns, then product attributes (a subset of the ~90 real columns).
EC2_HEADER = [
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "EffectiveDate",
    "StartingRange",
    "EndingRange",
    "Unit",
    "PricePerUnit",
    "Currency",
    "RelatedTo",
    "LeaseContractLength",
    "PurchaseOption",
    "OfferingClass",
    "Product Family",
    "serviceCode",
    "Location",
    "Location Type",
    "Instance Type",
    "Current Generation",
    "Instance Family",
    "vCPU",
    "Physical Processor",
    "Memory",
    "Storage",
    "Network Performance",
    "Processor Architecture",
    "Tenancy",
    "Operating System",
    "License Model",
    "usageType",
    "operation",
    "CapacityStatus",
    "GPU",
    "Normalization Size Factor",
    "Pre Installed S/W",
    "Region Code",
    "serviceName",
]
# Illustrative SKU codes; m5.large Linux us-east-1 on-demand 0.096 USD/h is the published price (libcloud's
# table has the same value); the reserved prices below are made up for the test.
M5 = "TESTSKUM5LARGE01"
R5 = "TESTSKUR5XLARGE1"
PRODUCT_M5 = {
    "Product Family": "Compute Instance",
    "serviceCode": "AmazonEC2",
    "Location": "US East (N. Virginia)",
    "Location Type": "AWS Region",
    "Instance Type": "m5.large",
    "Current Generation": "Yes",
    "Instance Family": "General purpose",
    "vCPU": "2",
    "Physical Processor": "Intel Xeon Platinum 8175 (Skylake)",
    "Memory": "8 GiB",
    "Storage": "EBS only",
    "Network Performance": "Up to 10 Gigabit",
    "Processor Architecture": "64-bit",
    "Tenancy": "Shared",
    "Operating System": "Linux",
    "License Model": "No License required",
    "usageType": "BoxUsage:m5.large",
    "operation": "RunInstances",
    "CapacityStatus": "Used",
    "GPU": "NA",
    "Normalization Size Factor": "4",
    "Pre Installed S/W": "NA",
    "Region Code": "us-east-1",
    "serviceName": "Amazon Elastic Compute Cloud",
}
PRODUCT_R5 = {
    **PRODUCT_M5,
    "Instance Type": "r5.xlarge",
    "Instance Family": "Memory optimized",
    "vCPU": "4",
    "Memory": "32 GiB",
    "Tenancy": "Dedicated",
    "Operating System": "Windows",
    "usageType": "DedicatedUsage:r5.xlarge",
    "operation": "RunInstances:0002",
    "Normalization Size Factor": "8",
}


def on_demand(sku: str, product: dict, price: str) -> dict:
    return {
        "SKU": sku,
        "OfferTermCode": "JRTCKXETXF",
        "RateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
        "TermType": "OnDemand",
        "PriceDescription": f"${price} per On Demand Instance Hour",
        "EffectiveDate": "2025-12-01",
        "StartingRange": "0",
        "EndingRange": "Inf",
        "Unit": "Hrs",
        "PricePerUnit": price,
        "Currency": "USD",
        **product,
    }


def reserved(sku: str, product: dict, code: str, unit: str, price: str, lease: str, option: str, klass: str) -> dict:
    return {
        "SKU": sku,
        "OfferTermCode": code,
        "RateCode": f"{sku}.{code}.{'2TG2D8R56U' if unit == 'Quantity' else '6YS6EN2CT7'}",
        "TermType": "Reserved",
        "PriceDescription": "Upfront Fee" if unit == "Quantity" else f"USD {price} per hour",
        "EffectiveDate": "2025-12-01",
        "Unit": unit,
        "PricePerUnit": price,
        "Currency": "USD",
        "LeaseContractLength": lease,
        "PurchaseOption": option,
        "OfferingClass": klass,
        **product,
    }


def ec2_rows() -> list[dict]:
    """12 rows: m5.large on-demand + 4 reserved offers (7 rows), r5.xlarge on-demand + 2 offers (3 rows)."""
    return [
        on_demand(M5, PRODUCT_M5, "0.0960000000"),
        # Partial Upfront: the upfront row first, then the hourly row.
        reserved(M5, PRODUCT_M5, "HU7G6KETJZ", "Quantity", "252", "1yr", "Partial Upfront", "standard"),
        reserved(M5, PRODUCT_M5, "HU7G6KETJZ", "Hrs", "0.0290000000", "1yr", "Partial Upfront", "standard"),
        # All Upfront: the hourly row (0) first, then the upfront row.
        reserved(M5, PRODUCT_M5, "6QCMYABX3D", "Hrs", "0.0000000000", "1yr", "All Upfront", "standard"),
        reserved(M5, PRODUCT_M5, "6QCMYABX3D", "Quantity", "494", "1yr", "All Upfront", "standard"),
        # No Upfront: one row.
        reserved(M5, PRODUCT_M5, "4NA7Y494T4", "Hrs", "0.0600000000", "1yr", "No Upfront", "standard"),
        # 3 years convertible, Partial Upfront.
        reserved(M5, PRODUCT_M5, "R5XV2EPZQZ", "Quantity", "628", "3yr", "Partial Upfront", "convertible"),
        reserved(M5, PRODUCT_M5, "R5XV2EPZQZ", "Hrs", "0.0240000000", "3yr", "Partial Upfront", "convertible"),
        on_demand(R5, PRODUCT_R5, "0.4680000000"),
        reserved(R5, PRODUCT_R5, "NQ3QZPMQV9", "Quantity", "5640", "3yr", "All Upfront", "standard"),
        reserved(R5, PRODUCT_R5, "NQ3QZPMQV9", "Hrs", "0.0000000000", "3yr", "All Upfront", "standard"),
        reserved(R5, PRODUCT_R5, "Z2E3P23VKM", "Hrs", "0.2570000000", "3yr", "No Upfront", "convertible"),
    ]


# (sku, offer term code) -> (lease, option, class, upfront, hourly, source row, rate code): from ec2_rows() above.
EXPECTED_RESERVED = {
    (M5, "HU7G6KETJZ"): (1, "partial_upfront", "standard", "252", "0.029", 3, f"{M5}.HU7G6KETJZ.6YS6EN2CT7"),
    (M5, "6QCMYABX3D"): (1, "all_upfront", "standard", "494", "0", 4, f"{M5}.6QCMYABX3D.6YS6EN2CT7"),
    (M5, "4NA7Y494T4"): (1, "no_upfront", "standard", "0", "0.06", 6, f"{M5}.4NA7Y494T4.6YS6EN2CT7"),
    (M5, "R5XV2EPZQZ"): (3, "partial_upfront", "convertible", "628", "0.024", 8, f"{M5}.R5XV2EPZQZ.6YS6EN2CT7"),
    (R5, "NQ3QZPMQV9"): (3, "all_upfront", "standard", "5640", "0", 11, f"{R5}.NQ3QZPMQV9.6YS6EN2CT7"),
    (R5, "Z2E3P23VKM"): (3, "no_upfront", "convertible", "0", "0.257", 12, f"{R5}.Z2E3P23VKM.6YS6EN2CT7"),
}


@pytest.fixture
def ec2_csv(tmp_path: Path) -> Path:
    return write_offer_csv(tmp_path / "ec2.csv", EC2_HEADER, ec2_rows())


# -------------------------------------------------------------------------------------- real Comprehend file


@needs_shared_data
def test_comprehend_meta_comes_from_the_preamble() -> None:
    meta, _ = read_catalog(COMPREHEND)
    assert meta.format == "aws-offer-csv"
    assert meta.provider == "aws"
    assert meta.source == "comprehend"  # "OfferCode","comprehend"
    assert meta.publication_date == dt.datetime(2026, 1, 16, 16, 2, 58, tzinfo=UTC)  # "2026-01-16T16:02:58Z"
    assert meta.version == "20260116160258"


@needs_shared_data
def test_comprehend_tiered_prices_read_back_as_published() -> None:
    catalog = collect(COMPREHEND)
    tiers = [p for p in catalog.price_rows() if p["sku_key"] == "aws:3AXMQWKDDFYP7NT5"]
    # "3AXMQWKDDFYP7NT5","JRTCKXETXF","3AXMQWKDDFYP7NT5.JRTCKXETXF.HWDSBTNJX9","OnDemand",...,"2025-04-01","0",
    # "10000000","Unit","0.0001000000","USD"; then 0.0000500000 (10M-50M), 0.0000250000 (50M-100M),
    # 0.0000050000 (100M-Inf)
    assert [(p["tier_start"], p["tier_end"], p["hourly"]) for p in tiers] == [
        (Decimal("0"), Decimal("10000000"), Decimal("0.0001")),
        (Decimal("10000000"), Decimal("50000000"), Decimal("0.00005")),
        (Decimal("50000000"), Decimal("100000000"), Decimal("0.000025")),
        (Decimal("100000000"), None, Decimal("0.000005")),
    ]
    first = tiers[0]
    assert first["term"] == "on_demand"
    assert first["unit"] == "Unit"
    assert first["currency"] == "USD"
    assert first["upfront"] == 0
    assert first["rate_code"] == "3AXMQWKDDFYP7NT5.JRTCKXETXF.HWDSBTNJX9"
    assert first["description"] == "USD1.0E-4 per Unit for DetectPiiEntities:DetectPiiEntities in Asia Pacific (Mumbai)"
    assert first["effective_from"] == dt.datetime(2025, 4, 1, tzinfo=UTC)
    assert first["derived"] is False
    assert first["source_row"] == 1


@needs_shared_data
def test_comprehend_every_row_is_one_price_exactly_as_published() -> None:
    header, rows = raw_csv(COMPREHEND)
    catalog = collect(COMPREHEND)
    prices = catalog.price_rows()
    assert catalog.rows == len(rows) == len(prices) == 40
    col = {name: i for i, name in enumerate(header)}
    for price, row in zip(prices, rows, strict=True):
        assert price["sku_key"] == "aws:" + row[col["SKU"]]
        assert price["hourly"] == Decimal(row[col["PricePerUnit"]])
        assert price["rate_code"] == row[col["RateCode"]]
        assert price["unit"] == row[col["Unit"]]


@needs_shared_data
def test_comprehend_one_sku_per_product_with_every_attribute() -> None:
    header, rows = raw_csv(COMPREHEND)
    catalog = collect(COMPREHEND)
    col = {name: i for i, name in enumerate(header)}
    first_rows = {}
    for row in rows:
        first_rows.setdefault(row[col["SKU"]], row)
    assert catalog.skus.num_rows == len(first_rows) == 20
    term_columns = header[: header.index("Product Family")]
    for code, row in first_rows.items():
        sku = catalog.sku(f"aws:{code}")
        assert sku["provider"] == "aws"
        assert sku["sku_code"] == code
        assert sku["service"] == row[col["serviceCode"]] == "comprehend"
        assert sku["product_family"] == row[col["Product Family"]]
        assert sku["region"] == row[col["Region Code"]] == "ap-south-1"
        assert sku["instance_type"] == row[col["usageType"]]  # no instance type: the meter (usage type)
        # Nothing lost: every product column not copied into its own SKU column is in attributes, as published.
        attributes = json.loads(sku["attributes"])
        expected = {
            name: row[col[name]]
            for name in header
            if name not in term_columns
            and name not in ("SKU", "serviceCode", "Product Family", "Region Code")
            and row[col[name]] != ""
        }
        assert attributes == expected
    assert json.loads(catalog.sku("aws:3AXMQWKDDFYP7NT5")["attributes"])["Location"] == "Asia Pacific (Mumbai)"


@needs_shared_data
def test_comprehend_gzip_reads_the_same(tmp_path: Path) -> None:
    plain = collect(COMPREHEND)
    packed = collect(gzipped(COMPREHEND, tmp_path / "comprehend.csv.gz"))
    assert packed.prices.equals(plain.prices)
    assert packed.skus.equals(plain.skus)


@needs_shared_data
def test_reading_a_file_twice_yields_the_same_rows() -> None:
    first, second = collect(COMPREHEND), collect(COMPREHEND)
    assert first.prices.equals(second.prices)
    assert first.skus.equals(second.skus)


# ------------------------------------------------------------------------------------ EC2 reserved offers


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 4, 5, 7, 100_000])
def test_reserved_rows_combine_into_one_price_with_upfront_and_hourly(ec2_csv: Path, batch_rows: int) -> None:
    catalog = collect(ec2_csv, batch_rows=batch_rows)
    assert catalog.rows == 12
    prices = catalog.price_rows()
    reserved_prices = [p for p in prices if p["term"] == "reserved"]
    assert len(reserved_prices) == len(EXPECTED_RESERVED)  # 9 reserved rows -> 6 offers
    by_offer = {(p["sku_key"][4:], p["rate_code"].split(".")[1]): p for p in reserved_prices}
    for key, (lease, option, klass, upfront, hourly, row, rate) in EXPECTED_RESERVED.items():
        price = by_offer[key]
        assert price["lease_years"] == lease
        assert price["purchase_option"] == option
        assert price["offering_class"] == klass
        assert price["upfront"] == Decimal(upfront)
        assert price["hourly"] == Decimal(hourly)
        assert price["unit"] == "Hrs"
        assert price["source_row"] == row
        assert price["rate_code"] == rate
        assert price["currency"] == "USD"
        assert price["effective_from"] == dt.datetime(2025, 12, 1, tzinfo=UTC)
    on_demand_prices = [p for p in prices if p["term"] == "on_demand"]
    assert [(p["sku_key"], p["hourly"], p["source_row"]) for p in on_demand_prices] == [
        (f"aws:{M5}", Decimal("0.096"), 1),
        (f"aws:{R5}", Decimal("0.468"), 9),
    ]
    assert catalog.skus.num_rows == 2


def test_ec2_skus_carry_compute_specs(ec2_csv: Path) -> None:
    catalog = collect(ec2_csv)
    m5 = catalog.sku(f"aws:{M5}")
    assert m5["instance_type"] == "m5.large"
    assert m5["operating_system"] == "linux"  # "Linux"
    assert m5["tenancy"] == "shared"  # "Shared"
    assert m5["license_model"] == "No License required"
    assert m5["pre_installed_sw"] is None  # "NA"
    assert m5["vcpu"] == 2
    assert m5["memory_gib"] == Decimal("8")  # "8 GiB"
    assert m5["architecture"] == "x86_64"
    assert m5["gpu"] == 0  # the file says "NA"; the shipped specs say 0
    assert m5["instance_family"] == "m5"
    assert m5["normalization_factor"] == Decimal("4")
    r5 = catalog.sku(f"aws:{R5}")
    assert (r5["operating_system"], r5["tenancy"], r5["vcpu"], r5["memory_gib"]) == ("windows", "dedicated", 4, 32)
    assert r5["normalization_factor"] == Decimal("8")
    assert json.loads(m5["attributes"])["Operating System"] == "Linux"  # the published text is kept too


def test_an_ec2_file_without_spec_columns_gets_them_from_the_shipped_specs(tmp_path: Path) -> None:
    header = [n for n in EC2_HEADER if n not in ("vCPU", "Memory", "GPU", "Normalization Size Factor")]
    path = write_offer_csv(tmp_path / "ec2.csv", header, [on_demand(M5, PRODUCT_M5, "0.0960000000")])
    m5 = collect(path).sku(f"aws:{M5}")
    assert (m5["vcpu"], m5["memory_gib"], m5["gpu"], m5["normalization_factor"]) == (2, 8, 0, 4)


def test_a_zero_price_in_an_aws_file_is_a_real_free_price(tmp_path: Path) -> None:
    path = write_offer_csv(tmp_path / "free.csv", EC2_HEADER, [on_demand(M5, PRODUCT_M5, "0.0000000000")])
    prices = collect(path).price_rows()
    assert [p["hourly"] for p in prices] == [Decimal(0)]


# ------------------------------------------------------------------------------------------------ bad input


def error_of(path: Path, batch_rows: int = 100_000) -> PriceImportError:
    """The error reading ``path`` raises, checking no batch was handed out before it."""
    handed_out = []
    with pytest.raises(PriceImportError) as caught:
        _, batches = read_catalog(path, batch_rows=batch_rows)
        for batch in batches:
            handed_out.append(batch)
    assert handed_out == []
    return caught.value


def test_missing_preamble(tmp_path: Path) -> None:
    path = write_offer_csv(tmp_path / "no-preamble.csv", EC2_HEADER, ec2_rows(), preamble="")
    err = error_of(path)
    assert "expected the 5-line AWS Price List preamble" in err.message
    assert err.field == "FormatVersion"
    assert str(err).startswith(f"file {path}, field FormatVersion: expected the 5-line AWS Price List preamble")


def test_wrong_preamble_line(tmp_path: Path) -> None:
    preamble = '"FormatVersion","v1.0"\n"Disclaimer","x"\n"Published","2025-12-01"\n"Version","1"\n"OfferCode","X"\n'
    path = write_offer_csv(tmp_path / "bad-preamble.csv", EC2_HEADER, ec2_rows(), preamble=preamble)
    err = error_of(path)
    assert err.field == "Publication Date"
    assert "line 3 should start with 'Publication Date'" in err.message


def test_unknown_term_type(tmp_path: Path) -> None:
    rows = ec2_rows()
    rows[3]["TermType"] = "Spot"
    err = error_of(write_offer_csv(tmp_path / "term.csv", EC2_HEADER, rows))
    assert (err.row, err.field) == (4, "TermType")
    assert "unknown TermType 'Spot'" in err.message
    assert "(line 10 of the file)" in err.message  # 5 preamble lines + header + data row 4
    assert str(err) == f"file {err.file}, row 4, field TermType: {err.message}"


@pytest.mark.parametrize("bad", ["0.09x6", "USD 1", "", "1,000.00"])
def test_non_numeric_price(tmp_path: Path, bad: str) -> None:
    rows = ec2_rows()
    rows[1]["PricePerUnit"] = bad
    err = error_of(write_offer_csv(tmp_path / "price.csv", EC2_HEADER, rows))
    assert (err.row, err.field) == (2, "PricePerUnit")


def test_empty_sku(tmp_path: Path) -> None:
    rows = ec2_rows()
    rows[5]["SKU"] = ""
    err = error_of(write_offer_csv(tmp_path / "sku.csv", EC2_HEADER, rows))
    assert (err.row, err.field, err.message.split(" (")[0]) == (6, "SKU", "empty SKU")


def test_header_without_a_price_column(tmp_path: Path) -> None:
    header = [n for n in EC2_HEADER if n != "PricePerUnit"]
    err = error_of(write_offer_csv(tmp_path / "no-price.csv", header, ec2_rows()))
    assert err.field == "PricePerUnit"
    assert "lacks the column(s) PricePerUnit" in err.message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    err = error_of(path)
    assert err.message == "empty file (0 bytes)"
    assert err.file == str(path)


def test_truncated_gzip(tmp_path: Path, ec2_csv: Path) -> None:
    big = write_offer_csv(tmp_path / "big.csv", EC2_HEADER, ec2_rows() * 400)
    with pytest.raises(PriceImportError, match="truncated or corrupt gzip file") as caught:
        collect(truncated(big, tmp_path / "big.csv.gz"), fmt="aws-offer-csv")
    assert caught.value.file == str(tmp_path / "big.csv.gz")


def test_a_row_with_the_wrong_number_of_fields(tmp_path: Path, ec2_csv: Path) -> None:
    text = ec2_csv.read_text().splitlines()
    text[6 + 2] += ',"extra"'  # data row 3
    path = tmp_path / "fields.csv"
    path.write_text("\n".join(text) + "\n")
    err = error_of(path)
    assert err.row == 3
    assert f"expected {len(EC2_HEADER)} fields, found {len(EC2_HEADER) + 1}" in err.message


def test_bad_effective_date(tmp_path: Path) -> None:
    rows = ec2_rows()
    rows[7]["EffectiveDate"] = "01/12/2025"
    err = error_of(write_offer_csv(tmp_path / "date.csv", EC2_HEADER, rows))
    assert (err.row, err.field) == (8, "EffectiveDate")


def test_unreadable_lease(tmp_path: Path) -> None:
    rows = ec2_rows()
    rows[5]["LeaseContractLength"] = "forever"
    err = error_of(write_offer_csv(tmp_path / "lease.csv", EC2_HEADER, rows))
    assert (err.row, err.field) == (6, "LeaseContractLength")


def test_two_upfront_rows_for_one_offer(tmp_path: Path) -> None:
    rows = ec2_rows()
    rows.insert(2, dict(rows[1]))  # a second "Quantity" row of HU7G6KETJZ
    err = error_of(write_offer_csv(tmp_path / "double.csv", EC2_HEADER, rows))
    assert (err.row, err.field) == (3, "Unit")
    assert f"reserved offer {M5}.HU7G6KETJZ has more than one upfront (Unit Quantity) price row" in err.message


def test_the_rows_of_an_offer_far_apart_are_refused_not_half_priced(tmp_path: Path) -> None:
    rows = ec2_rows()
    rows.append(rows.pop(1))  # the upfront row of HU7G6KETJZ moved to the end of the file
    path = write_offer_csv(tmp_path / "split.csv", EC2_HEADER, rows)
    assert collect(path, batch_rows=100_000).price_rows()  # within one batch: still combined correctly
    with pytest.raises(PriceImportError, match="not consecutive") as caught:
        collect(path, batch_rows=4)
    assert caught.value.row == 12
    assert caught.value.field == "OfferTermCode"


def test_product_text_that_is_not_utf8(tmp_path: Path, ec2_csv: Path) -> None:
    data = ec2_csv.read_bytes().replace(b"Amazon Elastic Compute Cloud", b"Amazon Elastic Compute Cl\xffud", 1)
    path = tmp_path / "latin1.csv"
    path.write_bytes(data)
    err = error_of(path)
    assert (err.row, err.field) == (1, "serviceName")
    assert "not UTF-8" in err.message
