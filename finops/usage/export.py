"""Line items -> a FOCUS dataset (1.0, 1.2 or 1.3): the column tables and the row mapping, as CSV or Parquet.

Pure module: no Django imports. A record is a mapping of LineItem field names to values (what
``finops.usage.selectors.focus_export_records`` streams); ``focus_values`` turns one into the version's columns.

Values are the ingested ones, normalised where the spec requires it rather than copied through
(FOCUS_Spec ``specification/columns/*.md`` at tags v1.0 and v1.2; 1.3 from
``specification/datasets/cost_and_usage/columns/*.md``):

- date-times as 'YYYY-MM-DDTHH:mm:ssZ' (attributes/datetime_format.md);
- ChargeFrequency (MUST NOT be null): the allowed value in the spec's spelling; when absent, "Usage-Based" for
  ChargeCategory "Usage" and "One-Time" otherwise (chargefrequency.md);
- ContractedCost (MUST NOT be null): when absent, ContractedUnitPrice x PricingQuantity where both are known and
  ChargeClass is not "Correction", else ListCost ("defaults to the List Cost" when no negotiated discount
  applies), else BilledCost ("MUST match the BilledCost" for a charge unrelated to others) (contractedcost.md);
- ListCost (MUST NOT be null): BilledCost when absent ("MUST match the BilledCost" for a charge unrelated to
  others, listcost.md);
- SkuPriceId: null when ChargeCategory is "Tax"; SkuId when absent on a "Usage" or "Purchase" charge that is not a
  correction ("SkuPriceId MAY equal SkuId", 1.2 skupriceid.md);
- PricingCategory: null when ChargeCategory is "Tax"; when absent on a "Usage" or "Purchase" charge that is not a
  correction (where it MUST NOT be null), "Committed" if a commitment discount applies, else "Other" (the source
  did not say which model priced it) (pricingcategory.md);
- PublisherName and InvoiceIssuerName (MUST NOT be null): ProviderName when absent; ServiceCategory (MUST NOT be
  null, allowed values): "Other" when absent or not an allowed value;
- 1.3: ServiceProviderName and HostProviderName (MUST NOT be null) from ProviderName until line items carry their
  own ("HostProviderName MAY equal ServiceProviderName when the service provider does not provide visibility
  into the underlying hosting provider", hostprovidername.md).

A column without a LineItem field of its own (or whose field does not exist yet) is read from ``extras`` under
its FOCUS name, else null: a FOCUS 1.2/1.3 file's InvoiceId or ContractApplied survives ingest and export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from finops.core.amounts import EXACT, money_str
from finops.usage.formats.schema import DECIMAL, ENUMERATIONS, SERVICE_CATEGORIES, TIMESTAMP

FOCUS_VERSIONS: tuple[str, ...] = ("1.0", "1.2", "1.3")
DEFAULT_VERSION = "1.2"
FORMATS: tuple[str, ...] = ("csv", "parquet")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The canonical schema's precision: a derived product is rounded to it, as an ingest would round it.
_QUANTUM = Decimal(1).scaleb(-16)

STRING, DECIMAL_KIND, DATETIME, JSON = "string", "decimal", "datetime", "json"


class ExportError(ValueError):
    """An export was asked for with parameters that make no sense; the message says which."""


@dataclass(frozen=True)
class FocusColumn:
    """One column of a FOCUS version: where its value comes from and what the spec says of it."""

    name: str
    kind: str = STRING
    # The LineItem field carrying it; None, or a field that does not exist (yet): read ``extras[name]``.
    field: str | None = None
    # A field read when ``field`` is null or missing (ServiceProviderName falls back to provider_name).
    fallback: str | None = None
    mandatory: bool = False
    nullable: bool = True
    allowed: tuple[str, ...] = ()
    # Normalises the value (record, value) -> value, where the spec requires more than a copy.
    derive: Callable[[Mapping[str, Any], Any], Any] | None = None


def _record_decimal(record: Mapping[str, Any], field: str) -> Decimal | None:
    value = record.get(field)
    return None if value is None else Decimal(value)


_FREQUENCY_SPELLING = {value.lower(): value for value in ENUMERATIONS["ChargeFrequency"]}


def _charge_frequency(record: Mapping[str, Any], value: Any) -> str:
    if value is not None:
        spelled = _FREQUENCY_SPELLING.get(str(value).lower())
        if spelled:
            return spelled
    return "Usage-Based" if record.get("charge_category") == "Usage" else "One-Time"


def _contracted_cost(record: Mapping[str, Any], value: Any) -> Decimal:
    if value is not None:
        return Decimal(value)
    unit_price = _record_decimal(record, "contracted_unit_price")
    quantity = _record_decimal(record, "pricing_quantity")
    if unit_price is not None and quantity is not None and record.get("charge_class") != "Correction":
        return EXACT.multiply(unit_price, quantity).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT)
    list_cost = _record_decimal(record, "list_cost")
    return list_cost if list_cost is not None else Decimal(record["billed_cost"])


def _list_cost(record: Mapping[str, Any], value: Any) -> Decimal:
    return Decimal(value) if value is not None else Decimal(record["billed_cost"])


def _sku_price_id(record: Mapping[str, Any], value: Any) -> Any:
    category = record.get("charge_category")
    if category == "Tax":
        return None
    if value is None and category in ("Usage", "Purchase") and record.get("charge_class") != "Correction":
        return record.get("sku_id")
    return value


def _pricing_category(record: Mapping[str, Any], value: Any) -> Any:
    category = record.get("charge_category")
    if category == "Tax":
        return None
    if value is None and category in ("Usage", "Purchase") and record.get("charge_class") != "Correction":
        return "Committed" if record.get("commitment_discount_id") else "Other"
    return value


def _provider_when_null(record: Mapping[str, Any], value: Any) -> Any:
    return record.get("provider_name") if value in (None, "") else value


def _service_category(record: Mapping[str, Any], value: Any) -> str:
    return value if value in SERVICE_CATEGORIES else "Other"


def _mandatory(name: str, kind: str = STRING, field: str | None = None, **options: Any) -> FocusColumn:
    return FocusColumn(name, kind, field, mandatory=True, **options)


# FOCUS 1.0 (v1.0 specification/columns): the 21 mandatory columns, then the conditional and recommended ones
# the canonical schema carries.
FOCUS_1_0: tuple[FocusColumn, ...] = (
    _mandatory("BilledCost", DECIMAL_KIND, "billed_cost", nullable=False),
    _mandatory("BillingAccountId", STRING, "billing_account_id", nullable=False),
    _mandatory("BillingAccountName", STRING, "billing_account_name"),
    _mandatory("BillingCurrency", STRING, "billing_currency", nullable=False),
    _mandatory("BillingPeriodEnd", DATETIME, "billing_period_end", nullable=False),
    _mandatory("BillingPeriodStart", DATETIME, "billing_period_start", nullable=False),
    _mandatory("ChargeCategory", STRING, "charge_category", nullable=False, allowed=ENUMERATIONS["ChargeCategory"]),
    _mandatory("ChargeClass", STRING, "charge_class", allowed=ENUMERATIONS["ChargeClass"]),
    _mandatory("ChargeDescription", STRING, "charge_description"),
    _mandatory("ChargePeriodEnd", DATETIME, "charge_period_end", nullable=False),
    _mandatory("ChargePeriodStart", DATETIME, "charge_period_start", nullable=False),
    _mandatory("ContractedCost", DECIMAL_KIND, "contracted_cost", nullable=False, derive=_contracted_cost),
    _mandatory("EffectiveCost", DECIMAL_KIND, "effective_cost", nullable=False),
    _mandatory("InvoiceIssuerName", STRING, "invoice_issuer_name", nullable=False, derive=_provider_when_null),
    _mandatory("ListCost", DECIMAL_KIND, "list_cost", nullable=False, derive=_list_cost),
    _mandatory("PricingQuantity", DECIMAL_KIND, "pricing_quantity"),
    _mandatory("PricingUnit", STRING, "pricing_unit"),
    _mandatory("ProviderName", STRING, "provider_name", nullable=False),
    _mandatory("PublisherName", STRING, "publisher_name", nullable=False, derive=_provider_when_null),
    _mandatory(
        "ServiceCategory",
        STRING,
        "service_category",
        nullable=False,
        allowed=SERVICE_CATEGORIES,
        derive=_service_category,
    ),
    _mandatory("ServiceName", STRING, "service_name", nullable=False),
    FocusColumn("AvailabilityZone", STRING, "availability_zone"),
    FocusColumn(
        "ChargeFrequency",
        STRING,
        "charge_frequency",
        nullable=False,
        allowed=ENUMERATIONS["ChargeFrequency"],
        derive=_charge_frequency,
    ),
    FocusColumn(
        "CommitmentDiscountCategory",
        STRING,
        "commitment_discount_category",
        allowed=ENUMERATIONS["CommitmentDiscountCategory"],
    ),
    FocusColumn("CommitmentDiscountId", STRING, "commitment_discount_id"),
    FocusColumn("CommitmentDiscountName", STRING, "commitment_discount_name"),
    FocusColumn(
        "CommitmentDiscountStatus",
        STRING,
        "commitment_discount_status",
        allowed=ENUMERATIONS["CommitmentDiscountStatus"],
    ),
    FocusColumn("CommitmentDiscountType", STRING, "commitment_discount_type"),
    FocusColumn("ConsumedQuantity", DECIMAL_KIND, "consumed_quantity"),
    FocusColumn("ConsumedUnit", STRING, "consumed_unit"),
    FocusColumn("ContractedUnitPrice", DECIMAL_KIND, "contracted_unit_price"),
    FocusColumn("ListUnitPrice", DECIMAL_KIND, "list_unit_price"),
    FocusColumn(
        "PricingCategory", STRING, "pricing_category", allowed=ENUMERATIONS["PricingCategory"], derive=_pricing_category
    ),
    FocusColumn("RegionId", STRING, "region_id"),
    FocusColumn("RegionName", STRING, "region_name"),
    FocusColumn("ResourceId", STRING, "resource_id"),
    FocusColumn("ResourceName", STRING, "resource_name"),
    FocusColumn("ResourceType", STRING, "resource_type"),
    FocusColumn("SkuId", STRING, "sku_id"),
    FocusColumn("SkuPriceId", STRING, "sku_price_id", derive=_sku_price_id),
    FocusColumn("SubAccountId", STRING, "sub_account_id"),
    FocusColumn("SubAccountName", STRING, "sub_account_name"),
    FocusColumn("Tags", JSON, "tags"),
)

# FOCUS 1.2 (v1.2 specification/columns): the same 21 mandatory columns; the nullable 1.1/1.2 columns the
# canonical schema has no field for come from ``extras`` (a FOCUS 1.2 source's values), else null.
FOCUS_1_2: tuple[FocusColumn, ...] = (
    *FOCUS_1_0,
    FocusColumn("CapacityReservationId"),
    FocusColumn("CapacityReservationStatus", allowed=("Used", "Unused")),
    FocusColumn("CommitmentDiscountQuantity", DECIMAL_KIND),
    FocusColumn("CommitmentDiscountUnit"),
    FocusColumn("InvoiceId"),
    FocusColumn("PricingCurrency"),
    FocusColumn("SkuMeter"),
    FocusColumn("SkuPriceDetails", JSON),
    FocusColumn("SubAccountType"),
)

# FOCUS 1.3 (specification/datasets/cost_and_usage/columns): 1.2 plus these. ``field`` names the LineItem field
# each will have; until it exists the column is read from ``extras`` (else null, or the fallback).
FOCUS_1_3: tuple[FocusColumn, ...] = (
    *FOCUS_1_2,
    _mandatory("ServiceProviderName", STRING, "service_provider_name", nullable=False, fallback="provider_name"),
    _mandatory("HostProviderName", STRING, "host_provider_name", nullable=False, fallback="provider_name"),
    FocusColumn("ContractApplied", JSON, "contract_applied"),
    FocusColumn("AllocatedMethodId", STRING, "allocated_method_id"),
    FocusColumn("AllocatedMethodDetails", JSON, "allocated_method_details"),
    FocusColumn("AllocatedResourceId", STRING, "allocated_resource_id"),
    FocusColumn("AllocatedResourceName", STRING, "allocated_resource_name"),
    FocusColumn("AllocatedTags", JSON, "allocated_tags"),
)

# Custom columns (FOCUS: "x_" prefixed) for what the product keeps beside FOCUS; the FOCUS ingest reads them back.
CUSTOM_COLUMNS: tuple[FocusColumn, ...] = (FocusColumn("x_InstanceType", STRING, "instance_type"),)

VERSION_COLUMNS: dict[str, tuple[FocusColumn, ...]] = {
    version: (*columns, *CUSTOM_COLUMNS)
    for version, columns in (("1.0", FOCUS_1_0), ("1.2", FOCUS_1_2), ("1.3", FOCUS_1_3))
}
# Fields the derivations read besides each column's own.
_DERIVATION_FIELDS = (
    "charge_category",
    "charge_class",
    "contracted_unit_price",
    "pricing_quantity",
    "list_cost",
    "billed_cost",
    "sku_id",
    "provider_name",
    "commitment_discount_id",
)


def focus_columns(version: str, available_fields: Iterable[str]) -> tuple[FocusColumn, ...]:
    """The columns of ``version``, each bound to the LineItem fields that exist (``available_fields``): a field
    that does not exist yet is dropped, so its column reads ``extras`` or its fallback."""
    if version not in VERSION_COLUMNS:
        raise ExportError(f"unknown FOCUS version {version!r}; choose one of {', '.join(FOCUS_VERSIONS)}")
    available = set(available_fields)
    return tuple(
        replace(
            column,
            field=column.field if column.field in available else None,
            fallback=column.fallback if column.fallback in available else None,
        )
        for column in VERSION_COLUMNS[version]
    )


def source_fields(columns: Sequence[FocusColumn]) -> list[str]:
    """The LineItem fields a record needs for ``columns`` (extras included when a column reads it)."""
    fields: list[str] = []
    for name in (
        *(c.field for c in columns),
        *(c.fallback for c in columns),
        *_DERIVATION_FIELDS,
        *(["extras"] if any(c.field is None for c in columns) else []),
    ):
        if name and name not in fields:
            fields.append(name)
    return fields


def _typed(column: FocusColumn, value: Any) -> Any:
    """A value read from ``extras`` (text) as the column's type."""
    if value is None or value == "":
        return None
    if column.kind == DECIMAL_KIND and not isinstance(value, Decimal):
        try:
            return Decimal(str(value)).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT)
        except InvalidOperation:
            raise ExportError(f"{column.name}: {value!r} is not a decimal number") from None
    return value


def focus_values(record: Mapping[str, Any], columns: Sequence[FocusColumn]) -> list[Any]:
    """One line item as the values of ``columns``: Decimal, aware datetime, str, JSON (dict/list or its text)
    or None."""
    extras = record.get("extras") or {}
    if isinstance(extras, str):
        extras = json.loads(extras)
    values = []
    for column in columns:
        value = record.get(column.field) if column.field else _typed(column, extras.get(column.name))
        if value is None and column.fallback:
            value = record.get(column.fallback)
        if column.derive is not None:
            value = column.derive(record, value)
        values.append(value)
    return values


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == DECIMAL_KIND:
        return money_str(Decimal(value)) or ""
    if kind == DATETIME:
        return value.astimezone(UTC).strftime(DATETIME_FORMAT)
    if kind == JSON and not isinstance(value, str):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def focus_csv_lines(records: Iterable[Mapping[str, Any]], columns: Sequence[FocusColumn]) -> Iterator[str]:
    """The CSV text of a FOCUS dataset, one line at a time (header first): nulls are empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line([c.name for c in columns])
    for record in records:
        values = focus_values(record, columns)
        yield line([_text(v, c.kind) for v, c in zip(values, columns, strict=True)])


def _arrow_type(kind: str) -> pa.DataType:
    return {DECIMAL_KIND: DECIMAL, DATETIME: TIMESTAMP}.get(kind, pa.string())


def focus_arrow_schema(columns: Sequence[FocusColumn]) -> pa.Schema:
    return pa.schema([pa.field(c.name, _arrow_type(c.kind), nullable=c.nullable) for c in columns])


def _arrow_value(value: Any, kind: str) -> Any:
    if kind == JSON and value is not None and not isinstance(value, str):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if kind == DECIMAL_KIND and value is not None:
        return Decimal(value).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT)
    return value


def write_focus_parquet(
    records: Iterable[Mapping[str, Any]], columns: Sequence[FocusColumn], path: Path, *, batch_rows: int = 10_000
) -> int:
    """Write a FOCUS dataset as Parquet (typed: decimal128(38, 16), timestamp UTC, strings), ``batch_rows`` rows
    in memory at a time. Returns the number of rows."""
    schema = focus_arrow_schema(columns)
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[list[Any]] = []

        def flush() -> None:
            arrays = [
                pa.array([_arrow_value(row[i], c.kind) for row in batch], type=schema.field(i).type)
                for i, c in enumerate(columns)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            batch.clear()

        for record in records:
            batch.append(focus_values(record, columns))
            count += 1
            if len(batch) >= batch_rows:
                flush()
        if batch or count == 0:
            flush()
    return count


def parse_datetime_text(text: str) -> datetime:
    """A FOCUS date-time cell ('YYYY-MM-DDTHH:mm:ssZ') as an aware datetime; ValueError otherwise."""
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=UTC)
