"""Opening billing exports: plain/gzip/zip CSV and Parquet, streamed in batches of raw columns.

Pure module: no Django imports. The container is recognised by its magic bytes (a ``.csv`` that is
really gzip works), the extension deciding only when the magic bytes say nothing. CSV columns are all
read as text, with ``""`` and ``NULL`` as null; a value that is not UTF-8 makes us read the file again
as bytes to report its row and column. Nothing is ever loaded whole: CSV goes through
``pyarrow.csv.open_csv`` block by block, Parquet through ``ParquetFile.iter_batches``. The expansion
limits hold for every container: the CSV text a gzip or zip expands to, the Arrow data a Parquet file
decodes to.

Newline-delimited JSON (one object per line, as BigQuery exports a table) is read the same way: its nested
objects are flattened to dotted column names (``{"service": {"id": ...}}`` -> ``service.id``), arrays and
scalars become text (numbers exact, never through a float), and the header is every name the file uses.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from finops.core.arrowtext import text_size
from finops.core.inputs import GZIP, PARQUET, PLAIN, ZIP, InputFile
from finops.usage.formats.convert import Where, blank_to_null, is_text, to_text
from finops.usage.formats.errors import IngestError, TooLargeError

# pyarrow's CSV block (a single row must fit in one). 1 MiB measured as fast as larger blocks.
CSV_BLOCK_BYTES = 1 << 20
# Rows converted at once: large enough to amortise the per-call cost of the vectorised steps,
# small enough to stay in cache and keep peak memory low.
CONVERT_ROWS = 16_384
_HEADER_LIMIT = 16 << 20
_NULL_TEXTS = ["", "NULL"]
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)
# A quote left open runs to the end of the file: most often a file cut short.
_UNTERMINATED = "unterminated quoted value: the file ends inside it (truncated?)"


@dataclass(frozen=True)
class ExpansionLimits:
    """How far a compressed file may expand: in bytes, and as a multiple of its bytes on disk (checked once
    ``min_bytes`` are out, so a small file that compresses well is never refused)."""

    max_bytes: int
    max_ratio: int
    min_bytes: int = 16 * 1024 * 1024

    def check(self, expanded: int, compressed: int, label: str) -> None:
        if expanded > self.max_bytes:
            raise TooLargeError(
                f"expands to more than {self.max_bytes:,} bytes (FINOPS_MAX_DECOMPRESSED_BYTES)", file=label
            )
        if expanded > self.min_bytes and expanded > self.max_ratio * max(compressed, 1):
            raise TooLargeError(
                f"expands more than {self.max_ratio}x its size on disk ({compressed:,} bytes read became "
                f"{expanded:,}): refused as a possible zip bomb (FINOPS_MAX_DECOMPRESSION_RATIO)",
                file=label,
            )


@dataclass(frozen=True)
class Source(InputFile):
    """One export file: where it is, how it is packed, and its header."""

    limits: ExpansionLimits | None = None

    @classmethod
    def open(cls, path: Path, limits: ExpansionLimits | None = None) -> Source:  # type: ignore[override]
        source = replace(super().open(path, IngestError, containers=(GZIP, ZIP, PARQUET)), limits=limits)
        if source.container == ZIP:
            source = replace(source, member=source._zip_member())
        return source

    # ----------------------------------------------------------------------------- zip

    def _zip_member(self) -> str:
        try:
            with zipfile.ZipFile(self.path) as archive:
                members = [
                    info.filename
                    for info in archive.infolist()
                    if not info.is_dir()
                    and not info.filename.startswith("__MACOSX/")
                    and not Path(info.filename).name.startswith("._")
                ]
        except _ZIP_ERRORS as exc:
            raise IngestError(f"truncated or corrupt zip file ({exc})", file=self.label) from None
        if len(members) != 1:
            found = ", ".join(members[:10]) or "nothing"
            raise IngestError(
                f"a zip export must contain exactly one CSV file; found {len(members)}: {found}",
                file=self.label,
            )
        if members[0].lower().endswith((".parquet", ".gz", ".zip")):
            raise IngestError(f"the zip holds {members[0]}, not a CSV file", file=self.label)
        return members[0]

    # -------------------------------------------------------------------------- streams

    # --------------------------------------------------------------------------- header

    def header(self) -> list[str]:
        if self.container == PARQUET:
            return list(self._parquet().schema_arrow.names)
        if self.is_json_lines():
            return self._json_header()
        return self._csv_header()

    def is_json_lines(self) -> bool:
        """Newline-delimited JSON: the first line opens an object (no CSV header starts with ``{``)."""
        if self.container == PARQUET:
            return False
        head = self._read_first_line()
        if head.startswith(codecs.BOM_UTF8):
            head = head[len(codecs.BOM_UTF8) :]
        return head.lstrip().startswith(b"{")

    def _read_first_line(self) -> bytes:
        head = b""
        try:
            with self.binary()[0] as stream:
                while b"\n" not in head and len(head) < _HEADER_LIMIT:
                    block = stream.read(64 * 1024)
                    if not block:
                        break
                    head += block
        except (OSError, EOFError, zlib.error) as exc:
            raise self.decompress_error(exc) from None
        except _ZIP_ERRORS as exc:  # pragma: no cover - zip errors are OSError/EOFError subclasses too
            raise self.decompress_error(exc) from None
        return head

    def _csv_header(self) -> list[str]:
        head = self._read_first_line()
        if not head:
            raise IngestError("empty file (no header)", file=self.label)
        _refuse_utf16_or_binary(head[:4096], self.label)
        line = head.split(b"\n", 1)[0].rstrip(b"\r")
        if line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.start + 1]
            raise IngestError(
                f"the header is not UTF-8 (byte {bad!r} at offset {exc.start}): save the file as UTF-8",
                file=self.label,
            ) from None
        names = [name.strip() for name in next(csv.reader([text]))]
        if not any(names):
            raise IngestError("empty header line", file=self.label)
        seen: set[str] = set()
        duplicates = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
        if duplicates:
            raise IngestError(f"duplicate column names in the header: {', '.join(duplicates)}", file=self.label)
        return names

    # -------------------------------------------------------------------------- batches

    def batches(self, names: list[str]) -> Iterator[tuple[pa.RecordBatch, int]]:
        """Raw batches in file order, each with the on-disk bytes consumed once it was read."""
        if self.container == PARQUET:
            yield from self._parquet_batches()
        elif self.is_json_lines():
            yield from self._json_batches(names)
        else:
            yield from self._csv_batches(names)

    def _csv_batches(self, names: list[str], *, text: bool = True) -> Iterator[tuple[pa.RecordBatch, int]]:
        """Columns as ``string`` (pyarrow checks UTF-8 in its reader threads, off the converting
        thread), or as ``binary`` when looking for the row and column of a bad byte."""
        invalid: list[pacsv.InvalidRow] = []

        def on_invalid_row(row: pacsv.InvalidRow) -> str:
            invalid.append(row)
            return "error"

        stream, position, close = self.arrow_stream()
        rows = 0
        text_bytes = 0  # CSV text of the batches handed out so far (estimated)
        try:
            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES),
                    parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
                    convert_options=pacsv.ConvertOptions(
                        column_types={name: pa.string() if text else pa.binary() for name in names},
                        null_values=_NULL_TEXTS,
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=True,
                    ),
                )
            except (pa.ArrowInvalid, OSError, *_ZIP_ERRORS) as exc:
                if text and "invalid UTF8" in str(exc):
                    self._raise_bad_utf8(names)
                raise self._csv_error(exc, invalid, rows, len(names)) from None
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowInvalid, OSError, *_ZIP_ERRORS) as exc:
                    if text and "invalid UTF8" in str(exc):
                        self._raise_bad_utf8(names)
                    raise self._csv_error(exc, invalid, rows, len(names)) from None
                rows += batch.num_rows
                text_bytes += text_size(batch)
                if self.limits is not None and self.container != PLAIN:
                    # The CSV text handed out so far (a gzip stream cannot tell its decompressed position).
                    self.limits.check(text_bytes, position(), self.label)
                yield batch, self._consumed(text_bytes, stream, position())
        finally:
            close()

    def _raise_bad_utf8(self, names: list[str]) -> None:
        """Read the file again as bytes to name the row and column of the first non-UTF-8 value."""
        rows = 0
        for batch, _ in self._csv_batches(names, text=False):
            where = Where(self.label, rows + 1)
            for name, column in zip(names, batch.columns, strict=True):
                to_text(column, where, name)  # raises, naming the row and column
            rows += batch.num_rows
        raise IngestError("the file is not UTF-8 text: save it as UTF-8", file=self.label)

    def _consumed(self, text_bytes: int, stream: pa.NativeFile, raw_position: int) -> int:
        """On-disk bytes behind the batches handed out so far. pyarrow reads some 30+ MB ahead of
        what it has parsed, so the file position alone would make a progress bar jump to the end;
        scale it by the share of the text read so far that was actually handed out."""
        if self.container == PLAIN:
            return min(text_bytes, self.size)
        try:
            decompressed = stream.tell()
        except (OSError, pa.ArrowNotImplementedError):  # pragma: no cover - all our streams tell()
            return min(raw_position, self.size)
        share = min(text_bytes / decompressed, 1.0) if decompressed else 1.0
        return min(int(raw_position * share), self.size)

    def _csv_error(
        self, exc: BaseException, invalid: list[pacsv.InvalidRow], rows_read: int, expected: int
    ) -> IngestError:
        if invalid:
            row, found, last = self._find_bad_row(expected)
            if found is None:
                return IngestError(_UNTERMINATED, file=self.label, row=row)
            cut = " in the file's last line: the file looks truncated" if last and found < expected else ""
            return IngestError(f"expected {expected} fields, found {found}{cut}", file=self.label, row=row)
        message = str(exc)
        if self.container in (GZIP, ZIP) and (
            isinstance(exc, (*_ZIP_ERRORS, OSError)) and not isinstance(exc, pa.ArrowInvalid)
        ):
            return self.decompress_error(exc)
        if "straddling" in message or "straddle" in message:
            row, found, _ = self._find_bad_row(expected)
            detail = _UNTERMINATED if found is None else f"row longer than {CSV_BLOCK_BYTES} bytes"
            return IngestError(detail, file=self.label, row=row)
        return IngestError(f"unreadable CSV after data row {rows_read}: {message}", file=self.label)

    def _find_bad_row(self, expected: int) -> tuple[int | None, int | None, bool]:
        """(data row number, field count, whether it is the last record) of the first record without
        ``expected`` fields, read again with Python's csv module (error path only). Field count None: an
        unterminated quote."""
        row = 0
        try:
            with self.binary()[0] as binary:
                text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
                reader = csv.reader(text, strict=True)
                next(reader, None)
                for record in reader:
                    if not record:
                        continue  # pyarrow skips empty lines too
                    row += 1
                    if len(record) != expected:
                        return row, len(record), next(reader, None) is None
        except csv.Error:
            return row + 1, None, True
        except (OSError, EOFError, zlib.error):
            return None, None, False
        return None, None, False

    # ----------------------------------------------------------------- newline-delimited JSON

    def _json_lines(self) -> Iterator[tuple[int, bytes, int, int]]:
        """(data row, line, text bytes read, on-disk bytes read) per non-blank line, streamed."""
        row = 0
        text_bytes = 0
        try:
            stream, position = self.binary()
            with stream:
                while line := stream.readline(_HEADER_LIMIT + 1):
                    text_bytes += len(line)
                    if self.limits is not None and self.container != PLAIN:
                        self.limits.check(text_bytes, position(), self.label)
                    if len(line) > _HEADER_LIMIT and not line.endswith(b"\n"):
                        raise IngestError(f"a line longer than {_HEADER_LIMIT:,} bytes", file=self.label, row=row + 1)
                    if row == 0 and line.startswith(codecs.BOM_UTF8):
                        line = line[len(codecs.BOM_UTF8) :]
                    if not line.strip():
                        continue
                    row += 1
                    yield row, line, text_bytes, position()
        except (OSError, EOFError, zlib.error) as exc:
            raise self.decompress_error(exc) from None

    def _json_object(self, line: bytes, row: int, *, exact: bool = True) -> dict:
        """A line's object; ``exact`` reads numbers as Decimal (their values), else as floats (for names only)."""
        try:
            value = json.loads(line, parse_float=Decimal) if exact else json.loads(line)
        except UnicodeDecodeError:
            raise IngestError("not UTF-8 text: save the file as UTF-8", file=self.label, row=row) from None
        except ValueError as exc:
            cut = "" if line.endswith(b"\n") else " (the file's last line: truncated?)"
            raise IngestError(f"invalid JSON{cut}: {exc}", file=self.label, row=row) from None
        if not isinstance(value, dict):
            raise IngestError(f"not a JSON object: {line[:80]!r}", file=self.label, row=row)
        return value

    def _json_header(self) -> list[str]:
        """Every column name the file uses, in order of first use: an export leaves null fields out, so
        a field can first appear on any line (an adjustment's ``adjustment_info``)."""
        names: dict[str, None] = {}
        for row, line, _, _ in self._json_lines():
            _flat_names(self._json_object(line, row, exact=False), "", names)
        if not names:
            raise IngestError("no data rows (the file has no JSON object)", file=self.label)
        return list(names)

    def _json_batches(self, names: list[str]) -> Iterator[tuple[pa.RecordBatch, int]]:
        known = set(names)
        records: list[dict[str, str]] = []
        for row, line, text_bytes, consumed in self._json_lines():
            record: dict[str, str] = {}
            _flatten(self._json_object(line, row), "", record)
            if not record.keys() <= known:  # the file changed since its header was read
                unknown = sorted(record.keys() - known)[0]
                raise IngestError(f"field not in the header: {unknown}", file=self.label, row=row)
            records.append(record)
            if len(records) == CONVERT_ROWS:
                yield _text_batch(names, records), self._json_progress(text_bytes, consumed)
                records = []
        if records:
            yield _text_batch(names, records), self.size

    def _json_progress(self, text_bytes: int, consumed: int) -> int:
        return min(text_bytes if self.container == PLAIN else consumed, self.size)

    def _parquet(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise IngestError(f"not a readable Parquet file (truncated or corrupt?): {exc}", file=self.label) from None

    def _parquet_batches(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        parquet = self._parquet()
        total = max(parquet.metadata.num_rows, 1)
        if self.limits is not None:
            # The sizes the file declares once its pages are decompressed, before reading any: a page
            # compressed a thousand times is refused without being inflated.
            metadata = parquet.metadata
            declared = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
            self.limits.check(declared, self.size, self.label)
        rows = 0
        decoded = 0  # Arrow bytes of the batches decoded so far, the counterpart of a CSV's text
        iterator = parquet.iter_batches(batch_size=CONVERT_ROWS)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError) as exc:
                raise IngestError(f"corrupt Parquet data after data row {rows}: {exc}", file=self.label) from None
            where = Where(self.label, rows + 1)
            rows += batch.num_rows
            if self.limits is not None:
                # Dictionary and run-length encoding let a small declared size decode to a huge table:
                # count what is actually decoded.
                decoded += batch.nbytes
                self.limits.check(decoded, self.size, self.label)
            # Parquet has no CSV reader to turn "" and NULL into nulls: do it here, once per column.
            columns = [
                blank_to_null(to_text(col, where, name)) if _is_text_like(col.type) else col
                for name, col in zip(batch.schema.names, batch.columns, strict=True)
            ]
            # Parquet has no incremental byte position: report the share of rows read.
            yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names), int(self.size * rows / total)


def _flatten(value: dict, prefix: str, into: dict[str, str]) -> None:
    """Nested objects as dotted names; arrays as JSON text; "" and null left out (null, as in a CSV)."""
    for key, item in value.items():
        if isinstance(item, str):
            if item:
                into[prefix + key] = item
        elif isinstance(item, dict):
            _flatten(item, f"{prefix}{key}.", into)
        elif item is not None:
            into[prefix + key] = _json_text(item)


def _flat_names(value: dict, prefix: str, into: dict[str, None]) -> None:
    """The names ``_flatten`` gives a value's fields (those that are set)."""
    for key, item in value.items():
        if isinstance(item, dict):
            _flat_names(item, f"{prefix}{key}.", into)
        elif item is not None and item != "":
            into[prefix + key] = None


# Compact JSON, as the C encoder writes it (one encoder: json.dumps with options builds one per call).
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json_text(value: object) -> str:
    """A parsed JSON value back as compact JSON text, numbers exact (never through a float)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, dict)):
        try:  # most arrays (labels) hold no decimals: the C encoder writes them at once
            return _JSON.encode(value)
        except TypeError:
            pass
        if isinstance(value, dict):
            fields = (f"{_JSON.encode(k)}:{_json_text(v)}" for k, v in value.items())
            return "{" + ",".join(fields) + "}"
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return _JSON.encode(value)


def _text_batch(names: list[str], records: list[dict[str, str]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([r.get(name) for r in records], pa.string()) for name in names], names=names
    )


def _refuse_utf16_or_binary(sample: bytes, label: str) -> None:
    """UTF-16 text (a BOM, or a NUL beside nearly every character) or a binary file (NULs elsewhere) is
    refused by what it is: CSV text never holds a NUL byte."""
    if not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and b"\x00" not in sample:
        return
    halves = (sample[0::2], sample[1::2])
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or any(
        half.count(0) > 0.9 * len(half) for half in halves
    ):
        raise IngestError("the file is UTF-16 text, not UTF-8: export it as UTF-8 CSV", file=label)
    raise IngestError(
        "a binary file, not CSV text (a spreadsheet, an image or an archive named .csv?): export it as UTF-8 CSV",
        file=label,
    )


def _is_text_like(dtype: pa.DataType) -> bool:
    return is_text(dtype) or (pa.types.is_dictionary(dtype) and is_text(dtype.value_type))
