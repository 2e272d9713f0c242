"""Opening a catalog file: plain or gzip (recognised by its magic bytes, not its name), streamed.

Pure module: no Django imports. Decompression errors (a truncated download) become PriceImportError.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from pricing.importers.errors import PriceImportError

GZIP_MAGIC = b"\x1f\x8b"
DECOMPRESS_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


@dataclass(frozen=True)
class InputFile:
    path: Path
    label: str
    size: int  # on disk
    gzip: bool

    @classmethod
    def open(cls, path: Path | str) -> InputFile:
        path = Path(path)
        label = str(path)
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                magic = handle.read(2)
        except OSError as exc:
            raise PriceImportError(f"cannot read the file: {exc.strerror or exc}", file=label) from None
        if size == 0:
            raise PriceImportError("empty file (0 bytes)", file=label)
        is_gzip = magic == GZIP_MAGIC
        if not is_gzip and path.suffix.lower() in (".gz", ".gzip"):
            raise PriceImportError("truncated or corrupt gzip file (no gzip header)", file=label)
        return cls(path=path, label=label, size=size, gzip=is_gzip)

    def error(self, message: str, *, row: int | None = None, field: str | None = None) -> PriceImportError:
        return PriceImportError(message, file=self.label, row=row, field=field)

    def decompress_error(self, exc: BaseException) -> PriceImportError:
        if self.gzip:
            return self.error(f"truncated or corrupt gzip file ({exc})")
        return self.error(f"cannot read the file ({exc})")

    def binary(self) -> tuple[BinaryIO, Callable[[], int]]:
        """The decompressed bytes as a Python stream, and a function telling how many bytes of the file
        on disk were consumed so far. Close the stream when done (it closes the file too)."""
        raw = open(self.path, "rb")  # noqa: SIM115 - closed with the returned stream
        if not self.gzip:
            return raw, raw.tell
        stream = _GzipReader(raw)
        return stream, raw.tell  # type: ignore[return-value]

    def arrow_stream(self) -> tuple[pa.NativeFile, Callable[[], int], Callable[[], None]]:
        """The decompressed bytes as an Arrow stream (for pyarrow's CSV reader), the on-disk position, a closer."""
        raw = pa.OSFile(str(self.path), "r")
        native = pa.CompressedInputStream(raw, "gzip") if self.gzip else raw

        def close() -> None:
            native.close()
            raw.close()

        return native, raw.tell, close

    def head(self, limit: int = 1 << 16) -> bytes:
        """The first ``limit`` decompressed bytes (fewer for a short file)."""
        stream, _ = self.binary()
        try:
            with stream:
                data = stream.read(limit)
        except DECOMPRESS_ERRORS as exc:
            raise self.decompress_error(exc) from None
        if not data:
            raise self.error("empty file (nothing after decompressing)")
        return data


class _GzipReader(gzip.GzipFile):
    """GzipFile that closes the raw file it reads from."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()
