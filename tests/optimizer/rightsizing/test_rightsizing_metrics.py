"""The utilisation CSV parser: zones to UTC, optional memory, chunked aggregation, and every bad-input message.

Pure: no database. Expected aggregates are computed here with the csv module and plain Python.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from optimizer.rightsizing.metrics import MetricsError, read_metrics, read_samples

GOOD = """resource_id,timestamp,cpu_percent,memory_percent
i-aaa,2026-03-01T00:00:00Z,10,40
i-aaa,2026-03-01T00:05:00Z,20,
i-aaa,2026-03-01T00:55:00+00:00,30,50
i-aaa,2026-03-01T03:10:00+02:00,5,60
i-bbb,2026-03-01 01:30:00,100,
i-bbb,2026-03-01T01:45:00.250Z,0,
"""


def write(tmp_path: Path, text: str, name: str = "metrics.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def expected_hours(path: Path) -> dict[tuple[str, datetime], dict]:
    """Hourly sums/max computed independently with the csv module and datetime."""
    out: dict[tuple[str, datetime], dict] = defaultdict(
        lambda: {"samples": 0, "cpu_sum": 0.0, "cpu_max": 0.0, "mem_samples": 0, "mem_sum": 0.0}
    )
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            stamp = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
            stamp = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)
            key = (row["resource_id"], stamp.replace(minute=0, second=0, microsecond=0))
            agg = out[key]
            cpu = float(row["cpu_percent"])
            agg["samples"] += 1
            agg["cpu_sum"] += cpu
            agg["cpu_max"] = max(agg["cpu_max"], cpu)
            if row.get("memory_percent"):
                agg["mem_samples"] += 1
                agg["mem_sum"] += float(row["memory_percent"])
    return dict(out)


def as_dict(hourly: pd.DataFrame) -> dict:
    return {
        (r.resource_id, r.hour.to_pydatetime()): {
            "samples": r.samples,
            "cpu_sum": pytest.approx(r.cpu_sum),
            "cpu_max": pytest.approx(r.cpu_max),
            "mem_samples": r.mem_samples,
            "mem_sum": pytest.approx(r.mem_sum),
        }
        for r in hourly.itertuples()
    }


def test_zones_convert_to_utc_and_hours_aggregate(tmp_path):
    path = write(tmp_path, GOOD)
    summary = read_metrics(path)
    assert summary.rows == 6
    assert summary.resources == 2
    assert summary.has_memory
    # 03:10+02:00 is 01:10 UTC; a naive timestamp is UTC.
    assert as_dict(summary.hourly) == expected_hours(path)
    hours = {(r.resource_id, r.hour.hour) for r in summary.hourly.itertuples()}
    assert hours == {("i-aaa", 0), ("i-aaa", 1), ("i-bbb", 1)}
    assert str(summary.hourly["hour"].dt.tz) == "UTC"
    assert summary.first == pd.Timestamp("2026-03-01T00:00Z") and summary.last == pd.Timestamp("2026-03-01T01:00Z")


def test_memory_column_is_optional_and_blank_means_not_measured(tmp_path):
    path = write(tmp_path, "resource_id,timestamp,cpu_percent\ni-1,2026-03-01T00:00:00Z,12.5\n")
    summary = read_metrics(path)
    assert not summary.has_memory
    row = summary.hourly.iloc[0]
    assert row.mem_samples == 0 and pd.isna(row.mem_max)
    text = "resource_id,timestamp,cpu_percent,memory_percent\ni,2026-03-01,1,\n"
    blank = read_metrics(write(tmp_path, text, "b.csv"))
    assert not blank.has_memory


def test_header_names_are_case_insensitive_and_extra_columns_ignored(tmp_path):
    text = "Region,Resource_ID,Timestamp,CPU_Percent\nus-east-1,i-1,2026-03-01T00:00:00Z,7\n"
    summary = read_metrics(write(tmp_path, text))
    assert summary.hourly.iloc[0].cpu_sum == 7


def test_chunked_reading_gives_the_same_aggregates_as_one_pass(tmp_path):
    lines = ["resource_id,timestamp,cpu_percent,memory_percent"]
    for i in range(500):  # 5-minute samples crossing many hours and two resources
        minute = i * 5
        stamp = f"2026-03-01T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z"
        lines.append(f"i-{i % 2},{stamp},{(i * 37) % 101},{(i * 13) % 100 if i % 3 else ''}")
    path = tmp_path / "many.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    one = read_metrics(path)
    chunked = read_metrics(path, chunk_rows=7)  # hours straddle chunk boundaries
    assert as_dict(one.hourly) == as_dict(chunked.hourly) == expected_hours(path)
    assert chunked.rows == 500


@pytest.mark.parametrize(
    ("body", "row", "field", "fragment"),
    [
        ("i-1,2026-03-01T00:00:00Z,101\n", 1, "cpu_percent", "out of range 0-100: '101'"),
        ("i-1,2026-03-01T00:00:00Z,5\ni-1,2026-03-01T00:05:00Z,-0.5\n", 2, "cpu_percent", "out of range"),
        ("i-1,2026-03-01T00:00:00Z,abc\n", 1, "cpu_percent", "not a number: 'abc'"),
        ("i-1,2026-03-01T00:00:00Z,\n", 1, "cpu_percent", "empty value"),
        ("i-1,yesterday,5\n", 1, "timestamp", "not an ISO 8601 timestamp: 'yesterday'"),
        ("i-1,2026-13-01T00:00:00Z,5\n", 1, "timestamp", "not an ISO 8601 timestamp"),
        ("i-1,,5\n", 1, "timestamp", "empty value"),
        (",2026-03-01T00:00:00Z,5\n", 1, "resource_id", "empty value"),
        ("i-1,2026-03-01T00:00:00Z,5\ni-1,2026-03-01T00:00:00Z,nan\n", 2, "cpu_percent", "not a number: 'nan'"),
        ("i-1,2026-03-01T00:00:00Z,inf\n", 1, "cpu_percent", "out of range 0-100: 'inf'"),
    ],
)
def test_bad_rows_are_named_by_file_row_and_field(tmp_path, body, row, field, fragment):
    path = write(tmp_path, "resource_id,timestamp,cpu_percent\n" + body, "bad.csv")
    with pytest.raises(MetricsError) as caught:
        read_metrics(path)
    error = caught.value
    assert (error.file, error.row, error.field) == ("bad.csv", row, field)
    assert fragment in str(error)
    assert str(error).startswith(f"file bad.csv, row {row}, field {field}: ")


def test_bad_memory_value_is_refused(tmp_path):
    path = write(tmp_path, "resource_id,timestamp,cpu_percent,memory_percent\ni,2026-03-01,5,40\ni,2026-03-01,5,140\n")
    with pytest.raises(MetricsError, match=r"row 2, field memory_percent: out of range 0-100: '140'"):
        read_metrics(path)


def test_row_numbers_count_across_chunks(tmp_path):
    lines = ["resource_id,timestamp,cpu_percent"] + [f"i,2026-03-01T00:{i:02d}:00Z,1" for i in range(30)]
    lines[26] = "i,2026-03-01T00:25:00Z,200"  # data row 26
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(MetricsError) as caught:
        read_metrics(path, chunk_rows=4)
    assert caught.value.row == 26


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("resource_id,cpu_percent\ni,5\n", "missing column(s) timestamp"),
        ("id,time,cpu\ni,2026-03-01,5\n", "missing column(s) resource_id, timestamp, cpu_percent"),
        ("", "empty file"),
        ("resource_id,timestamp,cpu_percent\n", "no data rows"),
    ],
)
def test_bad_files_are_named(tmp_path, content, fragment):
    path = write(tmp_path, content, "broken.csv")
    with pytest.raises(MetricsError) as caught:
        read_metrics(path)
    assert str(caught.value).startswith("file broken.csv")
    assert fragment in str(caught.value)


def test_truncated_gzip_is_refused(tmp_path):
    data = gzip.compress(("resource_id,timestamp,cpu_percent\n" + "i,2026-03-01T00:00:00Z,5\n" * 2000).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MetricsError, match=r"file cut\.csv\.gz: unreadable"):
        read_metrics(path)


def test_samples_stream_is_validated_per_chunk(tmp_path):
    path = write(tmp_path, GOOD)
    chunks = list(read_samples(path, chunk_rows=2))
    assert [len(c) for c in chunks] == [2, 2, 2]
    assert chunks[1]["timestamp"].iloc[1] == pd.Timestamp("2026-03-01T01:10:00Z")
