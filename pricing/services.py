"""Price catalog imports: one call's files become one CatalogImport, written in one transaction.

The pure importers (pricing.importers) stream SKUs, prices and spot samples as arrow tables; they are
COPY-loaded into staging tables and merged with set-based SQL, which keeps a 2,000,000-row offer file
fast. Re-importing a file changes nothing; a newer catalog closes the prices it supersedes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from django.db import connection, transaction

from finops.core.amounts import CENT, EXACT, quantize_money
from finops.core.bulk import TableLoader, create_staging_table
from finops.core.concurrency import prefetch
from finops.core.hashing import file_sha256
from pricing import importers
from pricing.importers import PRICE_SCHEMA, SKU_SCHEMA, SPOT_SCHEMA, PriceImportError
from pricing.models import CatalogImport, Price, Sku, SpotPriceSample, Term
from pricing.offers import HOURS_PER_YEAR

# Columns that identify one offer of a SKU; a newer price of the same offer supersedes the older.
# The first four are never null and are compared with "=" so the database can use its indexes.
NOT_NULL_OFFER_KEY = ("sku_id", "term", "unit", "currency")
OFFER_KEY = (
    "sku_id",
    "term",
    "lease_years",
    "purchase_option",
    "offering_class",
    "plan_type",
    "unit",
    "currency",
    "tier_start",
)
CATALOG_BATCH_ROWS = 50_000


def _sha256(paths: Sequence[Path]) -> str:
    """One hash for the files of one catalog, in order."""
    return hashlib.sha256("".join(file_sha256(p) for p in paths).encode()).hexdigest()


def catalog_import(
    *, paths: Sequence[Path], fmt: str = "auto", location: str | None = None
) -> tuple[CatalogImport, bool]:
    """Import price files (one catalog, e.g. the pages of one API listing). Returns (import, duplicate).

    The same files again are a duplicate: nothing is written. Bad input raises PriceImportError naming
    file, row and field, records the failed import, and leaves every price table as it was."""
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise PriceImportError("no such file", file=str(path))
    digest = _sha256(paths)
    earlier = CatalogImport.objects.filter(sha256=digest, status=CatalogImport.Status.SUCCEEDED).first()
    if earlier is not None:
        return earlier, True
    started = time.monotonic()
    record = CatalogImport.objects.create(
        provider="", format=fmt, source="", location=location or ", ".join(map(str, paths)), sha256=digest
    )
    try:
        with transaction.atomic():
            _import_files(record, paths, fmt)
            record.status = CatalogImport.Status.SUCCEEDED
            record.duration_seconds = time.monotonic() - started
            record.save()
    except PriceImportError as error:
        CatalogImport.objects.filter(pk=record.pk).update(
            status=CatalogImport.Status.FAILED, error=str(error), duration_seconds=time.monotonic() - started
        )
        raise
    except Exception as error:
        CatalogImport.objects.filter(pk=record.pk).update(
            status=CatalogImport.Status.FAILED, error=f"internal error: {type(error).__name__}: {error}"
        )
        raise
    return record, False


def _import_files(record: CatalogImport, paths: list[Path], fmt: str) -> None:
    stage_sku = create_staging_table("pricing_stage_sku", SKU_SCHEMA)
    stage_price = create_staging_table("pricing_stage_price", PRICE_SCHEMA)
    stage_spot = create_staging_table("pricing_stage_spot", SPOT_SCHEMA)
    skipped: dict[str, int] = {}
    for path in paths:
        meta, batches = importers.read_catalog(path, fmt, batch_rows=CATALOG_BATCH_ROWS)
        record.provider, record.format, record.source = meta.provider, meta.format, meta.source
        record.publication_date, record.version = meta.publication_date, meta.version or ""
        loaders = {
            "skus": TableLoader(stage_sku, SKU_SCHEMA.names),
            "prices": TableLoader(stage_price, PRICE_SCHEMA.names),
            "spot": TableLoader(stage_spot, SPOT_SCHEMA.names),
        }

        def prepared(batches=batches, loaders=loaders):
            # Encoding for the database runs ahead in a thread, with the parsing (both release the GIL).
            # Only counts and encoded rows travel on: holding whole batches would grow with the file.
            for batch in batches:
                encoded = {name: loader.prepare(getattr(batch, name)) for name, loader in loaders.items()}
                yield batch.rows, batch.skipped, encoded

        for rows, batch_skipped, encoded in prefetch(prepared(), 1):
            for name, loader in loaders.items():
                if encoded[name][0]:
                    with loader:
                        loader.load(encoded[name])
            record.rows_read += rows
            for reason, count in batch_skipped.items():
                skipped[reason] = skipped.get(reason, 0) + count
    record.skipped = skipped
    _index_staging(stage_sku, stage_price)
    _merge(record, stage_sku, stage_price, stage_spot)


def _index_staging(*tables: str) -> None:
    """Index the staging tables' join key and, on PostgreSQL, gather their statistics: temporary tables
    are never auto-analyzed, and without statistics the merge's joins are planned as nested loops."""
    with connection.cursor() as cursor:
        for table in tables:
            index = connection.ops.quote_name(table.strip('"`') + "_sku_key")
            cursor.execute(f"CREATE INDEX {index} ON {table} (sku_key)")
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {table}")


def _merge(
    record: CatalogImport, stage_sku: str | None, stage_price: str, stage_spot: str | None, provenance: bool = False
) -> None:
    postgres = connection.vendor == "postgresql"
    same = "IS NOT DISTINCT FROM" if postgres else "IS"
    json = "CAST(s.attributes AS jsonb)" if postgres else "s.attributes"
    sku_table, price_table, spot_table = Sku._meta.db_table, Price._meta.db_table, SpotPriceSample._meta.db_table
    sku_columns = list(SKU_SCHEMA.names)
    publication = connection.ops.adapt_datetimefield_value(record.publication_date)
    with connection.cursor() as cursor:
        if stage_sku is not None:
            _merge_skus(cursor, record, stage_sku, sku_columns, json, sku_table)
        price_columns = [c for c in PRICE_SCHEMA.names if c != "sku_key"]
        provenance_column = "s.provenance" if provenance else "''"
        # A price without its own date is in force from its catalog's publication date.
        dated = "COALESCE(s.effective_from, %s)"
        offer_match = (
            " AND ".join(
                f"p.{c} {'=' if c in (*NOT_NULL_OFFER_KEY, 'upfront', 'hourly') else same} s.{c}"
                for c in (
                    "term",
                    "lease_years",
                    "purchase_option",
                    "offering_class",
                    "plan_type",
                    "unit",
                    "currency",
                    "tier_start",
                    "upfront",
                    "hourly",
                )
            )
            + f" AND p.effective_from {same} {dated}"
        )
        cursor.execute(
            f"INSERT INTO {price_table} (sku_id, {', '.join(price_columns)}, provenance, catalog_import_id) "
            f"SELECT k.id, {', '.join(dated if c == 'effective_from' else 's.' + c for c in price_columns)}, "
            f"{provenance_column}, %s "
            f"FROM {stage_price} s JOIN {sku_table} k ON k.sku_key = s.sku_key "
            f"WHERE NOT EXISTS (SELECT 1 FROM {price_table} p WHERE p.sku_id = k.id AND {offer_match})",
            [publication, record.pk, publication],
        )
        record.prices_added = max(cursor.rowcount, 0)
        record.prices_superseded = _close_superseded(cursor, record.pk, same)
        if stage_spot is not None:
            spot_columns = SPOT_SCHEMA.names
            cursor.execute(
                f"INSERT INTO {spot_table} ({', '.join(spot_columns)}, catalog_import_id) "
                f"SELECT {', '.join('s.' + c for c in spot_columns)}, %s FROM {stage_spot} s WHERE true "
                f"ON CONFLICT (provider, availability_zone, instance_type, product_description, timestamp) DO NOTHING",
                [record.pk],
            )
            record.spot_samples_added = max(cursor.rowcount, 0)


def _merge_skus(cursor, record: CatalogImport, stage_sku: str, sku_columns: list[str], json: str, sku_table: str):
    cursor.execute(
        f"INSERT INTO {sku_table} ({', '.join(sku_columns)}, catalog_import_id) "
        f"SELECT {', '.join('s.' + c if c != 'attributes' else json for c in sku_columns)}, %s "
        f"FROM {stage_sku} s WHERE true ON CONFLICT (sku_key) DO NOTHING",
        [record.pk],
    )
    record.skus_added = max(cursor.rowcount, 0)
    # Specs known only now (e.g. an instance-spec import after a price import) fill the gaps: one pass over
    # the table for all of them (a statement per column scanned it six times).
    specs = ("vcpu", "memory_gib", "architecture", "gpu", "instance_family", "normalization_factor")
    fills = ", ".join(
        f"{c} = COALESCE({c}, (SELECT s.{c} FROM {stage_sku} s "
        f"WHERE s.sku_key = {sku_table}.sku_key AND s.{c} IS NOT NULL LIMIT 1))"
        for c in specs
    )
    cursor.execute(
        f"UPDATE {sku_table} SET {fills} WHERE ({' OR '.join(f'{c} IS NULL' for c in specs)}) "
        f"AND sku_key IN (SELECT sku_key FROM {stage_sku} WHERE {' OR '.join(f'{c} IS NOT NULL' for c in specs)})"
    )


def _close_superseded(cursor, import_id: int, same: str) -> int:
    """Give every open price of an offer this import touched an end: the next later price's start."""
    price_table = Price._meta.db_table
    key = " AND ".join(f"n.{c} {'=' if c in NOT_NULL_OFFER_KEY else same} {price_table}.{c}" for c in OFFER_KEY)
    later = f"n.effective_from > {price_table}.effective_from"
    cursor.execute(
        f"UPDATE {price_table} SET effective_to = (SELECT MIN(n.effective_from) FROM {price_table} n "
        f"WHERE {key} AND {later}) "
        # Only SKUs that existed before this import can hold prices this import supersedes (or is
        # superseded by): a fresh catalog skips the correlated scan entirely.
        f"WHERE effective_to IS NULL AND sku_id IN (SELECT id FROM {Sku._meta.db_table} WHERE catalog_import_id <> %s "
        f"AND id IN (SELECT sku_id FROM {price_table} WHERE catalog_import_id = %s)) "
        f"AND EXISTS (SELECT 1 FROM {price_table} n WHERE {key} AND {later})",
        [import_id, import_id],
    )
    return max(cursor.rowcount, 0)


# --- Derived commitment prices ---------------------------------------------------------------------
RESERVED_DISCOUNTS = Path(__file__).resolve().parent / "data" / "ec2_reserved_discounts_x2iedn.json"
_VARIANT = {"noUpfront": "no_upfront", "allUpfront": "all_upfront"}
RATE_PLACES = 6


def derive_commitment_prices() -> tuple[CatalogImport, bool]:
    """Reserved and savings-plan rates for every current AWS EC2 Linux on-demand price that has no
    published one, from a real published discount structure: the ratio of each reserved variant's
    effective hourly to on-demand for x2iedn.32xlarge in the same region (ec2instances.info).

    Stored ``derived`` with their provenance, never silently. No-upfront rates are on-demand x ratio;
    all-upfront rates are that effective rate x the term's hours, paid upfront. Partial-upfront is not
    derived: the file gives its effective rate but not how it splits between upfront and hourly.
    Savings plans: no Savings Plans rate file was on hand, so Compute SP rates take the 1-year/3-year
    convertible no-upfront ratio and EC2 Instance SP rates the standard one (AWS advertises the same
    maximum discounts for these pairs); that equivalence is an assumption, stated in each provenance.
    Re-running adds nothing unless on-demand prices changed."""
    import json as jsonlib

    import pyarrow as pa

    discounts = jsonlib.loads(RESERVED_DISCOUNTS.read_text())
    source = f"{discounts['instance_type']} {discounts['os']} ({discounts['source']})"
    variants_by_region = {region: _derived_variants(values, source) for region, values in discounts["regions"].items()}
    base = Price.objects.filter(
        term=Term.ON_DEMAND,
        effective_to__isnull=True,
        unit__in=("Hrs", "Hours"),
        hourly__gt=0,
        sku__provider="aws",
        sku__operating_system="linux",
        sku__instance_type__isnull=False,
        sku__region__in=list(discounts["regions"]),
        derived=False,
    ).values_list("sku__sku_key", "sku__region", "hourly", "unit", "currency", "effective_from")
    # Column lists, not a dict per row: the same values in the same order, at a fraction of the cost.
    # Estimates carry no more precision than their inputs: rates to 6 places (as ec2instances.info
    # publishes them), upfront fees to the cent (quantize_money's rounding, inlined for speed).
    rate = Decimal(1).scaleb(-RATE_PLACES)
    no_upfront, no_hourly = quantize_money(Decimal(0)), quantize_money(Decimal(0), RATE_PLACES)
    bases: list[tuple] = []  # (sku_key, on-demand, unit, currency, effective_from, variant, its text)
    upfronts: list[Decimal] = []
    hourlies: list[Decimal] = []
    for sku_key, region, on_demand, unit, currency, effective_from in base.iterator(chunk_size=5000):
        when = str(effective_from)
        for variant in variants_by_region[region]:
            effective = on_demand * variant[6]
            if variant[5]:  # all upfront: the term's hours paid upfront
                upfronts.append((effective * HOURS_PER_YEAR * variant[1]).quantize(CENT, ROUND_HALF_EVEN, EXACT))
                hourlies.append(no_hourly)
            else:
                upfronts.append(no_upfront)
                hourlies.append(effective.quantize(rate, ROUND_HALF_EVEN, EXACT))
            bases.append((sku_key, on_demand, unit, currency, effective_from, variant, when))
    digest = hashlib.sha256(RESERVED_DISCOUNTS.read_bytes())
    digest.update(repr(sorted((b[0], str(h), b[6]) for b, h in zip(bases, hourlies, strict=True))).encode())
    earlier = CatalogImport.objects.filter(sha256=digest.hexdigest(), status=CatalogImport.Status.SUCCEEDED).first()
    if earlier is not None:
        return earlier, True
    schema = PRICE_SCHEMA.append(pa.field("provenance", pa.string()))
    variants = [b[5] for b in bases]
    count = len(bases)
    table = pa.table(
        {
            "sku_key": [b[0] for b in bases],
            "term": [v[0] for v in variants],
            "lease_years": [v[1] for v in variants],
            "purchase_option": [v[2] for v in variants],
            "offering_class": [v[3] for v in variants],
            "plan_type": [v[4] for v in variants],
            "unit": [b[2] for b in bases],
            "upfront": upfronts,
            "hourly": hourlies,
            "currency": [b[3] for b in bases],
            "effective_from": [b[4] for b in bases],
            "tier_start": pa.nulls(count, schema.field("tier_start").type),
            "tier_end": pa.nulls(count, schema.field("tier_end").type),
            "rate_code": pa.nulls(count, schema.field("rate_code").type),
            "description": pa.nulls(count, schema.field("description").type),
            "derived": [True] * count,
            "source_row": [0] * count,
            "provenance": [f"{v[7][0]}{b[1]}{v[7][1]}" for b, v in zip(bases, variants, strict=True)],
        },
        schema=schema,
    )
    with transaction.atomic():
        record = CatalogImport.objects.create(
            provider="aws",
            format="derived",
            source="derived commitment rates",
            location=str(RESERVED_DISCOUNTS),
            sha256=digest.hexdigest(),
            rows_read=count,
        )
        stage = create_staging_table("pricing_stage_derived", schema)
        with TableLoader(stage, schema.names) as loader:
            loader.load(loader.prepare(table))
        _index_staging(stage)
        _merge(record, None, stage, None, provenance=True)
        record.status = CatalogImport.Status.SUCCEEDED
        record.save()
    return record, False


def _derived_variants(region: dict, source: str) -> list[tuple]:
    """The commitment offers one region's published discounts derive from an on-demand rate: (term, lease years,
    purchase option, offering class, plan type, all upfront?, ratio to on-demand, provenance as the text before
    and after the on-demand rate)."""
    on_demand_ref = Decimal(region["ondemand"])
    variants = []
    for key, value in region["reserved"].items():
        term_key, variant = key.split(".")
        lease_years = 1 if term_key.startswith("yrTerm1") else 3
        offering = "convertible" if "Convertible" in term_key else "standard"
        ratio = Decimal(value) / on_demand_ref
        why = f" on-demand x {value}/{region['ondemand']} ({key} of {source})"
        if variant in _VARIANT:
            all_upfront = variant == "allUpfront"
            variants.append(
                (Term.RESERVED, lease_years, _VARIANT[variant], offering, None, all_upfront, ratio, ("derived: ", why))
            )
        if variant == "noUpfront":
            plan = "compute" if offering == "convertible" else "ec2_instance"
            assumption = f"derived (assumption: {plan} savings plan = {offering} no-upfront RI discount): "
            variants.append((Term.SAVINGS_PLAN, lease_years, "no_upfront", None, plan, False, ratio, (assumption, why)))
    return variants
