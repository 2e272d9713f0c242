"""Opening a catalog file: plain or gzip (recognised by its magic bytes, not its name), streamed.

Pure module: no Django imports. Decompression errors (a truncated download) become PriceImportError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from finops.core import inputs
from pricing.importers.errors import PriceImportError


@dataclass(frozen=True)
class InputFile(inputs.InputFile):
    """A catalog file; its errors are PriceImportError (``error(message, row=..., field=...)``)."""

    @classmethod
    def open(cls, path: Path | str) -> InputFile:  # type: ignore[override]
        return super().open(path, PriceImportError, containers=(inputs.GZIP,))

    @property
    def gzip(self) -> bool:
        return self.container == inputs.GZIP

    def head(self, limit: int = 1 << 16) -> bytes:
        """The first ``limit`` decompressed bytes (fewer for a short file)."""
        stream, _ = self.binary()
        try:
            with stream:
                data = stream.read(limit)
        except inputs.DECOMPRESS_ERRORS as exc:
            raise self.decompress_error(exc) from None
        if not data:
            raise self.error("empty file (nothing after decompressing)")
        return data
