"""Amounts rounded for display stay exact however many digits a total has."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finops.core.amounts import grouped_money, money_text, quantize_money

pytestmark = pytest.mark.nodb

HUGE = "9" * 27  # a sum of many 22-digit daily totals: more digits than Decimal's default context keeps


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (f"{HUGE}.555", f"{HUGE}.56"),  # a tie: to the even cent
        (f"{HUGE}.545", f"{HUGE}.54"),
        (f"-{HUGE}.125", f"-{HUGE}.12"),
        ("0.005", "0.00"),
        ("0.015", "0.02"),
    ],
)
def test_totals_of_any_size_round_half_even_to_the_cent(value, cents):
    assert quantize_money(Decimal(value)) == Decimal(cents)
    assert money_text(Decimal(value)) == cents.rstrip("0").rstrip(".")


def test_a_huge_total_is_grouped_by_thousands():
    assert grouped_money(Decimal(f"{HUGE}.555")) == ",".join(["999"] * 9) + ".56"
