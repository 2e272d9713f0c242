"""bench/load.py's own logic, without a database: moving a FOCUS file to another billing month, the exact
totals it checks the product against, and how it classifies what a delivery left behind."""

from __future__ import annotations

import csv
import importlib.util
import sys
from decimal import Decimal

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("load_bench", ROOT / "bench" / "load.py")
load = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = load  # its dataclasses look their module up there
_spec.loader.exec_module(load)

HEADER = ["BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", *load.COSTS, "Tags"]
SEPTEMBER = ["2024-09-01 00:00:00", "2024-10-01 00:00:00"]  # billing period start, end
ROWS = [
    [*SEPTEMBER, "2024-09-01 00:00:00", "2024-09-01 01:00:00", "1.5", "1.25", "2", ""],
    [*SEPTEMBER, "2024-09-30 23:00:00", "2024-10-01 00:00:00", "0.1", "", "0.2", "{}"],
    [*SEPTEMBER, "2024-09-15 12:00:00", "2024-09-15 13:00:00", "-0.3", "0.05", "0", ""],
]


def test_month_file_moves_billing_and_charge_periods_and_keeps_the_rest(tmp_path):
    source = tmp_path / "focus-3.csv"
    with open(source, "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *ROWS])
    moved = load.month_file(source, "2024-10", tmp_path)
    with open(moved, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["BillingPeriodStart"] for r in rows] == ["2024-10-01 00:00:00"] * 3
    assert [r["BillingPeriodEnd"] for r in rows] == ["2024-11-01 00:00:00"] * 3
    # September 1 is 30 days before October 1: every charge moves by those 30 days.
    starts = ["2024-10-01 00:00:00", "2024-10-30 23:00:00", "2024-10-15 12:00:00"]
    ends = ["2024-10-01 01:00:00", "2024-10-31 00:00:00", "2024-10-15 13:00:00"]
    assert [r["ChargePeriodStart"] for r in rows] == starts
    assert [r["ChargePeriodEnd"] for r in rows] == ends
    assert [[r[c] for c in (*load.COSTS, "Tags")] for r in rows] == [row[4:] for row in ROWS]

    totals = load.file_totals(moved)
    assert totals == load.Totals(3, Decimal("1.3"), Decimal("1.30"), Decimal("2.2"))


def test_delivery_state_is_complete_absent_or_partial():
    before = load.Totals(10, Decimal("5"), Decimal("4"), Decimal("6"))
    delivery = load.Totals(3, Decimal("1.3"), Decimal("1.3"), Decimal("2.2"))
    assert load.delivery_state(before, delivery, delivery) == "complete"
    assert load.delivery_state(before, before, delivery) == "absent"
    assert load.delivery_state(before, load.Totals(3, Decimal("1.3"), Decimal("1.3"), Decimal("2.1")), delivery) == (
        "partial"
    )
    assert load.delivery_state(before, load.Totals(2, Decimal("1.3"), Decimal("1.3"), Decimal("2.2")), delivery) == (
        "partial"
    )
