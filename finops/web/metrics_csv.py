"""Parser of business-metric CSV files (``date,metric,value``). Pure: no Django imports."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

HEADER = ("date", "metric", "value")
MAX_ROWS = 100_000
MAX_METRIC_LENGTH = 100
VALUE_LIMIT = Decimal("1e18")


class MetricFileError(ValueError):
    """A business-metric file that cannot be loaded; the message names the file, row and field."""


@dataclass(frozen=True)
class MetricRow:
    day: date
    metric: str
    value: Decimal


def parse_metric_csv(data: bytes, *, name: str) -> list[MetricRow]:
    """Every row of the file, validated. Row numbers count the header as row 1, as a spreadsheet does.
    A (date, metric) given twice is refused: which value was meant is unknowable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MetricFileError(f"{name}: not UTF-8 text ({error.reason} at byte {error.start})") from error
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        raise MetricFileError(f"{name}, row 1: the header must be exactly {','.join(HEADER)} (found {header!r})")
    rows: list[MetricRow] = []
    seen: set[tuple[date, str]] = set()
    for number, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != 3:
            raise MetricFileError(f"{name}, row {number}: expected 3 fields, found {len(record)}")
        raw_day, metric, raw_value = (cell.strip() for cell in record)
        try:
            day = date.fromisoformat(raw_day)
        except ValueError as error:
            raise MetricFileError(f"{name}, row {number}, field date: {raw_day!r} is not YYYY-MM-DD") from error
        if not metric or len(metric) > MAX_METRIC_LENGTH:
            raise MetricFileError(f"{name}, row {number}, field metric: must be 1-{MAX_METRIC_LENGTH} characters")
        try:
            value = Decimal(raw_value)
        except InvalidOperation as error:
            raise MetricFileError(f"{name}, row {number}, field value: {raw_value!r} is not a number") from error
        if not value.is_finite() or value < 0 or value >= VALUE_LIMIT:
            raise MetricFileError(f"{name}, row {number}, field value: {raw_value!r} must be >= 0 and finite")
        if (day, metric) in seen:
            raise MetricFileError(f"{name}, row {number}: {metric} on {day} appears twice")
        seen.add((day, metric))
        rows.append(MetricRow(day=day, metric=metric, value=value))
        if len(rows) > MAX_ROWS:
            raise MetricFileError(f"{name}: more than {MAX_ROWS:,} rows")
    if not rows:
        raise MetricFileError(f"{name}: no data rows")
    return rows
