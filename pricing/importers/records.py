"""What every importer yields: SKU, price and spot-sample tables in fixed schemas, and the helpers
that build them.

Pure module: no Django imports. Prices are ``decimal128(38, 16)`` parsed straight from the published
text (never through a float), so "0.0001000000" reads back as ``Decimal("0.0001")``. Times are UTC.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.core.arrowtext import json_escape
from pricing.importers.errors import PriceImportError

DECIMAL = pa.decimal128(38, 16)
STRING = pa.string()
TIMESTAMP = pa.timestamp("us", tz="UTC")
ZERO = Decimal(0)

TERMS = ("on_demand", "reserved", "savings_plan", "spot")
PURCHASE_OPTIONS = ("no_upfront", "partial_upfront", "all_upfront")
OFFERING_CLASSES = ("standard", "convertible")
PLAN_TYPES = ("compute", "ec2_instance", "database", "sagemaker", "other")

SKU_SCHEMA = pa.schema(
    [
        pa.field("sku_key", pa.string(), nullable=False),
        pa.field("provider", pa.string(), nullable=False),
        pa.field("sku_code", pa.string()),
        pa.field("service", pa.string(), nullable=False),
        pa.field("product_family", pa.string()),
        pa.field("region", pa.string()),
        pa.field("instance_type", pa.string()),
        pa.field("operating_system", pa.string()),
        pa.field("tenancy", pa.string()),
        pa.field("license_model", pa.string()),
        pa.field("pre_installed_sw", pa.string()),
        pa.field("vcpu", pa.int32()),
        pa.field("memory_gib", DECIMAL),
        pa.field("architecture", pa.string()),
        pa.field("gpu", pa.int32()),
        pa.field("instance_family", pa.string()),
        pa.field("normalization_factor", DECIMAL),
        pa.field("attributes", pa.string(), nullable=False),
    ]
)

PRICE_SCHEMA = pa.schema(
    [
        pa.field("sku_key", pa.string(), nullable=False),
        pa.field("term", pa.string(), nullable=False),
        pa.field("lease_years", pa.int32()),
        pa.field("purchase_option", pa.string()),
        pa.field("offering_class", pa.string()),
        pa.field("plan_type", pa.string()),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("upfront", DECIMAL, nullable=False),
        pa.field("hourly", DECIMAL, nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("effective_from", TIMESTAMP),
        pa.field("tier_start", DECIMAL),
        pa.field("tier_end", DECIMAL),
        pa.field("rate_code", pa.string()),
        pa.field("description", pa.string()),
        pa.field("derived", pa.bool_(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
    ]
)

SPOT_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("availability_zone", pa.string(), nullable=False),
        pa.field("instance_type", pa.string(), nullable=False),
        pa.field("product_description", pa.string(), nullable=False),
        pa.field("operating_system", pa.string(), nullable=False),
        pa.field("price", DECIMAL, nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("timestamp", TIMESTAMP, nullable=False),
    ]
)


@dataclass(frozen=True)
class CatalogMeta:
    """Where a catalog comes from. ``publication_date`` is UTC (None when the format has none)."""

    format: str
    provider: str  # "aws" | "azure"
    source: str  # offer code, "libcloud 3.9.1 pricing.json", "Azure Retail Prices API", ...
    publication_date: dt.datetime | None
    version: str | None


@dataclass(frozen=True)
class CatalogBatch:
    """One batch of a catalog. ``rows`` is how many source records the batch consumed (CSV/TSV data rows,
    JSON items, price dimensions or table entries, see each importer) and ``skipped`` how many of them
    were deliberately left out, by reason ("unknown_price": libcloud's 0.0; "dev_test": Azure
    DevTestConsumption items). A SKU appears in the batch where it is first seen, once per file."""

    skus: pa.Table  # SKU_SCHEMA
    prices: pa.Table  # PRICE_SCHEMA
    spot: pa.Table  # SPOT_SCHEMA
    first_row: int  # 1-based number of the batch's first source record
    bytes_read: int  # bytes of the file on disk consumed so far (for a progress bar)
    bytes_total: int  # on-disk size of the file
    rows: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


# --------------------------------------------------------------------------------------------- where


@dataclass(frozen=True)
class Where:
    """Where a group of rows sits in its file, so an error names the data row (and the text line)."""

    file: str
    first_row: int  # 1-based data row of index 0
    line_offset: int | None = None  # text line = data row + line_offset (CSV without embedded newlines)
    rows: pa.Array | None = None  # the data row of each index, for values filtered out of a group

    def row_of(self, index: int) -> int:
        return self.rows[index].as_py() if self.rows is not None else self.first_row + index

    def subset(self, rows: pa.Array | pa.ChunkedArray) -> Where:
        """The same place for values filtered out of the group: index i is data row ``rows[i]``."""
        return Where(self.file, self.first_row, self.line_offset, combined(rows))

    def error(self, message: str, *, index: int | None = None, field: str | None = None) -> PriceImportError:
        row = None if index is None else self.row_of(index)
        if row is not None and self.line_offset is not None:
            message = f"{message} (line {row + self.line_offset} of the file)"
        return PriceImportError(message, file=self.file, row=row, field=field)


# ------------------------------------------------------------------------------------------- scalars

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_QUANTUM = Decimal(1).scaleb(-DECIMAL.scale)
_LIMIT = Decimal(10) ** (DECIMAL.precision - DECIMAL.scale)
_CONTEXT = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_EVEN)


def parse_decimal(value: Any) -> Decimal:
    """A price or quantity as an exact Decimal with at most 16 decimal places (more are rounded half-even).

    Accepts published text ("0.0001000000", "1.0E-4"), ints and Decimals (JSON parsed with
    ``parse_float=Decimal``). Raises ValueError with a message fit for the user.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):  # only from a caller that parsed JSON itself: shortest text form
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"not a number: {value!r}")
        number = Decimal(text)
    else:
        raise ValueError(f"not a number: {value!r}")
    if not number.is_finite() or abs(number) >= _LIMIT:
        raise ValueError(f"number out of range: {value!r}")
    return number.quantize(_QUANTUM, context=_CONTEXT)


def parse_timestamp(text: str) -> dt.datetime:
    """ISO 8601 date or date-time as an aware UTC datetime ("2025-04-01" is midnight UTC; no offset means UTC)."""
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def int_or_none(text: str | None) -> int | None:
    """ "2" -> 2; "NA", "", "0.5", None -> None (spec columns hold "NA" for "not applicable")."""
    if text is None:
        return None
    text = text.strip().replace(",", "")
    return int(text) if text.isdigit() else None


def gib_or_none(text: str | None) -> Decimal | None:
    """AWS memory text as GiB: "8 GiB" -> 8, "1,952 GiB" -> 1952, "0.5 GiB" -> 0.5; "NA" -> None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([\d,]*\.?\d+)\s*(GiB|GB)?\s*", text)
    return parse_decimal(match.group(1).replace(",", "")) if match else None


# --------------------------------------------------------------------------------------- vocabularies

_OPERATING_SYSTEMS = {
    "linux": "linux",
    "linux/unix": "linux",
    "windows": "windows",
    "rhel": "rhel",
    "red hat enterprise linux": "rhel",
    "red hat enterprise linux with ha": "rhel_ha",
    "rhel_ha": "rhel_ha",
    "suse": "suse",
    "suse linux": "suse",
    "ubuntu pro": "ubuntu_pro",
}
_NOT_APPLICABLE = {"", "na", "n/a", "none"}


def normalize_os(text: str | None) -> str | None:
    """Provider spelling -> linux, windows, rhel, rhel_ha, suse, ubuntu_pro, ... ("Linux/UNIX (Amazon VPC)"
    -> linux; an unknown name is lower-cased with "_" for spaces; "NA" -> None)."""
    if text is None:
        return None
    key = text.strip().lower().removesuffix("(amazon vpc)").strip()
    if key in _NOT_APPLICABLE:
        return None
    return _OPERATING_SYSTEMS.get(key) or re.sub(r"[^a-z0-9]+", "_", key).strip("_")


def normalize_tenancy(text: str | None) -> str | None:
    """ "Shared" -> shared, "Dedicated" -> dedicated, "Host" -> host (others lower-cased; "NA" -> None)."""
    if text is None:
        return None
    key = text.strip().lower()
    return None if key in _NOT_APPLICABLE else re.sub(r"[^a-z0-9]+", "_", key).strip("_")


def normalize_purchase_option(text: str | None) -> str | None:
    """ "No Upfront" -> no_upfront, "Partial Upfront" -> partial_upfront, "All Upfront" -> all_upfront."""
    if text is None:
        return None
    key = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    return key or None


def lease_years(text: str | None) -> int | None:
    """ "1yr", "3yr", "1 Year", "3 Years", "1" -> 1 / 3; None when absent or not a whole number of years."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(yr|yrs|year|years)?\s*", text.strip().lower())
    return int(match.group(1)) if match else None


def none_if_na(text: str | None) -> str | None:
    return None if text is None or text.strip().lower() in _NOT_APPLICABLE else text


# ------------------------------------------------------------------------------------ vector columns

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def combined(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def first_index(mask: pa.Array | pa.ChunkedArray) -> int:
    """Index of the first true value of a boolean array (-1 if none)."""
    return pc.index(mask, True).as_py()


def require_values(arr: pa.Array, where: Where, name: str, what: str) -> None:
    """Every value present, else an error naming the first empty one."""
    if arr.null_count:
        raise where.error(f"empty {what}", index=first_index(arr.is_null()), field=name)


def text_column(arr: pa.Array, where: Where, name: str) -> pa.Array:
    """A column read as bytes, as text: an error naming the row of the first value that is not UTF-8."""
    arr = combined(arr)
    if not pa.types.is_binary(arr.type):
        return arr
    try:
        return arr.cast(STRING)
    except _CAST_ERRORS:
        for i, raw in enumerate(arr.to_pylist()):
            try:
                if raw is not None:
                    raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise where.error(
                    f"not UTF-8 text ({exc.reason}): {raw[:60]!r}; save the file as UTF-8", index=i, field=name
                ) from None
        raise


def decimal_column(arr: pa.Array, where: Where, name: str) -> pa.Array:
    """Text -> decimal128(38, 16), vectorised. Nulls stay null. A value that is not a number is an error
    naming its row. pyarrow silently misreads a text longer than the decimal's precision, so such
    columns (and any the cast refuses: spaces, more than 16 decimal places) take the exact slow path."""
    arr = combined(arr)
    if pa.types.is_decimal(arr.type):
        return arr.cast(DECIMAL)
    longest = pc.max(pc.binary_length(arr)).as_py() or 0
    if longest <= DECIMAL.precision:
        try:
            return arr.cast(DECIMAL)
        except _CAST_ERRORS:
            pass
    values: list[Decimal | None] = []
    for i, raw in enumerate(arr.to_pylist()):
        if raw is None:
            values.append(None)
            continue
        try:
            values.append(parse_decimal(raw))
        except ValueError as exc:
            raise where.error(str(exc), index=i, field=name) from None
    return pa.array(values, DECIMAL)


def map_distinct(arr: pa.Array, function: Callable[[Any], Any], dtype: pa.DataType = STRING) -> pa.Array:
    """``function`` applied once per distinct non-null value (columns like Tenancy have a handful)."""
    arr = combined(arr)
    encoded = pc.dictionary_encode(arr)
    values = [function(value) for value in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(values, dtype), encoded.indices)


def timestamp_column(arr: pa.Array, where: Where, name: str) -> pa.Array:
    """ISO 8601 text -> UTC timestamps, parsed once per distinct value (a price list has a few dates)."""
    arr = combined(arr)
    encoded = pc.dictionary_encode(arr)
    parsed = []
    for i, text in enumerate(encoded.dictionary.to_pylist()):
        try:
            parsed.append(parse_timestamp(text))
        except ValueError:
            row = first_index(pc.equal(encoded.indices, i))
            raise where.error(f"not a date/time: {text!r}", index=row, field=name) from None
    return pc.take(pa.array(parsed, TIMESTAMP), encoded.indices)


def json_objects(names: Sequence[str], columns: Sequence[pa.Array], length: int) -> pa.Array:
    """Per row, the JSON object text {name: value} of the row's non-null values, in column order ("{}"
    when all are null). Vectorised: one string kernel per column, no Python loop per row."""
    pieces = []
    for name, col in zip(names, columns, strict=True):
        col = combined(col)
        if col.null_count == len(col):
            continue
        key = json.dumps(name, ensure_ascii=False)
        pieces.append(pc.binary_join_element_wise(f",{key}:" + '"', json_escape(col), '"', ""))
    if not pieces:
        return pa.array(["{}"] * length, pa.string())
    # Each piece starts with ","; nulls become "" (join's "skip" mode drops rows that are all null).
    body = pc.binary_join_element_wise(*pieces, "", null_handling="replace", null_replacement="")
    return pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 1), "}", "")


def json_object(values: Mapping[str, Any]) -> str:
    """One attributes object as compact JSON text, keys in the source's order."""
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=str)


def first_occurrences(keys: pa.Array, seen: set[str]) -> np.ndarray:
    """Indices of the rows whose key appears here for the first time in the file; adds the keys to ``seen``."""
    encoded = pc.dictionary_encode(combined(keys))
    distinct = encoded.dictionary.to_pylist()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(indices, return_index=True)  # first row of each dictionary entry, in entry order
    new = [i for i, key in enumerate(distinct) if key not in seen]
    seen.update(distinct[i] for i in new)
    return np.sort(first[new]) if new else np.empty(0, dtype=np.int64)


# ----------------------------------------------------------------------------------- table building


class TableBuilder:
    """Rows appended one at a time (the JSON importers), turned into a table of ``schema``."""

    def __init__(self, schema: pa.Schema, defaults: Mapping[str, Any] | None = None) -> None:
        self.schema = schema
        self.defaults = dict(defaults or {})
        self.columns: dict[str, list[Any]] = {name: [] for name in schema.names}

    def __len__(self) -> int:
        return len(self.columns[self.schema.names[0]])

    def append(self, **values: Any) -> None:
        unknown = values.keys() - self.columns.keys()
        if unknown:
            raise TypeError(f"not in the schema: {sorted(unknown)}")
        for name, column in self.columns.items():
            column.append(values.get(name, self.defaults.get(name)))

    def take(self) -> pa.Table:
        """The rows so far as a table; the builder starts empty again."""
        table = pa.Table.from_pydict(self.columns, schema=self.schema)
        self.columns = {name: [] for name in self.schema.names}
        return table


PRICE_DEFAULTS: Mapping[str, Any] = {"upfront": ZERO, "derived": False}


def price_builder() -> TableBuilder:
    return TableBuilder(PRICE_SCHEMA, PRICE_DEFAULTS)


def sku_builder() -> TableBuilder:
    return TableBuilder(SKU_SCHEMA, {"attributes": "{}"})


def table(schema: pa.Schema, columns: Mapping[str, pa.Array | Any], length: int) -> pa.Table:
    """A table of ``schema`` from arrays and constants (a constant, or None, fills the column)."""
    arrays = []
    for schema_field in schema:
        value = columns.get(schema_field.name)
        if isinstance(value, (pa.Array, pa.ChunkedArray)):
            arrays.append(combined(value).cast(schema_field.type))
        elif value is None:
            arrays.append(pa.nulls(length, schema_field.type))
        else:
            arrays.append(pa.repeat(pa.scalar(value, schema_field.type), length))
    return pa.Table.from_arrays(arrays, schema=schema)


def concat(tables: Iterable[pa.Table], schema: pa.Schema) -> pa.Table:
    parts = [t for t in tables if t.num_rows]
    return pa.concat_tables(parts) if parts else empty(schema)
