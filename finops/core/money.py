"""Exact money in the database, on PostgreSQL and SQLite alike.

PostgreSQL ``numeric`` is exact. SQLite has no decimal type: a DecimalField there is stored as a
15-digit float, and ``SUM`` adds floats, which corrupts totals of bills carrying 10+ decimal places.
So ``MoneyField`` stores TEXT on SQLite, and ``MoneySum`` sums it with an exact Python aggregate
registered on every SQLite connection. Code uses ``MoneyField``/``MoneySum`` everywhere: one code path.
Every value is stored with exactly 16 decimal places, so equality filters work on both; range filters
and ORDER BY on SQLite would compare text, so rank money in Python (groups are few).
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from django.db import models

from finops.core.amounts import (
    exact_add,
    money_str,  # noqa: F401 - the text form of stored amounts, also used with them
)

MONEY_DIGITS = 38
MONEY_PLACES = 16
_CONTEXT = decimal.Context(prec=MONEY_DIGITS)
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)


class MoneyField(models.DecimalField):
    """A Decimal stored exactly: numeric(38, 16) on PostgreSQL, canonical decimal text on SQLite."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", MONEY_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_PLACES)
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        # Not "DecimalField": keeps Django's SQLite float converter away from our text values.
        return "MoneyField"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "sqlite":
            return "text"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def rel_db_type(self, connection: Any) -> str:
        return self.db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        value = self.to_python(value)
        if connection.vendor == "sqlite":
            # One text form for every value (fixed 16 places, as the ingest writes it) so equality works.
            return format(value.quantize(_QUANTUM, context=_CONTEXT), "f")
        return value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(str(value))


class MoneySum(models.Aggregate):
    """SUM that stays exact on SQLite (see module docstring). Returns a Decimal, or None."""

    function = "SUM"
    name = "MoneySum"
    allow_distinct = False

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(expression, output_field=MoneyField(), **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(compiler, connection, function="finops_decimal_sum", **extra_context)


class _DecimalSumAggregate:
    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is None:
            return
        amount = Decimal(value) if isinstance(value, str) else Decimal(str(value))
        self.total = (
            amount if self.total is None else exact_add(self.total, amount)
        )  # exact, as PostgreSQL's numeric SUM

    def finalize(self) -> str | None:
        return None if self.total is None else format(self.total, "f")


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("finops_decimal_sum", 1, _DecimalSumAggregate)
