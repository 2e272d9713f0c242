"""FOCUS 1.0-1.2 exports (CSV or Parquet, any column order) -> canonical chunks.

Pure module: no Django imports. Columns are matched case-insensitively, names that moved between
FOCUS versions are accepted through ``FOCUS_ALIASES``, and every column the canonical schema does not
carry (``Id``, ``x_*`` provider columns, newer FOCUS columns...) is kept in ``extras``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from finops.usage.formats.canonical import canonical_table
from finops.usage.formats.convert import (
    Where,
    canonical_case,
    canonical_json_objects,
    map_to_json,
    to_decimal,
    to_text,
    to_timestamp,
)
from finops.usage.formats.errors import IngestError
from finops.usage.formats.schema import DECIMAL_COLUMNS, ENUMERATIONS, FOCUS_NAMES, TIMESTAMP_COLUMNS

# Older or newer FOCUS name -> the FOCUS 1.0-1.2 name the canonical schema uses.
FOCUS_ALIASES: dict[str, str] = {
    # FOCUS 0.5 / 1.0-preview
    "Provider": "ProviderName",
    "Publisher": "PublisherName",
    "InvoiceIssuer": "InvoiceIssuerName",
    "AmortizedCost": "EffectiveCost",
    "ChargeType": "ChargeCategory",
    "UsageQuantity": "ConsumedQuantity",
    "UsageUnit": "ConsumedUnit",
    "Region": "RegionName",  # split into RegionId and RegionName in 1.0
    # FOCUS 1.3 (ProviderName deprecated in favour of ServiceProviderName)
    "ServiceProviderName": "ProviderName",
}

# Columns a FOCUS export must have (an alias counts as the column). Values may still be null where
# the spec allows it (e.g. ContractedCost on the Oracle rows of the FOCUS sample).
MANDATORY_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "InvoiceIssuerName",
    "ProviderName",
    "PublisherName",
    "PricingQuantity",
    "PricingUnit",
    "ServiceCategory",
    "ServiceName",
)

# Enumerations whose values are stored in the spec's spelling when they differ only by case
# (the FOCUS sample has both "Usage-Based" and "Usage-based").

# Provider columns (FOCUS lets providers add x_* columns) that carry the compute SKU attribute the
# product needs for rightsizing and carbon; the first present fills ``instance_type``.
INSTANCE_TYPE_COLUMNS: tuple[str, ...] = ("x_InstanceType", "x_SkuInstanceType", "x_VmSize")

_CANONICAL_BY_FOCUS = {focus: canonical for canonical, focus in FOCUS_NAMES.items()}
_BY_LOWER = {focus.lower(): focus for focus in FOCUS_NAMES.values()}
_ALIAS_BY_LOWER = {alias.lower(): focus for alias, focus in FOCUS_ALIASES.items()}


def focus_columns(names: Sequence[str]) -> dict[str, int]:
    """FOCUS column name -> index of the file column carrying it. An exact (case-insensitive) name
    wins over an alias; an alias shadowed that way stays an extra column."""
    exact: dict[str, int] = {}
    aliased: dict[str, int] = {}
    for i, name in enumerate(names):
        key = name.strip().lower()
        if key in _BY_LOWER:
            exact.setdefault(_BY_LOWER[key], i)
        elif key in _ALIAS_BY_LOWER:
            aliased.setdefault(_ALIAS_BY_LOWER[key], i)
    return {**aliased, **exact}


def looks_like_focus(names: Sequence[str]) -> bool:
    present = focus_columns(names)
    return sum(1 for column in MANDATORY_COLUMNS if column in present) >= 3


class FocusMapper:
    """Maps raw batches of one FOCUS file to canonical tables."""

    fmt = "focus"

    def __init__(self, names: Sequence[str], file: str) -> None:
        columns = focus_columns(names)
        missing = [column for column in MANDATORY_COLUMNS if column not in columns]
        if missing:
            raise IngestError(f"missing mandatory FOCUS columns: {', '.join(missing)}", file=file)
        self._names = list(names)
        self._source = {_CANONICAL_BY_FOCUS[focus]: i for focus, i in columns.items()}
        lowered = {name.strip().lower(): i for i, name in reversed(list(enumerate(names)))}
        instance = next((lowered[c.lower()] for c in INSTANCE_TYPE_COLUMNS if c.lower() in lowered), None)
        if instance is not None:
            self._source["instance_type"] = instance
        used = set(self._source.values())
        self._extras = [i for i in range(len(names)) if i not in used]

    def convert(self, batch: pa.RecordBatch, where: Where) -> pa.Table:
        columns: dict[str, pa.Array] = {}
        for canonical, i in self._source.items():
            name, col = self._names[i], batch.column(i)
            if canonical in DECIMAL_COLUMNS:
                columns[canonical] = to_decimal(col, where, name)
            elif canonical in TIMESTAMP_COLUMNS:
                columns[canonical] = to_timestamp(col, where, name)
            elif canonical == "tags":
                text = map_to_json(col, where, name) if pa.types.is_map(col.type) else to_text(col, where, name)
                columns[canonical] = canonical_json_objects(text, where, name)
            else:
                text = to_text(col, where, name)
                allowed = ENUMERATIONS.get(FOCUS_NAMES.get(canonical, ""))
                columns[canonical] = canonical_case(text, allowed) if allowed else text
        extra_names = [self._names[i] for i in self._extras]
        extra_values = [to_text(batch.column(i), where, self._names[i]) for i in self._extras]
        sources = {canonical: self._names[i] for canonical, i in self._source.items()}
        return canonical_table(batch.num_rows, columns, extra_names, extra_values, sources, where)
