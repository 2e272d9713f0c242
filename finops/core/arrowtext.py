"""Helpers over Arrow string columns shared by the billing and price-list parsers (pure: no Django)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def text_size(batch: pa.RecordBatch) -> int:
    """Approximate delimited-text size of a batch of text columns: the values plus one delimiter each
    (quotes are not counted, so this errs low)."""
    size = batch.num_rows * batch.num_columns
    for column in batch.columns:
        buffers = column.buffers()
        if len(buffers) > 2 and buffers[2] is not None:
            size += buffers[2].size
    return size


def json_escape(column: pa.Array) -> pa.Array:
    """Text as it goes between the quotes of a JSON string (same as json.dumps with ensure_ascii=False).

    Values almost never need escaping, so the whole value buffer is checked first with two ``bytes.find``
    (a memchr) and one numpy ``min``: much cheaper than a regex over the column."""
    data = column.buffers()[2]
    if data is None or data.size == 0:
        return column
    raw = data.to_pybytes()
    has_control = bool(np.frombuffer(raw, dtype=np.uint8).min() < 0x20)
    if not has_control and raw.find(b'"') < 0 and raw.find(b"\\") < 0:
        return column
    escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
    if has_control:
        control = pc.fill_null(pc.match_substring_regex(column, r"[\x00-\x1f]"), False)
        if pc.any(control).as_py():
            fixed = [json.dumps(v, ensure_ascii=False)[1:-1] for v in column.filter(control).to_pylist()]
            escaped = pc.replace_with_mask(escaped, control, pa.array(fixed, pa.string()))
    return escaped
