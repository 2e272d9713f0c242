"""Which billing export format a file is, from its header alone.

Pure module: no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from finops.usage.formats.aws_cur import looks_like_cur
from finops.usage.formats.azure import looks_like_azure
from finops.usage.formats.errors import UnknownFormatError
from finops.usage.formats.focus import looks_like_focus
from finops.usage.formats.gcp import looks_like_gcp
from finops.usage.formats.oci import looks_like_oci_cost
from finops.usage.formats.readers import Source

FORMATS: tuple[str, ...] = ("focus", "aws-cur", "azure", "gcp-billing", "oci-cost")


def format_of_columns(names: Sequence[str]) -> str | None:
    """ "aws-cur" for CUR headers (legacy, Athena or CUR 2.0), "azure" for Azure cost details, "gcp-billing" for a
    Google Cloud billing export, "oci-cost" for an OCI cost report, "focus" for FOCUS headers, else None. Azure
    before FOCUS: its headers share some FOCUS names (BillingAccountId, BillingCurrency)."""
    if looks_like_cur(names):
        return "aws-cur"
    if looks_like_azure(names):
        return "azure"
    if looks_like_gcp(names):
        return "gcp-billing"
    if looks_like_oci_cost(names):
        return "oci-cost"
    if looks_like_focus(names):
        return "focus"
    return None


# Exports of known providers that finops does not read: (what the file is, the columns that identify it, what
# finops reads instead). A header matches when it has every identifying column (case, spaces and "_" ignored).
UNSUPPORTED_EXPORTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "an Azure reservation recommendations export",
        ("RecommendedQuantity", "NetSavings", "LookBackPeriod"),
        "Azure cost details exports (actual or amortized)",
    ),
    (
        "an Azure price sheet",
        ("MeterId", "UnitOfMeasure", "UnitPrice", "PriceType"),
        "Azure cost details exports (actual or amortized)",
    ),
    (
        "an Azure price sheet",
        ("MeterId", "UnitOfMeasure", "UnitPrice", "PartNumber"),
        "Azure cost details exports (actual or amortized)",
    ),
    (
        "an Azure retail prices list",
        ("meterId", "retailPrice", "unitOfMeasure", "armSkuName"),
        "Azure cost details exports (actual or amortized)",
    ),
    (
        "an OCI usage report (it has no costs)",
        ("lineItem/referenceNo", "usage/consumedQuantity", "product/service"),
        "OCI cost reports (reports/cost-csv)",
    ),
    ("an AWS price list file", ("FormatVersion",), "AWS Cost and Usage Reports (CUR) or AWS FOCUS exports"),
    (
        "an AWS price list file",
        ("SKU", "OfferTermCode", "RateCode", "PricePerUnit"),
        "AWS Cost and Usage Reports (CUR) or AWS FOCUS exports",
    ),
    (
        "an AWS price list file",
        ("SKU", "RateCode", "DiscountedRate", "DiscountedSKU"),
        "AWS Cost and Usage Reports (CUR) or AWS FOCUS exports",
    ),
    (
        "a FOCUS Contract Commitment dataset",
        ("ContractCommitmentId", "ContractId"),
        "the FOCUS Cost and Usage dataset",
    ),
    ("a FOCUS Billing Period dataset", ("BillingPeriodStatus",), "the FOCUS Cost and Usage dataset"),
    ("a FOCUS Invoice Detail dataset", ("InvoiceDetailId", "InvoiceDetailGrain"), "the FOCUS Cost and Usage dataset"),
)


def _plain(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("_", "")


def unsupported_export(names: Sequence[str]) -> str | None:
    """What a header that no reader claims is, when it is a known provider file finops does not read: the
    refusal's message ("this is an Azure reservation recommendations export; finops reads ..."), else None.
    Called after the readers' own checks, so a format that gains a reader stops being named here."""
    present = {_plain(name) for name in names}
    for what, columns, instead in UNSUPPORTED_EXPORTS:
        if all(_plain(column) in present for column in columns):
            return f"this is {what}; finops reads {instead}"
    return None


def detect_columns(names: Sequence[str], file: str) -> str:
    fmt = format_of_columns(names)
    if fmt is None:
        known = unsupported_export(names)
        if known is not None:
            raise UnknownFormatError(known, file=file)
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise UnknownFormatError(
            f"the header matches no known billing export format (tried: {', '.join(FORMATS)}); "
            f"{len(names)} columns seen: {shown}",
            file=file,
        )
    return fmt


def detect_format(path: Path) -> str:
    """One of FORMATS, from the file's header (CSV, gzip, zip, Parquet or newline-delimited JSON)."""
    source = Source.open(Path(path))
    return detect_columns(source.header(), source.label)
