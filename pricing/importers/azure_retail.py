"""Azure Retail Prices API pages (https://prices.azure.com/api/retail/prices), one page per file.

Pure module: no Django imports. A page is ``{"BillingCurrency", "CustomerEntityId", "CustomerEntityType",
"Items": [...], "NextPageLink", "Count"}``; the caller follows NextPageLink and feeds each page. Items
are streamed one by one; JSON numbers are read as Decimal, so 0.018816 stays exactly 0.018816. Row
numbers are the 1-based positions of the items in ``Items``.

Per item (SKU: ``azure:<skuId>:<meterId>``, written once, with the first price it carries):

- ``type`` Consumption: ``on_demand``; a meter whose name has "Spot" or "Low Priority" is evictable
  capacity, term ``spot`` (a plain price, not a history sample).
- its ``savingsPlan`` array (api-version 2023-01-01-preview and later): one ``savings_plan`` PRICE row
  per entry, ``lease_years`` from "1 Year" / "3 Years", plan type ``compute``, ``hourly`` = its unitPrice.
- ``type`` Reservation: ``unitPrice`` is the price of the whole term, so ``upfront`` = unitPrice,
  ``hourly`` = 0, ``lease_years`` from reservationTerm, purchase option ``all_upfront`` (Azure also lets
  the same total be paid monthly). A VM reservation covers the compute of any OS: operating_system None.
- ``type`` DevTestConsumption: skipped and counted (``skipped["dev_test"]``). A Dev/Test item has the same
  skuId and meterId as its Consumption item but another price (Windows at the Linux rate), so keeping it
  as ``on_demand`` would give one SKU two on-demand prices; it is only for Dev/Test subscriptions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pricing.importers.files import InputFile
from pricing.importers.jsonstream import JsonStream
from pricing.importers.records import (
    PRICE_SCHEMA,
    SKU_SCHEMA,
    SPOT_SCHEMA,
    ZERO,
    CatalogBatch,
    CatalogMeta,
    empty,
    json_object,
    lease_years,
    parse_decimal,
    parse_timestamp,
    price_builder,
    sku_builder,
)

FORMAT = "azure-retail"
SOURCE = "Azure Retail Prices API"
TYPES = ("Consumption", "Reservation", "DevTestConsumption")
EVICTABLE = ("Spot", "Low Priority")
# Item fields that describe a price, not the product (so not in the SKU's attributes).
PRICE_FIELDS = (
    "currencyCode",
    "tierMinimumUnits",
    "retailPrice",
    "unitPrice",
    "effectiveStartDate",
    "effectiveEndDate",
    "reservationTerm",
    "savingsPlan",
    "type",
)
# Product fields copied into a SKU column of their own.
VERBATIM = ("skuId", "serviceName", "serviceFamily", "armRegionName")


def read(file: InputFile, batch_rows: int) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    stream = JsonStream(file)
    try:
        if stream.peek() != "{":
            raise stream.syntax_error("an Azure Retail Prices page is a JSON object")
        keys = stream.members()
        head: dict[str, Any] = {}
        pending = None
        for key in keys:
            if key == "Items":
                pending = key
                break
            head[key] = stream.value()
        details = ", ".join(str(head[k]) for k in ("CustomerEntityType", "BillingCurrency") if head.get(k))
        meta = CatalogMeta(
            format=FORMAT,
            provider="azure",
            source=f"{SOURCE} ({details})" if details else SOURCE,
            publication_date=None,
            version=None,
        )
    except BaseException:
        stream.close()
        raise
    return meta, RetailPage(file).batches(stream, keys, pending, batch_rows)


class RetailPage:
    def __init__(self, file: InputFile) -> None:
        self.file = file
        self.skus = sku_builder()
        self.prices = price_builder()
        self.seen: set[str] = set()
        self.skipped = 0
        self.row = 0
        self.first_row = 1

    def _batch(self, stream: JsonStream, final: bool = False) -> CatalogBatch:
        batch = CatalogBatch(
            skus=self.skus.take() if len(self.skus) else empty(SKU_SCHEMA),
            prices=self.prices.take() if len(self.prices) else empty(PRICE_SCHEMA),
            spot=empty(SPOT_SCHEMA),
            first_row=self.first_row,
            bytes_read=self.file.size if final else stream.bytes_read(),
            bytes_total=self.file.size,
            rows=self.row - self.first_row + 1,
            skipped={"dev_test": self.skipped} if self.skipped else {},
        )
        self.first_row = self.row + 1
        self.skipped = 0
        return batch

    def batches(
        self, stream: JsonStream, keys: Iterator[str], key: str | None, batch_rows: int
    ) -> Iterator[CatalogBatch]:
        found = False
        with stream:
            while key is not None:
                if key == "Items":
                    found = True
                    if stream.peek() != "[":
                        raise self.file.error("Items must be a list", field="Items")
                    for index in stream.items():
                        self.row += 1
                        self._item(stream.value(), f"Items[{index}]")
                        if self.row - self.first_row + 1 >= batch_rows:
                            yield self._batch(stream)
                else:
                    stream.value()
                key = next(keys, None)
            stream.end()
            if not found:
                raise self.file.error("not an Azure Retail Prices page: no 'Items' key", field="Items")
            if self.row >= self.first_row or self.row == 0:
                yield self._batch(stream, final=True)

    def _error(self, message: str, field: str) -> Exception:
        return self.file.error(message, row=self.row, field=field)

    def _item(self, item: Any, path: str) -> None:
        if not isinstance(item, dict):
            raise self._error("an item must be a JSON object", path)
        for name in ("skuId", "meterId"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise self._error(f"empty {name} (an item without its SKU)", f"{path}.{name}")
        kind = item.get("type")
        if kind not in TYPES:
            raise self._error(f"unknown price type {kind!r}; expected one of {', '.join(TYPES)}", f"{path}.type")
        if kind == "DevTestConsumption":
            self.skipped += 1
            return
        try:
            unit_price = parse_decimal(item.get("unitPrice"))
        except ValueError as exc:
            raise self._error(str(exc), f"{path}.unitPrice") from None
        currency = item.get("currencyCode")
        if not currency:
            raise self._error("empty currencyCode", f"{path}.currencyCode")
        unit = item.get("unitOfMeasure")
        if not unit:
            raise self._error("empty unitOfMeasure", f"{path}.unitOfMeasure")
        effective = None
        if item.get("effectiveStartDate"):
            try:
                effective = parse_timestamp(str(item["effectiveStartDate"]))
            except ValueError:
                raise self._error(
                    f"not a date/time: {item['effectiveStartDate']!r}", f"{path}.effectiveStartDate"
                ) from None
        try:
            tier_start = parse_decimal(item["tierMinimumUnits"]) if item.get("tierMinimumUnits") is not None else None
        except ValueError as exc:
            raise self._error(str(exc), f"{path}.tierMinimumUnits") from None
        sku_key = f"azure:{item['skuId']}:{item['meterId']}"
        meter = str(item.get("meterName") or "")
        common = {
            "sku_key": sku_key,
            "unit": unit,
            "currency": currency,
            "effective_from": effective,
            "tier_start": tier_start,
            "source_row": self.row,
        }
        if kind == "Reservation":
            years = lease_years(item.get("reservationTerm"))
            if years is None:
                raise self._error(
                    f"unreadable reservationTerm {item.get('reservationTerm')!r}", f"{path}.reservationTerm"
                )
            self.prices.append(
                term="reserved",
                lease_years=years,
                purchase_option="all_upfront",
                upfront=unit_price,
                hourly=ZERO,
                description=f"Reservation {item.get('reservationTerm')}: {meter}",
                **common,
            )
        else:
            evictable = any(word in meter for word in EVICTABLE)
            self.prices.append(
                term="spot" if evictable else "on_demand",
                hourly=unit_price,
                description=f"Consumption: {meter}",
                **common,
            )
            self._savings_plans(item, path, common)
        if sku_key not in self.seen:
            self.seen.add(sku_key)
            self.skus.append(**self._sku_row(item, sku_key, kind))

    def _savings_plans(self, item: Mapping[str, Any], path: str, common: Mapping[str, Any]) -> None:
        plans = item.get("savingsPlan")
        if plans is None:
            return
        if not isinstance(plans, list):
            raise self._error("savingsPlan must be a list", f"{path}.savingsPlan")
        for index, plan in enumerate(plans):
            where = f"{path}.savingsPlan[{index}]"
            if not isinstance(plan, dict):
                raise self._error("a savings plan price must be a JSON object", where)
            years = lease_years(plan.get("term"))
            if years is None:
                raise self._error(f"unreadable term {plan.get('term')!r}", f"{where}.term")
            try:
                rate = parse_decimal(plan.get("unitPrice"))
            except ValueError as exc:
                raise self._error(str(exc), f"{where}.unitPrice") from None
            self.prices.append(
                term="savings_plan",
                lease_years=years,
                plan_type="compute",
                hourly=rate,
                description=f"Savings plan {plan.get('term')}: {item.get('meterName')}",
                **common,
            )

    def _sku_row(self, item: Mapping[str, Any], sku_key: str, kind: str) -> dict[str, Any]:
        service = item.get("serviceName") or "unknown"
        product = str(item.get("productName") or "")
        operating_system = None
        if service == "Virtual Machines" and kind != "Reservation":
            operating_system = "windows" if "Windows" in product else "linux"
        attributes = {k: v for k, v in item.items() if k not in PRICE_FIELDS and k not in VERBATIM}
        return {
            "sku_key": sku_key,
            "provider": "azure",
            "sku_code": item["skuId"],
            "service": service,
            "product_family": item.get("serviceFamily") or None,
            "region": item.get("armRegionName") or None,
            "instance_type": item.get("armSkuName") or item.get("meterName") or None,
            "operating_system": operating_system,
            "attributes": json_object(attributes),
        }
