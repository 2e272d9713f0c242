"""Which catalog format a file is, from its content (preamble, header, JSON keys), not its name.

Pure module: no Django imports. Only the start of the file is read, except for a JSON document whose
distinguishing key comes late (its small leading values are read and skipped one by one).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from pricing.importers.errors import PriceImportError
from pricing.importers.files import InputFile
from pricing.importers.jsonstream import JsonStream

FORMATS: tuple[str, ...] = (
    "aws-offer-csv",
    "aws-offer-json",
    "aws-savings-plan",
    "aws-spot-history",
    "azure-retail",
    "libcloud",
)
_AZ = re.compile(r"([a-z]+\d+-(?:[a-z]+\d+-)?az\d+|[a-z]{2}(?:-gov)?-[a-z]+-\d+[a-z0-9-]*)")
_AWS_JSON_KEYS = ("formatVersion", "offerCode", "disclaimer")
_AZURE_KEYS = ("BillingCurrency", "CustomerEntityId", "CustomerEntityType", "NextPageLink")


def detect_format(path: Path | str) -> str:
    """One of FORMATS; PriceImportError when the content matches none."""
    return sniff(InputFile.open(path))


def sniff(file: InputFile) -> str:
    head = file.head(1 << 16)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if text.lstrip().startswith("{"):
        return _sniff_json(file)
    lines = text.splitlines()
    for line in lines[:6]:
        fields = [f.strip() for f in next(csv.reader([line]), [])]
        if "SKU" in fields and "DiscountedRate" in fields:
            return "aws-savings-plan"
        if "SKU" in fields and ("TermType" in fields or "PricePerUnit" in fields):
            return "aws-offer-csv"
    first = lines[0] if lines else ""
    if first.strip().strip('"').startswith("FormatVersion"):
        raise file.error(
            "an AWS Price List preamble, but no known header within the first 6 lines "
            "(an offer file has TermType and PricePerUnit, a savings plan rate file DiscountedRate)"
        )
    fields = first.split("\t")
    if len(fields) == 5 and _AZ.fullmatch(fields[0].strip()):
        return "aws-spot-history"
    shown = first[:80]
    raise file.error(f"unknown catalog format (tried: {', '.join(FORMATS)}); the file starts with {shown!r}")


def _sniff_json(file: InputFile) -> str:
    seen: set[str] = set()
    with JsonStream(file) as stream:
        for key in stream.members():
            seen.add(key)
            if key == "SpotPriceHistory":
                return "aws-spot-history"
            if key == "Items":
                return "azure-retail"
            if key in ("compute", "storage"):
                return "libcloud"
            if key == "products":
                return "aws-offer-json" if stream.peek() == "{" else "aws-savings-plan"
            if key == "terms":
                for term_type in stream.members():
                    return "aws-savings-plan" if term_type == "savingsPlan" else "aws-offer-json"
                break
            stream.value()
    # No distinguishing key: name the family from the metadata so the reader names what is missing.
    if seen.intersection(_AWS_JSON_KEYS):
        return "aws-offer-json"
    if seen.intersection(_AZURE_KEYS):
        return "azure-retail"
    raise PriceImportError(
        f"unknown catalog format: a JSON object with keys {sorted(seen)[:10]} (tried: {', '.join(FORMATS)})",
        file=file.label,
    )
