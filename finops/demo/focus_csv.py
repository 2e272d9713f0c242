"""Columnar FOCUS rows and their CSV text: fast, exact and byte-for-byte reproducible.

Pure module: no Django imports. Numbers are written as plain decimals (no exponent, at most 10
places, trailing zeros trimmed), timestamps as ``YYYY-MM-DDTHH:MM:SSZ``, text quoted, nulls as
``NULL`` (the FOCUS sample's convention).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCALE = 10
NULL = "NULL"
NUMBER_COLUMNS = (
    "BilledCost",
    "CommitmentDiscountQuantity",
    "ConsumedQuantity",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "ListCost",
    "ListUnitPrice",
    "PricingQuantity",
)
TIME_COLUMNS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
TEXT_COLUMNS = (
    "AvailabilityZone",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedUnit",
    "InvoiceIssuerName",
    "PricingCategory",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_InstanceType",
)
# FOCUS columns alphabetically, then the provider's x_ columns.
COLUMNS: tuple[str, ...] = (
    *sorted(c for c in NUMBER_COLUMNS + TIME_COLUMNS + TEXT_COLUMNS if not c.startswith("x_")),
    "x_InstanceType",
)


@dataclass
class Rows:
    """FOCUS rows, column-wise. Text columns are constant per *line* (``lines[i]``); rows point at one."""

    lines: list[dict[str, str | None]] = field(default_factory=list)
    _parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def line(self, attributes: dict[str, str | None]) -> int:
        unknown = set(attributes) - set(TEXT_COLUMNS)
        if unknown:
            raise ValueError(f"not text columns: {sorted(unknown)}")
        self.lines.append(attributes)
        return len(self.lines) - 1

    def add(self, line: int, start: np.ndarray, end: np.ndarray, **numbers: np.ndarray | float | None) -> None:
        """Add rows of one line; each number is an array of len(start), a scalar, or None (null)."""
        n = len(start)
        unknown = set(numbers) - set(NUMBER_COLUMNS)
        if unknown:
            raise ValueError(f"not number columns: {sorted(unknown)}")
        part = {
            "line": np.full(n, line, dtype=np.int64),
            "start": np.asarray(start, dtype=np.int64),
            "end": np.broadcast_to(np.asarray(end, dtype=np.int64), (n,)),
        }
        for name in NUMBER_COLUMNS:
            value = numbers.get(name)
            part[name] = np.broadcast_to(np.asarray(np.nan if value is None else value, dtype=np.float64), (n,))
        self._parts.append(part)

    def columns(self) -> dict[str, np.ndarray]:
        """All rows as arrays: 'line', 'start', 'end' and the number columns."""
        keys = ("line", "start", "end", *NUMBER_COLUMNS)
        if not self._parts:
            return {k: np.empty(0, dtype=np.int64 if k in ("line", "start", "end") else np.float64) for k in keys}
        return {k: np.concatenate([p[k] for p in self._parts]) for k in keys}


def _quote(value: str | None) -> str:
    if value is None:
        return NULL
    return '"' + value.replace('"', '""') + '"'


def format_decimals(values: np.ndarray, scale: int = SCALE) -> pa.Array:
    """Plain decimal strings, trailing zeros trimmed; NaN -> NULL.

    Rounded to ``scale`` places, or fewer where float64 cannot hold them: at most 15 significant
    digits, so a large quantity (a billion requests) never prints float noise in its last places.
    """
    null = np.isnan(values)
    magnitude = np.abs(np.where(null, 0.0, values))
    if (magnitude >= 9e18).any():
        raise ValueError("a number too large for a 64-bit integer part")
    whole = np.floor(magnitude)
    digits = np.where(whole >= 1, np.floor(np.log10(np.maximum(whole, 1))) + 1, 0)
    places = np.clip(15 - digits, 0, scale).astype(np.int64)
    frac = np.rint((magnitude - whole) * 10.0**places)
    carry = frac >= 10.0**places
    whole = (whole + carry).astype(np.int64)
    frac = np.where(carry, 0, frac).astype(np.int64) * 10 ** (scale - places)
    whole_text = pc.cast(pa.array(whole), pa.string())
    frac_text = pc.utf8_rtrim(pc.utf8_lpad(pc.cast(pa.array(frac), pa.string()), width=scale, padding="0"), "0")
    text = pc.if_else(
        pc.equal(pc.utf8_length(frac_text), 0),
        whole_text,
        pc.binary_join_element_wise(whole_text, frac_text, "."),
    )
    negative = (values < 0) & ((whole > 0) | (frac > 0))
    text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return pc.if_else(pa.array(null), pa.scalar(NULL), text)


def format_times(epoch_seconds: np.ndarray) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SSZ`` for each epoch second (formatted once per distinct value)."""
    distinct, index = np.unique(epoch_seconds, return_inverse=True)
    text = np.char.add(np.datetime_as_string(distinct.astype("datetime64[s]"), unit="s"), "Z")
    return pa.array(text.tolist(), pa.string()).take(pa.array(index.astype(np.int64)))


def render_lines(lines: Sequence[dict[str, str | None]]) -> dict[str, pa.Array]:
    """Each text column's CSV field for every line, to be taken by row (``csv_lines``)."""
    return {name: pa.array([_quote(line.get(name)) for line in lines], pa.string()) for name in TEXT_COLUMNS}


def csv_lines(rows: dict[str, np.ndarray], rendered_lines: dict[str, pa.Array], billing: np.ndarray) -> bytes:
    """The CSV text (one line per row, each ending in a newline) of ``rows``, in ``COLUMNS`` order.

    ``billing`` is the (n, 2) epoch seconds of each row's billing period start and end.
    """
    if len(rows["line"]) == 0:
        return b""
    line_index = pa.array(rows["line"])
    fields = {name: per_line.take(line_index) for name, per_line in rendered_lines.items()}
    for name in NUMBER_COLUMNS:
        fields[name] = format_decimals(rows[name])
    fields["ChargePeriodStart"] = format_times(rows["start"])
    fields["ChargePeriodEnd"] = format_times(rows["end"])
    fields["BillingPeriodStart"] = format_times(billing[:, 0])
    fields["BillingPeriodEnd"] = format_times(billing[:, 1])
    text = pc.binary_join_element_wise(pc.binary_join_element_wise(*(fields[c] for c in COLUMNS), ","), "", "\n")
    # The rows are contiguous in the Arrow data buffer: take the bytes without a Python string per row.
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + len(text) + 1]
    return memoryview(text.buffers()[2])[offsets[0] : offsets[-1]].tobytes()


def header() -> bytes:
    return (",".join(COLUMNS) + "\n").encode()


def gzip_bytes(data: bytes, level: int) -> bytes:
    """gzip with no timestamp or file name in the header, so equal input gives equal bytes."""
    return gzip.compress(data, compresslevel=level, mtime=0)
