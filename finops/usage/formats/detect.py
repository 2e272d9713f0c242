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
from finops.usage.formats.readers import Source

FORMATS: tuple[str, ...] = ("focus", "aws-cur", "azure")


def format_of_columns(names: Sequence[str]) -> str | None:
    """ "aws-cur" for CUR headers (legacy, Athena or CUR 2.0), "azure" for Azure cost details, "focus" for FOCUS
    ones, else None. Azure before FOCUS: its headers share some FOCUS names (BillingAccountId, BillingCurrency)."""
    if looks_like_cur(names):
        return "aws-cur"
    if looks_like_azure(names):
        return "azure"
    if looks_like_focus(names):
        return "focus"
    return None


def detect_columns(names: Sequence[str], file: str) -> str:
    fmt = format_of_columns(names)
    if fmt is None:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise UnknownFormatError(
            f"the header matches no known billing export format (tried: {', '.join(FORMATS)}); "
            f"{len(names)} columns seen: {shown}",
            file=file,
        )
    return fmt


def detect_format(path: Path) -> str:
    """One of FORMATS, from the file's header (CSV, gzip, zip or Parquet)."""
    source = Source.open(Path(path))
    return detect_columns(source.header(), source.label)
