"""AWS EC2 spot price history: the real TSV (2022-05-31, 33,362 samples) from the shared data, and a
DescribeSpotPriceHistory JSON response written here in the AWS CLI/boto3 shape."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from price_helpers import SPOT_TSV, collect, needs_shared_data

from pricing.importers import PriceImportError
from pricing.importers.aws_regions import AZ_ID_PREFIXES, region_of_zone

UTC = dt.UTC


@needs_shared_data
def test_tsv_row_reads_back_as_published() -> None:
    catalog = collect(SPOT_TSV)
    assert (catalog.meta.format, catalog.meta.provider) == ("aws-spot-history", "aws")
    assert catalog.skus.num_rows == catalog.prices.num_rows == 0
    first = catalog.spot.slice(0, 1).to_pylist()[0]
    # line 1: "euw3-az2	g4dn.4xlarge	Linux/UNIX	0.466400	2022-05-31T18:20:41+00:00"
    assert first == {
        "provider": "aws",
        "region": "eu-west-3",
        "availability_zone": "euw3-az2",
        "instance_type": "g4dn.4xlarge",
        "product_description": "Linux/UNIX",
        "operating_system": "linux",
        "price": Decimal("0.4664"),
        "currency": "USD",
        "timestamp": dt.datetime(2022, 5, 31, 18, 20, 41, tzinfo=UTC),
    }


@needs_shared_data
@pytest.mark.parametrize("batch_rows", [1_000, 100_000])
def test_tsv_every_sample_exactly_and_counts(batch_rows: int) -> None:
    with open(SPOT_TSV, newline="") as handle:
        raw = list(csv.reader(handle, delimiter="\t"))
    catalog = collect(SPOT_TSV, batch_rows=batch_rows)
    samples = catalog.spot.to_pylist()
    assert catalog.rows == len(raw) == len(samples) == 33_362
    for sample, (zone, instance_type, description, price, _) in zip(samples, raw, strict=True):
        assert (sample["availability_zone"], sample["instance_type"]) == (zone, instance_type)
        assert sample["product_description"] == description
        assert sample["price"] == Decimal(price)
    # Regions per AZ ID prefix, counted independently.
    by_prefix = Counter(row[0].split("-az")[0] for row in raw)
    by_region = Counter(s["region"] for s in samples)
    assert by_region == Counter({AZ_ID_PREFIXES[prefix]: n for prefix, n in by_prefix.items()})
    assert Counter(s["operating_system"] for s in samples) == {
        "linux": 9281,
        "rhel": 9281,
        "suse": 9281,
        "windows": 5519,
    }


def test_az_id_prefixes_follow_the_aws_rule() -> None:
    """An AZ ID prefix is the region's country code, the initials of its direction words, its number."""
    words = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c", "northeast": "ne",
             "southeast": "se", "northwest": "nw", "gov": "g"}  # fmt: skip
    for prefix, region in AZ_ID_PREFIXES.items():
        country, *middle, number = region.split("-")
        assert prefix == country + "".join(words[w] for w in middle) + number
    assert len(set(AZ_ID_PREFIXES.values())) == len(AZ_ID_PREFIXES)


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        ("use1-az2", "us-east-1"),
        ("apse2-az1", "ap-southeast-2"),
        ("usgw1-az3", "us-gov-west-1"),
        ("usw2-lax1-az1", "us-west-2"),
        ("us-east-1a", "us-east-1"),
        ("us-west-2-lax-1a", "us-west-2"),
        ("us-gov-west-1b", "us-gov-west-1"),
        ("zz9-az1", None),
        ("nowhere", None),
    ],
)
def test_region_of_zone(zone: str, region: str | None) -> None:
    assert region_of_zone(zone) == region


def test_describe_spot_price_history_json(tmp_path: Path) -> None:
    response = {
        "SpotPriceHistory": [
            {
                "AvailabilityZone": "us-east-1a",
                "InstanceType": "m5.large",
                "ProductDescription": "Linux/UNIX (Amazon VPC)",
                "SpotPrice": "0.035700",
                "Timestamp": "2024-05-01T10:00:00.000Z",
            },
            {
                "AvailabilityZone": "cn-north-1a",
                "InstanceType": "m5.large",
                "ProductDescription": "Windows",
                "SpotPrice": "0.512000",
                "Timestamp": "2024-05-01T09:30:00+00:00",
            },
        ],
        "NextToken": "",
    }
    path = tmp_path / "history.json.gz"
    path.write_bytes(gzip.compress(json.dumps(response).encode()))
    samples = collect(path).spot.to_pylist()
    assert [
        (s["region"], s["availability_zone"], s["operating_system"], s["price"], s["currency"]) for s in samples
    ] == [
        ("us-east-1", "us-east-1a", "linux", Decimal("0.0357"), "USD"),
        ("cn-north-1", "cn-north-1a", "windows", Decimal("0.512"), "CNY"),
    ]
    assert samples[0]["timestamp"] == dt.datetime(2024, 5, 1, 10, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------ bad input


def tsv(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "spot.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = "use1-az1\tm5.large\tLinux/UNIX\t0.035700\t2022-05-31T18:20:41+00:00"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            "xx9-az1\tm5.large\tLinux/UNIX\t0.03\t2022-05-31T18:20:41+00:00",
            "availability_zone",
            "unknown availability zone",
        ),
        ("use1-az1\tm5.large\tLinux/UNIX\tcheap\t2022-05-31T18:20:41+00:00", "price", "not a number: 'cheap'"),
        ("use1-az1\tm5.large\tLinux/UNIX\t0.03\tyesterday", "timestamp", "not a date/time: 'yesterday'"),
        ("use1-az1\t\tLinux/UNIX\t0.03\t2022-05-31T18:20:41+00:00", "instance_type", "empty instance type"),
    ],
)
def test_bad_tsv_lines(tmp_path: Path, line: str, field: str, message: str) -> None:
    with pytest.raises(PriceImportError) as caught:
        collect(tsv(tmp_path, [GOOD, GOOD, line, GOOD]), fmt="aws-spot-history")
    err = caught.value
    assert (err.row, err.field) == (3, field)
    assert err.message.startswith(message)
    assert re.search(r"\(line 3 of the file\)$", err.message)


def test_tsv_line_with_a_missing_field(tmp_path: Path) -> None:
    with pytest.raises(PriceImportError) as caught:
        collect(tsv(tmp_path, [GOOD, "use1-az1\tm5.large\t0.03\t2022-05-31T18:20:41+00:00"]), fmt="aws-spot-history")
    assert caught.value.row == 2
    assert caught.value.message == "expected 5 fields, found 4"


def test_json_without_history(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"NextToken": ""}')
    with pytest.raises(PriceImportError) as caught:
        collect(path, fmt="aws-spot-history")
    assert caught.value.field == "SpotPriceHistory"
