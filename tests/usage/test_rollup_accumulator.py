"""RollupAccumulator: chunk rollups merged day by day equal one merge of them all, exactly; no database.
Expected sums are computed with Decimal over the rows the parts were built from."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from finops.usage.formats.schema import DECIMAL
from finops.usage.rollup import (
    ROLLUP_DIMENSIONS,
    ROLLUP_MEASURES,
    STORED_LIMIT,
    RollupAccumulator,
    SumOutOfRange,
    merge_rollups,
)


def part(rows: list[tuple]) -> pa.Table:
    """A rollup of (day, service, billed cost, row count) rows; the other dimensions are constant."""
    n = len(rows)
    data: dict[str, pa.Array] = {}
    for dimension in ROLLUP_DIMENSIONS:
        if dimension == "day":
            data[dimension] = pa.array([r[0] for r in rows], pa.date32())
        elif dimension == "billing_period_start":
            data[dimension] = pa.array([None] * n, pa.timestamp("us", tz="UTC"))
        elif dimension == "service_name":
            data[dimension] = pa.array([r[1] for r in rows], pa.string())
        else:
            data[dimension] = pa.array(["x"] * n, pa.string())
    for measure in ROLLUP_MEASURES:
        data[measure] = pa.array([Decimal(r[2]) for r in rows], DECIMAL)
    data["row_count"] = pa.array([r[3] for r in rows], pa.int64())  # the column order of a merge's output
    return pa.table(data)


def sums(table: pa.Table) -> dict[tuple, tuple[Decimal, int]]:
    out = {}
    for row in table.to_pylist():
        key = (row["day"], row["service_name"])
        assert key not in out, f"two rows for {key}"
        out[key] = (row["billed_cost"], row["row_count"])
    return out


DAYS = [date(2026, 11, d) for d in (3, 1, 2)]
PARTS = [
    part([(DAYS[i % 3], f"svc{i % 5}", f"{i}.0000000000000001", 1), (DAYS[(i + 1) % 3], "svc0", "-0.5", 2)])
    for i in range(23)
] + [part([(None, "svc0", "7", 1), (DAYS[0], "svc9", "1", 1)])]


def test_day_by_day_merges_equal_the_decimal_sums_of_every_part():
    expected: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    for table in PARTS:
        for row in table.to_pylist():
            expected[(row["day"], row["service_name"])][0] += row["billed_cost"]
            expected[(row["day"], row["service_name"])][1] += row["row_count"]
    accumulator = RollupAccumulator(merge_every=2)
    for table in PARTS:
        accumulator.add(table)
    result = accumulator.result()
    assert sums(result) == {k: tuple(v) for k, v in expected.items()}
    assert sums(result) == sums(merge_rollups(PARTS))
    assert result.schema == PARTS[0].schema
    assert all(len(chunk) for chunk in result["day"].chunks)  # an empty chunk would break the COPY encoding
    # Days come out in order, the null day last.
    days = result["day"].to_pylist()
    assert days[-1] is None and days[:-1] == sorted(days[:-1])


@pytest.mark.parametrize("merge_every", [2, 16])
def test_a_day_too_large_is_refused_even_when_each_part_fits(merge_every):
    """Two halves of the stored limit on one day: refused when that day is merged (as parts come in, or at
    the end), naming the day; the other day of the same parts does not matter."""
    half = str(STORED_LIMIT / 2)
    accumulator = RollupAccumulator(merge_every=merge_every)
    accumulator.add(part([(DAYS[0], "svc", half, 1), (DAYS[1], "svc", "1", 1)]))
    with pytest.raises(SumOutOfRange, match="on 2026-11-03 adds up to 10000000000000000000000"):
        accumulator.add(part([(DAYS[0], "svc", half, 1), (DAYS[1], "svc", "1", 1)]))
        assert merge_every > 2, "a merge of two parts must have refused"
        accumulator.result()


def test_empty_rollups_keep_the_schema_and_nothing_added_is_an_error():
    accumulator = RollupAccumulator()
    with pytest.raises(ValueError, match="at least one"):
        accumulator.result()
    accumulator.add(PARTS[0].slice(0, 0))
    result = accumulator.result()
    assert result.num_rows == 0 and result.schema == PARTS[0].schema
    with pytest.raises(ValueError, match="at least 2"):
        RollupAccumulator(merge_every=1)
