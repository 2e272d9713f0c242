"""Pure billing-export parsers: FOCUS and AWS CUR files -> chunks in the canonical schema.

No Django imports anywhere in this package (the ingest service is the Django shell around it)::

    from finops.usage.formats import detect_format, read_chunks, ParsedChunk, FORMATS
"""

from finops.usage.formats.azure import is_azure_file
from finops.usage.formats.chunks import ParsedChunk, read_chunks
from finops.usage.formats.detect import FORMATS, detect_format
from finops.usage.formats.errors import IngestError, UnknownFormatError

__all__ = [
    "FORMATS",
    "IngestError",
    "ParsedChunk",
    "UnknownFormatError",
    "detect_format",
    "is_azure_file",
    "read_chunks",
]
