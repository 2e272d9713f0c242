"""The parse benchmark's generated file is a valid AWS offer CSV: a small one, read back."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

from price_helpers import ROOT, collect


def load_bench():
    spec = importlib.util.spec_from_file_location("pricing_parse_bench", ROOT / "bench" / "pricing_parse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_file_reads_back(tmp_path: Path) -> None:
    bench = load_bench()
    rows = 2 * bench.ROWS_PER_SKU + 5  # two whole SKUs and the first rows of a third
    path = bench.generate(rows, tmp_path)
    catalog = collect(path, batch_rows=7)
    assert catalog.meta.source == "AmazonEC2"
    assert catalog.rows == rows == 47
    assert catalog.skus.num_rows == 3
    on_demand = [p for p in catalog.price_rows() if p["term"] == "on_demand"]
    reserved = [p for p in catalog.price_rows() if p["term"] == "reserved"]
    assert len(on_demand) == 3
    # 12 offers per whole SKU; the third SKU's first 4 rows after its on-demand row are 3 offers.
    assert len(reserved) == 2 * 12 + 3
    assert all(p["upfront"] > 0 for p in reserved if p["purchase_option"] != "no_upfront")
    assert all(p["hourly"] == Decimal(0) for p in reserved if p["purchase_option"] == "all_upfront")
