"""Root-cause ranking (pure): shares of the delta against the same-weekday baseline, computed by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from finops.forecasting.calc.rootcause import baseline_days, rank_root_cause

DAY = date(2026, 4, 20)


def _rows(records):
    frame = pd.DataFrame.from_records(records, columns=["day", "account", "region", "usage_type", "resource", "cost"])
    return frame.assign(service="svc")


def test_baseline_days_are_the_same_weekday_of_the_previous_four_weeks():
    assert baseline_days(DAY) == (date(2026, 4, 13), date(2026, 4, 6), date(2026, 3, 30), date(2026, 3, 23))
    assert all(d.weekday() == DAY.weekday() for d in baseline_days(DAY))
    with pytest.raises(ValueError, match="at least 1"):
        baseline_days(DAY, weeks=0)


def test_planted_resource_ranks_first_with_its_share():
    base = baseline_days(DAY)
    records = []
    for d in base:
        records += [
            (d, "111", "us-east-1", "BoxUsage", "i-web", 100.0),
            (d, "111", "us-east-1", "TimedStorage", "bucket", 50.0),
            (d, "222", "eu-west-1", "BoxUsage", "i-db", 80.0),
        ]
    # The anomalous day: i-web +300, bucket +6 (same region: noise), i-db -10.
    records += [
        (DAY, "111", "us-east-1", "BoxUsage", "i-web", 400.0),
        (DAY, "111", "us-east-1", "TimedStorage", "bucket", 56.0),
        (DAY, "222", "eu-west-1", "BoxUsage", "i-db", 70.0),
    ]
    # A row outside the day and the baseline is ignored.
    records.append((date(2026, 4, 19), "111", "us-east-1", "BoxUsage", "i-web", 10_000.0))
    cause = rank_root_cause(_rows(records), DAY, base)

    # By hand: baseline total 230, actual 526, delta 296.
    assert cause.baseline_total == pytest.approx(230.0)
    assert cause.actual_total == pytest.approx(526.0)
    assert cause.delta == pytest.approx(296.0)
    top = cause.top
    assert (top.dimension, top.key) == ("resource", "i-web")
    # Resources that rose: i-web +300 and bucket +6 (i-db fell): i-web's share is 300 of the 306 that rose.
    assert top.delta == pytest.approx(300.0) and top.share == pytest.approx(300 / 306)
    # Region us-east-1 is the only region that rose: 100%, within 5 points of the resource, which leads.
    region = cause.by_dimension("region")
    assert [(c.key, round(c.share, 6)) for c in region] == [("us-east-1", 1.0)]
    assert [c.key for c in cause.by_dimension("usage_type")] == ["BoxUsage", "TimedStorage"]
    assert cause.by_dimension("usage_type")[0].share == pytest.approx(290 / 296)
    # i-db fell: against a rise it explains nothing, so it is not listed.
    assert "i-db" not in [c.key for c in cause.by_dimension("resource")]
    # Within each dimension, all deltas (listed or not) sum to the total delta.
    for dimension in ("account", "region"):
        frame = _rows(records)
        on_day = frame[frame["day"] == DAY].groupby(dimension)["cost"].sum()
        before = frame[frame["day"].isin(base)].groupby(dimension)["cost"].sum() / 4
        assert (on_day.sub(before, fill_value=0)).sum() == pytest.approx(cause.delta)


def test_a_much_larger_share_keeps_the_less_specific_dimension_first():
    base = baseline_days(DAY)
    records = [(d, "111", "us-east-1", "BoxUsage", f"i-{k}", 10.0) for d in base for k in range(4)]
    # Every instance of the region grows by 50: the region explains 100%, each resource 25%.
    records += [(DAY, "111", "us-east-1", "BoxUsage", f"i-{k}", 60.0) for k in range(4)]
    cause = rank_root_cause(_rows(records), DAY, base)
    assert cause.top.dimension in ("usage_type", "service", "region", "account")
    assert cause.top.share == pytest.approx(1.0)
    assert cause.top.dimension == "usage_type"  # the most specific of the 100% explanations
    assert [round(c.share, 6) for c in cause.by_dimension("resource")] == [0.25] * 4


def test_a_drop_ranks_the_values_that_fell():
    base = baseline_days(DAY)
    records = [(d, "111", "us-east-1", "BoxUsage", "i-a", 100.0) for d in base]
    records += [(d, "111", "us-east-1", "BoxUsage", "i-b", 100.0) for d in base[:2]]  # i-b on 2 of 4 days: mean 50
    records += [(DAY, "111", "us-east-1", "BoxUsage", "i-a", 20.0), (DAY, "111", "us-east-1", "BoxUsage", "i-b", 50.0)]
    cause = rank_root_cause(_rows(records), DAY, base)
    assert cause.delta == pytest.approx(70.0 - 150.0)
    assert [(c.key, c.delta) for c in cause.by_dimension("resource")] == [("i-a", pytest.approx(-80.0))]
    assert cause.top.share == pytest.approx(1.0)


def test_bad_input_is_refused():
    rows = _rows([(DAY, "1", "r", "u", "x", 1.0)])
    with pytest.raises(ValueError, match="baseline"):
        rank_root_cause(rows, DAY, [])
    with pytest.raises(ValueError, match="cannot be one of its baseline"):
        rank_root_cause(rows, DAY, [DAY])
    with pytest.raises(ValueError, match="lack column"):
        rank_root_cause(rows.drop(columns=["resource"]), DAY, baseline_days(DAY))
    assert rank_root_cause(rows, DAY, baseline_days(DAY)).top.share == pytest.approx(1.0)
    no_change = _rows([(d, "1", "r", "u", "x", 1.0) for d in (DAY, *baseline_days(DAY))])
    assert rank_root_cause(no_change, DAY, baseline_days(DAY)).contributors == ()


def test_a_drop_with_an_opposite_mover_lists_only_fallers_with_shares_summing_to_one():
    """The demo's old failure: a drop listed a rising resource "(none)" at 104-111%. Here the unnamed resource
    rises by 40 while two named ones fall by 90 and 30: the drop is -80, the fallers moved -120."""
    base = baseline_days(DAY)
    records = []
    for d in base:
        records += [
            (d, "111", "us-east-1", "BoxUsage", "i-a", 200.0),
            (d, "111", "us-east-1", "BoxUsage", "i-b", 100.0),
            (d, "111", "us-east-1", "Tax", "", 10.0),
        ]
    records += [
        (DAY, "111", "us-east-1", "BoxUsage", "i-a", 110.0),
        (DAY, "111", "us-east-1", "BoxUsage", "i-b", 70.0),
        (DAY, "111", "us-east-1", "Tax", "", 50.0),
    ]
    cause = rank_root_cause(_rows(records), DAY, base)
    assert cause.delta == pytest.approx(230.0 - 310.0)
    resources = cause.by_dimension("resource")
    assert [(c.key, c.delta) for c in resources] == [("i-a", pytest.approx(-90.0)), ("i-b", pytest.approx(-30.0))]
    assert [c.share for c in resources] == [pytest.approx(90 / 120), pytest.approx(30 / 120)]
    assert sum(c.share for c in resources) == pytest.approx(1.0)
    assert all(0 < c.share <= 1 for c in cause.contributors)
    assert all(c.delta < 0 for c in cause.contributors)  # nothing moving against the drop


def test_readable_names_come_from_the_name_columns():
    base = baseline_days(DAY)
    records = [(d, "111", "us-east-1", "SKU1", "arn:aws:dynamodb:table/t1", 10.0) for d in base]
    records += [(DAY, "111", "us-east-1", "SKU1", "arn:aws:dynamodb:table/t1", 30.0)]
    rows = _rows(records).assign(resource_name="t1", usage_type_name="$0.25 per million read request units")
    rows.loc[0, "resource_name"] = ""  # a row without a name does not hide the name of the others
    cause = rank_root_cause(rows, DAY, base)
    by_dimension = {c.dimension: c for c in cause.contributors}
    assert by_dimension["resource"].key == "arn:aws:dynamodb:table/t1"
    assert by_dimension["resource"].name == "t1"
    assert by_dimension["usage_type"].name == "$0.25 per million read request units"
    assert by_dimension["region"].name == ""  # no name column: the key is the name


def test_more_values_than_listed_keep_each_share_below_one():
    base = baseline_days(DAY)
    records = [(d, "111", "r", "u", f"i-{k}", 10.0) for d in base for k in range(8)]
    records += [(DAY, "111", "r", "u", f"i-{k}", 10.0 + k + 1) for k in range(8)]  # +1 .. +8, 36 in all
    cause = rank_root_cause(_rows(records), DAY, base, top_per_dimension=3)
    resources = cause.by_dimension("resource")
    assert [c.key for c in resources] == ["i-7", "i-6", "i-5"]
    assert [c.share for c in resources] == [pytest.approx(8 / 36), pytest.approx(7 / 36), pytest.approx(6 / 36)]


def test_a_resource_with_most_of_the_accounts_rise_leads_it():
    """The demo's team series: the account rose 100 (the table +87, other resources +13 of noise, one -0 here);
    the table's 87% of the resources' rise is within 80% of the account's 100%, so the table leads."""
    base = baseline_days(DAY)
    records = [(d, "111", "r", "u", f"i-{k}", 50.0) for d in base for k in range(4)]
    records += [(d, "111", "r", "u", "table", 100.0) for d in base]
    records += [(DAY, "111", "r", "u", f"i-{k}", 50.0 + 13 / 4) for k in range(4)]
    records += [(DAY, "111", "r", "u", "table", 187.0)]
    cause = rank_root_cause(_rows(records), DAY, base)
    assert cause.by_dimension("account")[0].share == pytest.approx(1.0)
    assert (cause.top.dimension, cause.top.key) == ("resource", "table")
    assert cause.top.share == pytest.approx(87 / 100)
