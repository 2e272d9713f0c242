"""Money amounts as Decimals: rounding and text forms (pure: no Django).

Every rounding here is half-even (banker's rounding, Decimal's default), so sums of rounded amounts do not
drift. ``finops.core.money`` holds the database side (exact storage and sums).
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
# Sums of stored amounts (22 integer digits and 16 places each) exceed Decimal's default 28 digits long before
# they exceed this one: adding with it never rounds.
EXACT = decimal.Context(prec=80)


def exact_add(a: Decimal, b: Decimal) -> Decimal:
    """``a + b`` without rounding, however many digits."""
    return EXACT.add(a, b)


def quantize_money(value: Decimal, places: int = 2) -> Decimal:
    """``value`` rounded half-even to ``places`` decimal places (2: cents). In the exact context: a total of
    more than 26 integer digits would raise in Decimal's default one."""
    quantum = CENT if places == 2 else Decimal(1).scaleb(-places)
    return value.quantize(quantum, rounding=ROUND_HALF_EVEN, context=EXACT)


def money_from_float(value: float, places: int = 2) -> Decimal:
    """A float (from numpy or a solver) as a Decimal rounded to ``places``, read from its shortest text form so
    that 0.1 stays 0.1 rather than its binary expansion."""
    return quantize_money(Decimal(repr(float(value))), places)


def money_str(value: Decimal | None) -> str | None:
    """A Decimal as a plain decimal string (no exponent), trailing zeros beyond the source trimmed."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def money_text(value: Decimal | None, places: int = 2) -> str | None:
    """``value`` rounded to ``places`` as a plain decimal string without trailing zeros ("12.5", "3")."""
    return None if value is None else money_str(quantize_money(value, places))


def grouped_money(value: Decimal | None) -> str:
    """Cents with thousands separators for reading ("1,234.50", "-12.00"); "" for None."""
    return "" if value is None else f"{quantize_money(value):,.2f}"
