"""The canonical cost schema: FinOps FOCUS columns, as one pyarrow schema every parser yields.

Pure module: no Django imports. Parsers turn a provider's export into chunks (``pyarrow.Table``)
with exactly ``CANONICAL_SCHEMA``; the ingest service writes those chunks to the database.

Money and quantities are ``decimal128(38, 16)``: exact at the precision of most exports (CUR carries up
to 10 decimal places, the FOCUS sample up to 15), never floats. More places (GCP's quantities have up to 20)
are rounded half-even to 16, which moves a value by at most 0.5e-16; a value needing more than 22 integer
digits, before or after that rounding, is refused.
Timestamps are UTC.
"""

from __future__ import annotations

import pyarrow as pa

DECIMAL = pa.decimal128(38, 16)
TIMESTAMP = pa.timestamp("us", tz="UTC")

# canonical name -> FOCUS column name (the FOCUS 1.0-1.2 name the canonical column carries; FOCUS 1.3's
# ServiceProviderName fills provider_name, see focus.FOCUS_SUCCESSORS).
FOCUS_NAMES: dict[str, str] = {
    "provider_name": "ProviderName",
    "publisher_name": "PublisherName",
    "invoice_issuer_name": "InvoiceIssuerName",
    "billing_account_id": "BillingAccountId",
    "billing_account_name": "BillingAccountName",
    "sub_account_id": "SubAccountId",
    "sub_account_name": "SubAccountName",
    "billing_currency": "BillingCurrency",
    "billing_period_start": "BillingPeriodStart",
    "billing_period_end": "BillingPeriodEnd",
    "charge_period_start": "ChargePeriodStart",
    "charge_period_end": "ChargePeriodEnd",
    "charge_category": "ChargeCategory",
    "charge_class": "ChargeClass",
    "charge_description": "ChargeDescription",
    "charge_frequency": "ChargeFrequency",
    "billed_cost": "BilledCost",
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "contracted_cost": "ContractedCost",
    "list_unit_price": "ListUnitPrice",
    "contracted_unit_price": "ContractedUnitPrice",
    "pricing_quantity": "PricingQuantity",
    "pricing_unit": "PricingUnit",
    "pricing_category": "PricingCategory",
    "consumed_quantity": "ConsumedQuantity",
    "consumed_unit": "ConsumedUnit",
    "service_name": "ServiceName",
    "service_category": "ServiceCategory",
    "region_id": "RegionId",
    "region_name": "RegionName",
    "availability_zone": "AvailabilityZone",
    "resource_id": "ResourceId",
    "resource_name": "ResourceName",
    "resource_type": "ResourceType",
    "sku_id": "SkuId",
    "sku_price_id": "SkuPriceId",
    "commitment_discount_id": "CommitmentDiscountId",
    "commitment_discount_name": "CommitmentDiscountName",
    "commitment_discount_type": "CommitmentDiscountType",
    "commitment_discount_category": "CommitmentDiscountCategory",
    "commitment_discount_status": "CommitmentDiscountStatus",
    "tags": "Tags",
    # FOCUS 1.3: the infrastructure under a service provider's service, split cost allocation, contracts.
    "host_provider_name": "HostProviderName",
    "allocated_method_id": "AllocatedMethodId",
    "allocated_method_details": "AllocatedMethodDetails",
    "allocated_resource_id": "AllocatedResourceId",
    "allocated_resource_name": "AllocatedResourceName",
    "allocated_tags": "AllocatedTags",
    "contract_applied": "ContractApplied",
}

DECIMAL_COLUMNS: tuple[str, ...] = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "list_unit_price",
    "contracted_unit_price",
    "pricing_quantity",
    "consumed_quantity",
)
MONEY_TOTAL_COLUMNS: tuple[str, ...] = ("billed_cost", "effective_cost", "list_cost")
TIMESTAMP_COLUMNS: tuple[str, ...] = (
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
)
# Columns that may never be null after parsing (the rest are nullable, as FOCUS allows or as real
# exports ship them: the FOCUS sample has NULL ContractedCost on Oracle rows).
REQUIRED_VALUES: tuple[str, ...] = (
    "provider_name",
    "billing_account_id",
    "billing_currency",
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "billed_cost",
    "effective_cost",
)

# Not FOCUS columns, but what the product needs beside them.
EXTRA_COLUMNS: dict[str, pa.DataType] = {
    # Compute SKU attribute (EC2 instance type, Azure VM size...), for rightsizing and carbon.
    "instance_type": pa.string(),
    # Every source column the canonical schema does not carry, as a JSON object {column: value}.
    "extras": pa.string(),
}


def _field(name: str) -> pa.Field:
    if name in DECIMAL_COLUMNS:
        return pa.field(name, DECIMAL)
    if name in TIMESTAMP_COLUMNS:
        return pa.field(name, TIMESTAMP)
    return pa.field(name, pa.string())


CANONICAL_SCHEMA: pa.Schema = pa.schema(
    [_field(name) for name in FOCUS_NAMES] + [pa.field(name, dtype) for name, dtype in EXTRA_COLUMNS.items()]
)
CANONICAL_COLUMNS: tuple[str, ...] = tuple(CANONICAL_SCHEMA.names)

# FOCUS enumerations: the values a file may carry (spelling normalised on read).
ENUMERATIONS: dict[str, tuple[str, ...]] = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "ChargeClass": ("Correction",),
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
    "CommitmentDiscountCategory": ("Spend", "Usage"),
    "CommitmentDiscountStatus": ("Used", "Unused"),
}

# FOCUS ServiceCategory values.
SERVICE_CATEGORIES: tuple[str, ...] = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
