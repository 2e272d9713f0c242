"""Independent expectations: sums of a billing file computed with the csv module and Decimal only."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from django.core.files.uploadhandler import FileUploadHandler

NULLS = {"", "NULL"}


def read_rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def decimal_sum(rows: list[dict[str, str]], column: str) -> Decimal:
    return sum((Decimal(r[column]) for r in rows if r[column] not in NULLS), Decimal(0))


def grouped_sum(rows: list[dict[str, str]], key, column: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r[column] not in NULLS:
            totals[key(r)] += Decimal(r[column])
    return dict(totals)


def tag_value(row: dict[str, str], key: str) -> str | None:
    text = row.get("Tags", "")
    if text in NULLS:
        return None
    return json.loads(text).get(key)


def write_csv(path: Path, rows: list[dict[str, str]], fieldnames: list[str] | None = None) -> Path:
    fieldnames = fieldnames or list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def team_of(row: dict[str, str], keys: list[str]) -> str:
    """The first of ``keys`` present in the row's tags ("" when none): the documented team rule."""
    for key in keys:
        value = tag_value(row, key)
        if value not in (None, ""):
            return str(value)
    return ""


STORED_UPLOAD_BYTES: list[int] = []  # bytes each file part handed to the handlers after UploadRecorder


class UploadRecorder(FileUploadHandler):
    """An upload handler placed just before Django's storing ones: what it passes on is what gets written."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        STORED_UPLOAD_BYTES.append(0)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        STORED_UPLOAD_BYTES[-1] += len(raw_data)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
