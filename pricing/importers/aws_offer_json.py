"""AWS Price List bulk offer files, JSON: ``products`` and ``terms.OnDemand`` / ``terms.Reserved``.

Pure module: no Django imports. Layout (``offers/v1.0/aws/<offer>/<version>/<region>/index.json``)::

    {"formatVersion": "v1.0", "disclaimer": ..., "offerCode": "AmazonEC2", "version": "2024...",
     "publicationDate": "2024-...Z",
     "products": {"<SKU>": {"sku": "<SKU>", "productFamily": "Compute Instance",
                            "attributes": {"servicecode": "AmazonEC2", "instanceType": "m5.large", ...}}},
     "terms": {"OnDemand": {"<SKU>": {"<SKU>.<offerTermCode>": {
                  "offerTermCode": ..., "sku": ..., "effectiveDate": ...,
                  "priceDimensions": {"<rateCode>": {"rateCode": ..., "description": ..., "beginRange": "0",
                                                     "endRange": "Inf", "unit": "Hrs",
                                                     "pricePerUnit": {"USD": "0.0960000000"}}},
                  "termAttributes": {}}}},
               "Reserved": {... "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                                                   "PurchaseOption": "Partial Upfront"}}}}

Streamed with ``JsonStream`` (one product, or one SKU's terms, in memory at a time), so multi-GB files
work; the products must come before the terms, as AWS writes them. Row numbers count the records in
file order: each product, then each price dimension. A reserved offer's dimensions (Unit "Quantity" =
the upfront fee, "Hrs" = the recurring rate) become one PRICE row with ``upfront`` and ``hourly``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from pricing.importers.files import InputFile
from pricing.importers.instances import instance_spec, processor_architecture
from pricing.importers.jsonstream import JsonStream
from pricing.importers.records import (
    PRICE_SCHEMA,
    SKU_SCHEMA,
    SPOT_SCHEMA,
    ZERO,
    CatalogBatch,
    CatalogMeta,
    empty,
    gib_or_none,
    int_or_none,
    json_object,
    lease_years,
    none_if_na,
    normalize_os,
    normalize_purchase_option,
    normalize_tenancy,
    parse_decimal,
    parse_timestamp,
    price_builder,
    sku_builder,
)

FORMAT = "aws-offer-json"
TERM_TYPES = {"OnDemand": "on_demand", "Reserved": "reserved"}
UPFRONT_UNIT = "Quantity"
# Attributes copied as they are into a SKU column of their own, so not repeated in ``attributes``.
VERBATIM = ("servicecode", "regionCode", "instanceType")


def read_offer_head(
    stream: JsonStream, file: InputFile, what: str
) -> tuple[Iterator[str], dict[str, Any], str | None, dt.datetime | None]:
    """The members of an AWS bulk JSON file before its first ``products``/``terms`` key (offer code,
    version, publication date...), shared by offer and savings-plan files. Returns the member iterator,
    the head, the pending big key (or None) and the parsed publication date."""
    if stream.peek() != "{":
        raise stream.syntax_error(f"{what} is a JSON object")
    keys = stream.members()
    head: dict[str, Any] = {}
    pending = None
    for key in keys:
        if key in ("products", "terms"):
            pending = key
            break
        head[key] = stream.value()
    published = None
    if isinstance(head.get("publicationDate"), str):
        try:
            published = parse_timestamp(head["publicationDate"])
        except ValueError:
            raise file.error(f"not a date/time: {head['publicationDate']!r}", field="publicationDate") from None
    return keys, head, pending, published


def read(file: InputFile, batch_rows: int) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    stream = JsonStream(file)
    try:
        keys, head, pending, published = read_offer_head(stream, file, "an AWS offer file")
        offer_code = head.get("offerCode")
        meta = CatalogMeta(
            format=FORMAT,
            provider="aws",
            source=str(offer_code or "AWS offer file"),
            publication_date=published,
            version=str(head["version"]) if head.get("version") is not None else None,
        )
    except BaseException:
        stream.close()
        raise
    return meta, OfferJson(file, str(offer_code or "")).batches(stream, keys, pending, batch_rows)


class OfferJson:
    def __init__(self, file: InputFile, offer_code: str) -> None:
        self.file = file
        self.offer_code = offer_code
        self.row = 0
        self.first_row = 1
        self.skus = sku_builder()
        self.prices = price_builder()
        self.products: set[str] = set()
        self.batches_out = 0

    def batches(
        self, stream: JsonStream, keys: Iterator[str], key: str | None, batch_rows: int
    ) -> Iterator[CatalogBatch]:
        seen: set[str] = set()
        with stream:
            while key is not None:
                seen.add(key)
                if key == "products":
                    yield from self._products(stream, batch_rows)
                elif key == "terms":
                    if "products" not in seen:
                        raise self.file.error(
                            "not an AWS offer file: no 'products' key before 'terms' (AWS writes the products first)",
                            field="products",
                        )
                    yield from self._terms(stream, batch_rows)
                else:
                    stream.value()
                key = next(keys, None)
            stream.end()
            for required in ("products", "terms"):
                if required not in seen:
                    raise self.file.error(f"not an AWS offer file: no {required!r} key", field=required)
            if len(self.skus) or len(self.prices) or not self.batches_out:
                yield self._batch(stream)

    def _batch(self, stream: JsonStream) -> CatalogBatch:
        self.batches_out += 1
        batch = CatalogBatch(
            skus=self.skus.take() if len(self.skus) else empty(SKU_SCHEMA),
            prices=self.prices.take() if len(self.prices) else empty(PRICE_SCHEMA),
            spot=empty(SPOT_SCHEMA),
            first_row=self.first_row,
            bytes_read=stream.bytes_read(),
            bytes_total=self.file.size,
            rows=self.row - self.first_row + 1,
        )
        self.first_row = self.row + 1
        return batch

    def _error(self, message: str, field: str, row: int | None = None) -> Exception:
        return self.file.error(message, row=self.row if row is None else row, field=field)

    # ------------------------------------------------------------------------------------- products

    def _products(self, stream: JsonStream, batch_rows: int) -> Iterator[CatalogBatch]:
        if stream.peek() != "{":
            raise self.file.error("'products' of an AWS offer file must be an object keyed by SKU", field="products")
        for code in stream.members():
            self.row += 1
            product = stream.value()
            path = f"products.{code}"
            if not isinstance(product, dict):
                raise self._error("a product must be a JSON object", path)
            sku = product.get("sku", code)
            if not isinstance(sku, str) or not sku.strip():
                raise self._error("empty SKU", f"{path}.sku")
            attributes = product.get("attributes") or {}
            if not isinstance(attributes, dict):
                raise self._error("attributes must be a JSON object", f"{path}.attributes")
            self.products.add(sku)
            self.skus.append(**self._sku_row(sku, product, attributes))
            if len(self.skus) >= batch_rows:
                yield self._batch(stream)

    def _sku_row(self, sku: str, product: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
        instance_type = attributes.get("instanceType") or None
        spec = instance_spec(instance_type)
        factor = attributes.get("normalizationSizeFactor")
        try:
            factor = parse_decimal(factor) if factor not in (None, "", "NA") else None
        except ValueError:
            factor = None
        others = {k: v for k, v in product.items() if k not in ("sku", "productFamily", "attributes")}
        kept = {k: v for k, v in attributes.items() if k not in VERBATIM}
        return {
            "sku_key": f"aws:{sku}",
            "provider": "aws",
            "sku_code": sku,
            "service": attributes.get("servicecode") or self.offer_code or "unknown",
            "product_family": product.get("productFamily"),
            "region": attributes.get("regionCode"),
            "instance_type": instance_type or attributes.get("usagetype"),
            "operating_system": normalize_os(attributes.get("operatingSystem")),
            "tenancy": normalize_tenancy(attributes.get("tenancy")),
            "license_model": none_if_na(attributes.get("licenseModel")),
            "pre_installed_sw": none_if_na(attributes.get("preInstalledSw")),
            "vcpu": _either(int_or_none(attributes.get("vcpu")), spec["vcpu"]),
            "memory_gib": _either(gib_or_none(attributes.get("memory")), spec["memory_gib"]),
            "architecture": _either(spec["architecture"], processor_architecture(attributes.get("physicalProcessor"))),
            "gpu": _either(int_or_none(attributes.get("gpu")), spec["gpu"]),
            "instance_family": spec["instance_family"],
            "normalization_factor": _either(factor, spec["normalization_factor"]),
            "attributes": json_object({**others, **kept}),
        }

    # ---------------------------------------------------------------------------------------- terms

    def _terms(self, stream: JsonStream, batch_rows: int) -> Iterator[CatalogBatch]:
        if stream.peek() != "{":
            raise self.file.error("'terms' of an AWS offer file must be an object", field="terms")
        for term_type in stream.members():
            term = TERM_TYPES.get(term_type)
            if term is None:
                raise self._error(
                    f"unknown term type {term_type!r}; expected one of {', '.join(TERM_TYPES)}",
                    f"terms.{term_type}",
                    row=self.row + 1,
                )
            for sku in stream.members():
                offers = stream.value()
                path = f"terms.{term_type}.{sku}"
                if not isinstance(offers, dict):
                    raise self._error("the terms of a SKU must be a JSON object", path, row=self.row + 1)
                for offer_key, offer in offers.items():
                    self._offer(term, sku, offer, f"{path}.{offer_key}")
                if len(self.prices) >= batch_rows:
                    yield self._batch(stream)

    def _offer(self, term: str, sku: str, offer: Any, path: str) -> None:
        if not isinstance(offer, dict):
            raise self._error("an offer term must be a JSON object", path, row=self.row + 1)
        offer_sku = offer.get("sku", sku)
        if not isinstance(offer_sku, str) or not offer_sku.strip():
            raise self._error("empty SKU", f"{path}.sku", row=self.row + 1)
        if offer_sku not in self.products:
            raise self._error(
                f"a term for SKU {offer_sku!r}, which is not among the products", f"{path}.sku", self.row + 1
            )
        effective = None
        if offer.get("effectiveDate"):
            try:
                effective = parse_timestamp(str(offer["effectiveDate"]))
            except ValueError:
                raise self._error(
                    f"not a date/time: {offer['effectiveDate']!r}", f"{path}.effectiveDate", self.row + 1
                ) from None
        dimensions = offer.get("priceDimensions")
        if not isinstance(dimensions, dict) or not dimensions:
            raise self._error("no priceDimensions", f"{path}.priceDimensions", self.row + 1)
        rows = []  # (row, rate code, dimension, currency, price)
        for rate_key, dimension in dimensions.items():
            self.row += 1
            where = f"{path}.priceDimensions.{rate_key}"
            if not isinstance(dimension, dict):
                raise self._error("a price dimension must be a JSON object", where)
            if not dimension.get("unit"):
                raise self._error("empty unit", f"{where}.unit")
            prices = dimension.get("pricePerUnit")
            if not isinstance(prices, dict) or not prices:
                raise self._error("no pricePerUnit", f"{where}.pricePerUnit")
            for currency, text in prices.items():
                try:
                    value = parse_decimal(text)
                except ValueError as exc:
                    raise self._error(str(exc), f"{where}.pricePerUnit.{currency}") from None
                rows.append((self.row, dimension.get("rateCode", rate_key), dimension, currency, value, where))
        if term == "on_demand":
            for row, rate_code, dimension, currency, value, where in rows:
                self.prices.append(
                    sku_key=f"aws:{offer_sku}",
                    term=term,
                    unit=dimension["unit"],
                    hourly=value,
                    currency=currency,
                    effective_from=effective,
                    tier_start=self._range(dimension, "beginRange", where, row),
                    tier_end=self._range(dimension, "endRange", where, row),
                    rate_code=rate_code,
                    description=dimension.get("description"),
                    source_row=row,
                )
            return
        self._reserved(offer_sku, offer, rows, effective, path)

    def _range(self, dimension: Mapping[str, Any], name: str, where: str, row: int) -> Decimal | None:
        """beginRange / endRange of a tiered price ("Inf": open-ended)."""
        value = dimension.get(name)
        if value in (None, "", "Inf"):
            return None
        try:
            return parse_decimal(value)
        except ValueError as exc:
            raise self._error(str(exc), f"{where}.{name}", row) from None

    def _reserved(
        self, sku: str, offer: Mapping[str, Any], rows: list, effective: dt.datetime | None, path: str
    ) -> None:
        attributes = offer.get("termAttributes") or {}
        years = lease_years(attributes.get("LeaseContractLength"))
        if years is None:
            raise self._error(
                f"unreadable LeaseContractLength {attributes.get('LeaseContractLength')!r} (expected 1yr or 3yr)",
                f"{path}.termAttributes.LeaseContractLength",
                rows[0][0],
            )
        option = normalize_purchase_option(attributes.get("PurchaseOption"))
        if option is None:
            raise self._error("empty PurchaseOption", f"{path}.termAttributes.PurchaseOption", rows[0][0])
        offering_class = (attributes.get("OfferingClass") or "").strip().lower() or None
        by_currency: dict[str, dict[str, tuple]] = {}
        for row, rate_code, dimension, currency, value, _ in rows:
            part = "upfront" if dimension["unit"] == UPFRONT_UNIT else "recurring"
            parts = by_currency.setdefault(currency, {})
            if part in parts:
                raise self._error(
                    f"reserved offer {offer.get('offerTermCode')} has more than one {part} price dimension",
                    f"{path}.priceDimensions",
                    row,
                )
            parts[part] = (row, rate_code, dimension, value)
        for currency, parts in by_currency.items():
            main = parts.get("recurring") or parts["upfront"]
            self.prices.append(
                sku_key=f"aws:{sku}",
                term="reserved",
                lease_years=years,
                purchase_option=option,
                offering_class=offering_class,
                unit=parts["recurring"][2]["unit"] if "recurring" in parts else "Hrs",
                upfront=parts["upfront"][3] if "upfront" in parts else ZERO,
                hourly=parts["recurring"][3] if "recurring" in parts else ZERO,
                currency=currency,
                effective_from=effective,
                rate_code=main[1],
                description=main[2].get("description"),
                source_row=main[0],
            )


def _either(value: Any, fallback: Any) -> Any:
    """The file's own value when it has one, else the one from the shipped specs."""
    return fallback if value is None else value
