"""Vectorised column conversions shared by the parsers, with errors that name the row and column.

Pure module: no Django imports. The fast path is one pyarrow cast per column and batch; only when a
cast fails do we do slower work (a wider decimal to round values with more than 16 decimal places;
then Python ``Decimal``, or a bisection, to find and name the first bad value), so good files never
pay for the error path.

JSON objects (the ``extras`` column, CUR tags, maps) are assembled without a Python loop per row: the
pieces of every row are gathered with one ``take`` into a single string buffer laid out row after row,
and the rows are then zero-copy slices of that buffer.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.core.arrowtext import json_escape
from finops.usage.formats.errors import IngestError
from finops.usage.formats.schema import DECIMAL, TIMESTAMP

_TIMESTAMP_NS = pa.timestamp("ns", tz="UTC")
_NAIVE_US = pa.timestamp("us")
_NAIVE_NS = pa.timestamp("ns")
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)

# What the slow decimal path accepts: plain or scientific notation, surrounding spaces allowed.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_QUANTUM = Decimal(1).scaleb(-DECIMAL.scale)
_DECIMAL_CONTEXT = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_EVEN)
_MAX_INTEGER_DIGITS = DECIMAL.precision - DECIMAL.scale
# Casts tried in turn, each while every |value| stays below its bound (a margin under 10^(38 - scale)).
_DECIMAL_TARGETS = ((DECIMAL, 1e21), (pa.decimal128(38, 22), 1e15), (pa.decimal128(38, 30), 1e7))
# A UTC offset after the time part ("-19" at the end of a bare date is not one).
_ZONE_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:\.\d*)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class Where:
    """Where a batch sits in its file, so errors can name the data row (1-based, header not counted)."""

    file: str
    first_row: int

    def error(self, message: str, *, index: int | None = None, column: str | None = None) -> IngestError:
        row = None if index is None else self.first_row + index
        return IngestError(message, file=self.file, row=row, column=column)


def _first_failure(arr: pa.Array, convert: Callable[[pa.Array], object]) -> int:
    """Index of the first element ``convert`` rejects, given that it rejects the whole array.

    Bisection on vectorised calls: O(n) work in total, no per-value Python loop.
    """
    lo, hi = 0, len(arr)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(arr.slice(lo, mid - lo))
        except _CAST_ERRORS:
            hi = mid
        else:
            lo = mid
    return lo


def validity_mask(arr: pa.Array) -> np.ndarray:
    """Which values are not null, as a numpy bool array (unpacked straight from the bitmap)."""
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    if arr.null_count == len(arr):
        return np.zeros(len(arr), dtype=bool)
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)].view(bool)


def first_null(arr: pa.Array) -> int:
    return pc.index(arr.is_null(), True).as_py()


def is_text(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_binary(dtype)
        or pa.types.is_large_binary(dtype)
        or pa.types.is_string_view(dtype)
        or pa.types.is_binary_view(dtype)
    )


# ---------------------------------------------------------------------------------------------- text


def to_text(arr: pa.Array, where: Where, column: str) -> pa.Array:
    """Any column as ``string``: binary is checked to be UTF-8, maps and nested values become JSON."""
    dtype = arr.type
    if pa.types.is_string(dtype):
        return arr
    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return arr.cast(pa.string())
    if is_text(dtype):
        try:
            return arr.cast(pa.string())
        except _CAST_ERRORS:
            i = _first_failure(arr, lambda a: a.cast(pa.string()))
            raw = arr[i].as_py()
            try:
                raw.decode("utf-8")
                bad = ""
            except UnicodeDecodeError as exc:
                bad = f" (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the value)"
            raise where.error(
                f"not valid UTF-8 text{bad}: {raw!r}; save the file as UTF-8 (it may be Latin-1 or Windows-1252)",
                index=i,
                column=column,
            ) from None
    if pa.types.is_dictionary(dtype):
        return to_text(arr.dictionary_decode(), where, column)
    if pa.types.is_null(dtype):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_map(dtype):
        return map_to_json(arr, where, column)
    if pa.types.is_nested(dtype):
        # Rare (lists or structs in a Parquet export): one JSON text per row is fine here.
        values = [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in arr.to_pylist()]
        return pa.array(values, pa.string())
    return arr.cast(pa.string())


def blank_to_null(arr: pa.Array) -> pa.Array:
    """ "" and the literal NULL mean null (the CSV reader does this itself; Parquet strings need it)."""
    blank = pc.or_(pc.equal(arr, ""), pc.equal(arr, "NULL"))
    if not pc.any(blank).as_py():
        return arr
    return pc.if_else(blank, pa.scalar(None, arr.type), arr)


def canonical_case(arr: pa.Array, allowed: Sequence[str]) -> pa.Array:
    """Known enumeration values in their spec spelling ("Usage-based" -> "Usage-Based"); others kept."""
    spelling = {value.lower(): value for value in allowed}
    encoded = pc.dictionary_encode(arr)
    distinct = encoded.dictionary.to_pylist()
    fixed = [spelling.get(v.lower(), v) for v in distinct]
    if fixed == distinct:
        return arr
    return pc.take(pa.array(fixed, pa.string()), encoded.indices)


def lookup(arr: pa.Array, mapping: Callable[[str], str | None]) -> pa.Array:
    """``mapping`` applied once per distinct value (columns like LineItemType have a handful)."""
    encoded = pc.dictionary_encode(arr)
    values = [mapping(v) for v in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(values, pa.string()), encoded.indices)


# ------------------------------------------------------------------------------------------- numbers


def to_decimal(arr: pa.Array, where: Where, column: str) -> pa.Array:
    """Any column as ``decimal128(38, 16)``; text in plain or scientific notation.

    More than 16 decimal places are rounded half-even to 16 (the stored precision).
    """
    dtype = arr.type
    if pa.types.is_null(dtype):
        return pa.nulls(len(arr), DECIMAL)
    if pa.types.is_decimal(dtype):
        # Checked before the cast: pyarrow's decimal rescale can overflow silently.
        limit = Decimal(10) ** _MAX_INTEGER_DIGITS
        extremes = pc.min_max(arr)
        low, high = extremes["min"].as_py(), extremes["max"].as_py()
        if high is not None and (high >= limit or low <= -limit):
            outside = pc.or_(pc.greater_equal(arr, pa.scalar(limit)), pc.less_equal(arr, pa.scalar(-limit)))
            i = pc.index(outside, True).as_py()
            raise where.error(f"number out of range: {arr[i].as_py()}", index=i, column=column)
        if dtype.scale > DECIMAL.scale:
            if pa.types.is_decimal256(dtype):  # rare; pyarrow's decimal256 round is unreliable
                return _decimal_slow(arr.cast(pa.string()), where, column)
            try:
                arr = pc.round(arr, ndigits=DECIMAL.scale, round_mode="half_to_even")
            except _CAST_ERRORS:  # a carry past the type's precision (999.999... rounding up)
                return _decimal_slow(arr.cast(pa.string()), where, column)
        return arr.cast(DECIMAL)
    if pa.types.is_integer(dtype):
        return arr.cast(DECIMAL)
    if pa.types.is_dictionary(dtype):
        return to_decimal(arr.dictionary_decode(), where, column)
    # Floats go through their shortest text form, so 0.1 stays 0.1 rather than its binary expansion.
    text = to_text(arr, where, column)
    # pyarrow's text -> decimal cast can return garbage instead of failing when a value has more
    # digits than the decimal holds (more than 38 in all, or too many before the point for the
    # scale). Its result is only trusted on texts of at most 38 characters whose magnitude, read
    # as a float first (cheap), leaves room for the scale; anything else takes the Python path.
    if (pc.max(pc.binary_length(text)).as_py() or 0) <= DECIMAL.precision:
        magnitude = _magnitude(text)
        for target, limit in _DECIMAL_TARGETS:
            if not magnitude < limit:
                break
            try:
                # Finer targets read more than 16 decimal places (a float's 17th digit), then round
                # half-even, still vectorised (decimal128 only: pyarrow's decimal256 round drops
                # carries through long runs of 9s).
                value = text.cast(target)
                if target != DECIMAL:
                    value = pc.round(value, ndigits=DECIMAL.scale, round_mode="half_to_even").cast(DECIMAL)
                return value
            except _CAST_ERRORS:
                continue
    return _decimal_slow(text, where, column)


def _magnitude(text: pa.Array) -> float:
    """The largest absolute value, read as floats (inf when some text is not a number)."""
    try:
        largest = pc.max(pc.abs(text.cast(pa.float64()))).as_py()
    except _CAST_ERRORS:
        return math.inf
    return 0.0 if largest is None else largest


def _decimal_slow(text: pa.Array, where: Where, column: str) -> pa.Array:
    values: list[Decimal | None] = []
    for i, raw in enumerate(text.to_pylist()):
        if raw is None:
            values.append(None)
            continue
        stripped = raw.strip()
        if not _NUMBER.fullmatch(stripped):
            raise where.error(f"not a number: {raw!r}", index=i, column=column)
        number = Decimal(stripped)
        if number and number.adjusted() >= _MAX_INTEGER_DIGITS:
            raise where.error(f"number out of range: {raw!r}", index=i, column=column)
        rounded = number.quantize(_QUANTUM, context=_DECIMAL_CONTEXT)
        if rounded and rounded.adjusted() >= _MAX_INTEGER_DIGITS:
            raise where.error(
                f"number out of range: {raw!r} (rounded to {DECIMAL.scale} decimal places it has "
                f"{_MAX_INTEGER_DIGITS + 1} integer digits)",
                index=i,
                column=column,
            )
        values.append(rounded)
    return pa.array(values, DECIMAL)


def decimal_sum(*parts: pa.Array) -> pa.Array:
    """Exact sum of decimal128(38, 16) arrays, nulls counting as 0 (pyarrow widens the precision of a
    decimal sum beyond 38 digits, so the operands are narrowed first: billing amounts are far below
    10^21)."""
    narrow = pa.decimal128(DECIMAL.precision - 1, DECIMAL.scale)
    total = pc.fill_null(parts[0], 0).cast(narrow)
    for part in parts[1:]:
        total = pc.add(total, pc.fill_null(part, 0).cast(narrow)).cast(narrow)
    return total.cast(DECIMAL)


def decimal_product(a: pa.Array, b: pa.Array) -> pa.Array:
    """a x b rounded half-even to 16 places (null if either is null).

    Through decimal256, whose rounding pyarrow gets wrong from about 10^15 up (a carry through a
    long run of 9s is dropped): fine for a public price x usage amount, not a general multiply."""
    wide = pa.decimal256(37, DECIMAL.scale)
    product = pc.multiply(a.cast(wide), b.cast(wide))
    product = pc.round(product, ndigits=DECIMAL.scale, round_mode="half_to_even")
    return product.cast(DECIMAL)


# ---------------------------------------------------------------------------------------- timestamps


def to_timestamp(arr: pa.Array, where: Where, column: str) -> pa.Array:
    """Any column as UTC ``timestamp[us]``.

    Text may be ISO 8601 with a UTC offset (converted to UTC) or without one (taken as UTC): the
    formats seen in CUR (``2023-11-01T00:00:00.000Z``, ``2022-07-01 00:00:00.000``) and FOCUS
    (``2024-09-18 22:00:00``, ``...T00:00:00.0000000Z``). Sub-microsecond digits are truncated.
    """
    dtype = arr.type
    if pa.types.is_null(dtype):
        return pa.nulls(len(arr), TIMESTAMP)
    if pa.types.is_timestamp(dtype):
        # A timestamp without a zone is taken as UTC (Arrow's cast keeps its wall-clock value).
        return arr.cast(TIMESTAMP, safe=False)
    if pa.types.is_date(dtype):
        return arr.cast(TIMESTAMP)
    if pa.types.is_dictionary(dtype):
        return to_timestamp(arr.dictionary_decode(), where, column)
    text = to_text(arr, where, column)
    valid = pc.index(text.is_valid(), True).as_py()
    if valid < 0:
        return pa.nulls(len(arr), TIMESTAMP)
    # Try the layout of the first value first: one cast for a normal file.
    attempts = [_zoned, _naive] if re.search(_ZONE_SUFFIX, text[valid].as_py().strip()) else [_naive, _zoned]
    for attempt in [*attempts, _mixed]:
        try:
            return attempt(text)
        except _CAST_ERRORS:
            continue
    i = _first_failure(text, _mixed)
    raise where.error(f"not a date/time: {text[i].as_py()!r}", index=i, column=column)


def _zoned(text: pa.Array) -> pa.Array:
    try:
        return text.cast(TIMESTAMP)
    except _CAST_ERRORS:
        return text.cast(_TIMESTAMP_NS).cast(TIMESTAMP, safe=False)


def _naive(text: pa.Array) -> pa.Array:
    try:
        return text.cast(_NAIVE_US).cast(TIMESTAMP)
    except _CAST_ERRORS:
        return text.cast(_NAIVE_NS).cast(TIMESTAMP, safe=False)


def _mixed(text: pa.Array) -> pa.Array:
    """Values with and without an offset in one column: give the ones without "Z" (dates: midnight)."""
    text = pc.utf8_trim_whitespace(text)
    zoned = pc.match_substring_regex(text, _ZONE_SUFFIX)
    date_only = pc.match_substring_regex(text, r"^\d{4}-\d{2}-\d{2}$")
    suffix = pc.if_else(zoned, "", pc.if_else(date_only, "T00:00:00Z", "Z"))
    return _zoned(pc.binary_join_element_wise(text, suffix, ""))


# ------------------------------------------------------------------------------------- JSON objects


def _rows_from_pieces(pool: pa.Array, order: np.ndarray, starts: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Row r = concatenation of ``pool[order[starts[r]:starts[r + 1]]]``; null where not ``valid``.

    One ``take`` lays every row out in one buffer, row after row; the rows are slices of it.
    """
    taken = pool.take(pa.array(order))
    offsets = np.frombuffer(taken.buffers()[1], dtype=np.int32)[taken.offset : taken.offset + len(taken) + 1]
    row_offsets = np.ascontiguousarray(offsets[starts], dtype=np.int32)
    n = len(valid)
    null_count = int(n - np.count_nonzero(valid))
    validity = pa.array(valid, pa.bool_()).buffers()[1] if null_count else None
    data = taken.buffers()[2] or pa.py_buffer(b"")
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(row_offsets), data], null_count)


def _assemble(n: int, entry_rows: np.ndarray, parts: Sequence[np.ndarray], pool: pa.Array) -> pa.Array:
    """Rows built from pieces of ``pool``: row r = its entries' pieces in order, then the last pool
    element (the closing text). Rows without entries are null.

    ``entry_rows`` is the (non-decreasing) row of each entry; ``parts[j][e]`` the pool index of piece j
    of entry e.
    """
    pieces = len(parts)
    counts = np.bincount(entry_rows, minlength=n).astype(np.int64)
    nonempty = counts > 0
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts * pieces + nonempty, out=starts[1:])
    order = np.empty(int(starts[-1]), dtype=np.int64)
    rank = np.arange(len(entry_rows), dtype=np.int64) - (np.cumsum(counts) - counts)[entry_rows]
    position = starts[entry_rows] + pieces * rank
    for j, part in enumerate(parts):
        order[position + j] = part
    order[starts[1:][nonempty] - 1] = len(pool) - 1
    return _rows_from_pieces(pool, order, starts, nonempty)


def json_object_columns(names: Sequence[str], columns: Sequence[pa.Array]) -> pa.Array:
    """Per row, the JSON object {name: value} of the row's non-null values (values are text), or null
    when every value is null. ``columns`` are string arrays of equal length."""
    kept = [(name, col) for name, col in zip(names, columns, strict=True) if col.null_count < len(col)]
    n = len(columns[0]) if columns else 0
    if not kept:
        return pa.nulls(n, pa.string())
    # Entries are (key piece, value) pairs; an extra always-present last "column" closes each row,
    # so the row-major order of the present cells is exactly the output order.
    k = len(kept) + 1
    keys = [json.dumps(name, ensure_ascii=False) for name, _ in kept]
    opening = [f'{{{key}:"' for key in keys] + ['"}']
    following = [f'",{key}:"' for key in keys] + ['"}']
    values = [json_escape(col) for _, col in kept]
    present = np.empty((k, n), dtype=bool)
    for j, col in enumerate(values):
        present[j] = validity_mask(col)
    present[k - 1] = True
    cells = np.flatnonzero(np.ascontiguousarray(present.T))
    rows = cells // k
    cols = cells - rows * k
    first = np.empty(len(cells), dtype=bool)
    first[0] = True
    np.not_equal(rows[1:], rows[:-1], out=first[1:])
    value_base = 2 * k + np.arange(k, dtype=np.int64) * n
    order = np.empty(2 * len(cells), dtype=np.int64)
    order[0::2] = np.where(first, cols, k + cols)
    order[1::2] = value_base[cols] + rows
    row_starts = np.empty(n + 1, dtype=np.int64)
    row_starts[:n] = np.flatnonzero(first)
    row_starts[n] = len(cells)
    nonempty = np.diff(row_starts) > 1
    pool = pa.concat_arrays([pa.array(opening + following, pa.string()), *values, _empty_strings(n)])
    return _rows_from_pieces(pool, order, 2 * row_starts, nonempty)


def _empty_strings(n: int) -> pa.Array:
    """n empty strings without building n Python objects."""
    offsets = pa.py_buffer(np.zeros(n + 1, dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(b"")])


def map_to_json(arr: pa.Array, where: Where, column: str) -> pa.Array:
    """A Parquet map column as JSON object text per row (entries with a null value are left out)."""
    n = len(arr)
    # Offsets index the whole child arrays (.keys/.items), also for a sliced map array.
    offsets = arr.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    lengths = np.diff(offsets)
    if arr.null_count:
        lengths = np.where(arr.is_valid().to_numpy(zero_copy_only=False), lengths, 0)
    entry_rows_all = np.repeat(np.arange(n, dtype=np.int64), lengths)
    before = np.cumsum(lengths) - lengths
    entry_index = np.repeat(offsets[:-1] - before, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)
    keys = to_text(arr.keys, where, column).take(pa.array(entry_index))
    items = to_text(arr.items, where, column).take(pa.array(entry_index))
    keep = items.is_valid().to_numpy(zero_copy_only=False)
    if not keep.all():
        keys, items = keys.filter(pa.array(keep)), items.filter(pa.array(keep))
        entry_rows_all = entry_rows_all[keep]
    m = len(keys)
    if m == 0:
        return pa.nulls(n, pa.string())
    first = np.ones(m, dtype=bool)
    first[1:] = entry_rows_all[1:] != entry_rows_all[:-1]
    # pool: '{"', '","', '":"', keys..., items..., '"}'
    pool = pa.concat_arrays(
        [
            pa.array(['{"', '","', '":"'], pa.string()),
            json_escape(keys),
            json_escape(items),
            pa.array(['"}']),
        ]
    )
    index = np.arange(m, dtype=np.int64)
    parts = [np.where(first, 0, 1), 3 + index, np.full(m, 2, dtype=np.int64), 3 + m + index]
    return _assemble(n, entry_rows_all, parts, pool)


def canonical_json_objects(
    text: pa.Array,
    where: Where,
    column: str,
    transform: Callable[[dict], dict] | None = None,
) -> pa.Array:
    """JSON object text per row as canonical JSON (sorted keys, compact); {} becomes null.

    Tags repeat heavily across rows, so each distinct text is parsed once. Invalid JSON, or JSON that
    is not an object, is an IngestError naming the first row that has it.
    """
    if text.null_count == len(text):
        return text
    encoded = pc.dictionary_encode(text)
    canonical: list[str | None] = []
    bad: dict[int, str] = {}
    for i, raw in enumerate(encoded.dictionary.to_pylist()):
        try:
            value = json.loads(raw)
        except ValueError:
            bad[i] = f"invalid JSON: {raw!r}"
            canonical.append(None)
            continue
        if not isinstance(value, dict):
            bad[i] = f"not a JSON object: {raw!r}"
            canonical.append(None)
            continue
        if transform is not None:
            value = transform(value)
        canonical.append(
            json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if value else None
        )
    if bad:
        hits = pc.is_in(encoded.indices, value_set=pa.array(list(bad), encoded.indices.type))
        row = pc.index(hits, True).as_py()
        raise where.error(bad[encoded.indices[row].as_py()], index=row, column=column)
    return pc.take(pa.array(canonical, pa.string()), encoded.indices)


def checked_json_objects(text: pa.Array, where: Where, column: str, problem: Callable[[dict], str | None]) -> pa.Array:
    """JSON object text per row, kept as sent (numbers read as Decimal, so none is rounded); {} and blanks
    become null. Invalid JSON, a value that is not an object, or one ``problem`` describes is an IngestError
    naming the first row that has it. Each distinct text is checked once."""
    if text.null_count == len(text):
        return text
    text = pc.utf8_trim_whitespace(text)
    encoded = pc.dictionary_encode(text)
    kept: list[str | None] = []
    bad: dict[int, str] = {}
    for i, raw in enumerate(encoded.dictionary.to_pylist()):
        kept.append(raw or None)
        if not raw:
            continue
        try:
            value = json.loads(raw, parse_float=Decimal)
        except ValueError:
            bad[i] = f"invalid JSON: {raw!r}"
            continue
        if not isinstance(value, dict):
            bad[i] = f"not a JSON object: {raw!r}"
            continue
        if not value:
            kept[i] = None
            continue
        found = problem(value)
        if found:
            bad[i] = f"{found}: {raw!r}"
    if bad:
        hits = pc.is_in(encoded.indices, value_set=pa.array(list(bad), encoded.indices.type))
        row = pc.index(hits, True).as_py()
        raise where.error(bad[encoded.indices[row].as_py()], index=row, column=column)
    return pc.take(pa.array(kept, pa.string()), encoded.indices)


def json_field(text: pa.Array, key_matches: Callable[[str], bool]) -> pa.Array:
    """Per row, the value of the first key of the row's JSON object text that ``key_matches``
    (as text; null when absent or when the text is not a JSON object)."""
    encoded = pc.dictionary_encode(text)
    found: list[str | None] = []
    for raw in encoded.dictionary.to_pylist():
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        hit = None
        if isinstance(value, dict):
            for key, item in value.items():
                if key_matches(key) and item not in (None, ""):
                    hit = item if isinstance(item, str) else json.dumps(item)
                    break
        found.append(hit)
    return pc.take(pa.array(found, pa.string()), encoded.indices)
