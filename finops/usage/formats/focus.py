"""FOCUS 1.0-1.4 Cost and Usage exports (CSV or Parquet, any column order) -> canonical chunks.

Pure module: no Django imports. Columns are matched case-insensitively, names that moved between
FOCUS versions are accepted through ``FOCUS_ALIASES`` and ``FOCUS_SUCCESSORS``, and every column the
canonical schema does not carry (``Id``, ``x_*`` provider columns, newer FOCUS columns...) is kept in
``extras``. The FOCUS version a file follows is read from its columns (``focus_version``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pyarrow as pa

from finops.usage.formats.canonical import canonical_table
from finops.usage.formats.convert import (
    Where,
    canonical_case,
    canonical_json_objects,
    checked_json_objects,
    first_null,
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
}

# FOCUS 1.3 name -> the deprecated column it replaces. Unlike an alias, the newer column wins when a file
# carries both (FOCUS 1.3 deprecates ProviderName, "replaced by ServiceProviderName"; 1.4 removes it); the
# deprecated column is then kept in extras. PublisherName is deprecated without a replacement.
FOCUS_SUCCESSORS: dict[str, str] = {"ServiceProviderName": "ProviderName"}
# Mandatory before FOCUS 1.3 only: a 1.3 or 1.4 file may leave it out (deprecated in 1.3, removed in 1.4).
DEPRECATED_IN_1_3: tuple[str, ...] = ("PublisherName",)

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

# Columns that first appeared in a FOCUS version (Cost and Usage dataset), newest first: the newest version
# whose columns a file carries is the version it follows (at least).
VERSION_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1.4", ("InvoiceDetailId", "CommitmentProgramEligibilityDetails")),
    (
        "1.3",
        (
            "ServiceProviderName",
            "HostProviderName",
            "AllocatedMethodId",
            "AllocatedMethodDetails",
            "AllocatedResourceId",
            "AllocatedResourceName",
            "AllocatedTags",
            "ContractApplied",
        ),
    ),
    ("1.2", ("InvoiceId", "PricingCurrency", "BillingAccountType", "SubAccountType", "PricingCurrencyEffectiveCost")),
    (
        "1.1",
        (
            "CapacityReservationId",
            "CapacityReservationStatus",
            "CommitmentDiscountQuantity",
            "CommitmentDiscountUnit",
            "ServiceSubcategory",
            "SkuMeter",
            "SkuPriceDetails",
        ),
    ),
)
# Columns of FOCUS's other datasets (Contract Commitment 1.3; Billing Period and Invoice Detail 1.4): a header
# with one of these and no ChargePeriodStart is not a Cost and Usage file (detect.py names it).
OTHER_DATASET_COLUMNS: tuple[str, ...] = (
    "ContractCommitmentId",
    "ContractCommitmentCategory",
    "BillingPeriodStatus",
    "BillingPeriodCreated",
    "InvoiceDetailGrain",
    "InvoiceDetailCreated",
)

_CANONICAL_BY_FOCUS = {focus: canonical for canonical, focus in FOCUS_NAMES.items()}
_BY_LOWER = {focus.lower(): focus for focus in FOCUS_NAMES.values()}
_ALIAS_BY_LOWER = {alias.lower(): focus for alias, focus in FOCUS_ALIASES.items()}
_SUCCESSOR_BY_LOWER = {newer.lower(): focus for newer, focus in FOCUS_SUCCESSORS.items()}


def focus_columns(names: Sequence[str]) -> dict[str, int]:
    """FOCUS column name -> index of the file column carrying it. A successor (ServiceProviderName) wins
    over the exact (case-insensitive) name, which wins over an alias; a column shadowed that way stays an
    extra column."""
    exact: dict[str, int] = {}
    aliased: dict[str, int] = {}
    succeeding: dict[str, int] = {}
    for i, name in enumerate(names):
        key = name.strip().lower()
        if key in _BY_LOWER:
            exact.setdefault(_BY_LOWER[key], i)
        elif key in _SUCCESSOR_BY_LOWER:
            succeeding.setdefault(_SUCCESSOR_BY_LOWER[key], i)
        elif key in _ALIAS_BY_LOWER:
            aliased.setdefault(_ALIAS_BY_LOWER[key], i)
    return {**aliased, **exact, **succeeding}


def focus_version(names: Sequence[str]) -> str:
    """The FOCUS version a Cost and Usage header follows, from the columns it carries: "1.0" to "1.4".

    1.3 deprecated ProviderName and PublisherName (still mandatory there) and 1.4 removed them, so a file
    with ServiceProviderName and neither of them is 1.4."""
    present = {name.strip().lower() for name in names}
    for version, columns in VERSION_COLUMNS:
        if any(column.lower() in present for column in columns):
            if version == "1.3" and not present & {"providername", "publishername", "provider", "publisher"}:
                return "1.4"
            return version
    return "1.0"


def looks_like_focus(names: Sequence[str]) -> bool:
    present = focus_columns(names)
    lowered = {name.strip().lower() for name in names}
    if "ChargePeriodStart" not in present and any(c.lower() in lowered for c in OTHER_DATASET_COLUMNS):
        return False
    return sum(1 for column in MANDATORY_COLUMNS if column in present) >= 3


def _entries(value: dict, where: str) -> tuple[list[dict] | None, str | None]:
    """The "Elements" array of a FOCUS JSON object column (AllocatedMethodDetails, ContractApplied)."""
    elements = value.get("Elements")
    if not isinstance(elements, list) or not elements:
        return None, f'{where}: needs a non-empty "Elements" array'
    if not all(isinstance(element, dict) for element in elements):
        return None, f'{where}: every item of "Elements" must be a JSON object'
    return elements, None


def _is_number(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _get(element: dict, key: str) -> object:
    """A FOCUS-defined property, its key matched case-insensitively (the spec spells ContractCommitmentID and
    ContractId both ways)."""
    lowered = key.lower()
    return next((v for k, v in element.items() if k.lower() == lowered), None)


def allocated_method_details_problem(value: dict) -> str | None:
    """What breaks FOCUS 1.3's AllocatedMethodDetailsObject, or None: an "Elements" array of objects, each
    with a numeric AllocatedRatio between 0 and 1, a numeric UsageQuantity if any, and a UsageUnit with it."""
    elements, problem = _entries(value, "AllocatedMethodDetails")
    if elements is None:
        return problem
    for n, element in enumerate(elements, start=1):
        ratio = element.get("AllocatedRatio")
        if not _is_number(ratio) or not 0 <= ratio <= 1:
            return f"Elements item {n}: AllocatedRatio must be a number from 0 to 1, not {ratio!r}"
        quantity = element.get("UsageQuantity")
        if quantity is not None:
            if not _is_number(quantity):
                return f"Elements item {n}: UsageQuantity must be a number, not {quantity!r}"
            if not isinstance(element.get("UsageUnit"), str):
                return f"Elements item {n}: UsageUnit is required with UsageQuantity"
    return None


def contract_applied_problem(value: dict) -> str | None:
    """What breaks FOCUS 1.3's ContractApplied object, or None: an "Elements" array of objects, each with a
    ContractCommitmentID string and a numeric ContractCommitmentAppliedCost or ContractCommitmentAppliedQuantity
    (both may not be null), a ContractCommitmentAppliedUnit string with a quantity."""
    elements, problem = _entries(value, "ContractApplied")
    if elements is None:
        return problem
    for n, element in enumerate(elements, start=1):
        commitment = _get(element, "ContractCommitmentID")
        if not isinstance(commitment, str) or not commitment:
            return f"Elements item {n}: ContractCommitmentID must be a non-empty string, not {commitment!r}"
        cost, quantity = (
            _get(element, "ContractCommitmentAppliedCost"),
            _get(element, "ContractCommitmentAppliedQuantity"),
        )
        if cost is None and quantity is None:
            return (
                f"Elements item {n}: ContractCommitmentAppliedCost and ContractCommitmentAppliedQuantity are both null"
            )
        for name, number in (("ContractCommitmentAppliedCost", cost), ("ContractCommitmentAppliedQuantity", quantity)):
            if number is not None and not _is_number(number):
                return f"Elements item {n}: {name} must be a number, not {number!r}"
        if quantity is not None and not isinstance(_get(element, "ContractCommitmentAppliedUnit"), str):
            return (
                f"Elements item {n}: ContractCommitmentAppliedUnit is required with ContractCommitmentAppliedQuantity"
            )
    return None


# JSON object columns whose content FOCUS defines beyond "a JSON object": kept as sent (their numbers exact).
_CHECKED_JSON = {
    "allocated_method_details": allocated_method_details_problem,
    "contract_applied": contract_applied_problem,
}
# Key-value JSON objects, stored as canonical JSON.
_KEY_VALUE_JSON = ("tags", "allocated_tags")
# Present in a FOCUS 1.3+ file, these may not hold nulls (not required of the other formats).
_NOT_NULL_WHEN_PRESENT = ("host_provider_name",)


class FocusMapper:
    """Maps raw batches of one FOCUS file to canonical tables."""

    fmt = "focus"

    def __init__(self, names: Sequence[str], file: str) -> None:
        columns = focus_columns(names)
        self.version = focus_version(names)
        missing = [column for column in MANDATORY_COLUMNS if column not in columns]
        if self.version in ("1.3", "1.4"):
            missing = [column for column in missing if column not in DEPRECATED_IN_1_3]
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
            elif canonical in _KEY_VALUE_JSON:
                text = map_to_json(col, where, name) if pa.types.is_map(col.type) else to_text(col, where, name)
                columns[canonical] = canonical_json_objects(text, where, name)
            elif canonical in _CHECKED_JSON:
                columns[canonical] = checked_json_objects(
                    to_text(col, where, name), where, name, _CHECKED_JSON[canonical]
                )
            else:
                text = to_text(col, where, name)
                if canonical in _NOT_NULL_WHEN_PRESENT and text.null_count:
                    raise where.error("missing value (required)", index=first_null(text), column=name)
                allowed = ENUMERATIONS.get(FOCUS_NAMES.get(canonical, ""))
                columns[canonical] = canonical_case(text, allowed) if allowed else text
        extra_names = [self._names[i] for i in self._extras]
        extra_values = [to_text(batch.column(i), where, self._names[i]) for i in self._extras]
        sources = {canonical: self._names[i] for canonical, i in self._source.items()}
        return canonical_table(batch.num_rows, columns, extra_names, extra_values, sources, where)
