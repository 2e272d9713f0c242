"""AWS Cost and Usage Report exports -> canonical (FOCUS) chunks.

Pure module: no Django imports. Accepts legacy CUR (``lineItem/UsageStartDate`` headers), its Athena
snake_case form (``line_item_usage_start_date``, ``resource_tags_user_team``) and CUR 2.0 (snake_case,
with ``product`` and ``resource_tags`` as map columns in Parquet or JSON text in CSV). Column names are
matched after folding them to lowercase letters and digits, so all three spellings meet
(``savingsPlan/SavingsPlanARN`` = ``savings_plan_savings_plan_a_r_n``).

The mapping follows the FinOps Foundation's converter (focus_converters, conversion_rules/aws-cur.csv):
BilledCost, EffectiveCost (amortised), ChargeCategory, the commitment columns and SkuPriceId as there.
Deviations, each deliberate: ListCost prefers ``pricing/publicOnDemandCost`` (AWS's own FOCUS export
does; the converter recomputes rate x amount first); ServiceName is the product name, not the code;
ChargeFrequency is Usage-Based for usage (FOCUS requires it; the converter derives every row's from the
bill type); PricingCategory also reads ``pricing/term`` and spot usage types, and is null when unknown
rather than "Other". As in the converter, EffectiveCost of ordinary usage is the unblended cost even
when a net (private pricing) cost exists. Every source column not copied as is into a canonical
column is kept in ``extras``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.usage.formats.aws_services import service_category
from finops.usage.formats.canonical import canonical_table
from finops.usage.formats.convert import (
    Where,
    canonical_json_objects,
    decimal_product,
    decimal_sum,
    json_field,
    json_object_columns,
    lookup,
    map_to_json,
    to_decimal,
    to_text,
    to_timestamp,
)
from finops.usage.formats.errors import IngestError
from finops.usage.formats.schema import DECIMAL

# lineItem/LineItemType -> FOCUS 1.2 ChargeCategory. An unknown type is refused, not guessed.
CHARGE_CATEGORIES: dict[str, str] = {
    "Tax": "Tax",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "Usage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "DiscountedUsage": "Usage",
    "BundledDiscount": "Usage",
    "Discount": "Usage",
    "PrivateRateDiscount": "Usage",
    "EdpDiscount": "Usage",
    # Discount types AWS documents that the converter does not list; treated like its discounts.
    "DistributorDiscount": "Usage",
    "SppDiscount": "Usage",
    "RiVolumeDiscount": "Usage",
    "Credit": "Credit",
    "Refund": "Adjustment",
}
_RECURRING_FEES = frozenset({"RIFee", "SavingsPlanRecurringFee"})
_ONE_TIME_FEES = frozenset({"Fee", "SavingsPlanUpfrontFee"})
_BILL_TYPE_FREQUENCY = {"Anniversary": "Recurring", "Purchase": "One-Time", "Refund": "One-Time"}
_COMMITTED_USAGE = frozenset({"DiscountedUsage", "SavingsPlanCoveredUsage"})
_PURCHASE_OPTION_CATEGORY = {
    "On-Demand": "Standard",
    "Dedicated Hosts": "Standard",
    "Reserved Instances": "Committed",
    "Spot Instances": "Dynamic",
}

# Canonical text column -> CUR columns (legacy spelling), the first non-null per row wins.
_TEXT_SOURCES: dict[str, tuple[str, ...]] = {
    "billing_account_id": ("bill/PayerAccountId",),
    "billing_account_name": ("bill/PayerAccountName",),
    "sub_account_id": ("lineItem/UsageAccountId",),
    "sub_account_name": ("lineItem/UsageAccountName",),
    "invoice_issuer_name": ("bill/InvoicingEntity",),
    "publisher_name": ("lineItem/LegalEntity",),
    "billing_currency": ("lineItem/CurrencyCode",),
    "charge_description": ("lineItem/LineItemDescription",),
    "pricing_unit": ("pricing/unit",),
    "consumed_unit": ("pricing/unit",),
    "service_name": ("product/ProductName", "lineItem/ProductCode"),
    "region_id": ("product/regionCode", "product/region"),
    "region_name": ("product/location",),
    "availability_zone": ("lineItem/AvailabilityZone",),
    "resource_id": ("lineItem/ResourceId",),
    "sku_id": ("product/sku",),
    "sku_price_id": ("pricing/RateCode", "pricing/RateId"),
    "instance_type": ("product/instanceType",),
}
_TIMESTAMP_SOURCES: dict[str, str] = {
    "billing_period_start": "bill/BillingPeriodStartDate",
    "billing_period_end": "bill/BillingPeriodEndDate",
    "charge_period_start": "lineItem/UsageStartDate",
    "charge_period_end": "lineItem/UsageEndDate",
}
_DECIMAL_SOURCES: dict[str, str] = {
    "list_unit_price": "pricing/publicOnDemandRate",
    "pricing_quantity": "lineItem/UsageAmount",
    "consumed_quantity": "lineItem/UsageAmount",
}
# Needed for the REQUIRED_VALUES columns; a file without them is refused up front.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "bill/PayerAccountId",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/LineItemType",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedCost",
)
_LINE_ITEM_TYPE = "lineItem/LineItemType"


def fold(name: str) -> str:
    """Column name folded so legacy, Athena and CUR 2.0 spellings compare equal."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def snake_case(legacy: str) -> str:
    """``lineItem/UsageStartDate`` -> ``line_item_usage_start_date`` (to name columns in a
    snake_case file's own spelling)."""
    return "_".join(re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", part).lower() for part in legacy.split("/"))


def looks_like_cur(names: Sequence[str]) -> bool:
    folded = {fold(n) for n in names}
    return "lineitemlineitemtype" in folded or {"lineitemusagestartdate", "lineitemunblendedcost"} <= folded


def tag_key(column: str) -> str | None:
    """Tag key of a CUR tag column (``resourceTags/user:team`` -> ``team``; AWS tags keep ``aws:``),
    or None when the column is not a tag column."""
    if column.startswith("resourceTags/"):
        key = column[len("resourceTags/") :]
        return key[len("user:") :] if key.startswith("user:") else key
    if column.startswith("resource_tags_"):
        key = column[len("resource_tags_") :]
        if key.startswith("user_"):
            return key[len("user_") :]
        if key.startswith("aws_"):
            return "aws:" + key[len("aws_") :]
        return key
    return None


def clean_tags(tags: dict) -> dict:
    """Keys of a CUR 2.0 resource_tags map as in legacy CUR: ``user:``/``user_`` dropped, AWS tags as
    ``aws:...``; empty values left out."""
    cleaned = {}
    for key, value in tags.items():
        if value in (None, ""):
            continue
        key = str(key)
        if key.startswith(("user:", "user_")):
            key = key[5:]
        elif key.startswith("aws_"):
            key = "aws:" + key[4:]
        cleaned.setdefault(key, value)
    return cleaned


class CurMapper:
    """Maps raw batches of one CUR file to canonical tables."""

    fmt = "aws-cur"

    def __init__(self, names: Sequence[str], file: str) -> None:
        self._names = list(names)
        self._index: dict[str, int] = {}
        for i, name in enumerate(names):
            self._index.setdefault(fold(name), i)
        snake = not any("/" in name for name in names)
        missing = [column for column in REQUIRED_COLUMNS if fold(column) not in self._index]
        if missing:
            shown = [snake_case(c) if snake else c for c in missing]
            raise IngestError(f"missing AWS CUR columns: {', '.join(shown)}", file=file)
        self._product = self._index.get("product")  # CUR 2.0 map (or JSON text) of product attributes
        tag_columns = {}
        for i, name in enumerate(names):
            key = tag_key(name)
            if key:
                tag_columns.setdefault(key, i)
        self._tag_columns = sorted(tag_columns.items())  # sorted keys: canonical JSON
        self._tag_map = self._index.get("resourcetags")
        # Source columns copied as is (the first present source of each mapping) need no copy in extras.
        copied = {self._index.get(fold(sources[0])) for sources in _TEXT_SOURCES.values()}
        copied |= {
            self._index.get(fold(source)) for source in (*_TIMESTAMP_SOURCES.values(), *_DECIMAL_SOURCES.values())
        }
        copied.add(self._first_present("lineItem/NetUnblendedCost", "lineItem/UnblendedCost"))
        copied.add(self._index.get(fold("pricing/publicOnDemandCost")))
        copied |= {i for _, i in self._tag_columns}
        copied.add(self._tag_map)
        self._extras = [i for i in range(len(names)) if i not in copied]

    def _first_present(self, *columns: str) -> int | None:
        return next((self._index[fold(c)] for c in columns if fold(c) in self._index), None)

    def name_of(self, column: str) -> str:
        i = self._index.get(fold(column))
        return self._names[i] if i is not None else column

    def convert(self, batch: pa.RecordBatch, where: Where) -> pa.Table:
        return _BatchMapping(self, batch, where).table()


class _BatchMapping:
    """One batch's mapping; caches each source column's conversions (several targets share one)."""

    def __init__(self, mapper: CurMapper, batch: pa.RecordBatch, where: Where) -> None:
        self.m = mapper
        self.batch = batch
        self.where = where
        self.n = batch.num_rows
        self._text: dict[str, pa.Array | None] = {}
        self._decimal: dict[str, pa.Array | None] = {}

    # ------------------------------------------------------------------- source columns

    def text(self, column: str) -> pa.Array | None:
        if column not in self._text:
            i = self.m._index.get(fold(column))
            if i is not None:
                self._text[column] = to_text(self.batch.column(i), self.where, self.m._names[i])
            elif column.startswith("product/") and self.m._product is not None:
                self._text[column] = self._product_attribute(column.split("/", 1)[1])
            else:
                self._text[column] = None
        return self._text[column]

    def _product_attribute(self, attribute: str) -> pa.Array | None:
        """A product attribute from CUR 2.0's ``product`` map (keys like ``product_name``)."""
        col = self.batch.column(self.m._product)
        wanted = fold(attribute)
        if pa.types.is_map(col.type):
            keys = [k for k in pc.unique(col.keys).to_pylist() if k is not None and fold(k) == wanted]
            if not keys:
                return None
            return to_text(pc.map_lookup(col, keys[0], "first"), self.where, "product")
        text = to_text(col, self.where, self.m._names[self.m._product])
        return json_field(text, lambda key: fold(key) == wanted)

    def decimal(self, column: str) -> pa.Array | None:
        if column not in self._decimal:
            text = self.text(column)
            self._decimal[column] = None if text is None else to_decimal(text, self.where, self.m.name_of(column))
        return self._decimal[column]

    def decimal_or_zero(self, column: str) -> pa.Array:
        value = self.decimal(column)
        return pa.repeat(pa.scalar(0, DECIMAL), self.n) if value is None else pc.fill_null(value, 0)

    def coalesce_text(self, columns: Sequence[str]) -> pa.Array | None:
        present = [a for a in (self.text(c) for c in columns) if a is not None]
        if not present:
            return None
        return present[0] if len(present) == 1 else pc.coalesce(*present)

    def keyed(self, columns: Sequence[str], decide: Callable[[tuple[str, ...]], str | None]) -> pa.Array:
        """``decide`` applied once per distinct combination of the columns' values (a few dozen per
        batch), the combinations found from the columns' dictionary codes."""
        code = np.zeros(self.n, dtype=np.int64)
        encoded_columns: list[tuple[list[str], np.ndarray] | None] = []
        for column in columns:
            text = self.text(column)
            if text is None:
                encoded_columns.append(None)
                continue
            encoded = pc.dictionary_encode(pc.fill_null(text, ""))
            values = encoded.dictionary.to_pylist()
            indices = encoded.indices.to_numpy(zero_copy_only=False)
            encoded_columns.append((values, indices))
            code = code * len(values) + indices
            if code.max(initial=0) > 2**31:  # renumber before the product of sizes could overflow
                code = np.unique(code, return_inverse=True)[1].ravel()
        _, first_rows, inverse = np.unique(code, return_index=True, return_inverse=True)
        results = [
            decide(tuple("" if e is None else e[0][e[1][row]] for e in encoded_columns)) for row in first_rows.tolist()
        ]
        return pc.take(pa.array(results, pa.string()), pa.array(inverse.ravel()))

    # --------------------------------------------------------------------------- mapping

    def table(self) -> pa.Table:
        n, where = self.n, self.where
        columns: dict[str, pa.Array] = {}
        for canonical, sources in _TEXT_SOURCES.items():
            value = self.coalesce_text(sources)
            if value is not None:
                columns[canonical] = value
        for canonical, source in _TIMESTAMP_SOURCES.items():
            text = self.text(source)
            if text is not None:
                columns[canonical] = to_timestamp(text, where, self.m.name_of(source))
        for canonical, source in _DECIMAL_SOURCES.items():
            value = self.decimal(source)
            if value is not None:
                columns[canonical] = value
        columns["provider_name"] = pa.repeat(pa.scalar("AWS"), n)

        line_type = self.text(_LINE_ITEM_TYPE)
        self._check_line_item_types(line_type)
        types = set(pc.unique(line_type).to_pylist()) - {None}
        columns["charge_category"] = lookup(line_type, CHARGE_CATEGORIES.get)

        unblended = self.decimal("lineItem/UnblendedCost")
        net = self.decimal("lineItem/NetUnblendedCost")
        columns["billed_cost"] = unblended if net is None else pc.coalesce(net, unblended)
        columns["effective_cost"] = self._effective_cost(line_type, types, unblended)
        list_cost = self._list_cost()
        if list_cost is not None:
            columns["list_cost"] = list_cost

        columns["charge_frequency"] = self.keyed([_LINE_ITEM_TYPE, "bill/BillType"], _charge_frequency)
        columns["pricing_category"] = self.keyed(
            [
                _LINE_ITEM_TYPE,
                "pricing/term",
                "lineItem/UsageType",
                "product/PurchaseOption",
                "product/marketoption",
            ],
            _pricing_category,
        )
        columns["service_category"] = self.keyed(
            ["lineItem/ProductCode", "product/servicecode", "lineItem/UsageType"], _service_category
        )
        columns.update(self._commitment(line_type))
        tags = self._tags()
        if tags is not None:
            columns["tags"] = tags

        extra_names = [self.m._names[i] for i in self.m._extras]
        extra_values = [to_text(self.batch.column(i), where, self.m._names[i]) for i in self.m._extras]
        sources = {
            "billing_account_id": self.m.name_of("bill/PayerAccountId"),
            "billing_currency": self.m.name_of("lineItem/CurrencyCode"),
            "charge_category": self.m.name_of(_LINE_ITEM_TYPE),
            "billed_cost": self.m.name_of("lineItem/UnblendedCost"),
            "effective_cost": self.m.name_of("lineItem/UnblendedCost"),
            **{canonical: self.m.name_of(source) for canonical, source in _TIMESTAMP_SOURCES.items()},
        }
        return canonical_table(n, columns, extra_names, extra_values, sources, where)

    def _list_cost(self) -> pa.Array | None:
        """pricing/publicOnDemandCost (AWS's own FOCUS ListCost), else public rate x usage amount."""
        on_demand_cost = self.decimal("pricing/publicOnDemandCost")
        if on_demand_cost is not None and on_demand_cost.null_count == 0:
            return on_demand_cost
        rate, amount = self.decimal("pricing/publicOnDemandRate"), self.decimal("lineItem/UsageAmount")
        if rate is None or amount is None:
            return on_demand_cost
        computed = decimal_product(rate, amount)
        return computed if on_demand_cost is None else pc.coalesce(on_demand_cost, computed)

    def _check_line_item_types(self, line_type: pa.Array) -> None:
        unknown = [t for t in pc.unique(line_type).to_pylist() if t is not None and t not in CHARGE_CATEGORIES]
        if unknown:
            row = pc.index(pc.is_in(line_type, value_set=pa.array(unknown, pa.string())), True).as_py()
            raise self.where.error(
                f"unknown line item type {line_type[row].as_py()!r}",
                index=row,
                column=self.m.name_of(_LINE_ITEM_TYPE),
            )

    def _effective_cost(self, line_type: pa.Array, types: set[str], unblended: pa.Array) -> pa.Array:
        """Amortised cost per the converter: commitment usage at its effective cost, the unused part of
        recurring fees, upfront fees and negations at 0 (their cost is amortised into usage)."""
        special = {
            "SavingsPlanCoveredUsage",
            "SavingsPlanRecurringFee",
            "SavingsPlanNegation",
            "SavingsPlanUpfrontFee",
            "DiscountedUsage",
            "RIFee",
            "Fee",
        }
        if not types & special:
            return unblended

        def is_type(name: str) -> pa.Array:
            return pc.fill_null(pc.equal(line_type, name), False)

        zero = pa.repeat(pa.scalar(0, DECIMAL), self.n)
        reservation = self.text("reservation/ReservationARN")
        ri_fee = pc.and_(is_type("Fee"), reservation.is_valid()) if reservation is not None else is_type("__none__")
        conditions = [
            is_type("SavingsPlanCoveredUsage"),
            is_type("SavingsPlanRecurringFee"),
            pc.or_(pc.or_(is_type("SavingsPlanNegation"), is_type("SavingsPlanUpfrontFee")), ri_fee),
            is_type("DiscountedUsage"),
            is_type("RIFee"),
        ]
        values = [
            self.decimal_or_zero("savingsPlan/SavingsPlanEffectiveCost"),
            decimal_sum(
                self.decimal_or_zero("savingsPlan/TotalCommitmentToDate"),
                pc.negate(self.decimal_or_zero("savingsPlan/UsedCommitment")),
            ),
            zero,
            self.decimal_or_zero("reservation/EffectiveCost"),
            decimal_sum(
                self.decimal_or_zero("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"),
                self.decimal_or_zero("reservation/UnusedRecurringFee"),
            ),
        ]
        fields = [f"c{i}" for i in range(len(conditions))]
        return pc.case_when(pc.make_struct(*conditions, field_names=fields), *values, unblended)

    def _commitment(self, line_type: pa.Array) -> dict[str, pa.Array]:
        savings_plan = self.text("savingsPlan/SavingsPlanARN")
        reservation = self.text("reservation/ReservationARN")
        if savings_plan is None and reservation is None:
            return {}
        null = pa.scalar(None, pa.string())
        sp = savings_plan.is_valid() if savings_plan is not None else pa.repeat(pa.scalar(False), self.n)
        ri = reservation.is_valid() if reservation is not None else pa.repeat(pa.scalar(False), self.n)
        ids = [a for a in (savings_plan, reservation) if a is not None]
        used = pc.fill_null(pc.is_in(line_type, value_set=pa.array(sorted(_COMMITTED_USAGE))), False)
        return {
            "commitment_discount_id": ids[0] if len(ids) == 1 else pc.coalesce(*ids),
            "commitment_discount_type": pc.if_else(sp, "Savings Plan", pc.if_else(ri, "Reserved Instances (RI)", null)),
            "commitment_discount_category": pc.if_else(sp, "Spend", pc.if_else(ri, "Usage", null)),
            "commitment_discount_status": pc.if_else(pc.and_(used, pc.or_(sp, ri)), "Used", null),
        }

    def _tags(self) -> pa.Array | None:
        if self.m._tag_columns:
            keys = [key for key, _ in self.m._tag_columns]
            values = [to_text(self.batch.column(i), self.where, self.m._names[i]) for _, i in self.m._tag_columns]
            return json_object_columns(keys, values)
        if self.m._tag_map is not None:
            name = self.m._names[self.m._tag_map]
            col = self.batch.column(self.m._tag_map)
            text = map_to_json(col, self.where, name) if pa.types.is_map(col.type) else to_text(col, self.where, name)
            return canonical_json_objects(text, self.where, name, transform=clean_tags)
        return None


def _charge_frequency(key: tuple[str, ...]) -> str | None:
    line_type, bill_type = key
    if bill_type in ("Purchase", "Refund"):
        return "One-Time"
    if line_type in _RECURRING_FEES:
        return "Recurring"
    if line_type in _ONE_TIME_FEES:
        return "One-Time"
    if CHARGE_CATEGORIES.get(line_type) == "Usage":
        return "Usage-Based"
    return _BILL_TYPE_FREQUENCY.get(bill_type)


def _pricing_category(key: tuple[str, ...]) -> str | None:
    line_type, term, usage_type, purchase_option, market_option = key
    if line_type in _COMMITTED_USAGE or term == "Reserved" or purchase_option == "Reserved Instances":
        return "Committed"
    if "SpotUsage" in usage_type or term == "Spot" or market_option == "Spot" or purchase_option == "Spot Instances":
        return "Dynamic"
    if term == "OnDemand" or market_option == "OnDemand":
        return "Standard"
    return _PURCHASE_OPTION_CATEGORY.get(purchase_option)


def _service_category(key: tuple[str, ...]) -> str:
    product_code, service_code, usage_type = key
    return service_category(product_code or service_code, usage_type)
