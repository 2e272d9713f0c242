"""Utilisation metrics CSV (CloudWatch-export shaped) -> validated samples -> hourly aggregates.

Pure module: no Django imports.

File format: a header naming at least ``resource_id,timestamp,cpu_percent`` (``memory_percent``
optional; other columns ignored; names matched case-insensitively), one sample per row.
``timestamp`` is ISO 8601 with or without a zone (no zone = UTC; any zone is converted to UTC);
percentages are 0-100. Blank ``memory_percent`` cells mean "not measured" (the CloudWatch agent
is not installed everywhere). Plain or ``.gz``.

The file is read in chunks (``pandas.read_csv(chunksize=...)``) and validated column-wise, so a
multi-million-row export never needs per-row Python. Each chunk is folded into hourly aggregates
right away, so memory stays bounded by (resources x hours), not by samples.

Why hourly aggregates: a fleet of 1,000 instances at 5-minute resolution is 4M samples per 14 days;
hourly it is 336k rows. The policy works on hourly averages (what CloudWatch returns for
``Period=3600, Statistic=Average``) for its percentiles and on the hourly maxima for "max CPU", so
nothing it needs is lost. ``cpu_sum``/``samples`` are kept (not just the mean) so hours split across
chunks merge exactly.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("resource_id", "timestamp", "cpu_percent")
OPTIONAL = ("memory_percent",)
CHUNK_ROWS = 500_000
HOUR_COLUMNS = ("resource_id", "hour", "samples", "cpu_sum", "cpu_max", "mem_samples", "mem_sum", "mem_max")


class MetricsError(ValueError):
    """Bad metrics input. Names the file, the row (1 = first row after the header) and the field."""

    def __init__(self, message: str, *, file: str, row: int | None = None, field: str | None = None) -> None:
        self.message, self.file, self.row, self.field = message, file, row, field
        where = [f"file {file}"]
        if row is not None:
            where.append(f"row {row}")
        if field:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class MetricsSummary:
    hourly: pd.DataFrame  # HOUR_COLUMNS, one row per (resource_id, hour UTC)
    rows: int
    resources: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    has_memory: bool


def _open_text(path: Path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _open_checked(path: Path):
    try:
        return _open_text(path)
    except OSError as error:
        raise MetricsError(f"cannot open: {error.strerror or error}", file=path.name) from None


_UNREADABLE = (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error)


def _header(path: Path) -> dict[str, str]:
    """Canonical column name -> the file's spelling, for the columns this parser reads."""
    with _open_checked(path) as handle:
        try:
            names = next(csv.reader(handle), None)
        except _UNREADABLE as error:
            raise MetricsError(f"unreadable (encoding or truncated gzip): {error}", file=path.name) from None
        except csv.Error as error:
            raise MetricsError(f"not a CSV file: {error}", file=path.name) from None
    if not names:
        raise MetricsError("empty file: no header", file=path.name)
    columns = {}
    for raw in names:
        key = raw.strip().lower()
        if key in REQUIRED + OPTIONAL:
            columns.setdefault(key, raw)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise MetricsError(
            f"missing column(s) {', '.join(missing)}; the header must name {','.join(REQUIRED)}[,memory_percent]",
            file=path.name,
        )
    return columns


class _NeedsSlowPath(Exception):
    """The typed fast read hit a value it cannot convert; the text path finds and names it."""


def _chunks(path: Path, chunk_rows: int, *, typed: bool) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first row number, chunk) with canonical column names.

    ``typed``: pandas' C parser converts the percentages to float64 itself (about 4x faster than text
    then ``to_numeric``); any value it cannot convert raises ``_NeedsSlowPath``. Otherwise every column
    is read as text and validated value by value, which names the exact row and field.
    """
    name = path.name
    columns = _header(path)
    rename = {raw: canonical for canonical, raw in columns.items()}
    options: dict = {"usecols": list(columns.values()), "keep_default_na": False, "skipinitialspace": True}
    if typed:
        options["dtype"] = {
            raw: ("float64" if canonical in ("cpu_percent", "memory_percent") else object)
            for canonical, raw in columns.items()
        }
        if "memory_percent" in columns:
            options["na_values"] = {columns["memory_percent"]: [""]}  # blank memory = not measured
    else:
        options["dtype"] = str
    with _open_checked(path) as handle:
        try:
            first = 1
            for chunk in pd.read_csv(handle, chunksize=chunk_rows, **options):
                yield first, chunk.rename(columns=rename)
                first += len(chunk)
        except pd.errors.EmptyDataError:
            raise MetricsError("empty file: no header", file=name) from None
        except pd.errors.ParserError as error:
            raise MetricsError(f"not a CSV file: {error}", file=name) from None
        except _UNREADABLE as error:
            raise MetricsError(f"unreadable (encoding or truncated gzip): {error}", file=name) from None
        except ValueError as error:
            if typed:
                raise _NeedsSlowPath(str(error)) from None
            raise


def _first_bad(mask: np.ndarray | pd.Series) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def _percent(chunk: pd.DataFrame, column: str, first: int, name: str, *, optional: bool) -> pd.Series:
    text = chunk[column].str.strip()
    blank = text == ""
    if blank.any() and not optional:
        raise MetricsError("empty value", file=name, row=first + _first_bad(blank), field=column)
    values = pd.to_numeric(text.where(~blank), errors="coerce")
    bad = values.isna() & ~blank
    if bad.any():
        i = _first_bad(bad)
        raise MetricsError(f"not a number: {chunk[column].iloc[i]!r}", file=name, row=first + i, field=column)
    finite = values.dropna()
    out = ~np.isfinite(finite) | (finite < 0) | (finite > 100)
    if out.any():
        label = out[out].index[0]
        i = chunk.index.get_loc(label)
        raise MetricsError(
            f"out of range 0-100: {chunk[column].iloc[i]!r}", file=name, row=first + int(i), field=column
        )
    return values.astype("float64")


def _timestamps(chunk: pd.DataFrame, first: int, name: str) -> pd.Series:
    text = chunk["timestamp"].str.strip()
    blank = text == ""
    if blank.any():
        raise MetricsError("empty value", file=name, row=first + _first_bad(blank), field="timestamp")
    # ISO 8601 only; mixed zones (or none, read as UTC) all land in UTC.
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        i = _first_bad(bad)
        raise MetricsError(
            f"not an ISO 8601 timestamp: {chunk['timestamp'].iloc[i]!r}", file=name, row=first + i, field="timestamp"
        )
    return parsed


def _checked_floats(values: pd.Series, *, optional: bool) -> pd.Series:
    """The fast path's float column: anything suspicious goes to the text path for an exact message."""
    missing = values.isna()
    if (missing.any() and not optional) or ((values[~missing] < 0) | (values[~missing] > 100)).any():
        raise _NeedsSlowPath("a percentage is missing or out of range")
    return values


def _validate(chunk: pd.DataFrame, first: int, name: str, *, typed: bool) -> pd.DataFrame:
    resource = chunk["resource_id"].str.strip()
    blank = resource == ""
    if blank.any():
        raise MetricsError("empty value", file=name, row=first + _first_bad(blank), field="resource_id")
    if typed:
        cpu = _checked_floats(chunk["cpu_percent"], optional=False)
    else:
        cpu = _percent(chunk, "cpu_percent", first, name, optional=False)
    out = pd.DataFrame({"resource_id": resource, "timestamp": _timestamps(chunk, first, name), "cpu_percent": cpu})
    if "memory_percent" not in chunk.columns:
        out["memory_percent"] = np.nan
    elif typed:
        out["memory_percent"] = _checked_floats(chunk["memory_percent"], optional=True)
    else:
        out["memory_percent"] = _percent(chunk, "memory_percent", first, name, optional=True)
    return out


def read_samples(path: Path, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Validated samples, chunk by chunk: resource_id, timestamp (UTC), cpu_percent, memory_percent (NaN = none).

    Valid files take the typed fast path. When it meets a value it cannot take, the file is read again as
    text, value by value, to raise the MetricsError naming that row and field."""
    path = Path(path)
    try:
        for first, chunk in _chunks(path, chunk_rows, typed=True):
            yield _validate(chunk, first, path.name, typed=True)
    except _NeedsSlowPath as fast_error:
        for first, chunk in _chunks(path, chunk_rows, typed=False):
            _validate(chunk, first, path.name, typed=False)
        raise MetricsError(f"unreadable value: {fast_error}", file=path.name) from None


def hourly_aggregates(samples: pd.DataFrame) -> pd.DataFrame:
    """Samples -> one row per (resource_id, UTC hour) with HOUR_COLUMNS."""
    frame = samples.assign(
        hour=samples["timestamp"].dt.floor("h"),
        mem_present=samples["memory_percent"].notna().astype("int64"),
    )
    grouped = frame.groupby(["resource_id", "hour"], sort=True)
    out = grouped.agg(
        samples=("cpu_percent", "size"),
        cpu_sum=("cpu_percent", "sum"),
        cpu_max=("cpu_percent", "max"),
        mem_samples=("mem_present", "sum"),
        mem_sum=("memory_percent", "sum"),
        mem_max=("memory_percent", "max"),
    ).reset_index()
    return out[list(HOUR_COLUMNS)]


def merge_hourly(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Combine hourly aggregates of chunks (an hour may straddle two chunks)."""
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in HOUR_COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    out = (
        frame.groupby(["resource_id", "hour"], sort=True)
        .agg(
            samples=("samples", "sum"),
            cpu_sum=("cpu_sum", "sum"),
            cpu_max=("cpu_max", "max"),
            mem_samples=("mem_samples", "sum"),
            mem_sum=("mem_sum", "sum"),
            mem_max=("mem_max", "max"),
        )
        .reset_index()
    )
    return out[list(HOUR_COLUMNS)]


def read_metrics(path: Path, *, chunk_rows: int = CHUNK_ROWS) -> MetricsSummary:
    """Parse and validate a whole file into hourly aggregates; raises MetricsError on the first bad row."""
    parts: list[pd.DataFrame] = []
    rows = 0
    has_memory = False
    for samples in read_samples(path, chunk_rows=chunk_rows):
        rows += len(samples)
        has_memory = has_memory or bool(samples["memory_percent"].notna().any())
        parts.append(hourly_aggregates(samples))
    if rows == 0:
        raise MetricsError("no data rows (header only)", file=Path(path).name)
    hourly = merge_hourly(parts)
    return MetricsSummary(
        hourly=hourly,
        rows=rows,
        resources=int(hourly["resource_id"].nunique()),
        first=hourly["hour"].min(),
        last=hourly["hour"].max(),
        has_memory=has_memory,
    )
