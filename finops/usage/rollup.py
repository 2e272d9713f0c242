"""Pure aggregation of canonical chunks: daily rollups, per-currency totals, billing slices, team tags.

No Django imports: takes and returns pyarrow tables and plain values. Sums stay decimal128 (exact).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.core.amounts import exact_add, money_str
from finops.usage.formats.schema import DECIMAL, MONEY_TOTAL_COLUMNS

# Dimensions of the daily rollup (besides the team, resolved by the caller). Nulls become "" so that
# group-bys and the report's filters treat "not set" as one value.
ROLLUP_DIMENSIONS: tuple[str, ...] = (
    "day",
    "billing_period_start",
    "provider_name",
    "billing_account_id",
    "sub_account_id",
    "service_name",
    "service_category",
    "region_id",
    "charge_category",
    "charge_class",
    "pricing_category",
    "billing_currency",
    "commitment_discount_status",
    "team_value",
)
# The tag rollup: one row per (rollup dimensions, tag key, tag value) for every non-empty tag.
TAG_ROLLUP_DIMENSIONS: tuple[str, ...] = (*ROLLUP_DIMENSIONS, "tag_key", "tag_value")
ROLLUP_MEASURES: tuple[str, ...] = ("billed_cost", "effective_cost", "list_cost", "pricing_quantity")

# Sums are computed in decimal256 (no overflow), then must fit the stored numeric(38, 16): 22 integer digits.
_WIDE = pa.decimal256(76, DECIMAL.scale)
STORED_LIMIT = Decimal(10) ** (DECIMAL.precision - DECIMAL.scale)
_MEASURE_NAMES = {
    "billed_cost": "BilledCost",
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "contracted_cost": "ContractedCost",
    "pricing_quantity": "PricingQuantity",
}


class SumOutOfRange(ValueError):
    """A sum the product would store (a daily rollup row) has more integer digits than it stores exactly."""

    def __init__(self, column: str, total: Decimal, day: object, currency: str) -> None:
        self.column = _MEASURE_NAMES.get(column, column)
        super().__init__(
            f"the {self.column} of the {currency or 'no-currency'} charges on {day} adds up to {money_str(total)}, "
            f"beyond the {DECIMAL.precision - DECIMAL.scale} integer digits stored exactly"
        )


SliceKey = tuple[str, str, datetime]  # (provider_name, billing_account_id, billing_period_start)
# (kind, id column, name column) of the account names a slice records
ACCOUNT_NAME_COLUMNS = (
    ("account", "billing_account_id", "billing_account_name"),
    ("sub_account", "sub_account_id", "sub_account_name"),
)


def team_values(
    tags: pa.ChunkedArray | pa.Array, keys: Sequence[str], mapping: Mapping[str, str] | None = None
) -> pa.Array:
    """Per row, the value of the first tag in ``keys`` present in the row's Tags JSON ("" when none), read
    through ``mapping`` (tag value -> the team tag value it counts for; "" = unallocated). No other tag ever
    names a team.

    Tags repeat heavily across rows, so each distinct JSON text is parsed once.
    """
    mapping = mapping or {}
    encoded = pc.dictionary_encode(tags.combine_chunks() if isinstance(tags, pa.ChunkedArray) else tags)
    resolved = []
    for text in encoded.dictionary.to_pylist():
        value = ""
        if text:
            parsed = json.loads(text)
            for key in keys:
                candidate = parsed.get(key)
                if candidate not in (None, ""):
                    value = mapping.get(str(candidate), str(candidate))
                    break
        resolved.append(value)
    lookup = pa.array(resolved, pa.string())
    indices = encoded.indices
    values = pc.take(lookup, pc.fill_null(indices, 0)) if len(lookup) else pa.nulls(len(indices), pa.string())
    # Null tags -> "".
    return pc.if_else(pc.is_null(indices), "", values)


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(column, "")


def _keyed(table: pa.Table, team_value: pa.Array) -> pa.Table:
    """The rollup's dimensions and measures per line item, with a row count of one."""
    region = pc.coalesce(table["region_id"], table["region_name"])
    return pa.table(
        {
            "day": pc.cast(table["charge_period_start"], pa.date32()),
            "billing_period_start": table["billing_period_start"],
            "provider_name": _text(table["provider_name"]),
            "billing_account_id": _text(table["billing_account_id"]),
            "sub_account_id": _text(table["sub_account_id"]),
            "service_name": _text(table["service_name"]),
            "service_category": _text(table["service_category"]),
            "region_id": _text(region),
            "charge_category": _text(table["charge_category"]),
            "charge_class": _text(table["charge_class"]),
            "pricing_category": _text(table["pricing_category"]),
            "billing_currency": _text(table["billing_currency"]),
            "commitment_discount_status": _text(table["commitment_discount_status"]),
            "team_value": team_value,
            **{m: pc.fill_null(table[m], pa.scalar(Decimal(0), DECIMAL)) for m in ROLLUP_MEASURES},
            "row_count": pa.array(np.ones(table.num_rows, dtype=np.int64)),
        }
    )


def rollup_chunk(table: pa.Table, team_value: pa.Array) -> pa.Table:
    """Daily sums of one canonical chunk, keyed by ROLLUP_DIMENSIONS, with a row count.

    A charge is attributed to the UTC day its charge period starts.
    """
    return _group(_keyed(table, team_value), ROLLUP_DIMENSIONS)


def tag_pairs(text: str | None) -> list[tuple[str, str]]:
    """The (key, value) pairs of a Tags JSON object that count as tagged: non-empty key and value.
    Non-string values are kept as their JSON text (as the database's ->> operator returns them)."""
    if not text:
        return []
    pairs = []
    for key, value in json.loads(text).items():
        if value is None or value == "" or not key:
            continue
        pairs.append((key, value if isinstance(value, str) else json.dumps(value)))
    return pairs


def tag_rollup_chunk(table: pa.Table, team_value: pa.Array) -> pa.Table:
    """Daily sums per tag of one canonical chunk, keyed by TAG_ROLLUP_DIMENSIONS.

    Rows are first grouped by their whole Tags text (few distinct sets), then each group is repeated once
    per tag it carries, then grouped again: each distinct Tags text is parsed once.
    """
    keyed = _keyed(table, team_value).append_column("tags", _text(table["tags"]))
    by_tags = _group(keyed, (*ROLLUP_DIMENSIONS, "tags"))
    encoded = pc.dictionary_encode(by_tags["tags"]).combine_chunks()
    parsed = [tag_pairs(text) for text in encoded.dictionary.to_pylist()]
    counts_per_text = np.array([len(pairs) for pairs in parsed], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts_per_text)[:-1]]) if len(parsed) else np.zeros(0, np.int64)
    flat_keys = pa.array([k for pairs in parsed for k, _ in pairs], pa.string())
    flat_values = pa.array([v for pairs in parsed for _, v in pairs], pa.string())
    text_index = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    repeats = counts_per_text[text_index]
    rows = np.repeat(np.arange(by_tags.num_rows, dtype=np.int64), repeats)
    # Position of each output row's pair: its text's first pair plus its rank within the repeated row.
    starts = np.cumsum(repeats) - repeats
    rank = np.arange(len(rows), dtype=np.int64) - np.repeat(starts, repeats)
    pair_index = pa.array(np.repeat(offsets[text_index], repeats) + rank)
    exploded = by_tags.drop_columns(["tags"]).take(pa.array(rows))
    exploded = exploded.append_column("tag_key", pc.take(flat_keys, pair_index))
    exploded = exploded.append_column("tag_value", pc.take(flat_values, pair_index))
    return _group(exploded, TAG_ROLLUP_DIMENSIONS)


def _group(keyed: pa.Table, dimensions: Sequence[str]) -> pa.Table:
    """Sums of ROLLUP_MEASURES and row counts per ``dimensions``, exact: summed in decimal256, then checked to
    fit the stored decimal128 (raises SumOutOfRange, never wraps around)."""
    wide = keyed.select([*dimensions, "row_count"])
    for measure in ROLLUP_MEASURES:
        wide = wide.append_column(measure, pc.cast(keyed[measure], _WIDE))
    grouped = wide.group_by(list(dimensions), use_threads=False).aggregate(
        [(m, "sum") for m in (*ROLLUP_MEASURES, "row_count")]
    )
    grouped = grouped.rename_columns(
        [name.removesuffix("_sum") if name.endswith("_sum") else name for name in grouped.column_names]
    )
    for measure in ROLLUP_MEASURES:
        _check_range(grouped, measure)
        grouped = grouped.set_column(
            grouped.schema.get_field_index(measure), measure, pc.cast(grouped[measure], DECIMAL)
        )
    return grouped


def _check_range(grouped: pa.Table, measure: str) -> None:
    if not grouped.num_rows:
        return
    too_large = pc.greater_equal(pc.abs(grouped[measure]), pa.scalar(STORED_LIMIT, _WIDE))
    if not pc.any(too_large).as_py():
        return
    index = pc.index(too_large, True).as_py()
    row = grouped.slice(index, 1).to_pylist()[0]
    raise SumOutOfRange(measure, row[measure], row.get("day"), row.get("billing_currency", ""))


def merge_rollups(parts: Iterable[pa.Table], dimensions: Sequence[str] = ROLLUP_DIMENSIONS) -> pa.Table:
    """Re-aggregate the rollups of several chunks into one (exact decimal sums).

    Rollups without rows (an untagged chunk's tag rollup) merge into an empty table of the same schema, so
    a merged result can always be merged again.
    """
    tables = list(parts)
    if not tables:
        raise ValueError("merge_rollups needs at least one rollup table")
    return _group(pa.concat_tables(tables), dimensions)


def _split_by_day(rollup: pa.Table) -> list[tuple[int | None, pa.Table]]:
    """(day as days since the epoch, that day's rows copied out) per distinct day of a rollup."""
    days = pc.fill_null(pc.cast(rollup["day"], pa.int32()), 0).to_numpy(zero_copy_only=False)
    null = pc.is_null(rollup["day"]).to_numpy(zero_copy_only=False)
    keys = np.where(null, np.iinfo(np.int64).max, days.astype(np.int64, copy=False))
    order = np.argsort(keys, kind="stable")
    distinct, starts = np.unique(keys[order], return_index=True)
    ends = [*starts[1:], len(order)]
    return [
        (None if key == np.iinfo(np.int64).max else int(key), rollup.take(pa.array(order[start:end])))
        for key, start, end in zip(distinct.tolist(), starts.tolist(), ends, strict=True)
    ]


class RollupAccumulator:
    """Merges chunk rollups as they come, with transient memory bounded by one day's rows, not the delivery's.

    Rows of different days never share a group, so each day's parts are kept and merged on their own
    (every ``merge_every`` parts of that day); the result is the days' merges concatenated in day order, equal
    to one merge of every part. Raises SumOutOfRange as merge_rollups does.
    """

    def __init__(self, dimensions: Sequence[str] = ROLLUP_DIMENSIONS, merge_every: int = 16) -> None:
        if merge_every < 2:
            raise ValueError("merge_every must be at least 2")
        self.dimensions = tuple(dimensions)
        self.merge_every = merge_every
        self._days: dict[int | None, list[pa.Table]] = {}
        self._empty: pa.Table | None = None

    @property
    def added(self) -> bool:
        """Whether a rollup was added (``result`` needs one)."""
        return self._empty is not None

    def add(self, rollup: pa.Table) -> None:
        if self._empty is None:
            self._empty = rollup.slice(0, 0)
        for day, part in _split_by_day(rollup) if rollup.num_rows else ():
            parts = self._days.setdefault(day, [])
            parts.append(part)
            if len(parts) >= self.merge_every:
                self._days[day] = [merge_rollups(parts, self.dimensions)]

    def result(self) -> pa.Table:
        """The merge of every rollup added, one day at a time; a day already merged is not merged again."""
        if self._empty is None:
            raise ValueError("RollupAccumulator.result needs at least one rollup added")
        merged = []
        for day in sorted(self._days, key=lambda d: (d is None, d or 0)):
            parts = self._days.pop(day)
            merged.append(parts[0] if len(parts) == 1 else merge_rollups(parts, self.dimensions))
        return pa.concat_tables(merged) if merged else self._empty


@dataclass(frozen=True)
class CurrencyConflict:
    account: str
    currency: str
    row: int  # in the file of the chunk checked
    expected: tuple[str, str, int]  # (currency, file, row) of the account's first row in the delivery

    def message(self, file: str) -> str:
        currency, first_file, first_row = self.expected
        place = f"row {first_row}" if first_file == file else f"file {first_file}, row {first_row}"
        return (
            f"billing account {self.account} is billed in {currency} ({place}) and in {self.currency}: a billing "
            "account has one billing currency; send each account's export in its own currency"
        )


@dataclass(frozen=True)
class LocatedConflict:
    conflict: CurrencyConflict
    file: str  # where the conflicting row is


def first_currency_conflict(summaries: Iterable[DeliverySummary], order: Mapping[str, int]) -> LocatedConflict | None:
    """Across the summaries of a delivery's shares (each checked on its own with ``currency_conflict``), the first
    row in delivery order (``order``: file -> its position; then row) that bills an account in another currency
    than the account's first row does; None when every account has one currency."""
    entries = sorted(
        ((index, *where) for summary in summaries for index, where in summary.currencies.items()),
        key=lambda entry: (order.get(entry[2], len(order)), entry[3]),
    )
    first: dict[tuple[str, str], tuple[str, str, int]] = {}
    for index, currency, file, row in entries:
        if index not in first:
            first[index] = (currency, file, row)
        elif currency != first[index][0]:
            conflict = CurrencyConflict(account=index[1], currency=currency, row=row, expected=first[index])
            return LocatedConflict(conflict=conflict, file=file)
    return None


@dataclass
class DeliverySummary:
    """What a delivery (the files of one ingest) contains, accumulated chunk by chunk."""

    rows: int = 0
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    slices: dict[SliceKey, int] = field(default_factory=dict)
    # (provider, billing account) -> (its billing currency, file, row) where the delivery first billed it
    currencies: dict[tuple[str, str], tuple[str, str, int]] = field(default_factory=dict)
    # slice -> {"account": {id: name}, "sub_account": {id: name}}: the names the rows give their account ids (the
    # smallest, when one id carries several), kept on the slice so that pages label accounts without reading rows.
    names: dict[SliceKey, dict[str, dict[str, str]]] = field(default_factory=dict)

    def currency_conflict(self, table: pa.Table, *, file: str, first_row: int) -> CurrencyConflict | None:
        """The first row of ``table`` billing an account of the delivery in a second currency, else None.

        A billing account is invoiced in one currency; a second one is a merged or corrupt export, refused
        rather than split into two bills. Records each account's currency (with where it was first seen) for the
        chunks that follow. ``first_row``: the file's data-row number of the table's first row.
        """
        # One pass over the chunk whatever its number of accounts: the first row of each (account, currency).
        firsts = (
            table.select(["provider_name", "billing_account_id", "billing_currency"])
            .append_column("row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
            .group_by(["provider_name", "billing_account_id", "billing_currency"], use_threads=False)
            .aggregate([("row", "min")])
            .sort_by("row_min")
        )
        conflict: CurrencyConflict | None = None
        for provider, account, currency, at in zip(*(firsts[c].to_pylist() for c in firsts.column_names), strict=True):
            index = (provider, account)
            if currency is None:  # a missing currency is the validator's to refuse
                continue
            if index not in self.currencies:
                self.currencies[index] = (currency, file, first_row + at)
            elif currency != self.currencies[index][0] and conflict is None:
                conflict = CurrencyConflict(
                    account=account, currency=currency, row=first_row + at, expected=self.currencies[index]
                )
        return conflict

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        wide = table.select(["billing_currency"])
        for m in MONEY_TOTAL_COLUMNS:
            wide = wide.append_column(m, pc.cast(table[m], _WIDE))
        by_currency = wide.group_by("billing_currency", use_threads=False).aggregate(
            [(m, "sum") for m in MONEY_TOTAL_COLUMNS]
        )
        for row in by_currency.to_pylist():
            currency = row["billing_currency"]
            bucket = self.totals.setdefault(currency, {m: Decimal(0) for m in MONEY_TOTAL_COLUMNS})
            for m in MONEY_TOTAL_COLUMNS:
                if row[f"{m}_sum"] is not None:
                    bucket[m] = exact_add(bucket[m], row[f"{m}_sum"])
        counts = table.group_by(
            ["provider_name", "billing_account_id", "billing_period_start"], use_threads=False
        ).aggregate([([], "count_all")])
        for row in counts.to_pylist():
            key = (row["provider_name"], row["billing_account_id"], row["billing_period_start"])
            self.slices[key] = self.slices.get(key, 0) + row["count_all"]
        self._add_names(table)

    def _add_names(self, table: pa.Table) -> None:
        slice_columns = ["provider_name", "billing_account_id", "billing_period_start"]
        for kind, id_column, name_column in ACCOUNT_NAME_COLUMNS:
            if name_column not in table.column_names:
                continue
            keys = list(dict.fromkeys([*slice_columns, id_column]))
            named = table.select([*keys, name_column]).filter(
                pc.fill_null(pc.and_(pc.is_valid(table[id_column]), pc.not_equal(table[name_column], "")), False)
            )
            if not named.num_rows:
                continue
            smallest = named.group_by(keys, use_threads=False).aggregate([(name_column, "min")])
            for row in smallest.to_pylist():
                key = (row["provider_name"], row["billing_account_id"], row["billing_period_start"])
                known = self.names.setdefault(key, {"account": {}, "sub_account": {}})[kind]
                name, account = row[f"{name_column}_min"], row[id_column]
                if account and (account not in known or name < known[account]):
                    known[account] = name

    def merge(self, other: DeliverySummary) -> None:
        """Add what another share of the delivery summed (rows, totals, slices, names). Currencies are kept where
        first seen; check them across shares with ``first_currency_conflict`` first."""
        for index, where in other.currencies.items():
            self.currencies.setdefault(index, where)
        self.rows += other.rows
        for currency, metrics in other.totals.items():
            bucket = self.totals.setdefault(currency, {m: Decimal(0) for m in MONEY_TOTAL_COLUMNS})
            for m, amount in metrics.items():
                bucket[m] = exact_add(bucket.get(m, Decimal(0)), amount)
        for key, rows in other.slices.items():
            self.slices[key] = self.slices.get(key, 0) + rows
        for key, kinds in other.names.items():
            mine = self.names.setdefault(key, {"account": {}, "sub_account": {}})
            for kind, names in kinds.items():
                for account, name in names.items():
                    if account not in mine[kind] or name < mine[kind][account]:
                        mine[kind][account] = name

    def to_json(self) -> dict:
        """A JSON-safe form (decimals as text, periods as ISO timestamps) that ``from_json`` reads back equal."""
        return {
            "rows": self.rows,
            "totals": {c: {m: str(v) for m, v in metrics.items()} for c, metrics in self.totals.items()},
            "slices": [[p, a, period.isoformat(), rows] for (p, a, period), rows in self.slices.items()],
            "currencies": [[p, a, *where] for (p, a), where in self.currencies.items()],
            "names": [[p, a, period.isoformat(), names] for (p, a, period), names in self.names.items()],
        }

    @classmethod
    def from_json(cls, data: dict) -> DeliverySummary:
        return cls(
            rows=data["rows"],
            totals={c: {m: Decimal(v) for m, v in metrics.items()} for c, metrics in data["totals"].items()},
            slices={(p, a, datetime.fromisoformat(period)): rows for p, a, period, rows in data["slices"]},
            currencies={(p, a): (currency, file, row) for p, a, currency, file, row in data["currencies"]},
            names={(p, a, datetime.fromisoformat(period)): names for p, a, period, names in data["names"]},
        )

    @property
    def billing_periods(self) -> list[str]:
        return sorted({period.date().isoformat() for _, _, period in self.slices})


def tables_to_ipc(tables: Sequence[pa.Table]) -> bytes:
    """Arrow tables (each with its own schema) as one byte string: each table as an IPC stream, length-prefixed."""
    out = bytearray()
    for table in tables:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
        out += len(data).to_bytes(8, "little") + data
    return bytes(out)


def tables_from_ipc(data: bytes) -> list[pa.Table]:
    """The tables ``tables_to_ipc`` wrote, in order."""
    tables, at = [], 0
    view = memoryview(data)
    while at < len(view):
        size = int.from_bytes(view[at : at + 8], "little")
        tables.append(pa.ipc.open_stream(pa.py_buffer(view[at + 8 : at + 8 + size])).read_all())
        at += 8 + size
    return tables
