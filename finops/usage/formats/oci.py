"""Oracle Cloud (OCI) cost reports (``reports/cost-csv``) -> canonical (FOCUS) chunks.

Pure module: no Django imports. A cost report has ``lineItem/``, ``product/``, ``usage/``, ``cost/`` and
``tags/`` columns. The usage report (``reports/usage-csv``) has no ``cost/`` columns and is not this format.

The mapping follows the FinOps Foundation's converter (focus_converters, conversion_rules/oci.csv):
BilledCost is ``cost/myCostOverage`` (what is invoiced beyond a prepaid commitment; empty means none, 0),
EffectiveCost ``cost/myCost``, BillingAccountId ``cost/subscriptionId``, SubAccountId ``lineItem/tenantId``,
ConsumedQuantity ``usage/billedQuantity``, units from ``cost/skuUnitDescription``. Deviations, each
deliberate: the billing period is the UTC calendar month of the charge's start (the converter takes the
month's start from the charge start and its end from the charge end, which for an hour ending at midnight on
the 1st is the next month); PricingQuantity is the billed quantity too, ContractedUnitPrice
``cost/unitPrice``; ``lineItem/isCorrection`` marks ChargeClass Correction; ChargeFrequency is Usage-Based.
OCI leaves ``cost/currencyCode`` empty on some rows without any cost: such a row takes the currency of the
first row of the file that names one (a zero amount is the same in every currency); a row with a cost and
no currency is refused. Each ``tags/NAMESPACE.KEY`` column is the tag ``NAMESPACE.KEY``. Every source column
not copied as is into a canonical column is kept in ``extras``.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from finops.usage.formats.canonical import canonical_table
from finops.usage.formats.convert import (
    Where,
    json_object_columns,
    to_decimal,
    to_text,
    to_timestamp,
)
from finops.usage.formats.errors import IngestError
from finops.usage.formats.schema import DECIMAL, TIMESTAMP

PROVIDER = "Oracle"
_CURRENCY = "cost/currencyCode"
_COST = "cost/myCost"
_OVERAGE = "cost/myCostOverage"
_TAG_PREFIX = "tags/"

_TEXT_SOURCES: dict[str, str] = {
    "billing_account_id": "cost/subscriptionId",
    "sub_account_id": "lineItem/tenantId",
    "charge_description": "product/Description",
    "service_name": "product/service",
    "region_id": "product/region",
    "availability_zone": "product/availabilityDomain",
    "resource_id": "product/resourceId",
    "sku_id": "cost/productSku",
    "pricing_unit": "cost/skuUnitDescription",
    "consumed_unit": "cost/skuUnitDescription",
}
_DECIMAL_SOURCES: dict[str, str] = {
    "effective_cost": _COST,
    "pricing_quantity": "usage/billedQuantity",
    "consumed_quantity": "usage/billedQuantity",
    "contracted_unit_price": "cost/unitPrice",
}
_TIMESTAMP_SOURCES: dict[str, str] = {
    "charge_period_start": "lineItem/intervalUsageStart",
    "charge_period_end": "lineItem/intervalUsageEnd",
}
REQUIRED_COLUMNS: tuple[str, ...] = (
    "lineItem/intervalUsageStart",
    "lineItem/intervalUsageEnd",
    "cost/subscriptionId",
    _COST,
    _CURRENCY,
)


def looks_like_oci_cost(names: Sequence[str]) -> bool:
    present = set(names)
    return {"lineItem/intervalUsageStart", _COST} <= present


class OciMapper:
    """Maps raw batches of one OCI cost report to canonical tables."""

    fmt = "oci-cost"

    def __init__(self, names: Sequence[str], file: str) -> None:
        self._names = list(names)
        self._index = {name: i for i, name in reversed(list(enumerate(names)))}
        missing = [column for column in REQUIRED_COLUMNS if column not in self._index]
        if missing:
            raise IngestError(f"missing OCI cost report columns: {', '.join(missing)}", file=file)
        tags = {name[len(_TAG_PREFIX) :]: i for i, name in enumerate(names) if name.startswith(_TAG_PREFIX)}
        self._tags = sorted(tags.items())  # sorted keys: canonical JSON
        copied = {self._index.get(c) for c in (*_TEXT_SOURCES.values(), *_DECIMAL_SOURCES.values())}
        copied |= {self._index.get(c) for c in (*_TIMESTAMP_SOURCES.values(), _CURRENCY, _OVERAGE)}
        copied |= set(tags.values())
        self._extras = [i for i in range(len(names)) if i not in copied]
        self._file = file
        self._file_currency: str | None = None

    def prepare(self, batches: Generator[tuple[pa.RecordBatch, int]]) -> None:
        """Find the file's currency: the first one a row names (read until then, usually the first batch)."""
        i = self._index[_CURRENCY]
        rows = 0
        try:
            for batch, _ in batches:
                text = to_text(batch.column(i), Where(self._file, rows + 1), _CURRENCY)
                rows += batch.num_rows
                named = pc.drop_null(pc.utf8_trim_whitespace(text))
                named = pc.filter(named, pc.not_equal(named, ""))
                if len(named):
                    self._file_currency = named[0].as_py()
                    return
        finally:
            batches.close()  # the reader's file, now

    def convert(self, batch: pa.RecordBatch, where: Where) -> pa.Table:
        n = batch.num_rows

        def text(column: str) -> pa.Array | None:
            i = self._index.get(column)
            return None if i is None else to_text(batch.column(i), where, column)

        columns: dict[str, pa.Array] = {}
        sources: dict[str, str] = {}
        for canonical, column in _TEXT_SOURCES.items():
            if (value := text(column)) is not None:
                columns[canonical] = value
                sources[canonical] = column
        for canonical, column in _DECIMAL_SOURCES.items():
            if (value := text(column)) is not None:
                columns[canonical] = to_decimal(value, where, column)
                sources[canonical] = column
        for canonical, column in _TIMESTAMP_SOURCES.items():
            columns[canonical] = to_timestamp(text(column), where, column)
            sources[canonical] = column

        overage = text(_OVERAGE)
        zero = pa.scalar(0, DECIMAL)
        billed = pa.repeat(zero, n) if overage is None else pc.fill_null(to_decimal(overage, where, _OVERAGE), zero)
        columns["billed_cost"] = billed
        sources["billed_cost"] = _OVERAGE
        columns["billing_currency"] = self._currency(text(_CURRENCY), columns["effective_cost"], billed, where)
        sources["billing_currency"] = _CURRENCY

        start = columns["charge_period_start"]
        columns["billing_period_start"], columns["billing_period_end"] = _calendar_month(start)
        sources["billing_period_start"] = sources["billing_period_end"] = "lineItem/intervalUsageStart"

        for canonical in ("provider_name", "publisher_name", "invoice_issuer_name"):
            columns[canonical] = _repeat(PROVIDER, n)
        columns["charge_category"] = _repeat("Usage", n)
        columns["charge_frequency"] = _repeat("Usage-Based", n)
        correction = text("lineItem/isCorrection")
        if correction is not None:
            is_correction = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(correction)), "true")
            columns["charge_class"] = pc.if_else(is_correction, "Correction", pa.scalar(None, pa.string()))
            sources["charge_class"] = "lineItem/isCorrection"

        if self._tags:
            keys = [key for key, _ in self._tags]
            columns["tags"] = json_object_columns(keys, [text(self._names[i]) for _, i in self._tags])

        extra_names = [self._names[i] for i in self._extras]
        extra_values = [text(name) for name in extra_names]
        return canonical_table(n, columns, extra_names, extra_values, sources, where)

    def _currency(self, currency: pa.Array, cost: pa.Array, billed: pa.Array, where: Where) -> pa.Array:
        currency = pc.utf8_trim_whitespace(currency)
        currency = pc.if_else(pc.equal(currency, ""), pa.scalar(None, pa.string()), currency)
        if not currency.null_count:
            return currency
        no_cost = pc.and_(
            pc.fill_null(pc.equal(cost, pa.scalar(0, DECIMAL)), True),
            pc.equal(billed, pa.scalar(0, DECIMAL)),
        )
        costed = pc.and_(pc.is_null(currency), pc.invert(no_cost))
        if pc.any(costed).as_py():
            raise where.error(
                "missing value (required): a row with a cost names no currency",
                index=pc.index(costed, True).as_py(),
                column=_CURRENCY,
            )
        if self._file_currency is None:
            raise where.error(
                "missing value (required): no row of the file names its currency",
                index=pc.index(pc.is_null(currency), True).as_py(),
                column=_CURRENCY,
            )
        return pc.fill_null(currency, self._file_currency)


def _calendar_month(start: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The UTC calendar month [first day, first day of the next month) of each timestamp."""
    encoded = pc.dictionary_encode(pc.strftime(start, "%Y-%m"))
    firsts, nexts = [], []
    for month in encoded.dictionary.to_pylist():
        year, number = int(month[:4]), int(month[5:7])
        firsts.append(datetime(year, number, 1, tzinfo=UTC))
        nexts.append(datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC))
    return pc.take(pa.array(firsts, TIMESTAMP), encoded.indices), pc.take(pa.array(nexts, TIMESTAMP), encoded.indices)


def _repeat(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)
