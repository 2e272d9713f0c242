"""``read_chunks``: a billing export as a stream of canonical chunks.

Pure module: no Django imports. Memory stays bounded by the chunk size: the file is read block by
block, converted in groups of ``CONVERT_ROWS`` rows, and re-cut into chunks of exactly ``chunk_rows``
rows (the last one shorter).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from finops.core.concurrency import prefetch
from finops.usage.formats.aws_cur import CurMapper
from finops.usage.formats.azure import AzureMapper
from finops.usage.formats.convert import Where
from finops.usage.formats.detect import FORMATS, detect_columns
from finops.usage.formats.errors import IngestError, TooLargeError
from finops.usage.formats.focus import FocusMapper
from finops.usage.formats.gcp import GcpMapper
from finops.usage.formats.oci import OciMapper
from finops.usage.formats.readers import CONVERT_ROWS, ExpansionLimits, Source

_MAPPERS = {
    "focus": FocusMapper,
    "aws-cur": CurMapper,
    "azure": AzureMapper,
    "gcp-billing": GcpMapper,
    "oci-cost": OciMapper,
}
# Raw groups read ahead by the reader thread (each CONVERT_ROWS rows, a few MB).
_READ_AHEAD = 2


@dataclass(frozen=True)
class ParsedChunk:
    """One chunk of canonical rows and where it sits in its file."""

    table: pa.Table  # exactly schema.CANONICAL_SCHEMA (a column may hold several Arrow chunks)
    first_row: int  # 1-based data-row number of the chunk's first row in the file (among the rows yielded)
    bytes_read: int  # bytes of the file on disk consumed so far (for a progress bar)
    bytes_total: int  # on-disk size of the file
    fmt: str  # one of detect.FORMATS
    focus_version: str = ""  # the FOCUS version of a FOCUS file ("1.0" to "1.4"), "" for other formats


def read_chunks(
    path: Path,
    fmt: str = "auto",
    chunk_rows: int = 100_000,
    limits: ExpansionLimits | None = None,
    delivery: Sequence[Path] = (),
) -> Iterator[ParsedChunk]:
    """Parse a billing export (CSV, .gz, .zip, Parquet or newline-delimited JSON; one of FORMATS) into canonical
    chunks.

    ``delivery``: all the files of the delivery ``path`` belongs to, for formats whose files depend on each
    other (Azure actual and amortized cost). A file whose rows all belong to other files of its delivery
    yields one empty chunk. Raises IngestError (naming file, row and column) on bad input. Being a stream,
    it can raise after earlier chunks were yielded: the caller writes inside one transaction.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; choose auto or one of {', '.join(FORMATS)}", file=str(path))
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    source = Source.open(Path(path), limits)
    names = source.header()
    if fmt == "auto":
        fmt = detect_columns(names, source.label)
    mapper = _MAPPERS[fmt](names, source.label)
    if isinstance(mapper, OciMapper):  # rows without a currency take the file's: find it first
        mapper.prepare(source.batches(names))
    if delivery and hasattr(mapper, "join_delivery"):
        mapper.join_delivery(Path(path), delivery, limits)
    # Reading (decompression, CSV parsing) runs in a thread while this one converts: both spend their
    # time in pyarrow/numpy code that releases the GIL, so they use two cores.
    groups = prefetch(
        _groups(source.batches(names), min(CONVERT_ROWS, chunk_rows)), _READ_AHEAD, name="finops-formats-read"
    )
    try:
        yield from _converted(source, mapper, groups, chunk_rows, fmt)
    except IngestError as error:
        # A damaged gzip or zip can decompress into rows that merely look malformed (pyarrow parses blocks in
        # threads, so which shows first varies): name the damage, not a row of its garbage.
        bound = None if limits is None else min(limits.max_bytes, limits.max_ratio * source.size)
        damage = None if isinstance(error, TooLargeError) else source.damaged(bound)
        if damage is not None:
            raise damage from error
        raise
    finally:
        groups.close()  # stop the reader thread now, also when a bad row ends the parse


def _converted(
    source: Source,
    mapper: FocusMapper | CurMapper | AzureMapper | GcpMapper | OciMapper,
    groups: Iterator,
    chunk_rows: int,
    fmt: str,
) -> Iterator[ParsedChunk]:
    """Raw groups converted to canonical tables and cut into chunks of ``chunk_rows``."""
    version = getattr(mapper, "version", "")
    pending: list[pa.Table] = []
    pending_rows = 0
    next_row = 1  # first data row of the next chunk to yield
    converted_rows = 0  # rows converted so far (the next group's first row is converted_rows + 1)
    progress = 0
    for group, position in groups:
        progress = max(progress, position)  # never backwards, whatever the estimate does
        where = Where(source.label, converted_rows + 1)
        table = mapper.convert(group, where)
        converted_rows += group.num_rows
        pending.append(table)
        pending_rows += table.num_rows
        del table, group
        while pending_rows >= chunk_rows:
            combined = pa.concat_tables(pending)
            head = combined.slice(0, chunk_rows)
            pending_rows -= chunk_rows
            pending = [combined.slice(chunk_rows)] if pending_rows else []
            # Hold no reference to a yielded chunk once the caller moves on: peak memory is then
            # the caller's chunk plus the one being built, not more.
            del combined
            yield ParsedChunk(head, next_row, progress, source.size, fmt, version)
            del head
            next_row += chunk_rows
    if pending_rows or (next_row == 1 and pending):
        yield ParsedChunk(pa.concat_tables(pending), next_row, source.size, source.size, fmt, version)
    if converted_rows == 0:
        raise IngestError("no data rows (the file has only a header)", file=source.label)


def _groups(batches: Iterator[tuple[pa.RecordBatch, int]], rows: int) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Raw batches merged into groups of at least ``rows`` rows (the last may be smaller), each with
    the bytes consumed once its last batch was read."""
    held: list[pa.RecordBatch] = []
    held_rows = 0
    position = 0
    for batch, position in batches:
        if batch.num_rows == 0:
            continue
        held.append(batch)
        held_rows += batch.num_rows
        if held_rows >= rows:
            yield _merge(held), position
            held, held_rows = [], 0
    if held:
        yield _merge(held), position


def _merge(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
