"""Number formatting for every page: one currency format (symbol, thousands separators, 2 places)."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString

from finops.core.amounts import quantize_money
from finops.core.labels import enum_label
from finops.web.figures import CURRENCY_SYMBOLS, escape_figure_text

register = template.Library()


def format_money(value: Decimal | float | int | None, currency: str = "USD") -> str:
    """'$1,234.56', '-$12.00' (credits keep their sign), 'EUR 1.00' where no symbol is known; '' for None."""
    if value is None or value == "":
        return ""
    amount = quantize_money(Decimal(str(value)))
    symbol = CURRENCY_SYMBOLS.get(currency)
    body = f"{abs(amount):,.2f}"
    body = f"{symbol}{body}" if symbol else f"{currency} {body}"
    return f"-{body}" if amount < 0 else body


@register.filter
def money(value: Decimal | float | None, currency: str = "USD") -> str:
    return format_money(value, currency)


@register.filter
def money_per_month(value: Decimal | float | None, currency: str = "USD") -> str:
    """'$1,234.56/month': an amount that recurs, with its period stated."""
    text = format_money(value, currency)
    return f"{text}/month" if text else ""


@register.filter
def signed_money(value: Decimal | float | None, currency: str = "USD") -> str:
    """A change: '+$1,234.56' or '-$12.00' ('$0.00' unsigned)."""
    text = format_money(value, currency)
    return f"+{text}" if text and Decimal(str(value)) > 0 else text


@register.filter
def label(value: object) -> str:
    """A stored enum value as people read it: 'on_demand' -> 'On-demand' (finops.core.labels)."""
    return enum_label(value)


def format_gap(value: float | None) -> str:
    """A solver's relative optimality gap as a percentage: '0.03%', '< 0.01%', '0%'; 'unknown' without a bound."""
    if value is None or value == "":
        return "unknown"
    gap = float(value)
    if gap == 0:
        return "0%"
    if gap < 0.0001:
        return "< 0.01%"
    return f"{gap * 100:,.2f}%"


@register.filter
def gap_percent(value: float | None) -> str:
    return format_gap(value)


@register.filter
def is_negative(value: Decimal | float | None) -> bool:
    return value is not None and value != "" and Decimal(str(value)) < 0


@register.filter
def percent(value: float | None, places: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{places}f}%"


@register.filter
def number(value: Decimal | float | int | None, places: int = 0) -> str:
    return "" if value is None else f"{Decimal(str(value)):,.{places}f}"


@register.filter
def get_item(mapping: dict | None, key: str) -> object:
    return mapping.get(key, "") if isinstance(mapping, dict) else ""


@register.simple_tag(takes_context=True)
def main_nav(context: template.Context) -> list[dict]:
    """Header navigation for any page extending base.html, whichever app renders it."""
    from finops.web.navigation import nav_links

    request = context.get("request")
    return nav_links(context.get("scope"), request.path if request is not None else "")


@register.filter
def chart_json_script(figure: dict, element_id: str) -> SafeString:
    """A figure as a JSON script element, its text escaped for Plotly (see figures.chart_text)."""
    return json_script(escape_figure_text(figure), element_id)
