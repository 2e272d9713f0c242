"""Plotly figure builders: DataFrame in, plain Plotly figure JSON (a dict of data + layout) out.

Pure module: no Django imports. Money arrives as Decimal or float and leaves as numbers rounded to the
cent: charts are for the eye, the tables next to them carry the exact amounts. Building dicts rather
than ``plotly.graph_objects`` keeps page time low (no validation pass) and the output is the same JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

# Okabe-Ito: distinguishable with the common colour-vision deficiencies. "Other" is grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER_COLOUR = "#9AA0A6"
OTHER_LABEL = "Other"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


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
    return layout


def _numbers(values: pd.Series, places: int = 2) -> list[float]:
    return [round(float(v), places) for v in values]


def _labels(values: pd.Series) -> list[str]:
    return [v.isoformat() if hasattr(v, "isoformat") else str(v) for v in values]


def stacked_bars(
    frame: pd.DataFrame, *, x: str, group: str, value: str, title: str, currency: str, x_title: str = ""
) -> dict[str, Any]:
    """One bar trace per group, stacked over ``x``: the ``len(PALETTE)`` largest groups (by total absolute
    value) largest first, the rest summed as "Other" (grey, last). Missing (x, group) points are 0."""
    traces = []
    if not frame.empty:
        data = pd.DataFrame({x: frame[x], group: frame[group].astype(str), value: frame[value].astype(float)})
        table = data.groupby([x, group], sort=True)[value].sum().unstack(fill_value=0.0).sort_index()
        order = table.abs().sum().sort_values(ascending=False, kind="stable").index.tolist()
        keep = len(PALETTE)
        if len(order) > keep:
            table[OTHER_LABEL] = table[order[keep:]].sum(axis=1)
            order = [*order[:keep], OTHER_LABEL]
        xs = _labels(pd.Series(table.index))
        for index, name in enumerate(order):
            colour = OTHER_COLOUR if name == OTHER_LABEL else PALETTE[index % len(PALETTE)]
            traces.append(
                {
                    "type": "bar",
                    "name": str(name),
                    "x": xs,
                    "y": _numbers(table[name]),
                    "marker": {"color": colour},
                    "hovertemplate": "%{y:,.2f} " + currency + "<extra>%{fullData.name}</extra>",
                }
            )
    return {
        "data": traces,
        "layout": _layout(title, barmode="relative", yaxis=money_axis(currency), xaxis={"title": {"text": x_title}}),
    }


def percent_lines(frame: pd.DataFrame, *, x: str, series: Sequence[tuple[str, str]], title: str) -> dict[str, Any]:
    """Line traces of fractions (0..1) shown as percentages; ``series`` is (column, label)."""
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
                "line": {"color": PALETTE[index % len(PALETTE)], "width": 2},
                "hovertemplate": "%{y:.1%}<extra>" + label + "</extra>",
            }
        )
    return {
        "data": traces,
        "layout": _layout(title, yaxis={"tickformat": ".0%", "range": [0, 1.05], "title": {"text": "Share"}}),
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
                "hovertemplate": "%{y:,.2f} " + currency + "<extra>" + bar_label + "</extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": line_label,
                "x": _labels(frame[x]),
                "y": _numbers(frame[line], 6),
                "yaxis": "y2",
                "line": {"color": PALETTE[1], "width": 2},
                "hovertemplate": "%{y:,.6f} " + line_unit + "<extra>" + line_label + "</extra>",
            },
        ],
        "layout": _layout(
            title,
            yaxis=money_axis(currency),
            yaxis2={"overlaying": "y", "side": "right", "title": {"text": line_unit}, "rangemode": "tozero"},
        ),
    }
