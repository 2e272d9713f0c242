"""AWS EC2 spot price history: the TSV of price points and DescribeSpotPriceHistory JSON.

Pure module: no Django imports. Output: SPOT rows only (price samples per availability zone).

TSV (as ericpauley/aws-spot-price-history publishes DescribeSpotPriceHistory output): no header, one
sample per line: AZ ID, instance type, product description, price, timestamp::

    euw3-az2	g4dn.4xlarge	Linux/UNIX	0.466400	2022-05-31T18:20:41+00:00

The AZ ID is kept as ``availability_zone`` and mapped to its region (euw3 -> eu-west-3). Streamed with
pyarrow's CSV reader (tab-delimited, no quoting).

JSON: ``{"SpotPriceHistory": [{"AvailabilityZone": "us-east-1a", "InstanceType": "m5.large",
"ProductDescription": "Linux/UNIX", "SpotPrice": "0.035700", "Timestamp": "..."}], "NextToken": ""}``,
the AWS CLI/boto3 response, streamed item by item. Row numbers: the TSV's line, the JSON item's position.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from pricing.importers.aws_regions import currency_of_region, region_of_zone
from pricing.importers.csvstream import CsvStream
from pricing.importers.files import InputFile
from pricing.importers.jsonstream import JsonStream
from pricing.importers.records import (
    PRICE_SCHEMA,
    SKU_SCHEMA,
    SPOT_SCHEMA,
    CatalogBatch,
    CatalogMeta,
    TableBuilder,
    Where,
    decimal_column,
    empty,
    first_index,
    map_distinct,
    normalize_os,
    parse_decimal,
    parse_timestamp,
    require_values,
    table,
    timestamp_column,
)

FORMAT = "aws-spot-history"
TSV_COLUMNS = ("availability_zone", "instance_type", "product_description", "price", "timestamp")
SOURCE = "EC2 DescribeSpotPriceHistory"


def read(file: InputFile, batch_rows: int) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    meta = CatalogMeta(format=FORMAT, provider="aws", source=SOURCE, publication_date=None, version=None)
    if file.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return meta, _json_batches(file, batch_rows)
    return meta, _tsv_batches(file, batch_rows)


def _spot_batch(file: InputFile, spot: pa.Table, first_row: int, bytes_read: int, rows: int) -> CatalogBatch:
    return CatalogBatch(
        skus=empty(SKU_SCHEMA),
        prices=empty(PRICE_SCHEMA),
        spot=spot,
        first_row=first_row,
        bytes_read=bytes_read,
        bytes_total=file.size,
        rows=rows,
    )


# ------------------------------------------------------------------------------------------------ TSV


def _tsv_batches(file: InputFile, batch_rows: int) -> Iterator[CatalogBatch]:
    stream = CsvStream(file, TSV_COLUMNS, skip_lines=0, group_rows=batch_rows, delimiter="\t", quoted=False)
    produced = False
    for group, first_row in stream.groups():
        spot = convert_tsv(group, Where(file.label, first_row, line_offset=0))
        produced = True
        yield _spot_batch(file, spot, first_row, stream.bytes_read, group.num_rows)
    if not produced:
        yield _spot_batch(file, empty(SPOT_SCHEMA), 1, file.size, 0)


def convert_tsv(group: pa.Table, where: Where) -> pa.Table:
    n = group.num_rows
    columns = {name: group[name].combine_chunks() for name in TSV_COLUMNS}
    for name in TSV_COLUMNS:
        require_values(columns[name], where, name, name.replace("_", " "))
    zone = columns["availability_zone"]
    region = map_distinct(zone, region_of_zone)
    if region.null_count:
        i = first_index(region.is_null())
        raise where.error(
            f"unknown availability zone {zone[i].as_py()!r}: neither an AZ ID of a known region (use1-az2) "
            f"nor an AZ name (us-east-1a); add its region to pricing.importers.aws_regions.AZ_ID_PREFIXES",
            index=i,
            field="availability_zone",
        )
    description = columns["product_description"]
    os_name = map_distinct(description, normalize_os)
    if os_name.null_count:
        i = first_index(os_name.is_null())
        raise where.error(f"unreadable product description {description[i].as_py()!r}", index=i, field=TSV_COLUMNS[2])
    return table(
        SPOT_SCHEMA,
        {
            "provider": "aws",
            "region": region,
            "availability_zone": zone,
            "instance_type": columns["instance_type"],
            "product_description": description,
            "operating_system": os_name,
            "price": decimal_column(columns["price"], where, "price"),
            "currency": map_distinct(region, currency_of_region),
            "timestamp": timestamp_column(columns["timestamp"], where, "timestamp"),
        },
        n,
    )


# ----------------------------------------------------------------------------------------------- JSON


def _json_batches(file: InputFile, batch_rows: int) -> Iterator[CatalogBatch]:
    rows = TableBuilder(SPOT_SCHEMA)
    row = 0
    first_row = 1
    found = False
    with JsonStream(file) as stream:
        if stream.peek() != "{":
            raise stream.syntax_error("a DescribeSpotPriceHistory response is a JSON object")
        for key in stream.members():
            if key != "SpotPriceHistory":
                stream.value()
                continue
            found = True
            if stream.peek() != "[":
                raise file.error("SpotPriceHistory must be a list", field="SpotPriceHistory")
            for index in stream.items():
                row += 1
                rows.append(**_json_sample(file, stream.value(), row, f"SpotPriceHistory[{index}]"))
                if len(rows) >= batch_rows:
                    yield _spot_batch(file, rows.take(), first_row, stream.bytes_read(), row - first_row + 1)
                    first_row = row + 1
        stream.end()
        if not found:
            raise file.error(
                "not a DescribeSpotPriceHistory response: no 'SpotPriceHistory' key", field="SpotPriceHistory"
            )
        if len(rows) or first_row == 1:
            yield _spot_batch(file, rows.take(), first_row, file.size, row - first_row + 1)


def _json_sample(file: InputFile, item: Any, row: int, path: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise file.error("a price sample must be a JSON object", row=row, field=path)
    values = {}
    for key in ("AvailabilityZone", "InstanceType", "ProductDescription", "SpotPrice", "Timestamp"):
        value = item.get(key)
        if key == "AvailabilityZone" and not value:
            value = item.get("AvailabilityZoneId")
        if value in (None, ""):
            raise file.error(f"empty {key}", row=row, field=f"{path}.{key}")
        values[key] = value
    zone = str(values["AvailabilityZone"])
    region = region_of_zone(zone)
    if region is None:
        raise file.error(f"unknown availability zone {zone!r}", row=row, field=f"{path}.AvailabilityZone")
    try:
        price = parse_decimal(values["SpotPrice"])
    except ValueError as exc:
        raise file.error(str(exc), row=row, field=f"{path}.SpotPrice") from None
    try:
        timestamp = parse_timestamp(str(values["Timestamp"]))
    except ValueError:
        raise file.error(f"not a date/time: {values['Timestamp']!r}", row=row, field=f"{path}.Timestamp") from None
    description = str(values["ProductDescription"])
    return {
        "provider": "aws",
        "region": region,
        "availability_zone": zone,
        "instance_type": str(values["InstanceType"]),
        "product_description": description,
        "operating_system": normalize_os(description),
        "price": price,
        "currency": currency_of_region(region),
        "timestamp": timestamp,
    }
