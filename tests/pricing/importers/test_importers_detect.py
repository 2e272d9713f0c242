"""Format detection from the content (not the name), gzip for every format, and the shared records/errors."""

from __future__ import annotations

import gzip
import json
import pickle
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from price_helpers import (
    AZURE_D2ALS_V7,
    AZURE_D2S_V3,
    COMPREHEND,
    DATABASE_SP,
    SPOT_TSV,
    collect,
    gzipped,
    needs_shared_data,
    truncated,
)

from pricing.importers import FORMATS, PriceImportError, detect_format, read_catalog
from pricing.importers.libcloud import SHIPPED
from pricing.importers.records import json_objects, normalize_os, parse_decimal

REAL_FILES = [
    (COMPREHEND, "aws-offer-csv"),
    (DATABASE_SP, "aws-savings-plan"),
    (SPOT_TSV, "aws-spot-history"),
    (AZURE_D2S_V3, "azure-retail"),
    (AZURE_D2ALS_V7, "azure-retail"),
]


def test_formats() -> None:
    assert FORMATS == (
        "aws-offer-csv",
        "aws-offer-json",
        "aws-savings-plan",
        "aws-spot-history",
        "azure-retail",
        "libcloud",
    )


@needs_shared_data
@pytest.mark.parametrize(("path", "fmt"), REAL_FILES)
def test_real_files_are_recognised_by_content_under_any_name(tmp_path: Path, path: Path, fmt: str) -> None:
    assert detect_format(path) == fmt
    renamed = tmp_path / "download.bin"
    shutil.copyfile(path, renamed)
    assert detect_format(renamed) == fmt
    packed = gzipped(path, tmp_path / "download.gz")
    assert detect_format(packed) == fmt
    assert collect(packed).rows == collect(path).rows


def test_shipped_libcloud_is_recognised() -> None:
    assert detect_format(SHIPPED) == "libcloud"


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('{"formatVersion":"v1.0","offerCode":"AmazonEC2","products":{}, "terms":{}}', "aws-offer-json"),
        ('{"version":"1","products":[],"terms":{"savingsPlan":[]}}', "aws-savings-plan"),
        ('{"terms":{"savingsPlan":[]},"products":[]}', "aws-savings-plan"),
        ('{"SpotPriceHistory":[],"NextToken":""}', "aws-spot-history"),
        ('{"BillingCurrency":"USD","Items":[]}', "azure-retail"),
        ('{"compute":{},"updated":1}', "libcloud"),
        ('{"formatVersion":"v1.0","offerCode":"AmazonEC2"}', "aws-offer-json"),  # then: no 'products' key
        ('"SKU","OfferTermCode","TermType","PricePerUnit"\n', "aws-offer-csv"),  # then: no preamble
    ],
)
def test_json_and_csv_shapes(tmp_path: Path, text: str, fmt: str) -> None:
    path = tmp_path / "file"
    path.write_text(text)
    assert detect_format(path) == fmt


def test_files_in_no_known_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(PriceImportError, match="unknown catalog format") as caught:
        detect_format(path)
    assert caught.value.file == str(path)
    path.write_text('{"hello": "world"}')
    with pytest.raises(PriceImportError, match="unknown catalog format"):
        read_catalog(path)


def test_unknown_format_name(tmp_path: Path) -> None:
    with pytest.raises(PriceImportError, match="unknown format 'gcp'"):
        read_catalog(tmp_path / "x.csv", fmt="gcp")


@pytest.mark.parametrize("fmt", ["auto", *FORMATS])
def test_empty_file_for_every_format(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(PriceImportError, match=r"empty file \(0 bytes\)"):
        read_catalog(path, fmt)
    packed = tmp_path / "empty.gz"
    packed.write_bytes(gzip.compress(b""))
    with pytest.raises(PriceImportError, match="empty file"):
        read_catalog(packed, fmt)


@needs_shared_data
@pytest.mark.parametrize(("path", "fmt"), REAL_FILES)
def test_truncated_gzip_for_every_format(tmp_path: Path, path: Path, fmt: str) -> None:
    with pytest.raises(PriceImportError, match="truncated or corrupt gzip file"):
        collect(truncated(path, tmp_path / "cut.gz"), fmt=fmt)


def test_truncated_libcloud_gzip(tmp_path: Path) -> None:
    cut = tmp_path / "pricing.json.gz"
    cut.write_bytes(SHIPPED.read_bytes()[:1000])
    with pytest.raises(PriceImportError, match="truncated or corrupt gzip file"):
        collect(cut, fmt="libcloud")


def test_a_gz_name_without_gzip_content(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv.gz"
    path.write_text("plain text")
    with pytest.raises(PriceImportError, match="no gzip header"):
        read_catalog(path)


# ------------------------------------------------------------------------------------- records and errors


def test_error_text_names_file_row_and_field() -> None:
    err = PriceImportError("not a number: 'x'", file="a.csv", row=12, field="PricePerUnit")
    assert str(err) == "file a.csv, row 12, field PricePerUnit: not a number: 'x'"
    assert str(PriceImportError("empty file (0 bytes)", file="a.csv")) == "file a.csv: empty file (0 bytes)"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.file, copy.row, copy.field, copy.message) == ("a.csv", 12, "PricePerUnit", "not a number: 'x'")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.0001000000", Decimal("0.0001")),
        ("1.0E-4", Decimal("0.0001")),
        ("12", Decimal(12)),
        (" 0.5 ", Decimal("0.5")),
        (Decimal("0.018816"), Decimal("0.018816")),
        (416, Decimal(416)),
        ("0.12345678901234567", Decimal("0.1234567890123457")),  # 17 places: rounded half-even to 16
    ],
)
def test_parse_decimal(text: object, value: Decimal) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1,000", "NaN", "Infinity", "1e30", None, True])
def test_parse_decimal_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Linux", "linux"),
        ("Linux/UNIX", "linux"),
        ("Linux/UNIX (Amazon VPC)", "linux"),
        ("Windows", "windows"),
        ("RHEL", "rhel"),
        ("Red Hat Enterprise Linux", "rhel"),
        ("Red Hat Enterprise Linux with HA", "rhel_ha"),
        ("SUSE", "suse"),
        ("SUSE Linux", "suse"),
        ("Ubuntu Pro", "ubuntu_pro"),
        ("NA", None),
        ("Windows BYOL", "windows_byol"),
    ],
)
def test_normalize_os(text: str, name: str | None) -> None:
    assert normalize_os(text) == name


def test_json_objects_match_the_json_module() -> None:
    names = ["plain", 'quote "q"', "back\\slash", "ctl"]
    columns = [
        pa.array(["a", None, "é", None]),
        pa.array(['say "hi"', None, "x", None]),
        pa.array(["C:\\dir", None, None, None]),
        pa.array(["line\nbreak\t", None, "\x01", None]),
    ]
    objects = json_objects(names, columns, 4).to_pylist()
    expected = [
        {name: col[i].as_py() for name, col in zip(names, columns, strict=True) if col[i].is_valid} for i in range(4)
    ]
    assert [json.loads(text) for text in objects] == expected
    assert objects[1] == "{}"
