"""AWS Price List bulk offer JSON (products + terms.OnDemand / terms.Reserved). No real EC2 offer JSON is
small enough for the shared data, so the file is written here in the real bulk layout
(offers/v1.0/aws/AmazonEC2/<version>/<region>/index.json): the SKU codes and the reserved prices are
illustrative; m5.large Linux us-east-1 on-demand 0.096 USD/h is the published price."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from price_helpers import collect, truncated

from pricing.importers import PriceImportError, read_catalog
from pricing.importers.files import InputFile
from pricing.importers.jsonstream import JsonStream

UTC = dt.UTC
SKU = "TESTJSONM5LARGE1"
ON_DEMAND = "JRTCKXETXF"
HOURLY_RATE = "6YS6EN2CT7"
UPFRONT_RATE = "2TG2D8R56U"


def dimension(sku: str, offer: str, rate: str, unit: str, price: str, description: str) -> dict:
    code = f"{sku}.{offer}.{rate}"
    return {
        code: {
            "rateCode": code,
            "description": description,
            "beginRange": "0",
            "endRange": "Inf",
            "unit": unit,
            "pricePerUnit": {"USD": price},
            "appliesTo": [],
        }
    }


def reserved_term(sku: str, offer: str, lease: str, klass: str, option: str, dimensions: dict) -> dict:
    return {
        f"{sku}.{offer}": {
            "offerTermCode": offer,
            "sku": sku,
            "effectiveDate": "2025-12-01T00:00:00Z",
            "priceDimensions": dimensions,
            "termAttributes": {"LeaseContractLength": lease, "OfferingClass": klass, "PurchaseOption": option},
        }
    }


def offer_document() -> dict:
    attributes = {
        "servicecode": "AmazonEC2",
        "location": "US East (N. Virginia)",
        "locationType": "AWS Region",
        "instanceType": "m5.large",
        "currentGeneration": "Yes",
        "instanceFamily": "General purpose",
        "vcpu": "2",
        "physicalProcessor": "Intel Xeon Platinum 8175",
        "clockSpeed": "3.1 GHz",
        "memory": "8 GiB",
        "storage": "EBS only",
        "networkPerformance": "Up to 10 Gigabit",
        "processorArchitecture": "64-bit",
        "tenancy": "Shared",
        "operatingSystem": "Linux",
        "licenseModel": "No License required",
        "usagetype": "BoxUsage:m5.large",
        "operation": "RunInstances",
        "capacitystatus": "Used",
        "normalizationSizeFactor": "4",
        "preInstalledSw": "NA",
        "regionCode": "us-east-1",
        "servicename": "Amazon Elastic Compute Cloud",
    }
    partial = {
        **dimension(SKU, "HU7G6KETJZ", UPFRONT_RATE, "Quantity", "252", "Upfront Fee"),
        **dimension(SKU, "HU7G6KETJZ", HOURLY_RATE, "Hrs", "0.0290000000", "Linux/UNIX (Amazon VPC), m5.large"),
    }
    all_upfront = {
        **dimension(SKU, "6QCMYABX3D", HOURLY_RATE, "Hrs", "0.0000000000", "USD 0.0 per Linux/UNIX, m5.large"),
        **dimension(SKU, "6QCMYABX3D", UPFRONT_RATE, "Quantity", "494", "Upfront Fee"),
    }
    no_upfront = dimension(SKU, "BPH4J8HBKS", HOURLY_RATE, "Hrs", "0.0410000000", "Linux/UNIX, m5.large 3yr")
    return {
        "formatVersion": "v1.0",
        "disclaimer": "This pricing list is for informational purposes only.",
        "offerCode": "AmazonEC2",
        "version": "20251201100000",
        "publicationDate": "2025-12-01T10:00:00Z",
        "products": {SKU: {"sku": SKU, "productFamily": "Compute Instance", "attributes": attributes}},
        "terms": {
            "OnDemand": {
                SKU: {
                    f"{SKU}.{ON_DEMAND}": {
                        "offerTermCode": ON_DEMAND,
                        "sku": SKU,
                        "effectiveDate": "2025-12-01T00:00:00Z",
                        "priceDimensions": dimension(
                            SKU, ON_DEMAND, HOURLY_RATE, "Hrs", "0.0960000000", "$0.096 per On Demand Linux m5.large"
                        ),
                        "termAttributes": {},
                    }
                }
            },
            "Reserved": {
                SKU: {
                    **reserved_term(SKU, "HU7G6KETJZ", "1yr", "standard", "Partial Upfront", partial),
                    **reserved_term(SKU, "6QCMYABX3D", "1yr", "convertible", "All Upfront", all_upfront),
                    **reserved_term(SKU, "BPH4J8HBKS", "3yr", "standard", "No Upfront", no_upfront),
                }
            },
        },
    }


def write_json(path: Path, document: dict, indent: int | None = 2) -> Path:
    path.write_text(json.dumps(document, indent=indent))
    return path


@pytest.fixture
def offer_json(tmp_path: Path) -> Path:
    return write_json(tmp_path / "index.json", offer_document())


def test_meta(offer_json: Path) -> None:
    meta, _ = read_catalog(offer_json)
    assert (meta.format, meta.provider, meta.source, meta.version) == (
        "aws-offer-json",
        "aws",
        "AmazonEC2",
        "20251201100000",
    )
    assert meta.publication_date == dt.datetime(2025, 12, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("batch_rows", [1, 2, 100_000])
def test_reserved_upfront_and_hourly_combine_into_one_price(offer_json: Path, batch_rows: int) -> None:
    catalog = collect(offer_json, batch_rows=batch_rows)
    # Records in file order: product (row 1), on-demand dimension (2), partial upfront Quantity (3) and Hrs (4),
    # all upfront Hrs (5) and Quantity (6), no upfront Hrs (7).
    assert catalog.rows == 7
    prices = {(p["term"], p["lease_years"], p["purchase_option"]): p for p in catalog.price_rows()}
    assert len(prices) == 4
    od = prices[("on_demand", None, None)]
    assert (od["hourly"], od["upfront"], od["unit"], od["source_row"]) == (Decimal("0.096"), 0, "Hrs", 2)
    assert (od["tier_start"], od["tier_end"]) == (Decimal(0), None)
    assert od["rate_code"] == f"{SKU}.{ON_DEMAND}.{HOURLY_RATE}"
    partial = prices[("reserved", 1, "partial_upfront")]
    assert (partial["upfront"], partial["hourly"], partial["offering_class"]) == (
        Decimal(252),
        Decimal("0.029"),
        "standard",
    )
    assert (partial["unit"], partial["source_row"]) == ("Hrs", 4)
    assert partial["rate_code"] == f"{SKU}.HU7G6KETJZ.{HOURLY_RATE}"
    assert partial["description"] == "Linux/UNIX (Amazon VPC), m5.large"
    assert partial["effective_from"] == dt.datetime(2025, 12, 1, tzinfo=UTC)
    everything = prices[("reserved", 1, "all_upfront")]
    assert (everything["upfront"], everything["hourly"], everything["offering_class"]) == (494, 0, "convertible")
    assert everything["source_row"] == 5
    nothing = prices[("reserved", 3, "no_upfront")]
    assert (nothing["upfront"], nothing["hourly"], nothing["source_row"]) == (0, Decimal("0.041"), 7)
    assert all(p["sku_key"] == f"aws:{SKU}" and p["currency"] == "USD" for p in prices.values())


def test_product_becomes_one_sku_with_specs_and_attributes(offer_json: Path) -> None:
    sku = collect(offer_json).sku(f"aws:{SKU}")
    assert (sku["service"], sku["product_family"], sku["region"], sku["instance_type"]) == (
        "AmazonEC2",
        "Compute Instance",
        "us-east-1",
        "m5.large",
    )
    assert (sku["operating_system"], sku["tenancy"], sku["license_model"], sku["pre_installed_sw"]) == (
        "linux",
        "shared",
        "No License required",
        None,
    )
    assert (sku["vcpu"], sku["memory_gib"], sku["architecture"], sku["gpu"]) == (2, 8, "x86_64", 0)
    assert (sku["instance_family"], sku["normalization_factor"]) == ("m5", 4)
    attributes = json.loads(sku["attributes"])
    assert attributes["location"] == "US East (N. Virginia)"
    assert attributes["operatingSystem"] == "Linux"
    expected_keys = set(offer_document()["products"][SKU]["attributes"]) - {"servicecode", "regionCode", "instanceType"}
    assert set(attributes) == expected_keys


def test_gzip_and_compact_json_read_the_same(tmp_path: Path, offer_json: Path) -> None:
    plain = collect(offer_json)
    compact = collect(write_json(tmp_path / "compact.json", offer_document(), indent=None))
    packed = tmp_path / "index.json.gz"
    packed.write_bytes(gzip.compress(offer_json.read_bytes()))
    for other in (compact, collect(packed)):
        assert other.prices.equals(plain.prices)
        assert other.skus.equals(plain.skus)


# ------------------------------------------------------------------------------------------------ bad input


def error_of(path: Path) -> PriceImportError:
    with pytest.raises(PriceImportError) as caught:
        collect(path)
    return caught.value


@pytest.mark.parametrize("missing", ["products", "terms"])
def test_missing_products_or_terms(tmp_path: Path, missing: str) -> None:
    document = offer_document()
    del document[missing]
    err = error_of(write_json(tmp_path / "index.json", document))
    assert err.field == missing
    assert f"no {missing!r} key" in err.message


def test_unknown_term_type(tmp_path: Path) -> None:
    document = offer_document()
    document["terms"]["Spot"] = document["terms"].pop("Reserved")
    err = error_of(write_json(tmp_path / "index.json", document))
    assert err.field == "terms.Spot"
    assert "unknown term type 'Spot'" in err.message
    assert err.row == 3  # the record after the product and the on-demand dimension


def test_non_numeric_price(tmp_path: Path) -> None:
    document = offer_document()
    dims = document["terms"]["Reserved"][SKU][f"{SKU}.HU7G6KETJZ"]["priceDimensions"]
    dims[f"{SKU}.HU7G6KETJZ.{HOURLY_RATE}"]["pricePerUnit"]["USD"] = "twelve"
    err = error_of(write_json(tmp_path / "index.json", document))
    assert err.row == 4
    assert (
        err.field
        == f"terms.Reserved.{SKU}.{SKU}.HU7G6KETJZ.priceDimensions.{SKU}.HU7G6KETJZ.{HOURLY_RATE}.pricePerUnit.USD"
    )
    assert err.message == "not a number: 'twelve'"


def test_empty_sku(tmp_path: Path) -> None:
    document = offer_document()
    document["products"][SKU]["sku"] = ""
    err = error_of(write_json(tmp_path / "index.json", document))
    assert (err.row, err.field, err.message) == (1, f"products.{SKU}.sku", "empty SKU")


def test_a_term_for_an_unknown_product(tmp_path: Path) -> None:
    document = offer_document()
    document["terms"]["OnDemand"]["OTHERSKU"] = copy.deepcopy(document["terms"]["OnDemand"][SKU])
    for term in document["terms"]["OnDemand"]["OTHERSKU"].values():
        term["sku"] = "OTHERSKU"
    err = error_of(write_json(tmp_path / "index.json", document))
    assert "not among the products" in err.message


def test_truncated_json(tmp_path: Path, offer_json: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(offer_json.read_bytes()[:-200])
    with pytest.raises(PriceImportError, match=r"invalid JSON|unexpected end"):
        collect(path, fmt="aws-offer-json")


def test_truncated_gzip(tmp_path: Path) -> None:
    big = offer_document()
    big["disclaimer"] = "x" * 300_000  # big enough that the cut lands in the middle of the stream
    path = truncated(write_json(tmp_path / "big.json", big), tmp_path / "big.json.gz")
    with pytest.raises(PriceImportError, match="truncated or corrupt gzip file"):
        collect(path, fmt="aws-offer-json")


# --------------------------------------------------------------------------------------- the JSON stream


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_json_stream_reads_any_chunking_like_the_json_module(tmp_path: Path, chunk: int) -> None:
    document = {"a": [1, 2.50, -3e-7, 'x\u00e9"y', None, True, {"b": {}}, []], "n": 12345678901234567890, "z": "Inf"}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    with JsonStream(InputFile.open(path), chunk=chunk) as stream:
        seen = {}
        for key in stream.members():
            if key == "a":
                seen[key] = [stream.value() for _ in stream.items()]
            else:
                seen[key] = stream.value()
        stream.end()
    assert seen == json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    assert seen["a"][1] == Decimal("2.50")  # numbers with a fraction stay exact


def test_json_stream_names_the_position_of_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"a": [1, 2,, 3]}')
    with JsonStream(InputFile.open(path)) as stream, pytest.raises(PriceImportError, match="character 12"):
        for key in stream.members():
            assert key == "a"
            for _ in stream.items():
                stream.value()
