"""Helpers for the importer tests: the shared fixture files, a reader that collects every batch, and
independent readings of the raw files (Python's csv/json modules + decimal.Decimal) to compute expected
values without the code under test."""

from __future__ import annotations

import csv
import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from pricing.importers import (
    PRICE_SCHEMA,
    SKU_SCHEMA,
    SPOT_SCHEMA,
    CatalogBatch,
    CatalogMeta,
    read_catalog,
)

ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = ROOT.parent / "shared" / "data"
PRICELIST = SHARED_DATA / "aws_pricing" / "pricelist"
COMPREHEND = PRICELIST / "service-comprehend-ap-south-1-20260116160258.csv"
DATABASE_SP = PRICELIST / "AWSDatabaseSavingsPlans-ap-south-2-index.csv"
SPOT_TSV = SHARED_DATA / "aws_spot" / "spot_price_history_2022-05.tsv"
AZURE_D2S_V3 = SHARED_DATA / "azure" / "retail_prices" / "eastus_standard_d2s_v3_nofilter.json"
AZURE_D2ALS_V7 = SHARED_DATA / "azure" / "retail_prices" / "eastus_standard_d2als_v7_nofilter_preview.json"
LIBCLOUD = SHARED_DATA / "aws_pricing" / "libcloud_pricing.json"
MOTO = SHARED_DATA / "aws_pricing" / "moto_ec2_instance_types.json"

needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}")

AWS_PREAMBLE = (
    '"FormatVersion","v1.0"\n'
    '"Disclaimer","This pricing list is for informational purposes only."\n'
    '"Publication Date","2025-12-01T10:00:00Z"\n'
    '"Version","20251201100000"\n'
    '"OfferCode","AmazonEC2"\n'
)


@dataclass
class Catalog:
    meta: CatalogMeta
    batches: list[CatalogBatch]
    skus: pa.Table
    prices: pa.Table
    spot: pa.Table

    def price_rows(self) -> list[dict]:
        return self.prices.to_pylist()

    def sku(self, key: str) -> dict:
        rows = [r for r in self.skus.to_pylist() if r["sku_key"] == key]
        assert len(rows) == 1, (key, len(rows))
        return rows[0]

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)

    def skipped(self, reason: str) -> int:
        return sum(b.skipped.get(reason, 0) for b in self.batches)


def collect(path: Path, fmt: str = "auto", batch_rows: int = 100_000) -> Catalog:
    """Every batch of a catalog, read to the end (raises what the importer raises)."""
    meta, batches = read_catalog(path, fmt, batch_rows=batch_rows)
    done = list(batches)
    for batch in done:
        assert batch.skus.schema == SKU_SCHEMA
        assert batch.prices.schema == PRICE_SCHEMA
        assert batch.spot.schema == SPOT_SCHEMA
        assert 0 <= batch.bytes_read <= batch.bytes_total
    return Catalog(
        meta=meta,
        batches=done,
        skus=pa.concat_tables([b.skus for b in done]),
        prices=pa.concat_tables([b.prices for b in done]),
        spot=pa.concat_tables([b.spot for b in done]),
    )


def raw_csv(path: Path, skip: int = 5) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV after ``skip`` preamble lines, read with Python's csv module."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        for _ in range(skip):
            next(reader)
        header = next(reader)
        return header, [row for row in reader if row]


def write_offer_csv(path: Path, header: list[str], rows: list[dict[str, str]], preamble: str = AWS_PREAMBLE) -> Path:
    """An AWS offer CSV: preamble, quoted header, one quoted row per dict (missing columns empty)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(preamble)
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return path


def gzipped(src: Path, dst: Path) -> Path:
    with open(src, "rb") as raw, gzip.open(dst, "wb") as out:
        shutil.copyfileobj(raw, out)
    return dst


def truncated(src: Path, dst: Path) -> Path:
    """A gzip copy of ``src`` cut in the middle (an interrupted download)."""
    data = gzip.compress(src.read_bytes())
    dst.write_bytes(data[: len(data) // 2])
    return dst
