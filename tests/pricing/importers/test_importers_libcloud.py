"""Apache Libcloud's price table: the shared copy of libcloud 3.9.1's pricing.json and the gzip the project
ships in pricing/data."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
from price_helpers import LIBCLOUD, collect, needs_shared_data

from pricing.importers import PriceImportError
from pricing.importers.libcloud import SHIPPED, TABLES

UTC = dt.UTC


@pytest.fixture(scope="module")
def shipped():
    return collect(SHIPPED)


def test_meta(shipped) -> None:
    assert (shipped.meta.format, shipped.meta.provider) == ("libcloud", "aws")
    assert shipped.meta.source == "libcloud 3.9.1 pricing.json"
    assert shipped.meta.version == "1740936978"  # "updated": 1740936978
    assert shipped.meta.publication_date == dt.datetime(2025, 3, 2, 17, 36, 18, tzinfo=UTC)


def test_m5_large_us_east_1_linux_as_published(shipped) -> None:
    # compute.ec2_linux["m5.large"]["us-east-1"]: 0.096
    key = "aws:ec2:us-east-1:m5.large:linux:shared"
    (price,) = [p for p in shipped.price_rows() if p["sku_key"] == key]
    assert (price["term"], price["hourly"], price["upfront"], price["unit"], price["currency"]) == (
        "on_demand",
        Decimal("0.096"),
        0,
        "Hrs",
        "USD",
    )
    assert price["description"] == "libcloud compute.ec2_linux.m5.large.us-east-1"
    sku = shipped.sku(key)
    assert (sku["service"], sku["product_family"], sku["region"], sku["instance_type"]) == (
        "AmazonEC2",
        "Compute Instance",
        "us-east-1",
        "m5.large",
    )
    assert (sku["operating_system"], sku["tenancy"], sku["sku_code"]) == ("linux", "shared", None)
    assert (sku["vcpu"], sku["memory_gib"], sku["architecture"], sku["normalization_factor"]) == (2, 8, "x86_64", 4)
    # compute.ec2_windows["m5.large"]["us-east-1"]: 0.188; compute.ec2_rhel["m5.large"]["us-east-1"]: 0.125
    by_key = {p["sku_key"]: p["hourly"] for p in shipped.price_rows()}
    assert by_key["aws:ec2:us-east-1:m5.large:windows:shared"] == Decimal("0.188")
    assert by_key["aws:ec2:us-east-1:m5.large:rhel:shared"] == Decimal("0.125")


@needs_shared_data
def test_every_entry_counted_zeros_skipped_never_priced(shipped) -> None:
    compute = json.loads(LIBCLOUD.read_text(), parse_float=Decimal)["compute"]
    entries = [
        (table, size, region, value)
        for table in TABLES
        for size, regions in compute[table].items()
        for region, value in regions.items()
    ]
    zeros = [e for e in entries if e[3] == 0]
    assert shipped.rows == len(entries) == 72_155
    assert shipped.skipped("unknown_price") == len(zeros) == 11_643  # about one entry in six
    prices = shipped.price_rows()
    assert len(prices) == len(entries) - len(zeros)
    assert all(p["hourly"] > 0 for p in prices)  # a 0.0 ("unknown") never becomes a price
    expected = {
        f"aws:ec2:{region}:{size}:{TABLES[table]}:shared": value for table, size, region, value in entries if value
    }
    assert {p["sku_key"]: p["hourly"] for p in prices} == expected
    assert shipped.skus.num_rows == len(expected)
    # ap-south-1 m5.large linux is 0.0 in this table: skipped, so no SKU and no price
    assert compute["ec2_linux"]["m5.large"]["ap-south-1"] == 0
    assert "aws:ec2:ap-south-1:m5.large:linux:shared" not in expected


@needs_shared_data
def test_the_shipped_gzip_is_the_shared_file(shipped) -> None:
    assert (
        hashlib.sha256(gzip.decompress(SHIPPED.read_bytes())).digest() == hashlib.sha256(LIBCLOUD.read_bytes()).digest()
    )
    assert collect(LIBCLOUD).prices.equals(shipped.prices)


def test_small_batches(shipped) -> None:
    small = collect(SHIPPED, batch_rows=10_000)
    assert len(small.batches) == 8
    assert small.rows == shipped.rows
    assert small.skipped("unknown_price") == shipped.skipped("unknown_price")
    assert small.prices.equals(shipped.prices)


def test_bad_price(tmp_path: Path) -> None:
    path = tmp_path / "pricing.json"
    path.write_text(json.dumps({"compute": {"ec2_linux": {"m5.large": {"us-east-1": 0.096, "eu-west-1": "n/a"}}}}))
    with pytest.raises(PriceImportError) as caught:
        collect(path, fmt="libcloud")
    assert (caught.value.row, caught.value.field) == (2, "compute.ec2_linux.m5.large.eu-west-1")
    assert caught.value.message == "not a number: 'n/a'"


def test_no_ec2_table(tmp_path: Path) -> None:
    path = tmp_path / "pricing.json"
    path.write_text(json.dumps({"compute": {"gce_instances": {}}, "updated": 1}))
    with pytest.raises(PriceImportError, match="no EC2 price table"):
        collect(path, fmt="libcloud")


def test_a_file_read_again_gives_the_same_rows_and_a_changed_file_its_new_ones(tmp_path: Path) -> None:
    """The parsed file is kept for the next read in the process: only for the very same content."""
    path = tmp_path / "pricing.json"
    document = {"compute": {"ec2_linux": {"m5.large": {"us-east-1": 0.096, "eu-west-1": 0.107}}}, "updated": 1}
    path.write_text(json.dumps(document))
    first, again = collect(path, fmt="libcloud"), collect(path, fmt="libcloud")
    assert again.prices.equals(first.prices) and again.skus.equals(first.skus) and again.rows == 2
    assert sorted(first.prices.column("hourly").to_pylist()) == [Decimal("0.096"), Decimal("0.107")]
    document["compute"]["ec2_linux"]["m5.large"]["us-east-1"] = 0.123  # same name and size, other content
    path.write_text(json.dumps(document).replace("0.107", "0.999"))
    changed = collect(path, fmt="libcloud")
    assert sorted(changed.prices.column("hourly").to_pylist()) == [Decimal("0.123"), Decimal("0.999")]
    bad = tmp_path / "bad.json"  # a failed read leaves nothing behind for a good file read next
    bad.write_text(json.dumps({"compute": {"ec2_linux": {"m5.large": {"us-east-1": "n/a"}}}}))
    with pytest.raises(PriceImportError):
        collect(bad, fmt="libcloud")
    assert collect(path, fmt="libcloud").prices.equals(changed.prices)
