"""AWS Price List bulk offer files, CSV: any service (EC2 first-class), OnDemand and Reserved terms.

Pure module: no Django imports. Layout: the 5-line preamble (FormatVersion, Disclaimer, Publication Date,
Version, OfferCode), a header, then one row per price dimension: term columns (SKU, OfferTermCode,
RateCode, TermType, PriceDescription, EffectiveDate, StartingRange, EndingRange, Unit, PricePerUnit,
Currency, RelatedTo, LeaseContractLength, PurchaseOption, OfferingClass) followed by the product's
attributes, repeated on every row of the product.

Streaming: pyarrow's CSV reader, all columns as text, in groups of ``batch_rows`` rows converted with
vectorised pyarrow compute; one Python step per *distinct* value only (dates, tenancies, instance types).

- OnDemand: one PRICE row per CSV row (tiers stay separate rows: StartingRange/EndingRange, "Inf" = open).
- Reserved: AWS publishes an offer as two rows (Unit "Quantity" = the upfront fee, Unit "Hrs" = the
  recurring hourly rate) or one (No Upfront: "Hrs" only; an upfront-only offer: "Quantity" only). They
  become one PRICE row per (SKU, OfferTermCode) with ``upfront`` and ``hourly`` both set, and the rate
  code, description and source row of the recurring row (of the upfront row when there is none). AWS
  writes the rows of an offer next to each other; the importer pairs them wherever they are within a
  batch, and across the boundary between two batches, but an offer whose rows are further apart (one
  row in a batch already converted) is an error, never two half prices.
- SKU rows: one per SKU, in the batch where it is first seen; ``attributes`` holds every product column
  that is not copied verbatim into its own column (so "Operating System", "Memory", "Location" ... keep
  their published text there).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pricing.importers.csvstream import CsvStream, Preamble, preamble_meta, read_preamble
from pricing.importers.files import InputFile
from pricing.importers.instances import processor_architecture, spec_columns
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
    gib_or_none,
    int_or_none,
    json_objects,
    lease_years,
    map_distinct,
    none_if_na,
    normalize_os,
    normalize_purchase_option,
    normalize_tenancy,
    parse_decimal,
    require_values,
    table,
    text_column,
    timestamp_column,
)

FORMAT = "aws-offer-csv"
TERM_COLUMNS = (
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "EffectiveDate",
    "StartingRange",
    "EndingRange",
    "Unit",
    "PricePerUnit",
    "Currency",
    "RelatedTo",
    "LeaseContractLength",
    "PurchaseOption",
    "OfferingClass",
)
REQUIRED_COLUMNS = ("SKU", "OfferTermCode", "TermType", "Unit", "PricePerUnit", "Currency")
TERM_TYPES = {"OnDemand": "on_demand", "Reserved": "reserved"}
# Product columns copied as they are into a SKU column of their own, so not repeated in ``attributes``.
VERBATIM = ("SKU", "serviceCode", "Product Family", "Region Code", "Instance Type")
UPFRONT_UNIT = "Quantity"


def read(file: InputFile, batch_rows: int) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    preamble = read_preamble(file)
    missing = [name for name in REQUIRED_COLUMNS if name not in preamble.header]
    if missing:
        raise file.error(
            f"the header lacks the column(s) {', '.join(missing)} of an AWS offer file "
            f"(a savings plan rate file has DiscountedRate instead of PricePerUnit: use --format aws-savings-plan)",
            field=missing[0],
        )
    return preamble_meta(preamble, FORMAT), OfferCsv(file, preamble).batches(batch_rows)


class OfferCsv:
    def __init__(self, file: InputFile, preamble: Preamble) -> None:
        self.file = file
        self.preamble = preamble
        self.names = preamble.header
        self.product_names = [n for n in self.names if n not in TERM_COLUMNS]
        self.attribute_names = [n for n in self.product_names if n not in VERBATIM]
        self.seen_skus: set[str] = set()
        self.emitted_offers: set[int] = set()
        self.carry: pa.Table | None = None  # reserved rows of an offer that may go on in the next group
        self._columns: dict[str, pa.Array] = {}

    def batches(self, batch_rows: int) -> Iterator[CatalogBatch]:
        # Product columns matter only on a SKU's first row: read as bytes, checked as UTF-8 on those rows.
        binary = [name for name in self.product_names if name != "SKU"]
        stream = CsvStream(self.file, self.names, skip_lines=6, group_rows=batch_rows, binary=binary)
        next_row = 1
        for group, first_row in stream.groups():
            skus, prices = self.convert(group, Where(self.file.label, first_row, line_offset=6))
            next_row = first_row + group.num_rows
            yield CatalogBatch(
                skus=skus,
                prices=prices,
                spot=empty(SPOT_SCHEMA),
                first_row=first_row,
                bytes_read=stream.bytes_read,
                bytes_total=self.file.size,
                rows=group.num_rows,
            )
        # The offer held back at the end of the last group is complete now: one more batch, no new rows.
        tail = self._combine(self.carry, Where(self.file.label, next_row, line_offset=6))
        self.carry = None
        if tail.num_rows or next_row == 1:
            yield CatalogBatch(
                skus=empty(SKU_SCHEMA),
                prices=tail,
                spot=empty(SPOT_SCHEMA),
                first_row=next_row,
                bytes_read=self.file.size,
                bytes_total=self.file.size,
                rows=0,
            )

    # ------------------------------------------------------------------------------------ one group

    def column(self, group: pa.Table, name: str) -> pa.Array:
        """A term column of the group as one contiguous array (made once per group)."""
        if name not in self._columns:
            if name in group.column_names:
                self._columns[name] = combined(group[name])
            else:
                self._columns[name] = pa.nulls(group.num_rows, pa.string())
        return self._columns[name]

    def convert(self, group: pa.Table, where: Where) -> tuple[pa.Table, pa.Table]:
        self._columns: dict[str, pa.Array] = {}
        n = group.num_rows
        sku = self.column(group, "SKU")
        require_values(sku, where, "SKU", "SKU")
        term_type = self.column(group, "TermType")
        known = pc.is_in(term_type, value_set=pa.array(list(TERM_TYPES)))
        if not pc.all(pc.fill_null(known, False)).as_py():
            i = first_index(pc.invert(pc.fill_null(known, False)))
            raise where.error(
                f"unknown TermType {term_type[i].as_py()!r}; expected one of {', '.join(TERM_TYPES)}",
                index=i,
                field="TermType",
            )
        offer_term = self.column(group, "OfferTermCode")
        require_values(offer_term, where, "OfferTermCode", "OfferTermCode")
        unit = self.column(group, "Unit")
        require_values(unit, where, "Unit", "Unit")
        currency = self.column(group, "Currency")
        require_values(currency, where, "Currency", "Currency")
        raw_price = self.column(group, "PricePerUnit")
        require_values(raw_price, where, "PricePerUnit", "PricePerUnit (no price)")
        price = decimal_column(raw_price, where, "PricePerUnit")
        sku_key = pc.binary_join_element_wise("aws:", sku, "")
        rows = pa.array(np.arange(where.first_row, where.first_row + n, dtype=np.int64))
        effective = timestamp_column(self.column(group, "EffectiveDate"), where, "EffectiveDate")
        reserved = pc.equal(term_type, "Reserved")
        any_reserved = pc.any(reserved).as_py()

        on_demand = pc.invert(reserved) if any_reserved else None
        prices = [self._on_demand(group, on_demand, where, sku_key, unit, price, currency, effective, rows)]
        if any_reserved or self.carry is not None:
            prices.append(
                self._reserved(group, reserved, where, sku, offer_term, sku_key, unit, price, currency, effective, rows)
            )
        skus = self._skus(group, sku, sku_key, where)
        return skus, concat(prices, PRICE_SCHEMA)

    def _on_demand(self, group, mask, where, sku_key, unit, price, currency, effective, rows) -> pa.Table:
        def pick(arr: pa.Array) -> pa.Array:
            return arr if mask is None else arr.filter(mask)

        count = group.num_rows if mask is None else pc.sum(mask).as_py() or 0
        if not count:
            return empty(PRICE_SCHEMA)
        rows_kept = pick(rows)
        kept = where.subset(rows_kept)
        end_text = pick(self.column(group, "EndingRange"))
        end_text = pc.if_else(pc.equal(end_text, "Inf"), pa.scalar(None, pa.string()), end_text)
        tier_start = decimal_column(pick(self.column(group, "StartingRange")), kept, "StartingRange")
        tier_end = decimal_column(end_text, kept, "EndingRange")
        return table(
            PRICE_SCHEMA,
            {
                "sku_key": pick(sku_key),
                "term": "on_demand",
                "unit": pick(unit),
                "upfront": ZERO,
                "hourly": pick(price),
                "currency": pick(currency),
                "effective_from": pick(effective),
                "tier_start": tier_start,
                "tier_end": tier_end,
                "rate_code": pick(self.column(group, "RateCode")),
                "description": pick(self.column(group, "PriceDescription")),
                "derived": False,
                "source_row": rows_kept,
            },
            count,
        )

    def _reserved(
        self, group, mask, where, sku, offer_term, sku_key, unit, price, currency, effective, rows
    ) -> pa.Table:
        n = group.num_rows
        parts = pa.table(
            {
                "sku": sku,
                "offer_term": offer_term,
                "sku_key": sku_key,
                "unit": unit,
                "price": price,
                "currency": currency,
                "effective_from": effective,
                "rate_code": self.column(group, "RateCode"),
                "description": self.column(group, "PriceDescription"),
                "row": rows,
                "lease": self.column(group, "LeaseContractLength"),
                "option": self.column(group, "PurchaseOption"),
                "class": self.column(group, "OfferingClass"),
            }
        ).filter(mask)
        parts = pa.table(
            {
                "offer": pc.binary_join_element_wise(parts["sku"], parts["offer_term"], "."),
                **{name: parts[name] for name in parts.column_names[2:]},
            }
        )
        if parts.num_rows:
            kept = where.subset(parts["row"])
            for name, label in (("lease", "LeaseContractLength"), ("option", "PurchaseOption")):
                require_values(combined(parts[name]), kept, label, f"{label} on a Reserved row")
        # Hold back the offer of the group's last row: its other row may be the next group's first.
        last_is_reserved = bool(mask[n - 1].as_py()) if n else False
        if self.carry is not None:
            parts = pa.concat_tables([self.carry, parts]) if parts.num_rows else self.carry
            self.carry = None
        if last_is_reserved and parts.num_rows:
            last_offer = parts["offer"][parts.num_rows - 1]
            held = pc.equal(parts["offer"], last_offer)
            self.carry = parts.filter(held)
            parts = parts.filter(pc.invert(held))
        return self._combine(parts, where)

    def _combine(self, parts: pa.Table | None, where: Where) -> pa.Table:
        """Reserved price-dimension rows -> one PRICE row per offer (upfront + hourly).

        Vectorised with numpy on the dictionary codes of the offer key (a hash group-by with many
        aggregates measured 5x slower): each offer's upfront row and recurring row are located, at most
        one of each, and gathered with ``take``."""
        if parts is None or not parts.num_rows:
            return empty(PRICE_SCHEMA)
        parts = parts.combine_chunks()
        kept = where.subset(parts["row"])
        encoded = pc.dictionary_encode(parts["offer"].combine_chunks())
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        offers = len(encoded.dictionary)
        upfront = pc.equal(parts["unit"], UPFRONT_UNIT).combine_chunks().to_numpy(zero_copy_only=False)
        positions = np.arange(len(codes), dtype=np.int64)
        located = {}
        for name, mask, label in (
            ("upfront", upfront, "upfront (Unit Quantity)"),
            ("recurring", ~upfront, "recurring"),
        ):
            part_codes = codes[mask]
            counts = np.bincount(part_codes, minlength=offers)
            if counts.max(initial=0) > 1:
                doubled = int(np.flatnonzero(counts > 1)[0])
                rows_of = positions[mask][part_codes == doubled]
                raise kept.error(
                    f"reserved offer {encoded.dictionary[doubled].as_py()} has more than one {label} price row "
                    f"(first at row {kept.row_of(int(rows_of[0]))})",
                    index=int(rows_of[1]),
                    field="Unit",
                )
            where_part = np.full(offers, -1, dtype=np.int64)
            where_part[part_codes] = positions[mask]
            located[name] = where_part
        main = np.where(located["recurring"] >= 0, located["recurring"], located["upfront"])
        order = np.argsort(main, kind="stable")  # offers in file order
        main = main[order]
        up = located["upfront"][order]
        rec = located["recurring"][order]

        # Offers already written by an earlier group: their rows were not consecutive. Kept as 64-bit string
        # hashes (a set of a million offer names would cost some 150 MB; a false alarm needs a collision).
        offer_names = encoded.dictionary.take(pa.array(order)).to_pylist()
        hashes = [hash(name) for name in offer_names]
        if not self.emitted_offers.isdisjoint(hashes):
            first = next(i for i, h in enumerate(hashes) if h in self.emitted_offers)
            raise kept.error(
                f"the rows of reserved offer {offer_names[first]} are not consecutive: it appears again here, "
                f"after other rows (AWS writes the upfront and hourly rows of an offer together)",
                index=int(main[first]),
                field="OfferTermCode",
            )
        self.emitted_offers.update(hashes)

        def gather(column: str, at: np.ndarray) -> pa.Array:
            """parts[column] at positions ``at`` (null where -1)."""
            return parts[column].combine_chunks().take(pa.array(at, mask=at < 0))

        main_at = pa.array(main)
        zero = pa.scalar(ZERO, parts["price"].type)
        lease_text = parts["lease"].combine_chunks().take(main_at)
        lease = map_distinct(lease_text, lease_years, pa.int32())
        if lease.null_count:
            i = first_index(lease.is_null())
            raise kept.error(
                f"unreadable LeaseContractLength {lease_text[i].as_py()!r} (expected 1yr or 3yr)",
                index=int(main[i]),
                field="LeaseContractLength",
            )
        return table(
            PRICE_SCHEMA,
            {
                "sku_key": parts["sku_key"].combine_chunks().take(main_at),
                "term": "reserved",
                "lease_years": lease,
                "purchase_option": map_distinct(
                    parts["option"].combine_chunks().take(main_at), normalize_purchase_option
                ),
                "offering_class": map_distinct(
                    parts["class"].combine_chunks().take(main_at), lambda v: v.strip().lower() or None
                ),
                "unit": pc.coalesce(gather("unit", rec), "Hrs"),
                "upfront": pc.coalesce(gather("price", up), zero),
                "hourly": pc.coalesce(gather("price", rec), zero),
                "currency": parts["currency"].combine_chunks().take(main_at),
                "effective_from": parts["effective_from"].combine_chunks().take(main_at),
                "rate_code": parts["rate_code"].combine_chunks().take(main_at),
                "description": parts["description"].combine_chunks().take(main_at),
                "derived": False,
                "source_row": parts["row"].combine_chunks().take(main_at),
            },
            len(main),
        )

    # ------------------------------------------------------------------------------------------ SKUs

    def _skus(self, group: pa.Table, sku: pa.Array, sku_key: pa.Array, where: Where) -> pa.Table:
        first = first_occurrences(sku, self.seen_skus)
        if not len(first):
            return empty(SKU_SCHEMA)
        indices = pa.array(first)
        products = group.select(self.product_names).take(indices)
        m = products.num_rows
        kept = where.subset(pa.array(first + where.first_row))
        columns = {name: text_column(products[name], kept, name) for name in products.column_names}

        def col(name: str) -> pa.Array:
            return columns[name] if name in columns else pa.nulls(m, pa.string())

        instance_type = col("Instance Type")
        specs = spec_columns(instance_type)
        from_file = {
            "vcpu": map_distinct(col("vCPU"), int_or_none, pa.int32()),
            "memory_gib": map_distinct(col("Memory"), gib_or_none, SKU_SCHEMA.field("memory_gib").type),
            "gpu": map_distinct(col("GPU"), int_or_none, pa.int32()),
            "normalization_factor": map_distinct(
                col("Normalization Size Factor"), _factor_or_none, SKU_SCHEMA.field("normalization_factor").type
            ),
            "architecture": map_distinct(col("Physical Processor"), processor_architecture),
        }
        service = pc.coalesce(col("serviceCode"), self.preamble.offer_code)
        return table(
            SKU_SCHEMA,
            {
                "sku_key": sku_key.take(indices),
                "provider": "aws",
                "sku_code": sku.take(indices),
                "service": service,
                "product_family": col("Product Family"),
                "region": col("Region Code"),
                "instance_type": pc.coalesce(instance_type, col("usageType")),
                "operating_system": map_distinct(col("Operating System"), normalize_os),
                "tenancy": map_distinct(col("Tenancy"), normalize_tenancy),
                "license_model": map_distinct(col("License Model"), none_if_na),
                "pre_installed_sw": map_distinct(col("Pre Installed S/W"), none_if_na),
                "vcpu": pc.coalesce(from_file["vcpu"], specs["vcpu"]),
                "memory_gib": pc.coalesce(from_file["memory_gib"], specs["memory_gib"]),
                # moto's SupportedArchitectures first: "Physical Processor" does not tell a Mac apart.
                "architecture": pc.coalesce(specs["architecture"], from_file["architecture"]),
                "gpu": pc.coalesce(from_file["gpu"], specs["gpu"]),
                "instance_family": specs["instance_family"],
                "normalization_factor": pc.coalesce(from_file["normalization_factor"], specs["normalization_factor"]),
                "attributes": json_objects(self.attribute_names, [col(n) for n in self.attribute_names], m),
            },
            m,
        )


def _factor_or_none(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return parse_decimal(text)
    except ValueError:  # "NA"
        return None
