"""Assembly of a canonical chunk from converted columns: nulls for what a source lacks, the extras
JSON, the check that REQUIRED_VALUES columns have no nulls, and FOCUS's value rules (currency codes,
enumerations, period order, charges inside their billing period), for every format.

Pure module: no Django imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from finops.usage.formats.convert import Where, first_null, json_object_columns
from finops.usage.formats.schema import CANONICAL_SCHEMA, ENUMERATIONS, FOCUS_NAMES, REQUIRED_VALUES

# FOCUS requires ISO 4217 for BillingCurrency; PricingCurrency may be a provider's virtual currency (1.2+).
CURRENCY_COLUMNS = ("billing_currency",)
# No cloud bill predates this; an earlier charge date is a broken value (e.g. 1900-01-01 for "unknown").
EARLIEST_CHARGE = datetime(2000, 1, 1, tzinfo=UTC)
# Providers date charges and billing periods in different time zones (the FinOps Foundation's sample has
# charges at 22:00 UTC on the eve of their billing period): a charge may start this far after its period.
PERIOD_SKEW = timedelta(days=1)
# Usage reported late is billed in the next period (Google Cloud's invoice month): a charge may start this far
# before its billing period; earlier, only corrections, credits and adjustments.
LATE_USAGE = timedelta(days=31)
# Charges that may refer to an earlier billing period (FOCUS: ChargeClass "Correction"; refunds, credits).
_CORRECTING_CATEGORIES = ("Adjustment", "Credit")


def canonical_table(
    num_rows: int,
    columns: Mapping[str, pa.Array],
    extra_names: Sequence[str],
    extra_values: Sequence[pa.Array],
    sources: Mapping[str, str],
    where: Where,
) -> pa.Table:
    """A table with exactly CANONICAL_SCHEMA.

    ``columns``: converted canonical columns (absent ones become null); ``extra_names``/``extra_values``:
    the source columns kept in ``extras`` (string arrays); ``sources``: canonical column -> the source
    column it came from, to name in errors.
    """
    for name in REQUIRED_VALUES:
        column = columns.get(name)
        if column is None or column.null_count:
            source = sources.get(name, FOCUS_NAMES.get(name, name))
            if column is None:
                raise where.error("missing value (required)", index=0, column=source)
            raise where.error("missing value (required)", index=first_null(column), column=source)
    columns = _checked_values(dict(columns), num_rows, sources, where)
    arrays = []
    for field in CANONICAL_SCHEMA:
        if field.name == "extras":
            arrays.append(
                json_object_columns(extra_names, extra_values) if extra_names else pa.nulls(num_rows, pa.string())
            )
            continue
        column = columns.get(field.name)
        arrays.append(pa.nulls(num_rows, field.type) if column is None else column)
    return pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA)


def _first(mask: pa.Array) -> int | None:
    """Index of the first true value of a boolean array (nulls are false), or None."""
    filled = pc.fill_null(mask, False)
    return pc.index(filled, True).as_py() if pc.any(filled).as_py() else None


def _checked_values(columns: dict[str, pa.Array], num_rows: int, sources: Mapping[str, str], where: Where) -> dict:
    """``columns`` with currency codes upper-cased; raises naming row, column and value when a value breaks one
    of FOCUS's rules."""

    def name(column: str) -> str:
        return sources.get(column, FOCUS_NAMES.get(column, column))

    def refuse(index: int, column: str, message: str) -> None:
        raise where.error(message, index=index, column=name(column))

    for column in CURRENCY_COLUMNS:
        values = columns.get(column)
        if values is None:
            continue
        upper = pc.utf8_upper(values)
        bad = _first(pc.invert(pc.match_substring_regex(upper, r"^[A-Z]{3}$")))
        if bad is not None:
            refuse(bad, column, f"not an ISO 4217 currency code: {values[bad].as_py()!r}")
        columns[column] = upper

    for column, focus_name in FOCUS_NAMES.items():
        allowed = ENUMERATIONS.get(focus_name)
        values = columns.get(column)
        if allowed is None or values is None:
            continue
        known = pc.is_in(values, value_set=pa.array(allowed, pa.string()))
        bad = _first(pc.and_(pc.is_valid(values), pc.invert(known)))  # an optional column may be empty
        if bad is not None:
            refuse(bad, column, f"{values[bad].as_py()!r} is not one of {', '.join(allowed)}")

    charge_start, charge_end = columns.get("charge_period_start"), columns.get("charge_period_end")
    billing_start, billing_end = columns.get("billing_period_start"), columns.get("billing_period_end")
    if billing_start is not None and billing_end is not None:
        bad = _first(pc.less_equal(billing_end, billing_start))
        if bad is not None:
            refuse(
                bad, "billing_period_end", f"{billing_end[bad]} is not after BillingPeriodStart {billing_start[bad]}"
            )
    if charge_start is None:
        return columns
    if charge_end is not None:
        bad = _first(pc.less(charge_end, charge_start))
        if bad is not None:
            refuse(bad, "charge_period_end", f"{charge_end[bad]} is before ChargePeriodStart {charge_start[bad]}")
    bad = _first(pc.less(charge_start, pa.scalar(EARLIEST_CHARGE, charge_start.type)))
    if bad is not None:
        refuse(
            bad, "charge_period_start", f"{charge_start[bad]} is before {EARLIEST_CHARGE:%Y}: not a real charge date"
        )
    if billing_start is None or billing_end is None:
        return columns
    bad = _first(pc.greater_equal(charge_start, pc.add(billing_end, pa.scalar(PERIOD_SKEW))))
    if bad is not None:
        refuse(
            bad, "charge_period_start", f"{charge_start[bad]} is after its billing period ({billing_end[bad]} ends it)"
        )
    correcting = pc.is_in(
        columns.get("charge_category", pa.nulls(num_rows, pa.string())),
        value_set=pa.array(_CORRECTING_CATEGORIES, pa.string()),
    )
    charge_class = columns.get("charge_class")
    if charge_class is not None:
        correcting = pc.or_(pc.fill_null(correcting, False), pc.fill_null(pc.equal(charge_class, "Correction"), False))
    early = pc.less(charge_start, pc.subtract(billing_start, pa.scalar(LATE_USAGE)))
    bad = _first(pc.and_(early, pc.invert(pc.fill_null(correcting, False))))
    if bad is not None:
        refuse(
            bad,
            "charge_period_start",
            f"{charge_start[bad]} is before its billing period ({billing_start[bad]} starts it); only corrections, "
            "credits and adjustments may refer to an earlier period",
        )
    return columns
