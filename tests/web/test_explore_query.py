"""Explore's query parsing and period arithmetic, without a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.web.selectors import ExploreQueryError, compare_groups, explore_query_parse, period_starts


def test_every_bad_field_is_reported_at_once_by_name():
    params = {"metric": ["bogus"], "granularity": ["hour"], "start": ["2024-02-30"], "group": ["tag"], "tag": ["x"]}
    with pytest.raises(ExploreQueryError) as caught:
        explore_query_parse(params, default_end=date(2024, 9, 30))
    assert set(caught.value.errors) == {"metric", "granularity", "start", "tag_key", "tag"}
    assert "start: '2024-02-30' is not a date" in str(caught.value)


def test_defaults_are_the_last_three_months_monthly():
    query = explore_query_parse({}, default_end=date(2024, 9, 17))
    assert (query.start, query.end, query.granularity, query.group) == (
        date(2024, 7, 1),
        date(2024, 9, 17),
        "month",
        "service",
    )


@pytest.mark.parametrize(
    ("granularity", "start", "end", "expected"),
    [
        ("month", date(2023, 11, 15), date(2024, 10, 31), 12),
        ("week", date(2024, 9, 1), date(2024, 9, 30), 6),  # Mondays from 2024-08-26 to 2024-09-30
        ("day", date(2024, 2, 1), date(2024, 2, 29), 29),
    ],
)
def test_period_starts_cover_the_window(granularity, start, end, expected):
    periods = period_starts(start, end, granularity)
    assert len(periods) == expected
    assert periods[0] <= start <= end and periods[-1] <= end
    if granularity == "month":
        assert all(p.day == 1 for p in periods) and periods[0] == date(2023, 11, 1)
    if granularity == "week":
        assert all(p.weekday() == 0 for p in periods)


def test_compare_groups_orders_by_absolute_change_and_knows_new_groups():
    rows = compare_groups({"a": Decimal(10), "b": Decimal(1)}, {"a": Decimal(4), "c": Decimal(8)})
    assert [(r.group, r.change) for r in rows] == [("c", Decimal(-8)), ("a", Decimal(6)), ("b", Decimal(1))]
    assert rows[1].change_percent == pytest.approx(1.5)
    assert rows[2].change_percent is None  # nothing before: no percentage
