"""Google Cloud billing export (BigQuery standard or detailed usage cost table) -> canonical (FOCUS) chunks.

Pure module: no Django imports. The table arrives exported from BigQuery as CSV, with nested records
flattened to dotted names (``service.description``, ``usage.amount``, ``invoice.month``; a query's
underscored aliases such as ``invoice_month`` are read as the same columns) and repeated records
(``labels``, ``credits``) as JSON text, or as newline-delimited JSON, which the reader flattens to the same
names. Repeated records written by Python tools (``[{'key': 'a', 'value': None}]``) are read too.

The mapping follows the FinOps Foundation's converter (focus_converters, conversion_rules/gcp.csv):
BilledCost is ``cost``; credits are not rows of their own but reduce EffectiveCost, which is ``cost`` plus the
sum of ``credits.amount``, never below zero (so credits are counted once, in EffectiveCost only);
ChargeCategory from ``cost_type``; the billing period is ``invoice.month`` in Pacific time, the time zone of
Google's invoices; RegionId is ``location.region``, else ``location.location``; ResourceId
``resource.global_name`` and ResourceName ``resource.name`` (detailed export). Deviations, each deliberate:
BillingPeriodEnd is the start of the next invoice month (the converter copies the start); the ``credit``
cost type is ChargeCategory Credit (FOCUS 1.0 has it; the converter predates it); a row with a negative
cost keeps it as EffectiveCost (the converter's floor at zero would erase refunds); ResourceId falls back to
``resource.name``; SubAccount is the project (as in Google's own FOCUS view); ChargeFrequency is
Usage-Based for usage; InstanceType is the ``compute.googleapis.com/machine_spec`` system label. Tags are
the project's labels, then the row's ``labels`` and ``tags`` (a row's own value wins). Every source column
not copied as is into a canonical column is kept in ``extras``.
"""

from __future__ import annotations

import ast
import csv
import functools
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from finops.usage.formats.canonical import canonical_table
from finops.usage.formats.convert import (
    Where,
    decimal_sum,
    lookup,
    to_decimal,
    to_text,
    to_timestamp,
)
from finops.usage.formats.errors import IngestError
from finops.usage.formats.schema import DECIMAL, TIMESTAMP

PROVIDER = "Google Cloud"
# Google invoices by calendar month in Pacific time.
INVOICE_ZONE = ZoneInfo("America/Los_Angeles")

# cost_type -> ChargeCategory; an unknown or missing cost type is usage (the converter's default: exports
# before the column existed held usage only).
CHARGE_CATEGORIES: dict[str, str] = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
    "credit": "Credit",
}

# Canonical text column -> source columns, the first non-null per row wins.
_TEXT_SOURCES: dict[str, tuple[str, ...]] = {
    "billing_account_id": ("billing_account_id",),
    "billing_currency": ("currency",),
    "sub_account_id": ("project.id",),
    "sub_account_name": ("project.name",),
    "charge_description": ("sku.description",),
    "service_name": ("service.description",),
    "sku_id": ("sku.id",),
    "region_id": ("location.region", "location.location"),
    "availability_zone": ("location.zone",),
    "resource_id": ("resource.global_name", "resource.name"),
    "resource_name": ("resource.name",),
    "pricing_unit": ("usage.pricing_unit",),
    "consumed_unit": ("usage.unit",),
    "publisher_name": ("seller_name",),
}
_DECIMAL_SOURCES: dict[str, str] = {
    "billed_cost": "cost",
    "list_cost": "cost_at_list",
    "pricing_quantity": "usage.amount_in_pricing_units",
    "consumed_quantity": "usage.amount",
}
_TIMESTAMP_SOURCES: dict[str, str] = {
    "charge_period_start": "usage_start_time",
    "charge_period_end": "usage_end_time",
}
REQUIRED_COLUMNS: tuple[str, ...] = (
    "billing_account_id",
    "usage_start_time",
    "usage_end_time",
    "cost",
    "currency",
    "invoice.month",
)
_QUANTUM = Decimal(1).scaleb(-DECIMAL.scale)  # the stored precision, as to_decimal rounds
_MACHINE_SPEC = "compute.googleapis.com/machine_spec"
# service.description -> FOCUS ServiceCategory: the FinOps Foundation converter's lookup table (data/LICENSES.md).
CATEGORIES_FILE = Path(__file__).with_name("data") / "gcp_category_mapping.csv"


@functools.cache
def service_categories() -> dict[str, str]:
    """The converter's table as service description -> category; a service it does not list has none."""
    with open(CATEGORIES_FILE, encoding="utf-8", newline="") as handle:
        return {row["ConsumedService"]: row["ServiceCategory"] for row in csv.DictReader(handle)}


def fold(name: str) -> str:
    """Column name folded so the nested record's dotted name and a query's alias meet (``invoice.month`` =
    ``invoice_month``: BigQuery exports no nested record to CSV, so a CSV comes from a query that flattens)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def looks_like_gcp(names: Sequence[str]) -> bool:
    present = {fold(name) for name in names}
    return {"billingaccountid", "usagestarttime", "cost"} <= present and bool(
        present & {"invoicemonth", "servicedescription", "costtype"}
    )


def repeated_records(raw: str) -> list | dict:
    """A repeated record's text: JSON, or the Python literal a pandas-written CSV holds (parsed safely,
    literals only). ValueError when it is neither."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"invalid JSON: {raw[:200]!r}") from None
    if not isinstance(value, (list, dict)):
        raise ValueError(f"invalid JSON: {raw[:200]!r}")
    return value


def credit_total(raw: str) -> Decimal:
    """Sum of the ``amount`` of a ``credits`` value (a list of {name, amount, type, id, full_name})."""
    value = repeated_records(raw)
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise ValueError(f"not a list of credit objects: {raw[:200]!r}")
    total = Decimal(0)
    for credit in value:
        amount = credit.get("amount")
        if amount is None:
            continue
        try:
            total += Decimal(repr(amount) if isinstance(amount, float) else str(amount))
        except InvalidOperation:
            raise ValueError(f"credit amount is not a number: {amount!r}") from None
    return total.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def key_values(raw: str) -> dict[str, str]:
    """A labels/tags value ([{key, value}, ...], or an object) as a {key: value} dict; nulls left out."""
    value = repeated_records(raw)
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items() if v is not None}
    pairs = {}
    for item in value:
        if not isinstance(item, dict) or "key" not in item:
            raise ValueError(f"not a list of {{key, value}} objects: {raw[:200]!r}")
        if item.get("value") is not None:
            pairs[str(item["key"])] = _text(item["value"])
    return pairs


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def invoice_period(month: str) -> tuple[datetime, datetime]:
    """``invoice.month`` (YYYYMM) -> the invoice month's [start, end) in UTC, months in Pacific time."""
    match = re.fullmatch(r"\s*(\d{4})(\d{2})\s*", month)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"not an invoice month (YYYYMM): {month!r}")
    year, number = int(match[1]), int(match[2])
    start = datetime(year, number, 1, tzinfo=INVOICE_ZONE)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=INVOICE_ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


class GcpMapper:
    """Maps raw batches of one Google Cloud billing export to canonical tables."""

    fmt = "gcp-billing"

    def __init__(self, names: Sequence[str], file: str) -> None:
        self._names = list(names)
        self._index = {fold(name): i for i, name in reversed(list(enumerate(names)))}
        missing = [column for column in REQUIRED_COLUMNS if fold(column) not in self._index]
        if missing:
            raise IngestError(f"missing Google Cloud billing export columns: {', '.join(missing)}", file=file)
        copied = {self._index.get(fold(sources[0])) for sources in _TEXT_SOURCES.values()}
        copied |= {self._index.get(fold(c)) for c in (*_DECIMAL_SOURCES.values(), *_TIMESTAMP_SOURCES.values())}
        self._extras = [i for i in range(len(names)) if i not in copied]

    def name_of(self, column: str) -> str:
        """The file's own spelling of a column (to name it in errors)."""
        i = self._index.get(fold(column))
        return column if i is None else self._names[i]

    def convert(self, batch: pa.RecordBatch, where: Where) -> pa.Table:
        n = batch.num_rows
        text: dict[int, pa.Array] = {}

        def source(column: str) -> pa.Array | None:
            i = self._index.get(fold(column))
            if i is None:
                return None
            if i not in text:
                text[i] = to_text(batch.column(i), where, self._names[i])
            return text[i]

        name_of = self.name_of

        columns: dict[str, pa.Array] = {}
        sources: dict[str, str] = {}
        for canonical, candidates in _TEXT_SOURCES.items():
            present = [(c, a) for c in candidates if (a := source(c)) is not None]
            if present:
                arrays = [a for _, a in present]
                columns[canonical] = arrays[0] if len(arrays) == 1 else pc.coalesce(*arrays)
                sources[canonical] = name_of(present[0][0])
        for canonical, column in _DECIMAL_SOURCES.items():
            if (value := source(column)) is not None:
                columns[canonical] = to_decimal(value, where, name_of(column))
                sources[canonical] = name_of(column)
        for canonical, column in _TIMESTAMP_SOURCES.items():
            value = source(column)
            # BigQuery writes timestamps as "2020-11-09 23:00:00 UTC" in its JSON and CSV exports.
            value = pc.replace_substring_regex(value, r"\s*UTC$", "Z")
            columns[canonical] = to_timestamp(value, where, name_of(column))
            sources[canonical] = name_of(column)

        publisher = columns.get("publisher_name")
        columns["publisher_name"] = pc.fill_null(publisher, PROVIDER) if publisher is not None else _repeat(PROVIDER, n)
        columns["provider_name"] = _repeat(PROVIDER, n)
        columns["invoice_issuer_name"] = _repeat(PROVIDER, n)

        start, end = self._billing_period(source("invoice.month"), where)
        columns["billing_period_start"], columns["billing_period_end"] = start, end
        sources["billing_period_start"] = sources["billing_period_end"] = name_of("invoice.month")

        cost_type = source("cost_type")
        if cost_type is None:
            columns["charge_category"] = _repeat("Usage", n)
        else:
            columns["charge_category"] = lookup(
                pc.fill_null(cost_type, ""), lambda v: CHARGE_CATEGORIES.get(v.strip().lower(), "Usage")
            )
        sources["charge_category"] = name_of("cost_type")
        columns["charge_frequency"] = pc.if_else(
            pc.equal(columns["charge_category"], "Usage"), "Usage-Based", pa.scalar(None, pa.string())
        )

        billed = columns["billed_cost"]
        credits = source("credits")
        if credits is None:
            columns["effective_cost"] = billed
        else:
            credit = _per_distinct(credits, where, name_of("credits"), credit_total, DECIMAL)
            net = decimal_sum(billed, credit)
            # The converter's floor at zero applies to credits: a cost already negative stays as it is.
            floor = pc.min_element_wise(billed, pa.scalar(0, DECIMAL))
            columns["effective_cost"] = pc.if_else(pc.is_null(billed), billed, pc.max_element_wise(net, floor))
        sources["effective_cost"] = name_of("cost")

        if "service_name" in columns:
            columns["service_category"] = lookup(
                pc.fill_null(columns["service_name"], ""), lambda v: service_categories().get(v.strip())
            )
            sources["service_category"] = sources["service_name"]

        tags = self._tags(source, where)
        if tags is not None:
            columns["tags"] = tags
        system = source("system_labels")
        if system is not None:
            columns["instance_type"] = _per_distinct(
                system, where, name_of("system_labels"), lambda raw: key_values(raw).get(_MACHINE_SPEC), pa.string()
            )

        extra_names = [self._names[i] for i in self._extras]
        extra_values = [to_text(batch.column(i), where, self._names[i]) for i in self._extras]
        return canonical_table(n, columns, extra_names, extra_values, sources, where)

    def _billing_period(self, month: pa.Array, where: Where) -> tuple[pa.Array, pa.Array]:
        encoded = pc.dictionary_encode(month)
        starts, ends = [], []
        for i, raw in enumerate(encoded.dictionary.to_pylist()):
            try:
                start, end = invoice_period(raw)
            except ValueError as exc:
                row = pc.index(encoded.indices, i).as_py()
                raise where.error(str(exc), index=row, column=self.name_of("invoice.month")) from None
            starts.append(start)
            ends.append(end)
        return (
            pc.take(pa.array(starts, TIMESTAMP), encoded.indices),
            pc.take(pa.array(ends, TIMESTAMP), encoded.indices),
        )

    def _tags(self, source: Callable[[str], pa.Array | None], where: Where) -> pa.Array | None:
        parts = [(c, a) for c in ("project.labels", "labels", "tags") if (a := source(c)) is not None]
        if not parts:
            return None
        parsed = [
            _per_distinct(a, where, self.name_of(c), lambda raw: json.dumps(key_values(raw)), pa.string())
            for c, a in parts
        ]

        def merge(key: tuple[str, ...]) -> str | None:
            merged: dict[str, str] = {}
            for text in key:
                if text:
                    merged.update(json.loads(text))
            return json.dumps(merged, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if merged else None

        if len(parsed) == 1:
            return lookup(pc.fill_null(parsed[0], ""), lambda text: merge((text,)))
        joined = pc.binary_join_element_wise(*[pc.fill_null(p, "") for p in parsed], "\x1f")
        return lookup(joined, lambda text: merge(tuple(text.split("\x1f"))))


def _repeat(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _per_distinct(
    text: pa.Array, where: Where, column: str, parse: Callable[[str], object], dtype: pa.DataType
) -> pa.Array:
    """``parse`` applied once per distinct non-null value; a ValueError names the first row holding it."""
    encoded = pc.dictionary_encode(text)
    results = []
    for i, raw in enumerate(encoded.dictionary.to_pylist()):
        try:
            results.append(parse(raw))
        except ValueError as exc:
            row = pc.index(encoded.indices, i).as_py()
            raise where.error(str(exc), index=row, column=column) from None
    return pc.take(pa.array(results, dtype), encoded.indices)
