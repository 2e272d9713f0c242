"""Input files of the parsers (billing exports, price lists) and the error that names where bad input is.

Pure module: no Django imports. A file's container (plain, gzip, zip, Parquet) is recognised by its magic
bytes, not its name (a ``.csv`` that is really gzip works); the extension decides only when the magic bytes
say nothing, and a name promising a container whose header is missing is refused as truncated or corrupt.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeVar

import pyarrow as pa

PLAIN, GZIP, ZIP, PARQUET = "csv", "gzip", "zip", "parquet"
_MAGIC = ((b"\x1f\x8b", GZIP), (b"PK\x03\x04", ZIP), (b"PAR1", PARQUET))
_EXTENSIONS = {".gz": GZIP, ".gzip": GZIP, ".zip": ZIP, ".parquet": PARQUET, ".pq": PARQUET}
_NO_HEADER = {
    GZIP: "truncated or corrupt gzip file (no gzip header)",
    ZIP: "not a valid zip file (no zip header)",
    PARQUET: "not a valid Parquet file (no PAR1 header)",
}
# What reading a truncated or corrupt compressed file raises.
DECOMPRESS_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, OSError)


class InputError(Exception):
    """Bad input: the file cannot be read as it is. ``str()`` reads ``"file X, row N, <part> P: message"``,
    leaving out the parts that are unknown; ``row`` is the 1-based data row. Subclasses name the part of a
    row (``part_label``) and give it its keyword."""

    part_label: ClassVar[str] = "column"

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None, part: str | None = None):
        self.message = message
        self.file = file
        self.row = row
        self.part = part
        super().__init__(message)

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.part:
            where.append(f"{self.part_label} {self.part}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self.describe()

    def __reduce__(self) -> tuple:  # picklable (Celery results, multiprocessing) with where it happened
        return (_rebuild, (type(self), self.message, self.file, self.row, self.part))


E = TypeVar("E", bound=InputError)


def _rebuild(cls: type[E], message: str, file: str | None, row: int | None, part: str | None) -> E:
    error = cls.__new__(cls)
    InputError.__init__(error, message, file=file, row=row, part=part)
    return error


@dataclass(frozen=True)
class InputFile:
    """One input file: where it is, its size on disk, its container, and the error type its parser raises."""

    path: Path
    label: str
    size: int
    container: str
    error_type: type[InputError]
    member: str | None = None  # the file inside a zip container

    @classmethod
    def open(cls, path: Path | str, error_type: type[InputError], containers: tuple[str, ...] = (GZIP,)) -> Any:
        """Check the file can be read and is not empty, and recognise which of ``containers`` it is in (a
        container not listed is read as plain text)."""
        path = Path(path)
        label = str(path)
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                magic = handle.read(4)
        except OSError as exc:
            raise error_type(f"cannot read the file: {exc.strerror or exc}", file=label) from None
        if size == 0:
            raise error_type("empty file (0 bytes)", file=label)
        container = next((kind for prefix, kind in _MAGIC if magic.startswith(prefix) and kind in containers), None)
        if container is None:
            named = _EXTENSIONS.get(path.suffix.lower())
            if named in containers:
                raise error_type(_NO_HEADER[named], file=label)
            container = PLAIN
        return cls(path=path, label=label, size=size, container=container, error_type=error_type)

    def error(self, message: str, **where: Any) -> InputError:
        """The parser's error for this file; ``where`` is the row and the error type's keyword for the part."""
        return self.error_type(message, file=self.label, **where)

    def decompress_error(self, exc: BaseException) -> InputError:
        if self.container == GZIP:
            return self.error(f"truncated or corrupt gzip file ({exc})")
        if self.container == ZIP:
            return self.error(f"truncated or corrupt zip file ({exc})")
        return self.error(f"cannot read the file ({exc})")

    def damaged(self, max_bytes: int | None = None) -> InputError | None:
        """For a compressed file: the decompression error when its stream is truncated or corrupt (read to the
        end, checksum included), else None. A damaged stream can decompress into rows that look merely
        malformed before the damage is detected: this says which of the two a refusal really is. Gives up
        (None) past ``max_bytes`` decompressed, so a bomb is never read to its end."""
        if self.container not in (GZIP, ZIP):
            return None
        read = 0
        try:
            stream, _ = self.binary()
            with stream:
                while block := stream.read(1 << 20):
                    read += len(block)
                    if max_bytes is not None and read > max_bytes:
                        return None
        except DECOMPRESS_ERRORS as exc:
            return self.decompress_error(exc)
        return None

    def binary(self) -> tuple[BinaryIO, Callable[[], int]]:
        """The decompressed bytes as a Python stream, and a function telling how many bytes of the file on disk
        were consumed so far. Close the stream when done (it closes the file too)."""
        if self.container == ZIP:
            archive = zipfile.ZipFile(self.path)
            return archive.open(self.member or ""), archive.fp.tell  # type: ignore[return-value,union-attr]
        raw = open(self.path, "rb")  # noqa: SIM115 - closed with the returned stream
        if self.container != GZIP:
            return raw, raw.tell
        return _GzipReader(raw), raw.tell  # type: ignore[return-value]

    def arrow_stream(self) -> tuple[pa.NativeFile, Callable[[], int], Callable[[], None]]:
        """The decompressed bytes as an Arrow stream (for pyarrow's CSV reader), a function telling how many
        bytes of the file on disk were consumed so far, and a closer."""
        if self.container == ZIP:
            # Closed by the returned closer, not a with block: the stream outlives this call.
            raw = open(self.path, "rb")  # noqa: SIM115
            member = zipfile.ZipFile(raw).open(self.member or "")  # noqa: SIM115
            stream = pa.PythonFile(member, mode="r")

            def close_zip() -> None:
                stream.close()
                raw.close()

            return stream, raw.tell, close_zip
        raw_file = pa.OSFile(str(self.path), "r")
        native = pa.CompressedInputStream(raw_file, "gzip") if self.container == GZIP else raw_file

        def close() -> None:
            native.close()
            raw_file.close()

        return native, raw_file.tell, close


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
