"""Apache Libcloud's bundled price table (``libcloud/data/pricing.json``): EC2 on-demand prices per
instance type and region for Linux, RHEL, RHEL with HA, SUSE and Windows.

Pure module: no Django imports. The file is small (4.5 MB; ``pricing/data/libcloud_pricing.json.gz``
ships the 3.9.1 copy), so it is read whole. Only the five per-OS EC2 tables are imported::

    {"compute": {"ec2_linux": {"m5.large": {"us-east-1": 0.096, ...}, ...}, "ec2_rhel": ..., ...},
     "updated": 1740936978}

The older per-region tables (``ec2_us_east``...) are left out: they hold no type the per-OS tables lack,
and older prices. So are the non-EC2 providers.

A price of 0 in these tables means "unknown" (about one entry in six), not free: such an entry is
skipped and counted (``skipped["unknown_price"]``), so it can never reach a cost computation, and no
SKU is written for it. Prices are USD per hour, read as Decimal from the JSON text (0.096 stays 0.096).
Row numbers count the entries of the five tables in file order. SKUs get a synthetic key
(``aws:ec2:us-east-1:m5.large:linux:shared``) and their compute specs from the shipped moto specs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from finops.core.inputs import DECOMPRESS_ERRORS
from pricing.importers.files import InputFile
from pricing.importers.instances import instance_spec
from pricing.importers.records import (
    SPOT_SCHEMA,
    CatalogBatch,
    CatalogMeta,
    empty,
    json_object,
    parse_decimal,
    price_builder,
    sku_builder,
)

FORMAT = "libcloud"
SHIPPED = Path(__file__).resolve().parent.parent / "data" / "libcloud_pricing.json.gz"
# EC2 table -> normalised operating system.
TABLES: Mapping[str, str] = {
    "ec2_linux": "linux",
    "ec2_rhel": "rhel",
    "ec2_rhel_ha": "rhel_ha",
    "ec2_suse": "suse",
    "ec2_windows": "windows",
}
# sha256 of the (decompressed) pricing.json of known libcloud releases, to name the source.
KNOWN_RELEASES: Mapping[str, str] = {
    "59fbcd5575c6c7397675739374c10704dff45a72ac6d1377ca462a92924c5c21": "libcloud 3.9.1 pricing.json",
}


def sku_key(region: str, instance_type: str, operating_system: str) -> str:
    return f"aws:ec2:{region}:{instance_type}:{operating_system}:shared"


def _load(file: InputFile) -> tuple[bytes, str]:
    stream, _ = file.binary()
    try:
        with stream:
            data = stream.read()
    except DECOMPRESS_ERRORS as exc:
        raise file.decompress_error(exc) from None
    if not data.strip():
        raise file.error("empty file (nothing after decompressing)")
    return data, hashlib.sha256(data).hexdigest()


def _parse(file: InputFile, data: bytes) -> dict[str, Any]:
    try:
        return json.loads(data, parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise file.error(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise file.error(f"invalid JSON at character {exc.pos}: {exc.msg}") from None


# The last file read whole, by (content hash, size on disk, batch size): parsing it is most of an import's
# Python time, and a process (a demo seed, a test run) imports the same shipped file into database after
# database. Arrow tables are immutable, so the batches can be handed out again; one entry bounds the memory.
_PARSED: dict[tuple[str, int, int], tuple[CatalogMeta, list[CatalogBatch]]] = {}


def read(file: InputFile, batch_rows: int) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    data, digest = _load(file)
    key = (digest, file.size, batch_rows)
    if key in _PARSED:
        meta, batches = _PARSED[key]
        return meta, iter(batches)
    document = _parse(file, data)
    if not isinstance(document, dict) or not isinstance(document.get("compute"), dict):
        raise file.error("not a libcloud pricing.json: no 'compute' object", field="compute")
    compute = document["compute"]
    tables = [name for name in compute if name in TABLES]
    if not tables:
        raise file.error(f"no EC2 price table in 'compute' (expected {', '.join(TABLES)})", field="compute")
    updated = document.get("updated")
    published = None
    if updated is not None:
        if isinstance(updated, bool) or not isinstance(updated, (int, Decimal)):
            raise file.error(f"'updated' is not a Unix time: {updated!r}", field="updated")
        published = dt.datetime.fromtimestamp(int(updated), tz=dt.UTC)
    meta = CatalogMeta(
        format=FORMAT,
        provider="aws",
        source=KNOWN_RELEASES.get(digest, "libcloud pricing.json"),
        publication_date=published,
        version=str(updated) if updated is not None else None,
    )
    return meta, _remembered(key, meta, _batches(file, compute, tables, batch_rows))


def _remembered(
    key: tuple[str, int, int], meta: CatalogMeta, batches: Iterator[CatalogBatch]
) -> Iterator[CatalogBatch]:
    """``batches``, kept for the next read of the same file once all were read without error."""
    done = []
    for batch in batches:
        done.append(batch)
        yield batch
    _PARSED.clear()
    _PARSED[key] = (meta, done)


def _batches(file: InputFile, compute: Mapping[str, Any], tables: list[str], batch_rows: int) -> Iterator[CatalogBatch]:
    skus = sku_builder()
    prices = price_builder()
    row = 0
    first_row = 1
    skipped = 0

    def batch() -> CatalogBatch:
        return CatalogBatch(
            skus=skus.take(),
            prices=prices.take(),
            spot=empty(SPOT_SCHEMA),
            first_row=first_row,
            bytes_read=file.size,  # read whole before the first batch
            bytes_total=file.size,
            rows=row - first_row + 1,
            skipped={"unknown_price": skipped},
        )

    for table_name in tables:
        operating_system = TABLES[table_name]
        sizes = compute[table_name]
        if not isinstance(sizes, dict):
            raise file.error("an EC2 price table must map instance types to regions", field=f"compute.{table_name}")
        for instance_type, regions in sizes.items():
            if not isinstance(regions, dict):
                raise file.error("expected {region: price}", row=row + 1, field=f"compute.{table_name}.{instance_type}")
            spec = instance_spec(instance_type)
            for region, value in regions.items():
                row += 1
                path = f"compute.{table_name}.{instance_type}.{region}"
                try:
                    price = parse_decimal(value)
                except ValueError as exc:
                    raise file.error(str(exc), row=row, field=path) from None
                if price < 0:
                    raise file.error(f"negative price: {value}", row=row, field=path)
                if price == 0:
                    skipped += 1  # libcloud's 0.0 means "unknown", never "free"
                else:
                    key = sku_key(region, instance_type, operating_system)
                    skus.append(
                        sku_key=key,
                        provider="aws",
                        service="AmazonEC2",
                        product_family="Compute Instance",
                        region=region,
                        instance_type=instance_type,
                        operating_system=operating_system,
                        tenancy="shared",
                        **spec,
                        attributes=json_object({"source": "libcloud", "table": table_name}),
                    )
                    prices.append(
                        sku_key=key,
                        term="on_demand",
                        unit="Hrs",
                        hourly=price,
                        currency="USD",
                        description=f"libcloud {path}",
                        source_row=row,
                    )
                if row - first_row + 1 >= batch_rows:
                    yield batch()
                    first_row = row + 1
                    skipped = 0
    if row >= first_row or row == 0:
        yield batch()
