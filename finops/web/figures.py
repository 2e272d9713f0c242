"""Plotly figure builders: DataFrame in, plain Plotly figure JSON (a dict of data + layout) out.

Pure module: no Django imports. Money arrives as Decimal or float and leaves as numbers rounded to the
cent: charts are for the eye, the tables next to them carry the exact amounts. Building dicts rather
than ``plotly.graph_objects`` keeps page time low (no validation pass) and the output is the same JSON.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

# Okabe-Ito: distinguishable with the common colour-vision deficiencies. "Other" is grey. Series of one chart
# take distinct entries (series_colour), so a chart shows at most len(PALETTE) named series plus "Other".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER_COLOUR = "#9AA0A6"
OTHER_LABEL = "Other"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def chart_text(value: object) -> str:
    """``value`` as literal chart text. Plotly renders a subset of HTML (links included) and ``%{...}``
    placeholders in text, so data such as a tag value ``<a href=...>`` must reach it escaped."""
    return html.escape(str(value), quote=False).replace("%{", "%&#123;")


# Keys whose strings are Plotly templates written by this module (their markup is intended); every other
# string of a figure is data or a label and is shown literally.
_TEMPLATE_KEYS = frozenset({"hovertemplate", "texttemplate"})


def escape_figure_text(figure: Any, key: str | None = None) -> Any:
    """A copy of ``figure`` with every text value escaped by ``chart_text`` except the templates."""
    if isinstance(figure, dict):
        return {k: escape_figure_text(v, k) for k, v in figure.items()}
    if isinstance(figure, list | tuple):
        return [escape_figure_text(v, key) for v in figure]
    if isinstance(figure, str) and key not in _TEMPLATE_KEYS:
        return chart_text(figure)
    return figure


def series_colour(index: int, name: object = None) -> str:
    """The colour of a chart's ``index``-th series: distinct palette entries, grey for "Other"."""
    return OTHER_COLOUR if name == OTHER_LABEL else PALETTE[index % len(PALETTE)]


# Gap between an axis title and its tick labels; with automargin the margin grows to fit both.
AXIS_TITLE_STANDOFF = 14


def _clear_axis_titles(layout: dict[str, Any]) -> None:
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            axis.setdefault("automargin", True)
            title = axis.get("title")
            if isinstance(title, dict) and title.get("text"):
                axis["title"] = {**title, "standoff": title.get("standoff", AXIS_TITLE_STANDOFF)}


def month_starts(values: Sequence[Any] | pd.Series) -> pd.DatetimeIndex:
    """Dates, datetimes or ISO strings as the first day of their month (naive)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(values)), utc=True)).tz_localize(None)
    return pd.DatetimeIndex(stamps.to_period("M").to_timestamp())


def month_labels(months: pd.DatetimeIndex) -> list[str]:
    return [m.date().isoformat() for m in months]


def every_month(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` indexed by month with every month from its first to its last, a month without data as 0."""
    if table.empty:
        return table
    table = table.copy()
    table.index = month_starts(table.index)
    table = table.groupby(level=0).sum()
    return table.reindex(pd.date_range(table.index.min(), table.index.max(), freq="MS"), fill_value=0.0)


def month_axis(values: Sequence[Any] | pd.Series) -> dict[str, Any]:
    """An x-axis of whole months ("Mar 2026" ticks, one per month up to 13 months): a single month gets a
    month-wide range instead of Plotly's autorange down to milliseconds."""
    axis: dict[str, Any] = {"type": "date", "tickformat": "%b %Y", "hoverformat": "%b %Y"}
    months = month_starts(values)
    if len(months) == 0:
        return axis
    first, last = months.min(), months.max()
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    axis["dtick"] = "M1" if count <= 13 else "M2" if count <= 26 else "M3"
    axis["range"] = [(first - pd.Timedelta(days=16)).isoformat(), (last + pd.Timedelta(days=16)).isoformat()]
    return axis


def money_axis(currency: str) -> dict[str, Any]:
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    return {"tickprefix": symbol, "tickformat": ",.0f", "title": {"text": f"Cost ({currency})"}}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "margin": {"l": 64, "r": 16, "t": 48, "b": 64},
        # Below the x-axis title, not on it.
        "legend": {"orientation": "h", "y": -0.28, "yanchor": "top"},
        "hovermode": "x unified",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "xaxis": {"gridcolor": "#e2e5ea"},
        "yaxis": {"gridcolor": "#e2e5ea", "zerolinecolor": "#9AA0A6"},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    _clear_axis_titles(layout)
    return layout


def _numbers(values: pd.Series, places: int = 2) -> list[float]:
    return [round(float(v), places) for v in values]


def _labels(values: pd.Series) -> list[str]:
    return [v.isoformat() if hasattr(v, "isoformat") else str(v) for v in values]


# Explore's chart keeps more groups than the overview's: two more colours (Paul Tol's muted wine and teal).
EXTRA_COLOURS = ("#882255", "#44AA99")
PERIOD_TICKFORMATS = {"month": "%b %Y", "week": "%d %b %Y", "day": "%d %b %Y"}


def stacked_bars(
    frame: pd.DataFrame,
    *,
    x: str,
    group: str,
    value: str,
    title: str,
    currency: str,
    x_title: str = "",
    keep: int | None = None,
    x_values: Sequence[Any] | None = None,
    period: str | None = None,
    months: bool | None = None,
) -> dict[str, Any]:
    """One bar trace per group, stacked over ``x``: the ``keep`` (default ``len(PALETTE)``; 0: all) largest
    groups (by total absolute value) largest first, the rest summed as "Other" (grey, last). Missing (x, group)
    points are 0; ``x_values`` (every period of the window) adds the periods without any cost as 0, so bars sit
    at their dates. With ``months`` (default: ``x == "month"`` or ``period == "month"``) every month without data
    is 0 too, on a month axis; ``period`` "day" or "week" makes the x-axis a date axis labelled by that period."""
    months = (x == "month" or period == "month") if months is None else months
    traces = []
    colours = (*PALETTE, *EXTRA_COLOURS)
    keep = len(PALETTE) if keep is None else keep
    xaxis: dict[str, Any] = {"title": {"text": x_title}}
    if not frame.empty:
        data = pd.DataFrame({x: frame[x], group: frame[group].astype(str), value: frame[value].astype(float)})
        table = data.groupby([x, group], sort=True)[value].sum().unstack(fill_value=0.0).sort_index()
        if x_values is not None:
            table = table.reindex(sorted(set(x_values) | set(table.index)), fill_value=0.0)
        if months:
            table = every_month(table)
            xaxis = {**month_axis(table.index), **xaxis}
        order = table.abs().sum().sort_values(ascending=False, kind="stable").index.tolist()
        if keep and len(order) > keep:
            table[OTHER_LABEL] = table[order[keep:]].sum(axis=1)
            order = [*order[:keep], OTHER_LABEL]
        xs = month_labels(table.index) if months else _labels(pd.Series(table.index))
        for index, name in enumerate(order):
            colour = OTHER_COLOUR if name == OTHER_LABEL else colours[index % len(colours)]
            traces.append(
                {
                    "type": "bar",
                    "name": str(name),
                    "x": xs,
                    "y": _numbers(table[name]),
                    "marker": {"color": colour},
                    "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>%{fullData.name}</extra>",
                }
            )
    if not months and period in PERIOD_TICKFORMATS:
        xaxis.update({"type": "date", "tickformat": PERIOD_TICKFORMATS[period]})
    return {
        "data": traces,
        "layout": _layout(title, barmode="relative", yaxis=money_axis(currency), xaxis=xaxis),
    }


def percent_lines(
    frame: pd.DataFrame, *, x: str, series: Sequence[tuple[str, str]], title: str, months: bool | None = None
) -> dict[str, Any]:
    """Line traces of fractions (0..1) shown as percentages; ``series`` is (column, label). A month without
    a value is a gap, not 0% (no usage to cover is not zero coverage)."""
    months = x == "month" if months is None else months
    traces = []
    for index, (column, label) in enumerate(series):
        points = frame[[x, column]].dropna()
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": label,
                "x": _labels(points[x]),
                "y": _numbers(points[column], 4),
                "line": {"color": series_colour(index), "width": 2},
                "hovertemplate": "%{y:.1%}<extra>" + chart_text(label) + "</extra>",
            }
        )
    xaxis = month_axis(frame[x]) if months and not frame.empty else {}
    return {
        "data": traces,
        "layout": _layout(
            title, yaxis={"tickformat": ".0%", "range": [0, 1.05], "title": {"text": "Share"}}, xaxis=xaxis
        ),
    }


def bars_and_line(
    frame: pd.DataFrame,
    *,
    x: str,
    bar: str,
    bar_label: str,
    line: str,
    line_label: str,
    title: str,
    currency: str,
    line_unit: str,
) -> dict[str, Any]:
    """Cost bars on the left axis and a second measure (e.g. cost per unit) as a line on the right axis."""
    return {
        "data": [
            {
                "type": "bar",
                "name": bar_label,
                "x": _labels(frame[x]),
                "y": _numbers(frame[bar]),
                "marker": {"color": PALETTE[0]},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>" + chart_text(bar_label) + "</extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": line_label,
                "x": _labels(frame[x]),
                "y": _numbers(frame[line], 6),
                "yaxis": "y2",
                "line": {"color": PALETTE[1], "width": 2},
                "hovertemplate": "%{y:,.6f} " + chart_text(line_unit) + "<extra>" + chart_text(line_label) + "</extra>",
            },
        ],
        "layout": _layout(
            title,
            yaxis=money_axis(currency),
            yaxis2={"overlaying": "y", "side": "right", "title": {"text": line_unit}, "rangemode": "tozero"},
        ),
    }


def burn_down(
    actual: pd.DataFrame,
    forecast: pd.DataFrame,
    *,
    limits: Sequence[tuple[str, float]],
    start: str,
    end: str,
    title: str,
    currency: str,
    level_label: str = "80% interval",
) -> dict[str, Any]:
    """A budget period: cumulative actual (``day``, ``cumulative``), the cumulative forecast (``day``,
    ``point``, ``lower``, ``upper``) with its band to period end, and one flat line per (label, limit)
    across the period [start, end]."""
    traces: list[dict[str, Any]] = []
    if not actual.empty:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Actual (cumulative)",
                "x": _labels(actual["day"]),
                "y": _numbers(actual["cumulative"]),
                "line": {"color": PALETTE[0], "width": 3},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>Actual</extra>",
            }
        )
    if not forecast.empty:
        xs = _labels(forecast["day"])
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"Forecast {level_label} (low)",
                "x": xs,
                "y": _numbers(forecast["lower"]),
                "line": {"width": 0, "color": PALETTE[4]},
                "showlegend": False,
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>low</extra>",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"Forecast {level_label}",
                "x": xs,
                "y": _numbers(forecast["upper"]),
                "fill": "tonexty",
                "fillcolor": "rgba(86,180,233,0.25)",
                "line": {"width": 0, "color": PALETTE[4]},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>high</extra>",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Forecast",
                "x": xs,
                "y": _numbers(forecast["point"]),
                "line": {"color": PALETTE[0], "dash": "dash", "width": 2},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>Forecast</extra>",
            }
        )
    for index, (label, value) in enumerate(limits):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label,
                "x": [start, end],
                "y": [round(float(value), 2), round(float(value), 2)],
                "line": {"color": (PALETTE[5], PALETTE[1], PALETTE[3], PALETTE[7])[index % 4], "dash": "dot"},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>" + chart_text(label) + "</extra>",
            }
        )
    return {"data": traces, "layout": _layout(title, yaxis=money_axis(currency), xaxis={"title": {"text": "Day"}})}


def actual_and_forecast(
    actual: pd.DataFrame,
    forecast: pd.DataFrame,
    *,
    title: str,
    currency: str,
    band_label: str = "80% interval",
    actual_label: str = "Actual",
) -> dict[str, Any]:
    """Daily actual cost (``day``, ``cost``) as bars, then the forecast (``day``, ``point``, ``lower``, ``upper``)
    as a dashed line in its shaded interval."""
    traces: list[dict[str, Any]] = []
    if not actual.empty:
        traces.append(
            {
                "type": "bar",
                "name": actual_label,
                "x": _labels(actual["day"]),
                "y": _numbers(actual["cost"]),
                "marker": {"color": PALETTE[0]},
                "hovertemplate": "%{y:,.2f} "
                + chart_text(currency)
                + "<extra>"
                + chart_text(actual_label)
                + "</extra>",
            }
        )
    if not forecast.empty:
        xs = _labels(forecast["day"])
        traces.extend(
            [
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{band_label} (low)",
                    "x": xs,
                    "y": _numbers(forecast["lower"]),
                    "line": {"width": 0, "color": PALETTE[4]},
                    "showlegend": False,
                    "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>low</extra>",
                },
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": band_label,
                    "x": xs,
                    "y": _numbers(forecast["upper"]),
                    "fill": "tonexty",
                    "fillcolor": "rgba(86,180,233,0.3)",
                    "line": {"width": 0, "color": PALETTE[4]},
                    "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>high</extra>",
                },
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "Forecast",
                    "x": xs,
                    "y": _numbers(forecast["point"]),
                    "line": {"color": PALETTE[1], "dash": "dash", "width": 2},
                    "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>Forecast</extra>",
                },
            ]
        )
    return {"data": traces, "layout": _layout(title, yaxis=money_axis(currency), xaxis={"title": {"text": "Day"}})}


def expected_vs_actual(actual: pd.DataFrame, marks: pd.DataFrame, *, title: str, currency: str) -> dict[str, Any]:
    """A series' daily actual cost (``day``, ``cost``) as a line; on each anomalous day (``marks``: day,
    expected, actual, lower, upper) the expected cost with its interval as error bars and the actual as a marker."""
    traces: list[dict[str, Any]] = []
    if not actual.empty:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Actual",
                "x": _labels(actual["day"]),
                "y": _numbers(actual["cost"]),
                "line": {"color": PALETTE[0], "width": 2},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>Actual</extra>",
            }
        )
    if not marks.empty:
        expected = [float(v) for v in marks["expected"]]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Expected (99% interval)",
                "x": _labels(marks["day"]),
                "y": _numbers(marks["expected"]),
                "marker": {"color": PALETTE[2], "symbol": "diamond", "size": 9},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [round(float(u) - e, 2) for u, e in zip(marks["upper"], expected, strict=True)],
                    "arrayminus": [round(e - float(lo), 2) for lo, e in zip(marks["lower"], expected, strict=True)],
                    "color": PALETTE[2],
                },
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>Expected</extra>",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Anomaly (actual)",
                "x": _labels(marks["day"]),
                "y": _numbers(marks["actual"]),
                "marker": {"color": PALETTE[5], "symbol": "x", "size": 11},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>Anomaly</extra>",
            }
        )
    return {"data": traces, "layout": _layout(title, yaxis=money_axis(currency), xaxis={"title": {"text": "Day"}})}


def ranked_bars(frame: pd.DataFrame, *, title: str, currency: str) -> dict[str, Any]:
    """Horizontal bars (``label``, ``value``) in the frame's order, first on top; negatives in the second colour."""
    traces: list[dict[str, Any]] = []
    if not frame.empty:
        values = _numbers(frame["value"])
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": "Change",
                "x": values,
                "y": [str(v) for v in frame["label"]],
                "marker": {"color": [PALETTE[5] if v >= 0 else PALETTE[0] for v in values]},
                "hovertemplate": "%{x:,.2f} " + chart_text(currency) + "<extra></extra>",
            }
        )
    return {
        "data": traces,
        "layout": _layout(
            title,
            xaxis={**money_axis(currency), "title": {"text": f"Change ({currency})"}},
            yaxis={"autorange": "reversed", "automargin": True},
            hovermode="closest",
        ),
    }


def cost_waterfall(
    layers: Sequence[tuple[str, Any]], *, reference: tuple[str, Any], title: str, currency: str
) -> dict[str, Any]:
    """A waterfall of cost layers (label, amount) adding up to their total, and a dotted reference level
    (e.g. the all on-demand cost) across the chart."""
    labels = [label for label, _ in layers]
    values = [round(float(amount), 2) for _, amount in layers]
    total = round(sum(values), 2)
    traces: list[dict[str, Any]] = [
        {
            "type": "waterfall",
            "name": "Plan cost",
            "x": [*labels, "Plan total"],
            "y": [*values, total],
            "measure": [*(["relative"] * len(values)), "total"],
            "text": [f"{v:,.2f}" for v in [*values, total]],
            "textposition": "outside",
            "connector": {"line": {"color": OTHER_COLOUR}},
            "increasing": {"marker": {"color": PALETTE[0]}},
            "totals": {"marker": {"color": PALETTE[2]}},
            "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>%{x}</extra>",
        }
    ]
    label, amount = reference
    if amount is not None:
        level = round(float(amount), 2)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{label}: {level:,.2f} {currency}",
                "x": [labels[0], "Plan total"],
                "y": [level, level],
                "line": {"color": PALETTE[5], "dash": "dot", "width": 2},
                "hovertemplate": "%{y:,.2f} " + chart_text(currency) + "<extra>" + chart_text(label) + "</extra>",
            }
        )
    return {"data": traces, "layout": _layout(title, yaxis=money_axis(currency), hovermode="closest")}


def coverage_layers(hourly: dict[str, Any], *, title: str) -> dict[str, Any]:
    """Hourly stacked areas of the layers serving demand (``hours`` plus one list per layer) and the demand line.
    Layers present among reservations, savings_plans, spot, on_demand are drawn in that order."""
    hours = list(hourly.get("hours", []))
    traces: list[dict[str, Any]] = []
    names = (
        ("reservations", "Reservations"),
        ("savings_plans", "Savings plans"),
        ("spot", "Spot"),
        ("on_demand", "On-demand"),
    )
    for index, (key, label) in enumerate(names):
        if key in hourly:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "stackgroup": "layers",
                    "name": label,
                    "x": hours,
                    "y": [round(float(v), 4) for v in hourly[key]],
                    "line": {"width": 0.5, "color": PALETTE[index]},
                }
            )
    if "demand" in hourly:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Demand",
                "x": hours,
                "y": [round(float(v), 4) for v in hourly["demand"]],
                "line": {"color": PALETTE[7], "width": 1.5},
            }
        )
    unit = hourly.get("unit", "on-demand equivalent USD per hour")
    # Long windows are stored summed per day (granularity "day"): the axis says so.
    x_title = "Day (UTC)" if hourly.get("granularity") == "day" else "Hour (UTC)"
    return {
        "data": traces,
        "layout": _layout(title, yaxis={"title": {"text": unit}}, xaxis={"title": {"text": x_title}}),
    }


def carbon_front(
    points: Sequence[tuple[float, float, str]], *, current: dict[str, Any] | None, title: str
) -> dict[str, Any]:
    """The cost-vs-carbon front: (cost USD, kgCO2e, summary) per non-dominated placement, with where the
    workload runs now as a separate marker."""
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Front (non-dominated placements)",
            "x": [round(p[1], 3) for p in points],
            "y": [round(p[0], 2) for p in points],
            "text": [p[2] for p in points],
            "marker": {"color": PALETTE[2], "size": 9},
            "line": {"color": PALETTE[2]},
            "hovertemplate": "%{y:,.2f} USD, %{x:,.1f} kgCO2e<br>%{text}<extra></extra>",
        }
    ]
    if current and current.get("cost") is not None:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Where it runs now",
                "x": [round(float(current["kgco2e"]), 3)],
                "y": [round(float(current["cost"]), 2)],
                "marker": {"color": PALETTE[5], "size": 12, "symbol": "star"},
                "hovertemplate": "%{y:,.2f} USD, %{x:,.1f} kgCO2e<extra>now</extra>",
            }
        )
    return {
        "data": traces,
        "layout": _layout(
            title,
            xaxis={"title": {"text": "kgCO2e over the window"}},
            yaxis={**money_axis("USD"), "title": {"text": "On-demand cost over the window (USD)"}},
            hovermode="closest",
        ),
    }


def stacked_quantity(
    frame: pd.DataFrame, *, x: str, group: str, value: str, title: str, unit: str, months: bool | None = None
) -> dict[str, Any]:
    """Stacked bars of a non-money quantity (e.g. kgCO2e), one trace per group in order of appearance
    ("Other" last, grey), each its own colour; with ``months`` (default ``x == "month"``) every month from
    the first to the last is shown, 0 where there is no data."""
    months = x == "month" if months is None else months
    traces = []
    xaxis: dict[str, Any] = {}
    if not frame.empty:
        data = pd.DataFrame({x: frame[x], group: frame[group].astype(str), value: frame[value].astype(float)})
        table = data.groupby([x, group], sort=True)[value].sum().unstack(fill_value=0.0).sort_index()
        if months:
            table = every_month(table)
            xaxis = month_axis(table.index)
        order = [name for name in dict.fromkeys(data[group]) if name != OTHER_LABEL]
        order += [OTHER_LABEL] if OTHER_LABEL in table.columns else []
        xs = month_labels(table.index) if months else _labels(pd.Series(table.index))
        for index, name in enumerate(order):
            traces.append(
                {
                    "type": "bar",
                    "name": name,
                    "x": xs,
                    "y": _numbers(table[name], 3),
                    "marker": {"color": series_colour(index, name)},
                    "hovertemplate": "%{y:,.3f} " + chart_text(unit) + "<extra>%{fullData.name}</extra>",
                }
            )
    return {
        "data": traces,
        "layout": _layout(title, barmode="stack", yaxis={"title": {"text": unit}, "tickformat": ",.0f"}, xaxis=xaxis),
    }


def intensity_line(frame: pd.DataFrame, *, x: str, y: str, title: str) -> dict[str, Any]:
    """kgCO2e per unit of currency over time (months without cost are left out)."""
    points = frame[[x, y]].dropna()
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "kgCO2e per $",
                "x": _labels(points[x]),
                "y": _numbers(points[y], 5),
                "line": {"color": PALETTE[2], "width": 2},
                "hovertemplate": "%{y:,.4f} kgCO2e per $<extra></extra>",
            }
        ]
        if not points.empty
        else [],
        "layout": _layout(
            title,
            yaxis={"title": {"text": "kgCO2e per $"}, "rangemode": "tozero"},
            xaxis=month_axis(points[x]) if x == "month" and not points.empty else {},
        ),
    }


def region_scatter(points: Sequence[tuple[str, float, float]], *, title: str) -> dict[str, Any]:
    """One marker per region at (effective cost, kgCO2e), labelled with the region."""
    data = []
    if points:
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "name": "Regions",
                "x": [round(p[1], 2) for p in points],
                "y": [round(p[2], 3) for p in points],
                "text": [p[0] for p in points],
                "textposition": "top center",
                "marker": {"color": PALETTE[0], "size": 11},
                "hovertemplate": "%{text}: %{x:,.2f} USD, %{y:,.1f} kgCO2e<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": _layout(
            title,
            xaxis={**money_axis("USD"), "title": {"text": "Effective cost (USD)"}},
            yaxis={"title": {"text": "kgCO2e"}},
            hovermode="closest",
        ),
    }
