"""Property tests of the vectorised building blocks against plain-Python oracles (json.dumps,
decimal.Decimal): the fast paths must agree with the obvious slow computation on any input."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Context, Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.usage.formats.convert import Where, json_object_columns, map_to_json, to_decimal
from finops.usage.formats.errors import IngestError

WHERE = Where("test.csv", 1)
# Text with the characters JSON must escape: quotes, backslashes, control characters, non-ASCII.
TEXT = st.text(alphabet=st.sampled_from(list('ab "\\\n\t\x01é€😀,:{}')), min_size=1, max_size=12)


def _compact(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=6).flatmap(
        lambda k: st.tuples(
            st.lists(TEXT, min_size=k, max_size=k, unique=True),
            st.lists(st.lists(st.none() | TEXT, min_size=k, max_size=k), min_size=1, max_size=30),
        )
    )
)
def test_json_object_columns_matches_json_dumps(case):
    names, rows = case
    columns = [pa.array([row[j] for row in rows], pa.string()) for j in range(len(names))]
    got = json_object_columns(names, columns)
    got.validate(full=True)
    for row, text in zip(rows, got.to_pylist(), strict=True):
        expected = {name: value for name, value in zip(names, row, strict=True) if value is not None}
        assert text == (_compact(expected) if expected else None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.dictionaries(TEXT, st.none() | TEXT, max_size=5), min_size=1, max_size=20))
def test_map_to_json_matches_json_dumps(maps):
    arr = pa.array([None if m is None else list(m.items()) for m in maps], pa.map_(pa.string(), pa.string()))
    for offset in (0, len(maps) // 2):  # a sliced map array too
        got = map_to_json(arr.slice(offset), WHERE, "m").to_pylist()
        for m, text in zip(maps[offset:], got, strict=True):
            expected = {k: v for k, v in (m or {}).items() if v is not None}
            assert text == (_compact(expected) if expected else None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.decimals(min_value=Decimal("-1e25"), max_value=Decimal("1e25"), allow_nan=False, places=None) | st.none(),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["plain", "scientific"]),
)
def test_to_decimal_matches_decimal_quantize(values, notation):
    """Every value is either read exactly as Decimal would (rounded half-even to 16 places) or, when
    it cannot be stored (10^22 and up), refused with the row of the first such value. pyarrow's own
    cast silently returns wrong numbers for some of these; the parser must not."""
    text = [None if v is None else (f"{v:E}" if notation == "scientific" else f"{v:f}") for v in values]
    exact = Context(prec=80, rounding=ROUND_HALF_EVEN)  # 25 integer + 16 decimal digits need > 28
    quantum = Decimal("1e-16")
    expected = [None if t is None else Decimal(t).quantize(quantum, context=exact) for t in text]
    too_big = [i for i, e in enumerate(expected) if e is not None and abs(e) >= Decimal("1e22")]
    if too_big:
        with pytest.raises(IngestError) as caught:
            to_decimal(pa.array(text, pa.string()), WHERE, "c")
        assert caught.value.row == too_big[0] + 1
        assert "out of range" in caught.value.message
    else:
        assert to_decimal(pa.array(text, pa.string()), WHERE, "c").to_pylist() == expected
