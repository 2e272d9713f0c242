"""Helpers for the parser tests: the shared fixture files, and an independent reading of the raw CSV
(Python's csv module + decimal.Decimal) to compute expected values without the code under test."""

from __future__ import annotations

import ast
import csv
import json
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


GCP_SAMPLE = SHARED_DATA / "gcp" / "koku_gcp_billing_export_202011.csv"
OCI_COST_SAMPLE = SHARED_DATA / "oci" / "koku_reports_cost-csv_0001000000603747.csv"
OCI_USAGE_SAMPLE = SHARED_DATA / "oci" / "koku_reports_usage-csv_0001000000829494.csv"
# The GCP sample's numeric fields and repeated records (written by pandas as Python literals).
GCP_NUMBERS = frozenset({"cost", "currency_conversion_rate", "usage.amount", "usage.amount_in_pricing_units"})
GCP_REPEATED = frozenset({"labels", "credits", "project.labels", "system_labels"})


def gcp_json_record(row: dict[str, str]) -> dict:
    """A CSV row of the GCP sample as BigQuery writes it to newline-delimited JSON: nested records, repeated
    records as arrays, numbers as numbers, timestamps as "YYYY-MM-DD hh:mm:ss UTC", null fields left out."""
    record: dict = {}
    for name, text in row.items():
        if text == "":
            continue
        if name in GCP_REPEATED:
            value = ast.literal_eval(text)
        elif name in GCP_NUMBERS:
            value = float(text)  # the sample's texts are float reprs: json.dumps writes them back unchanged
        elif text.endswith("+00:00"):
            value = text.removesuffix("+00:00") + " UTC"
        else:
            value = text
        *parents, leaf = name.split(".")
        target = record
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return record


def gcp_credit_total(text: str) -> Decimal:
    """Sum of a credits cell's amounts, read independently (Python literal or JSON)."""
    try:
        credits = json.loads(text, parse_float=Decimal)
    except ValueError:
        credits = ast.literal_eval(text)
    return sum(
        (Decimal(repr(c["amount"])) if isinstance(c["amount"], float) else Decimal(c["amount"]) for c in credits),
        Decimal(0),
    )


def gcp_effective(row: dict[str, str]) -> Decimal:
    """The FinOps Foundation converter's EffectiveCost: cost plus credits, credits never taking it below zero."""
    cost = Decimal(row["cost"])
    net = cost + (gcp_credit_total(row["credits"]) if row.get("credits") else Decimal(0))
    return max(net, min(cost, Decimal(0)))
