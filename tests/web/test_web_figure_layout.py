"""Chart layout (issue 18): axis titles clear of tick labels, month axes shown as months (one month of data
included), months without data as 0, and no two series of one chart in the same colour."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from finops.web import figures


def month_frame(months: list[date], groups: int, x: str = "month") -> pd.DataFrame:
    return pd.DataFrame([{x: m, "group": f"g{i:02d}", "cost": Decimal(i + 1)} for m in months for i in range(groups)])


def every_builder() -> dict[str, dict]:
    frame = month_frame([date(2026, 1, 1), date(2026, 3, 1)], 3)
    lines = pd.DataFrame({"month": [date(2026, 1, 1), date(2026, 2, 1)], "a": [0.5, 0.6], "b": [0.9, None]})
    daily = pd.DataFrame({"day": [date(2026, 1, d) for d in (1, 2)], "cost": [1.0, 2.0]})
    return {
        "stacked_bars": figures.stacked_bars(
            frame, x="month", group="group", value="cost", title="t", currency="USD", x_title="Month"
        ),
        "stacked_quantity": figures.stacked_quantity(
            frame, x="month", group="group", value="cost", title="t", unit="kgCO2e"
        ),
        "percent_lines": figures.percent_lines(lines, x="month", series=[("a", "A"), ("b", "B")], title="t"),
        "intensity_line": figures.intensity_line(lines, x="month", y="a", title="t"),
        "bars_and_line": figures.bars_and_line(
            lines.assign(cost=[1.0, 2.0]),
            x="month",
            bar="cost",
            bar_label="Cost",
            line="a",
            line_label="Per unit",
            title="t",
            currency="USD",
            line_unit="USD per unit",
        ),
        "region_scatter": figures.region_scatter([("us-east-1", 10.0, 2.0)], title="t"),
        "waterfall": figures.cost_waterfall(
            [("On-demand", 5), ("Spot", 1)], reference=("All", 9), title="t", currency="USD"
        ),
        "coverage": figures.coverage_layers({"hours": ["h0"], "demand": [3], "on_demand": [3]}, title="t"),
        "ranked_bars": figures.ranked_bars(pd.DataFrame({"label": ["a"], "value": [1.0]}), title="t", currency="USD"),
        "daily": figures.stacked_bars(daily.assign(g="a"), x="day", group="g", value="cost", title="t", currency="USD"),
    }


def test_axis_titles_stand_off_from_their_tick_labels():
    checked = 0
    for name, figure in every_builder().items():
        for key, axis in figure["layout"].items():
            if not key.startswith(("xaxis", "yaxis")):
                continue
            assert axis.get("automargin") is True, (name, key)
            title = axis.get("title", {})
            if title.get("text"):
                assert title["standoff"] >= 10, (name, key, title)
                checked += 1
    assert checked >= 10  # every builder titles its axes; "Cost (USD)" among them
    money = every_builder()["stacked_bars"]["layout"]["yaxis"]
    assert money["title"]["text"] == "Cost (USD)" and money["automargin"] is True


def test_one_month_of_data_is_drawn_on_a_month_axis():
    figure = figures.stacked_bars(
        month_frame([date(2024, 8, 1)], 2), x="month", group="group", value="cost", title="t", currency="USD"
    )
    axis = figure["layout"]["xaxis"]
    assert axis["type"] == "date" and axis["tickformat"] == "%b %Y" and axis["dtick"] == "M1"
    start, end = (datetime.fromisoformat(v) for v in axis["range"])
    # A month wide around the one bar, not Plotly's autorange down to milliseconds ("23:59:59.999 Aug 31").
    assert start < datetime(2024, 8, 1) < end and (end - start).days >= 28
    assert [t["x"] for t in figure["data"]] == [["2024-08-01"]] * 2


def test_months_without_data_are_zero_and_ticks_thin_out_on_long_ranges():
    figure = figures.stacked_bars(
        month_frame([date(2026, 1, 1), date(2026, 4, 1)], 1),
        x="month",
        group="group",
        value="cost",
        title="t",
        currency="USD",
    )
    (trace,) = figure["data"]
    assert trace["x"] == ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]
    assert trace["y"] == [1.0, 0.0, 0.0, 1.0]
    carbon = figures.stacked_quantity(
        month_frame([datetime(2026, 1, 1), datetime(2026, 3, 1)], 1),
        x="month",
        group="group",
        value="cost",
        title="t",
        unit="kgCO2e",
    )
    assert carbon["data"][0]["x"] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert carbon["data"][0]["y"] == [1.0, 0.0, 1.0]
    two_years = pd.date_range("2024-01-01", "2025-12-01", freq="MS").date.tolist()
    assert figures.month_axis(two_years)["dtick"] == "M2"
    assert figures.month_axis(two_years[:13])["dtick"] == "M1"


def colours(figure: dict) -> list[str]:
    out = []
    for trace in figure["data"]:
        style = trace.get("marker") or trace.get("line") or {}
        if isinstance(style.get("color"), str) and trace.get("showlegend", True):
            out.append(style["color"])
    return out


@pytest.mark.parametrize("groups", [2, 8, 9, 12])
def test_no_two_series_of_a_chart_share_a_colour(groups):
    months = [date(2026, 1, 1), date(2026, 2, 1)]
    bars = figures.stacked_bars(
        month_frame(months, groups), x="month", group="group", value="cost", title="t", currency="USD"
    )
    # The carbon page's service chart: the view folds all but the top len(PALETTE) services into "Other".
    carbon_frame = month_frame(months, groups).assign(
        group=lambda f: [g if int(g[1:]) < len(figures.PALETTE) else figures.OTHER_LABEL for g in f["group"]]
    )
    carbon = figures.stacked_quantity(carbon_frame, x="month", group="group", value="cost", title="t", unit="kg")
    for figure in (bars, carbon):
        shown = colours(figure)
        assert len(shown) == len(figure["data"]) == min(groups, len(figures.PALETTE) + 1)
        assert len(set(shown)) == len(shown), shown
    if groups > len(figures.PALETTE):
        assert carbon["data"][-1]["name"] == figures.OTHER_LABEL
    for name, figure in every_builder().items():
        shown = colours(figure)
        assert len(set(shown)) == len(shown), (name, shown)


def test_every_chart_has_a_caption_for_screen_readers():
    from django.template.loader import render_to_string

    chart = render_to_string(
        "web/_chart.html", {"figure": {"data": [], "layout": {}}, "chart_id": "spend", "label": "Cost by month (USD)"}
    )
    assert '<figure class="chart" aria-labelledby="caption-spend">' in chart
    assert '<figcaption class="sr-only" id="caption-spend">Cost by month (USD)</figcaption>' in chart
    # Plotly puts its own buttons in the plot: a role such as "img" there would nest interactive controls.
    assert 'role="img"' not in chart and 'id="chart-spend"' in chart
