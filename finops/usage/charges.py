"""What counts as usage, and the other kinds of charge a bill carries. Pure: no Django imports.

A charge is **usage** when its FOCUS ``ChargeCategory`` is ``Usage`` and its ``ChargeClass`` is not ``Correction``:
what was consumed in the charge period (on-demand, spot, commitment-covered and unused commitment hours alike).
Everything else is reported as its own line, never as usage:

- ``purchase``: commitment fees and upfront payments (``Purchase``),
- ``tax`` (``Tax``), ``credit`` (``Credit``), ``adjustment`` (``Adjustment``, e.g. rounding, refunds),
- ``fee`` (a ``Fee`` category some exports carry, e.g. support plans),
- ``correction``: any row with ``ChargeClass`` ``Correction``, which restates an earlier period; it is dated when
  issued, so counting it as that day's usage would show a spike or drop that did not happen,
- ``other``: an empty or unknown category.

Month-to-date accruals: tax, fees and recurring purchases of a month are dated on its 1st, and a month-to-date bill
carries only the part accrued so far (``same_stage``).
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

USAGE = "usage"
CORRECTION = "correction"
# FOCUS ChargeCategory -> kind (lower-cased match).
CATEGORY_KINDS: dict[str, str] = {
    "usage": USAGE,
    "purchase": "purchase",
    "tax": "tax",
    "credit": "credit",
    "adjustment": "adjustment",
    "fee": "fee",
}
# Display order and labels of the non-usage kinds.
OTHER_KINDS: tuple[str, ...] = ("purchase", "tax", "fee", "credit", "adjustment", CORRECTION, "other")
KIND_LABELS: dict[str, str] = {
    USAGE: "Usage",
    "purchase": "Purchases (commitments, upfront fees)",
    "tax": "Tax",
    "fee": "Fees",
    "credit": "Credits",
    "adjustment": "Adjustments",
    CORRECTION: "Corrections of earlier periods",
    "other": "Other (no charge category)",
}
USAGE_CATEGORY = "Usage"
CORRECTION_CLASS = "Correction"


def charge_kind(category: str | None, charge_class: str | None = None) -> str:
    """The kind of a charge from its FOCUS ChargeCategory and ChargeClass (see the module docstring)."""
    if (charge_class or "").strip().lower() == CORRECTION.lower():
        return CORRECTION
    return CATEGORY_KINDS.get((category or "").strip().lower(), "other")


def same_stage(previous_month_amount: Decimal, *, as_of: date) -> Decimal:
    """Last month's charge scaled to the stage of the current month at ``as_of``: the days elapsed (as_of's day)
    over the days of last month, capped at the whole month. A month-to-date bill accrues tax, fees and recurring
    purchases in proportion to the days billed, so this is what last month's bill showed at the same stage."""
    if as_of.month == 1:
        year, month = as_of.year - 1, 12
    else:
        year, month = as_of.year, as_of.month - 1
    days_last_month = calendar.monthrange(year, month)[1]
    fraction = min(Decimal(as_of.day) / Decimal(days_last_month), Decimal(1))
    return previous_month_amount * fraction
