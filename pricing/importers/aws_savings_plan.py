"""AWS Savings Plans rate files (Compute, EC2 Instance, Database, SageMaker Savings Plans share one format),
CSV or JSON.

Pure module: no Django imports.

CSV: the 5-line AWS preamble, a header, then one row per (plan, discounted product): SKU (the plan's),
RateCode, Unit, EffectiveDate, DiscountedRate, Currency, DiscountedSKU, DiscountedServiceCode,
DiscountedUsageType, DiscountedOperation, PurchaseOption, LeaseContractLength, LeaseContractLengthUnit,
ServiceCode, UsageType, Operation, Description, ... Streamed like the offer CSV.

JSON: ``{"version", "publicationDate", "regionCode", "products": [plan products], "terms":
{"savingsPlan": [{"sku", "description", "effectiveDate", "leaseContractLength": {"duration", "unit"},
"rates": [{"discountedSku", "discountedUsageType", "discountedOperation", "discountedServiceCode",
"rateCode", "unit", "discountedRate": {"price", "currency"}}]}]}}``, streamed with ``JsonStream``; the
products (the plans) must come before the terms, as AWS writes them. JSON row numbers count the
records in file order: the products first, then the rates.

Output: one PRICE row per rate, term ``savings_plan``, on the *discounted* product's SKU
(``aws:<DiscountedSKU>``, the same key the service's offer file gives that product), so a rate sits next
to the on-demand price it discounts; ``hourly`` is the discounted rate, ``upfront`` 0 (the purchase
option changes how the commitment is paid, not the rate), the plan's SKU is the first half of
``rate_code``. SKU rows: the plan itself, and each discounted product with what the rate file says about
it (service, usage type, operation, region, instance type); an offer file knows more about that product.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pricing.importers.aws_offer_json import read_offer_head
from pricing.importers.csvstream import CsvStream, Preamble, preamble_meta, read_preamble
from pricing.importers.files import InputFile
from pricing.importers.instances import instance_spec, spec_columns
from pricing.importers.jsonstream import JsonStream
from pricing.importers.records import (
    PRICE_SCHEMA,
    SKU_SCHEMA,
    SPOT_SCHEMA,
    ZERO,
    CatalogBatch,
    CatalogMeta,
    Where,
    combined,
    concat,
    decimal_column,
    empty,
    first_index,
    first_occurrences,
    json_object,
    json_objects,
    lease_years,
    map_distinct,
    normalize_purchase_option,
    parse_decimal,
    parse_timestamp,
    price_builder,
    require_values,
    sku_builder,
    table,
    timestamp_column,
)

FORMAT = "aws-savings-plan"
REQUIRED_COLUMNS = ("SKU", "RateCode", "Unit", "DiscountedRate", "Currency", "DiscountedSKU")
# Columns of the discounted product (its SKU row); every other column describes the plan.
DISCOUNTED_COLUMNS = (
    "DiscountedSKU",
    "DiscountedServiceCode",
    "DiscountedUsageType",
    "DiscountedOperation",
    "DiscountedRegionCode",
    "DiscountedInstanceType",
)
# Columns of a rate (its PRICE row).
RATE_COLUMNS = ("RateCode", "Unit", "EffectiveDate", "DiscountedRate", "Currency")
# Plan columns copied into a SKU column of their own, so not repeated in ``attributes``.
PLAN_VERBATIM = ("SKU", "ServiceCode", "Product Family")


def plan_type(product_family: str | None, usage_type: str | None = None) -> str:
    """ "ComputeSavingsPlans" -> compute, "EC2InstanceSavingsPlans" -> ec2_instance, "DatabaseSavingsPlans"
    -> database, "SageMakerSavingsPlans"/"MachineLearningSavingsPlans" -> sagemaker, else other."""
    for text in (product_family, usage_type):
        key = (text or "").lower().replace(" ", "")
        if key.startswith("ec2instance") or key.startswith("ec2sp"):
            return "ec2_instance"
        if key.startswith("compute"):
            return "compute"
        if key.startswith("database"):
            return "database"
        if key.startswith(("sagemaker", "machinelearning")):
            return "sagemaker"
    return "other"


def _looks_like_instance_type(text: str | None) -> str | None:
    """DiscountedInstanceType holds "m5.large" for EC2 plans but a family ("R7G") for Database plans."""
    return text if text and "." in text else None


def read(file: InputFile, batch_rows: int) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    if file.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _read_json(file, batch_rows)
    preamble = read_preamble(file)
    missing = [name for name in REQUIRED_COLUMNS if name not in preamble.header]
    if missing:
        raise file.error(
            f"the header lacks the column(s) {', '.join(missing)} of an AWS savings plan rate file",
            field=missing[0],
        )
    return preamble_meta(preamble, FORMAT), SavingsPlanCsv(file, preamble).batches(batch_rows)


# ------------------------------------------------------------------------------------------------ CSV


class SavingsPlanCsv:
    def __init__(self, file: InputFile, preamble: Preamble) -> None:
        self.file = file
        self.names = preamble.header
        self.plan_names = [n for n in self.names if n not in DISCOUNTED_COLUMNS and n not in RATE_COLUMNS]
        self.plan_attributes = [n for n in self.plan_names if n not in PLAN_VERBATIM]
        self.product_attributes = [n for n in DISCOUNTED_COLUMNS[1:] if n in self.names]
        self.seen: set[str] = set()

    def batches(self, batch_rows: int) -> Iterator[CatalogBatch]:
        stream = CsvStream(self.file, self.names, skip_lines=6, group_rows=batch_rows)
        produced = False
        for group, first_row in stream.groups():
            skus, prices = self.convert(group, Where(self.file.label, first_row, line_offset=6))
            produced = True
            yield CatalogBatch(
                skus=skus,
                prices=prices,
                spot=empty(SPOT_SCHEMA),
                first_row=first_row,
                bytes_read=stream.bytes_read,
                bytes_total=self.file.size,
                rows=group.num_rows,
            )
        if not produced:
            yield _empty_batch(self.file)

    def column(self, group: pa.Table, name: str) -> pa.Array:
        if name in group.column_names:
            return combined(group[name])
        return pa.nulls(group.num_rows, pa.string())

    def convert(self, group: pa.Table, where: Where) -> tuple[pa.Table, pa.Table]:
        n = group.num_rows
        plan_sku = self.column(group, "SKU")
        require_values(plan_sku, where, "SKU", "SKU (the plan's)")
        discounted = self.column(group, "DiscountedSKU")
        require_values(discounted, where, "DiscountedSKU", "DiscountedSKU")
        service = self.column(group, "DiscountedServiceCode")
        require_values(service, where, "DiscountedServiceCode", "DiscountedServiceCode")
        for name in ("Unit", "Currency"):
            require_values(self.column(group, name), where, name, name)
        raw_rate = self.column(group, "DiscountedRate")
        require_values(raw_rate, where, "DiscountedRate", "DiscountedRate (no rate)")
        rate = decimal_column(raw_rate, where, "DiscountedRate")
        lease_text = pc.binary_join_element_wise(
            self.column(group, "LeaseContractLength"),
            pc.fill_null(self.column(group, "LeaseContractLengthUnit"), ""),
            " ",
        )
        lease = map_distinct(lease_text, lease_years, pa.int32())
        if lease.null_count:
            i = first_index(lease.is_null())
            raise where.error(
                f"unreadable lease {lease_text[i].as_py()!r} (expected a number of years)",
                index=i,
                field="LeaseContractLength",
            )
        family = self.column(group, "Product Family")
        usage = self.column(group, "UsageType")
        plan_types = map_distinct(
            pc.binary_join_element_wise(pc.fill_null(family, ""), pc.fill_null(usage, ""), "|"),
            lambda text: plan_type(*text.split("|", 1)),
        )
        sku_key = pc.binary_join_element_wise("aws:", discounted, "")
        prices = table(
            PRICE_SCHEMA,
            {
                "sku_key": sku_key,
                "term": "savings_plan",
                "lease_years": lease,
                "purchase_option": map_distinct(self.column(group, "PurchaseOption"), normalize_purchase_option),
                "plan_type": plan_types,
                "unit": self.column(group, "Unit"),
                "upfront": ZERO,
                "hourly": rate,
                "currency": self.column(group, "Currency"),
                "effective_from": timestamp_column(self.column(group, "EffectiveDate"), where, "EffectiveDate"),
                "rate_code": self.column(group, "RateCode"),
                "description": self.column(group, "Description"),
                "derived": False,
                "source_row": pa.array(np.arange(where.first_row, where.first_row + n, dtype=np.int64)),
            },
            n,
        )
        skus = concat([self._plan_skus(group, plan_sku), self._product_skus(group, discounted, sku_key)], SKU_SCHEMA)
        return skus, prices

    def _plan_skus(self, group: pa.Table, plan_sku: pa.Array) -> pa.Table:
        first = first_occurrences(pc.binary_join_element_wise("aws:", plan_sku, ""), self.seen)
        if not len(first):
            return empty(SKU_SCHEMA)
        plans = group.take(pa.array(first))
        m = plans.num_rows
        col = lambda name: self.column(plans, name)  # noqa: E731
        return table(
            SKU_SCHEMA,
            {
                "sku_key": pc.binary_join_element_wise("aws:", col("SKU"), ""),
                "provider": "aws",
                "sku_code": col("SKU"),
                "service": pc.coalesce(col("ServiceCode"), col("Product Family"), "SavingsPlans"),
                "product_family": col("Product Family"),
                "attributes": json_objects(self.plan_attributes, [col(n) for n in self.plan_attributes], m),
            },
            m,
        )

    def _product_skus(self, group: pa.Table, discounted: pa.Array, sku_key: pa.Array) -> pa.Table:
        first = first_occurrences(sku_key, self.seen)
        if not len(first):
            return empty(SKU_SCHEMA)
        products = group.take(pa.array(first))
        m = products.num_rows
        col = lambda name: self.column(products, name)  # noqa: E731
        instance_type = map_distinct(col("DiscountedInstanceType"), _looks_like_instance_type)
        specs = spec_columns(instance_type)
        return table(
            SKU_SCHEMA,
            {
                "sku_key": sku_key.take(pa.array(first)),
                "provider": "aws",
                "sku_code": discounted.take(pa.array(first)),
                "service": col("DiscountedServiceCode"),
                "region": col("DiscountedRegionCode"),
                "instance_type": instance_type,
                **specs,
                "attributes": json_objects(self.product_attributes, [col(n) for n in self.product_attributes], m),
            },
            m,
        )


def _empty_batch(file: InputFile) -> CatalogBatch:
    return CatalogBatch(
        skus=empty(SKU_SCHEMA),
        prices=empty(PRICE_SCHEMA),
        spot=empty(SPOT_SCHEMA),
        first_row=1,
        bytes_read=file.size,
        bytes_total=file.size,
    )


# ----------------------------------------------------------------------------------------------- JSON

_META_KEYS = ("offerCode", "version", "publicationDate", "regionCode", "formatVersion", "disclaimer")


def _read_json(file: InputFile, batch_rows: int) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    stream = JsonStream(file)
    try:
        keys, head, pending_key, published = read_offer_head(stream, file, "a savings plan rate file")
        region = head.get("regionCode")
        meta = CatalogMeta(
            format=FORMAT,
            provider="aws",
            source=str(head.get("offerCode") or f"AWS Savings Plans rate file ({region or 'all regions'})"),
            publication_date=published,
            version=str(head["version"]) if head.get("version") is not None else None,
        )
    except BaseException:
        stream.close()
        raise
    return meta, _json_batches(stream, keys, pending_key, batch_rows)


def _json_batches(stream: JsonStream, keys: Iterator[str], key: str | None, batch_rows: int) -> Iterator[CatalogBatch]:
    file = stream.file
    reader = _SavingsPlanJson(file)
    seen_keys: set[str] = set()
    with stream:
        while key is not None:
            seen_keys.add(key)
            if key == "products":
                yield from reader.products(stream, batch_rows)
            elif key == "terms":
                yield from reader.terms(stream, batch_rows)
            else:
                stream.value()
            key = next(keys, None)
        stream.end()
        for required in ("products", "terms"):
            if required not in seen_keys:
                raise file.error(f"not a savings plan rate file: no {required!r} key", field=required)
        if reader.rows_out == 0:
            yield _empty_batch(file)


class _SavingsPlanJson:
    def __init__(self, file: InputFile) -> None:
        self.file = file
        self.plans: dict[str, dict[str, Any]] = {}
        self.row = 0
        self.rows_out = 0
        self.skus = sku_builder()
        self.prices = price_builder()
        self.first_row = 1
        self.seen: set[str] = set()

    def _batch(self, stream: JsonStream) -> CatalogBatch:
        batch = CatalogBatch(
            skus=self.skus.take(),
            prices=self.prices.take(),
            spot=empty(SPOT_SCHEMA),
            first_row=self.first_row,
            bytes_read=stream.bytes_read(),
            bytes_total=self.file.size,
            rows=self.row - self.first_row + 1,
        )
        self.first_row = self.row + 1
        self.rows_out += batch.rows
        return batch

    def error(self, message: str, field: str) -> Exception:
        return self.file.error(message, row=self.row, field=field)

    def products(self, stream: JsonStream, batch_rows: int) -> Iterator[CatalogBatch]:
        if stream.peek() != "[":
            raise self.file.error("'products' of a savings plan rate file must be a list", field="products")
        for index in stream.items():
            self.row += 1
            product = stream.value()
            where = f"products[{index}]"
            if not isinstance(product, dict):
                raise self.error("a product must be a JSON object", where)
            sku = product.get("sku")
            if not isinstance(sku, str) or not sku:
                raise self.error("empty SKU", f"{where}.sku")
            attributes = product.get("attributes") or {}
            self.plans[sku] = {
                "plan_type": plan_type(product.get("productFamily"), product.get("usageType")),
                "purchase_option": normalize_purchase_option(attributes.get("purchaseOption")),
            }
            if f"aws:{sku}" not in self.seen:
                self.seen.add(f"aws:{sku}")
                verbatim = ("sku", "serviceCode", "productFamily", "attributes")
                others = {k: v for k, v in product.items() if k not in verbatim}
                self.skus.append(
                    sku_key=f"aws:{sku}",
                    provider="aws",
                    sku_code=sku,
                    service=product.get("serviceCode") or product.get("productFamily") or "SavingsPlans",
                    product_family=product.get("productFamily"),
                    attributes=json_object({**others, **attributes}),
                )
            if len(self.skus) >= batch_rows:
                yield self._batch(stream)
        if len(self.skus):
            yield self._batch(stream)

    def terms(self, stream: JsonStream, batch_rows: int) -> Iterator[CatalogBatch]:
        for term_type in stream.members():
            if term_type != "savingsPlan":
                raise self.file.error(
                    f"unknown term type {term_type!r} in a savings plan rate file; expected savingsPlan",
                    row=self.row + 1,
                    field=f"terms.{term_type}",
                )
            for index in stream.items():
                plan = stream.value()
                yield from self._plan_rates(plan, f"terms.savingsPlan[{index}]", stream, batch_rows)
        if len(self.prices) or len(self.skus):
            yield self._batch(stream)

    def _plan_rates(self, plan: Any, where: str, stream: JsonStream, batch_rows: int) -> Iterator[CatalogBatch]:
        if not isinstance(plan, dict):
            raise self.file.error("a savings plan term must be a JSON object", row=self.row + 1, field=where)
        sku = plan.get("sku")
        if not isinstance(sku, str) or not sku:
            raise self.file.error("empty SKU", row=self.row + 1, field=f"{where}.sku")
        info = self.plans.get(sku)
        if info is None:
            raise self.file.error(
                f"savings plan {sku} has no product (the products must come before the terms)",
                row=self.row + 1,
                field=f"{where}.sku",
            )
        lease = plan.get("leaseContractLength") or {}
        years = None
        if isinstance(lease, Mapping):
            years = lease_years(f"{lease.get('duration', '')} {lease.get('unit', '')}")
        if years is None:
            raise self.file.error(
                f"unreadable leaseContractLength {lease!r}", row=self.row + 1, field=f"{where}.leaseContractLength"
            )
        effective = _timestamp_or_error(self, plan.get("effectiveDate"), f"{where}.effectiveDate")
        for index, rate in enumerate(plan.get("rates") or []):
            self.row += 1
            field = f"{where}.rates[{index}]"
            if not isinstance(rate, dict):
                raise self.error("a rate must be a JSON object", field)
            discounted = rate.get("discountedSku")
            if not isinstance(discounted, str) or not discounted:
                raise self.error("empty discountedSku", f"{field}.discountedSku")
            amount = rate.get("discountedRate") or {}
            try:
                hourly = parse_decimal(amount.get("price") if isinstance(amount, dict) else amount)
            except ValueError as exc:
                raise self.error(str(exc), f"{field}.discountedRate.price") from None
            currency = amount.get("currency") if isinstance(amount, dict) else None
            if not currency:
                raise self.error("empty currency", f"{field}.discountedRate.currency")
            unit = rate.get("unit")
            if not unit:
                raise self.error("empty unit", f"{field}.unit")
            service = rate.get("discountedServiceCode")
            if not service:
                raise self.error("empty discountedServiceCode", f"{field}.discountedServiceCode")
            key = f"aws:{discounted}"
            self.prices.append(
                sku_key=key,
                term="savings_plan",
                lease_years=years,
                purchase_option=info["purchase_option"],
                plan_type=info["plan_type"],
                unit=unit,
                hourly=hourly,
                currency=currency,
                effective_from=effective,
                rate_code=rate.get("rateCode"),
                description=plan.get("description"),
                source_row=self.row,
            )
            if key not in self.seen:
                self.seen.add(key)
                instance_type = _looks_like_instance_type(rate.get("discountedInstanceType"))
                others = {
                    k: v for k, v in rate.items() if k not in ("discountedSku", "discountedRate", "rateCode", "unit")
                }
                self.skus.append(
                    sku_key=key,
                    provider="aws",
                    sku_code=discounted,
                    service=service,
                    region=rate.get("discountedRegionCode"),
                    instance_type=instance_type,
                    **instance_spec(instance_type),
                    attributes=json_object(others),
                )
            if len(self.prices) >= batch_rows:
                yield self._batch(stream)


def _timestamp_or_error(reader: _SavingsPlanJson, value: Any, field: str):
    if value in (None, ""):
        return None
    try:
        return parse_timestamp(str(value))
    except ValueError:
        raise reader.file.error(f"not a date/time: {value!r}", row=reader.row + 1, field=field) from None
