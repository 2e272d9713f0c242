"""Helpers for the parser tests: the shared fixture files, and an independent reading of the raw CSV
(Python's csv module + decimal.Decimal) to compute expected values without the code under test."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from finops.usage.formats import read_chunks

ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = ROOT.parent / "shared" / "data"
FOCUS_SAMPLE = SHARED_DATA / "focus" / "focus_sample.csv"
CUR_SAMPLE = SHARED_DATA / "aws_cur" / "sample-anonymous-aws-export-dataset.csv"
KOKU_CUR = SHARED_DATA / "aws_cur" / "koku_2022-07-01-alt-columns.csv"
SPEC_EXAMPLES = SHARED_DATA / "focus" / "spec_examples"

needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}")


def read_all(path: Path, fmt: str = "auto", chunk_rows: int = 100_000, limits=None) -> pa.Table:
    return pa.concat_tables(chunk.table for chunk in read_chunks(path, fmt, chunk_rows, limits))


def raw_header_and_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def raw_dicts(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def is_null(text: str | None) -> bool:
    return text is None or text in ("", "NULL")


def dec(text: str | None) -> Decimal | None:
    return None if is_null(text) else Decimal(text)


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
