"""Streaming: chunk sizes, row numbering and byte progress on generated files."""

from __future__ import annotations

import gzip
import threading
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from finops.usage.formats import IngestError, read_chunks
from finops.usage.formats.focus import MANDATORY_COLUMNS
from finops.usage.formats.schema import CANONICAL_SCHEMA

HEADER = ",".join([*MANDATORY_COLUMNS, "x_Row"])


def generate(path: Path, rows: int) -> Decimal:
    """A FOCUS file of ``rows`` rows with varied costs; returns the expected BilledCost total."""
    total = Decimal(0)
    lines = [HEADER]
    for i in range(1, rows + 1):
        cost = f"{(i * 7919) % 100_000 - 20_000}.{i % 1000:03d}{i % 7}"
        total += Decimal(cost)
        day = 1 + i % 28
        lines.append(
            f"{cost},acct-{i % 3},Main,USD,2024-09-01T00:00:00Z,2024-10-01T00:00:00Z,"
            f"2024-09-{day:02d}T00:00:00Z,2024-09-{day:02d}T01:00:00Z,Usage,,desc {i % 50},{cost},{cost},"
            f"{cost},Cloud Inc.,Cloud,Cloud,1,Hours,Compute,VMs,{i}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return total


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> tuple[Path, Decimal]:
    path = tmp_path_factory.mktemp("chunks") / "focus-250k.csv"
    return path, generate(path, 250_000)


def test_250k_rows_in_chunks_of_100k(big_file):
    path, total = big_file
    chunks = list(read_chunks(path, chunk_rows=100_000))
    assert [c.first_row for c in chunks] == [1, 100_001, 200_001]
    assert [c.table.num_rows for c in chunks] == [100_000, 100_000, 50_000]
    assert all(c.table.schema.equals(CANONICAL_SCHEMA) for c in chunks)
    size = path.stat().st_size
    progress = [c.bytes_read for c in chunks]
    assert progress == sorted(progress) and len(set(progress)) == 3  # strictly increasing
    assert progress[0] < size and progress[-1] == size
    assert all(c.bytes_total == size for c in chunks)
    assert sum(sum(c.table["billed_cost"].to_pylist()) for c in chunks) == total
    # Row numbers line up: each chunk's x_Row extras start at its first_row.
    assert [c.table["extras"][0].as_py() for c in chunks] == [f'{{"x_Row":"{c.first_row}"}}' for c in chunks]


def test_gzip_progress_counts_compressed_bytes(tmp_path):
    plain = tmp_path / "focus.csv"
    total = generate(plain, 60_000)
    path = tmp_path / "focus.csv.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    chunks = list(read_chunks(path, chunk_rows=20_000))
    assert [c.first_row for c in chunks] == [1, 20_001, 40_001]
    progress = [c.bytes_read for c in chunks]
    assert progress == sorted(progress)
    assert progress[-1] == path.stat().st_size == chunks[0].bytes_total
    assert sum(pa.concat_tables(c.table for c in chunks)["billed_cost"].to_pylist()) == total


@pytest.mark.parametrize("chunk_rows", [1, 7, 16_384, 16_385])
def test_odd_chunk_sizes_keep_every_row_once(tmp_path, chunk_rows):
    path = tmp_path / "focus.csv"
    generate(path, 20_000 if chunk_rows > 1 else 50)
    rows = 20_000 if chunk_rows > 1 else 50
    chunks = list(read_chunks(path, chunk_rows=chunk_rows))
    assert [c.first_row for c in chunks] == list(range(1, rows + 1, chunk_rows))
    seen = [int(e[len('{"x_Row":"') : -2]) for c in chunks for e in c.table["extras"].to_pylist()]
    assert seen == list(range(1, rows + 1))


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "finops-formats-read"]


def test_abandoning_the_stream_stops_the_reader(tmp_path):
    path = tmp_path / "focus.csv"
    generate(path, 40_000)
    stream = read_chunks(path, chunk_rows=1_000)
    first = next(stream)
    assert len(_reader_threads()) == 1
    stream.close()  # the read-ahead thread must end, not hang or leak the file
    assert first.table.num_rows == 1_000
    assert _reader_threads() == []


def test_a_bad_row_stops_the_reader(tmp_path):
    path = tmp_path / "focus.csv"
    generate(path, 40_000)
    path.write_bytes(path.read_bytes().replace(b",20000\n", b",20000,surplus\n"))
    with pytest.raises(IngestError) as caught:
        for _ in read_chunks(path, chunk_rows=1_000):
            pass
    assert caught.value.row == 20_000
    assert _reader_threads() == []
