"""bench/scale.py's pure parts, without a database: the generated month (deterministic, exact row counts, real
prices, readable by the product's FOCUS parser) and the least-squares cost curve."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import math
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from finops.usage.formats import read_chunks
from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("scale_bench", ROOT / "bench" / "scale.py")
scale = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = scale  # its dataclasses look their module up there
_spec.loader.exec_module(scale)

ROWS, PER_FILE, BLOCK = 5_000, 1_500, 500


@pytest.fixture(scope="module")
def catalog():
    return scale.load_catalog()


def _month(catalog, seed: int = 19, rows: int = ROWS):
    plan = scale.Plan(rows=rows, month="2026-11", seed=seed, rows_per_file=PER_FILE, block_rows=BLOCK)
    return scale.plan_month(plan, catalog)


def _rows(paths) -> list[dict]:
    out = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            out.extend(csv.DictReader(handle))
    return out


def _digest(paths) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_same_plan_writes_the_same_bytes_and_another_seed_does_not(catalog, tmp_path):
    first = scale.write_month(_month(catalog), tmp_path / "a")
    again = scale.write_month(_month(catalog), tmp_path / "b")
    other = scale.write_month(_month(catalog, seed=20), tmp_path / "c")
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)


def test_row_counts_files_and_charge_categories(catalog, tmp_path):
    month = _month(catalog)
    paths = scale.write_month(month, tmp_path)
    # 1,500 rows a file in blocks of 500: files of 1,500, 1,500, 1,500 and 500 rows.
    assert [len(p.read_text().splitlines()) - 1 for p in paths] == [1_500, 1_500, 1_500, 500]
    rows = _rows(paths)
    assert len(rows) == ROWS
    accounts = 3  # at least three, one per 20,000 rows
    counts = {kind: sum(r["ChargeCategory"] == kind for r in rows) for kind in ("Usage", "Tax", "Purchase", "Credit")}
    assert counts == {"Usage": ROWS - 3 * 5 - 1 - 1, "Tax": 3 * 5, "Purchase": 1, "Credit": 1}
    assert len({r["SubAccountId"] for r in rows}) == accounts


def test_usage_rows_are_hourly_once_per_resource_in_the_month_at_real_prices(catalog, tmp_path):
    rows = [r for r in _rows(scale.write_month(_month(catalog), tmp_path)) if r["ChargeCategory"] == "Usage"]
    with open(scale.FOCUS_SAMPLE, newline="", encoding="utf-8") as handle:
        sample = [r for r in csv.DictReader(handle) if r["ProviderName"] == "AWS" and r["ChargeCategory"] == "Usage"]
    real = {(r["SkuPriceId"], Decimal(r["ListUnitPrice"])) for r in sample if r["ListUnitPrice"] != "NULL"}
    seen = set()
    for r in rows:
        start = datetime.fromisoformat(r["ChargePeriodStart"])
        assert datetime.fromisoformat(r["ChargePeriodEnd"]) - start == timedelta(hours=1)
        assert datetime(2026, 11, 1) <= start < datetime(2026, 12, 1)
        assert (r["SkuPriceId"], Decimal(r["ListUnitPrice"])) in real
        list_cost = Decimal(r["ListUnitPrice"]) * Decimal(r["PricingQuantity"])
        assert abs(Decimal(r["ListCost"]) - list_cost) <= Decimal("1e-9")
        if r["PricingCategory"] == "Committed":
            assert Decimal(r["BilledCost"]) == 0 and r["CommitmentDiscountStatus"] == "Used"
        seen.add((r["ResourceId"], start))
    assert len(seen) == len(rows)  # no resource is billed twice for one hour
    tagged = [r["Tags"] for r in rows if r["Tags"]]
    assert 0 < len(tagged) < len(rows)  # some untagged


def test_the_files_parse_as_focus_with_the_same_totals(catalog, tmp_path):
    paths = scale.write_month(_month(catalog), tmp_path)
    expected = sum(Decimal(r["BilledCost"]) for r in _rows(paths))
    parsed = Decimal(0)
    for path in paths:
        for chunk in read_chunks(path):
            assert chunk.fmt == "focus"
            parsed += sum(chunk.table["billed_cost"].to_pylist(), Decimal(0))
    assert parsed == expected


def test_too_few_rows_for_a_month_is_refused(catalog):
    with pytest.raises(ValueError, match="too few"):
        _month(catalog, rows=500)


def test_files_split_on_block_boundaries():
    plan = scale.Plan(rows=1_000_000, month="2026-11", rows_per_file=250_000, block_rows=100_000)
    # 250,000 rounded up to whole blocks: 300,000 rows a file.
    assert plan.file_ranges() == [(0, 300_000), (300_000, 600_000), (600_000, 900_000), (900_000, 1_000_000)]
    assert plan.accounts == 50 and plan.hours == 30 * 24
    assert plan.special_rows == 50 * 5 + 5 + 10


def test_fit_is_exact_on_a_line():
    fit = scale.fit_linear([1e6, 5e6, 2e7], [3 + 2e-6 * x for x in (1e6, 5e6, 2e7)])
    assert fit.a == pytest.approx(3) and fit.b == pytest.approx(2e-6) and fit.r2 == pytest.approx(1)
    assert fit(1e9) == pytest.approx(2003)


def test_fit_of_scattered_points_by_hand():
    # mean x 1.5, mean y 2.75; Sxx 5, Sxy 5.5 -> b 1.1, a 1.1; residuals -0.1, 0.8, -1.3, 0.6 -> SSR 2.7, SST 8.75.
    fit = scale.fit_linear([0, 1, 2, 3], [1, 3, 2, 5])
    assert fit.b == pytest.approx(1.1) and fit.a == pytest.approx(1.1)
    assert fit.r2 == pytest.approx(1 - 2.7 / 8.75)


@pytest.mark.parametrize("xs, ys", [([1], [1]), ([2, 2], [1, 3]), ([1, 2], [1])])
def test_fit_needs_two_distinct_points(xs, ys):
    with pytest.raises(ValueError, match="two points"):
        scale.fit_linear(xs, ys)


def test_disk_estimate_and_default_month():
    assert scale.disk_needed(1_000_000, 600, 1_500) == math.floor(1_000_000 * 2_100 * 1.1)
    assert scale.default_month(date(2026, 12, 7)) == "2026-11"
    assert scale.default_month(date(2027, 1, 31)) == "2026-12"
