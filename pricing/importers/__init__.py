"""Price catalog importers: provider price files -> batches of SKU, price and spot-sample tables.

Pure package: no Django imports anywhere (pricing.services is the Django shell around it)::

    from pricing.importers import FORMATS, detect_format, read_catalog, CatalogMeta, CatalogBatch, PriceImportError

    meta, batches = read_catalog(path)          # format detected from the content; .gz works for every format
    for batch in batches:                       # streamed: memory bounded by batch_rows, not the file
        write(batch.skus, batch.prices, batch.spot)

Bad input raises PriceImportError naming the file, row and field. Being a stream, it can raise after
earlier batches were yielded: the caller writes the whole file in one transaction. The same file read
twice yields the same rows (keys are the providers' own SKU codes or stable synthetic keys), so a
caller that dedupes on (file hash) or on the keys adds nothing the second time.

Formats (one module each; each module's docstring says what becomes what):

- aws-offer-csv     AWS Price List bulk offer CSV (5-line preamble), any service; streamed with pyarrow.
- aws-offer-json    AWS bulk offer JSON (products, terms.OnDemand, terms.Reserved); streamed (jsonstream).
- aws-savings-plan  AWS Savings Plans rate file, CSV or JSON (Compute, EC2 Instance, Database, SageMaker).
- aws-spot-history  EC2 spot price history: the TSV of price points or DescribeSpotPriceHistory JSON.
- azure-retail      one Azure Retail Prices API page (the caller follows NextPageLink).
- libcloud          Apache Libcloud's pricing.json EC2 tables (the project ships 3.9.1's: libcloud.SHIPPED).

``CatalogBatch.rows`` counts the source records a batch consumed (CSV/TSV data rows; JSON items, products
and price dimensions; libcloud table entries) and ``CatalogBatch.skipped`` the ones deliberately left out,
by reason, so a caller can check rows in = rows out + skipped and report e.g. libcloud's unknown prices.
Row numbers (``PriceImportError.row``, ``source_row``) are 1-based data rows, the header and preamble not
counted; error messages of CSV/TSV files also give the text line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from pricing.importers import aws_offer_csv, aws_offer_json, aws_savings_plan, aws_spot, azure_retail, libcloud
from pricing.importers.detect import FORMATS, detect_format, sniff
from pricing.importers.errors import PriceImportError
from pricing.importers.files import InputFile
from pricing.importers.records import (
    PRICE_SCHEMA,
    SKU_SCHEMA,
    SPOT_SCHEMA,
    CatalogBatch,
    CatalogMeta,
)

_READERS: dict[str, Callable[[InputFile, int], tuple[CatalogMeta, Iterator[CatalogBatch]]]] = {
    "aws-offer-csv": aws_offer_csv.read,
    "aws-offer-json": aws_offer_json.read,
    "aws-savings-plan": aws_savings_plan.read,
    "aws-spot-history": aws_spot.read,
    "azure-retail": azure_retail.read,
    "libcloud": libcloud.read,
}
assert tuple(_READERS) == FORMATS


def read_catalog(
    path: Path | str, fmt: str = "auto", batch_rows: int = 100_000
) -> tuple[CatalogMeta, Iterator[CatalogBatch]]:
    """The catalog's metadata (read up front: preamble, header, leading JSON keys) and its batches.

    ``fmt`` "auto" detects the format from the content. Errors in the preamble/header are raised here;
    errors in the data while iterating.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    if fmt != "auto" and fmt not in FORMATS:
        raise PriceImportError(f"unknown format {fmt!r}; choose auto or one of {', '.join(FORMATS)}", file=str(path))
    file = InputFile.open(path)
    if fmt == "auto":
        fmt = sniff(file)
    return _READERS[fmt](file, batch_rows)


__all__ = [
    "FORMATS",
    "PRICE_SCHEMA",
    "SKU_SCHEMA",
    "SPOT_SCHEMA",
    "CatalogBatch",
    "CatalogMeta",
    "PriceImportError",
    "detect_format",
    "read_catalog",
]
