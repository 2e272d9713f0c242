"""Delimited text streamed through pyarrow's CSV reader, and the AWS Price List CSV preamble.

Pure module: no Django imports. Columns are all read as text (``""`` is null); the file is read block
by block and handed out in groups of exactly ``group_rows`` rows (the last one shorter), so memory stays
bounded whatever the file's size. Errors name the data row: a row with the wrong number of fields or a
byte that is not UTF-8 sends us back over the file with Python's csv module to find which row it is
(error path only).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv

from finops.core.arrowtext import text_size
from finops.core.concurrency import prefetch
from finops.core.inputs import DECOMPRESS_ERRORS
from pricing.importers.errors import PriceImportError
from pricing.importers.files import InputFile
from pricing.importers.records import CatalogMeta, parse_timestamp

# pyarrow's CSV block: one row must fit in one. 4 MiB measured faster than 1 MiB on the EC2 bench file.
BLOCK_BYTES = 1 << 20
# Blocks the reader thread may parse ahead of the converting thread (each BLOCK_BYTES of text).
READ_AHEAD = 8
PREAMBLE_KEYS = ("FormatVersion", "Disclaimer", "Publication Date", "Version", "OfferCode")
_PREAMBLE_HELP = (
    "expected the 5-line AWS Price List preamble (FormatVersion, Disclaimer, Publication Date, Version, "
    "OfferCode) before the header"
)


@dataclass(frozen=True)
class Preamble:
    values: dict[str, str]
    header: list[str]

    @property
    def offer_code(self) -> str:
        return self.values["OfferCode"]

    @property
    def version(self) -> str | None:
        return self.values["Version"] or None


def _csv_fields(raw: bytes) -> list[str]:
    return next(csv.reader([raw.decode("utf-8-sig", errors="replace").rstrip("\r\n")]), [])


def first_lines(file: InputFile, count: int, limit: int = 1 << 20) -> list[bytes]:
    """Up to ``count`` first text lines (without their line ends)."""
    head = file.head(limit)
    return [line.rstrip(b"\r") for line in head.split(b"\n")[:count]]


def read_preamble(file: InputFile) -> Preamble:
    """The 5 preamble lines and the header of an AWS Price List CSV, checked."""
    lines = first_lines(file, 6)
    values: dict[str, str] = {}
    for number, key in enumerate(PREAMBLE_KEYS, start=1):
        fields = _csv_fields(lines[number - 1]) if number <= len(lines) else []
        if not fields or fields[0].strip() != key:
            shown = lines[number - 1][:80].decode("utf-8", errors="replace") if number <= len(lines) else ""
            raise file.error(f"{_PREAMBLE_HELP}; line {number} should start with {key!r}, found {shown!r}", field=key)
        values[key] = fields[1].strip() if len(fields) > 1 else ""
    if len(lines) < 6 or not lines[5].strip():
        raise file.error("no header line after the 5-line preamble (line 6 is missing or blank)")
    header = [name.strip() for name in _csv_fields(lines[5])]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise file.error(f"duplicate column names in the header: {', '.join(duplicates)}")
    if not values["OfferCode"]:
        raise file.error("empty OfferCode in the preamble", field="OfferCode")
    if values["Publication Date"]:
        try:
            parse_timestamp(values["Publication Date"])
        except ValueError:
            raise file.error(
                f"not a date/time: {values['Publication Date']!r} (preamble line 3)", field="Publication Date"
            ) from None
    return Preamble(values=values, header=header)


def publication_date(preamble: Preamble) -> dt.datetime | None:
    text = preamble.values["Publication Date"]
    return parse_timestamp(text) if text else None


class CsvStream:
    """Groups of ``group_rows`` rows of a delimited file, as tables of text columns."""

    def __init__(
        self,
        file: InputFile,
        names: Sequence[str],
        *,
        skip_lines: int,
        group_rows: int,
        delimiter: str = ",",
        quoted: bool = True,
        binary: Collection[str] = (),
    ) -> None:
        self.file = file
        self.names = list(names)
        # Columns read as bytes: no UTF-8 check while parsing (the caller checks the values it keeps).
        self.binary = set(binary)
        self.skip_lines = skip_lines
        self.group_rows = group_rows
        self.delimiter = delimiter
        self.quoted = quoted
        self.bytes_read = 0

    def groups(self) -> Iterator[tuple[pa.Table, int]]:
        """(table, 1-based data row of its first row); ``self.bytes_read`` is updated before each yield."""
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        first_row = 1
        for batch, position in prefetch(self._batches(), READ_AHEAD, name="price-csv-reader"):
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= self.group_rows:
                combined = pa.Table.from_batches(pending)
                group = combined.slice(0, self.group_rows)
                rest = combined.slice(self.group_rows)
                pending = rest.to_batches()
                pending_rows = rest.num_rows
                self.bytes_read = max(self.bytes_read, position)
                yield group, first_row
                first_row += self.group_rows
        self.bytes_read = self.file.size
        if pending_rows:
            yield pa.Table.from_batches(pending), first_row

    def _batches(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        stream, position, close = self.file.arrow_stream()
        rows = 0
        text_bytes = 0
        invalid: list[pacsv.InvalidRow] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            invalid.append(row)
            return "error"

        try:
            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(
                        column_names=self.names, skip_rows=self.skip_lines, block_size=BLOCK_BYTES
                    ),
                    parse_options=pacsv.ParseOptions(
                        delimiter=self.delimiter,
                        quote_char='"' if self.quoted else False,
                        invalid_row_handler=on_invalid,
                    ),
                    convert_options=pacsv.ConvertOptions(
                        column_types={n: pa.binary() if n in self.binary else pa.string() for n in self.names},
                        null_values=[""],
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=True,
                    ),
                )
            except (pa.ArrowInvalid, *DECOMPRESS_ERRORS) as exc:
                raise self._error(exc, invalid, rows) from None
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowInvalid, *DECOMPRESS_ERRORS) as exc:
                    raise self._error(exc, invalid, rows) from None
                rows += batch.num_rows
                text_bytes += text_size(batch)
                yield batch, self._consumed(text_bytes, position())
        finally:
            close()

    def _consumed(self, text_bytes: int, raw_position: int) -> int:
        """On-disk bytes behind the rows handed out so far. pyarrow reads ahead of what it has parsed, so for
        a plain file count the text handed out instead of the file position; for gzip (whose decompressed
        position is not available) the position in the compressed file, a little ahead."""
        if not self.file.gzip:
            return min(text_bytes, self.file.size)
        return min(raw_position, self.file.size)

    def _error(self, exc: BaseException, invalid: list[pacsv.InvalidRow], rows_read: int) -> PriceImportError:
        message = str(exc)
        if isinstance(exc, DECOMPRESS_ERRORS) and not isinstance(exc, pa.ArrowInvalid):
            return self.file.decompress_error(exc)
        if invalid or "invalid UTF8" in message or "UTF8" in message:
            row, problem = self._find_bad_row()
            if row is not None:
                return self.file.error(problem, row=row)
        return self.file.error(f"unreadable {self._kind()} after data row {rows_read}: {message}")

    def _kind(self) -> str:
        return "TSV" if self.delimiter == "\t" else "CSV"

    def _find_bad_row(self) -> tuple[int | None, str]:
        """(data row, problem) of the first row without the expected number of fields or not UTF-8."""
        expected = len(self.names)
        row = 0
        stream, _ = self.file.binary()
        try:
            with stream:
                for _ in range(self.skip_lines):
                    stream.readline()
                text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
                reader = csv.reader(
                    text, delimiter=self.delimiter, quoting=csv.QUOTE_MINIMAL if self.quoted else csv.QUOTE_NONE
                )
                for record in reader:
                    if not record:
                        continue  # pyarrow skips empty lines too
                    row += 1
                    if len(record) != expected:
                        return row, f"expected {expected} fields, found {len(record)}"
        except UnicodeDecodeError as exc:
            return row + 1, f"not UTF-8 text ({exc.reason}): save the file as UTF-8"
        except csv.Error as exc:
            return row + 1, f"malformed {self._kind()} ({exc})"
        except DECOMPRESS_ERRORS:
            return None, ""
        return None, ""


def preamble_meta(preamble: Preamble, fmt: str) -> CatalogMeta:
    """The catalog metadata an AWS bulk CSV's preamble carries (offer code, version, publication date)."""
    return CatalogMeta(
        format=fmt,
        provider="aws",
        source=preamble.offer_code,
        publication_date=publication_date(preamble),
        version=preamble.version,
    )
