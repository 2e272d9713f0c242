"""Pure pieces of the pages, no database: figure builders, money format, movers, unit costs, metric CSV."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from finops.web import figures
from finops.web.metrics_csv import MetricFileError, parse_metric_csv
from finops.web.selectors import add_months, same_day_last_month, top_movers, unit_costs
from finops.web.templatetags.finops_format import format_money


def test_stacked_bars_fold_small_groups_into_other_and_keep_totals():
    months = [date(2026, 1, 1), date(2026, 2, 1)]
    rows = [
        {"month": m, "group": f"svc{i:02d}", "cost": Decimal(i + 1) * (2 if m == months[1] else 1)}
        for i in range(12)
        for m in months
    ]
    frame = pd.DataFrame(rows)
    figure = figures.stacked_bars(frame, x="month", group="group", value="cost", title="t", currency="USD")
    names = [t["name"] for t in figure["data"]]
    # 8 largest (svc11..svc04) by total, then Other = svc00..svc03.
    assert names == [f"svc{i:02d}" for i in range(11, 3, -1)] + ["Other"]
    other = figure["data"][-1]
    assert other["y"] == [1 + 2 + 3 + 4, 2 * (1 + 2 + 3 + 4)]
    assert other["marker"]["color"] == figures.OTHER_COLOUR
    assert sum(sum(t["y"]) for t in figure["data"]) == float(sum(r["cost"] for r in rows))
    assert all(t["x"] == ["2026-01-01", "2026-02-01"] for t in figure["data"])
    assert figure["layout"]["barmode"] == "relative"  # credits (negative) stack below zero
    assert figure["layout"]["yaxis"]["tickprefix"] == "$"


def test_stacked_bars_fill_missing_periods_with_zero_and_empty_frame_has_no_traces():
    frame = pd.DataFrame(
        [{"d": date(2026, 1, 1), "g": "a", "v": Decimal("1.005")}, {"d": date(2026, 1, 2), "g": "b", "v": Decimal(-2)}]
    )
    figure = figures.stacked_bars(frame, x="d", group="g", value="v", title="t", currency="EUR")
    by_name = {t["name"]: t["y"] for t in figure["data"]}
    assert by_name == {"a": [1.0, 0.0], "b": [0.0, -2.0]}
    empty = figures.stacked_bars(frame.iloc[0:0], x="d", group="g", value="v", title="t", currency="USD")
    assert empty["data"] == []


def test_percent_lines_skip_months_without_a_value():
    frame = pd.DataFrame({"m": [date(2026, 1, 1), date(2026, 2, 1)], "a": [0.5, None], "b": [1.0, 0.25]})
    figure = figures.percent_lines(frame, x="m", series=[("a", "A"), ("b", "B")], title="t")
    assert [t["x"] for t in figure["data"]] == [["2026-01-01"], ["2026-01-01", "2026-02-01"]]
    assert figure["layout"]["yaxis"]["tickformat"] == ".0%"


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (Decimal("1234567.891"), "USD", "$1,234,567.89"),
        (Decimal("-12.5"), "USD", "-$12.50"),
        (Decimal("0.005"), "EUR", "€0.00"),  # half-even, as the ledger rounds
        (Decimal("0.015"), "USD", "$0.02"),
        (Decimal("10"), "CHF", "CHF 10.00"),
        (None, "USD", ""),
    ],
)
def test_money_format(value, currency, text):
    assert format_money(value, currency) == text


def test_top_movers_rank_by_absolute_change():
    current = {"a": Decimal(10), "b": Decimal(1), "c": Decimal(5)}
    previous = {"a": Decimal(9), "b": Decimal(20), "d": Decimal(3)}
    movers = top_movers(current, previous)
    assert [(m.group, m.change) for m in movers] == [("b", -19), ("c", 5), ("d", -3), ("a", 1)]
    assert len(top_movers(current, previous, limit=2)) == 2


def test_month_arithmetic():
    assert same_day_last_month(date(2026, 3, 31)) == date(2026, 2, 28)
    assert same_day_last_month(date(2024, 3, 30)) == date(2024, 2, 29)
    assert same_day_last_month(date(2026, 1, 15)) == date(2025, 12, 15)
    assert add_months(date(2026, 1, 1), -12) == date(2025, 1, 1)


def test_unit_costs_by_day_and_month():
    daily = pd.DataFrame(
        {"day": [date(2026, 1, 1), date(2026, 1, 2), date(2026, 2, 1)], "cost": [Decimal(10), Decimal(20), Decimal(7)]}
    )
    metrics = pd.DataFrame(
        {"day": [date(2026, 1, 1), date(2026, 1, 2), date(2026, 2, 1)], "value": [Decimal(100), Decimal(0), Decimal(7)]}
    )
    by_day = unit_costs(daily, metrics, by="day")
    assert list(by_day["cost_per_unit"]) == [Decimal("0.1"), Decimal(1)]  # the zero day is dropped
    by_month = unit_costs(daily, metrics, by="month")
    assert list(by_month["period"]) == [date(2026, 1, 1), date(2026, 2, 1)]
    assert list(by_month["cost_per_unit"]) == [Decimal(30) / Decimal(100), Decimal(1)]
    assert unit_costs(daily, metrics.iloc[0:0], by="day").empty


def test_metric_csv_parses_and_refuses_by_row():
    rows = parse_metric_csv(
        b"\xef\xbb\xbfDate,Metric,Value\n2026-01-01,requests,1.5\n\n2026-01-02,requests,2\n", name="f.csv"
    )
    assert [(r.day, r.metric, r.value) for r in rows] == [
        (date(2026, 1, 1), "requests", Decimal("1.5")),
        (date(2026, 1, 2), "requests", Decimal(2)),
    ]
    with pytest.raises(MetricFileError, match=r"f.csv, row 2: expected 3 fields, found 2"):
        parse_metric_csv(b"date,metric,value\n2026-01-01,requests\n", name="f.csv")
    with pytest.raises(MetricFileError, match="not UTF-8"):
        parse_metric_csv(b"date,metric,value\n2026-01-01,r\xff,1\n", name="f.csv")
    with pytest.raises(MetricFileError, match=r"row 2, field value: 'NaN' must be >= 0 and finite"):
        parse_metric_csv(b"date,metric,value\n2026-01-01,r,NaN\n", name="f.csv")


def test_browser_missing_is_named(monkeypatch, tmp_path):
    from tests import conftest

    monkeypatch.setattr(conftest, "CHROMIUM", tmp_path / "no-chromium")
    assert conftest.browser_missing() == f"{tmp_path / 'no-chromium'} not found (apt-get install chromium)"
