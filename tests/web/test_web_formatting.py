"""How pages print numbers and enum values (issue 18): money with thousands separators and its period, the
solver gap as a percentage, enum values as words. Rendered pages are read as a person sees them (the text
outside tags and scripts)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest

from finops.carbon.services import carbon_recompute
from finops.core.labels import enum_label
from finops.web.templatetags.finops_format import format_gap, money_per_month, percent, signed_money
from optimizer.models import OptimizationRun
from optimizer.services import optimization_run_execute
from tests.web.test_web_optimizer_pages import acme, login  # noqa: F401 (acme is a fixture used below)

RAW_FLOAT = re.compile(r"(?<![\d,.])\d{4,}\.\d+|\d\.\d{5,}")  # 115321.24, 0.00028361789945974687
MONEY = re.compile(r"^[+-]?\$\d{1,3}(,\d{3})*\.\d{2}$")


def visible_text(page: str) -> str:
    """The page's text; scripts (figure JSON) and form fields' contents (the what-if offer ids) left out."""
    page = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_money_with_separators_sign_and_period():
    assert money_per_month(Decimal("115321.24")) == "$115,321.24/month"
    assert money_per_month(None) == ""
    assert signed_money(Decimal("115321.24")) == "+$115,321.24"
    assert signed_money(Decimal("-1234.5")) == "-$1,234.50"
    assert signed_money(Decimal("0")) == "$0.00"
    assert percent(0.12345) == "12.3%"


@pytest.mark.parametrize(
    ("gap", "shown"),
    [(0.00028361789945974687, "0.03%"), (0.0, "0%"), (0.000004, "< 0.01%"), (1.0, "100.00%"), (None, "unknown")],
)
def test_solver_gap_as_a_percentage(gap, shown):
    assert format_gap(gap) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("on_demand", "On-demand"),
        ("all_upfront", "All upfront"),
        ("partial_upfront", "Partial upfront"),
        ("no_upfront", "No upfront"),
        ("savings_plan", "Savings plan"),
        ("1y", "1 year"),
        ("some_new_value", "Some new value"),
        (None, ""),
    ],
)
def test_enum_labels(value, shown):
    assert enum_label(value) == shown


def test_optimizer_pages_print_labels_and_the_gap_as_a_percentage(acme):  # noqa: F811
    fin = login("fin")
    form = fin.get("/optimizer/").content.decode()
    assert ">All upfront</option>" in form and ">1 year</option>" in form and ">all_upfront<" not in form
    fin.post(
        "/optimizer/", {"lookback_days": "7", "term": "1y", "payment": "all_upfront", "max_spot_share_percent": "20"}
    )
    run = OptimizationRun.objects.get()
    optimization_run_execute(run)
    text = visible_text(fin.get(f"/optimizer/runs/{run.pk}/").content.decode())
    assert "1 year · All upfront" in text
    for raw in ("all_upfront", "no_upfront", "partial_upfront", "on_demand"):
        assert raw not in text, raw
    assert re.search(r"· gap (\d+\.\d{2}%|0%|< 0\.01%|unknown) ", text), text[text.index("Solver") :][:200]
    assert not RAW_FLOAT.search(text), RAW_FLOAT.search(text).group(0)
    listing = visible_text(fin.get("/optimizer/").content.decode())
    assert "1 year, All upfront" in listing


def test_carbon_region_moves_print_money_over_a_stated_period(acme):  # noqa: F811
    carbon_recompute(organization=acme)
    page = login("fin").get("/carbon/")
    assert page.status_code == 200 and page.context["moves"], "the fixture has movable compute with prices"
    content = page.content.decode()
    start = content.index('id="carbon-moves"')
    table = content[start : content.index("</table>", start)]
    cells = [visible_text(c).strip() for c in re.findall(r'<td class="num">(.*?)</td>', table)]
    costs = [c for i, c in enumerate(cells) if i % 4 in (1, 3)]  # per row: carbon, cost, carbon, cost
    assert costs and all(MONEY.match(c) for c in costs), costs
    first = page.context["moves"][0]["greenest"].cost_delta
    assert costs[0] == signed_money(first)
    text = visible_text(content)
    assert "Cost Δ over the period" in text and "over the whole period with data" in text
    assert not RAW_FLOAT.search(text), RAW_FLOAT.search(text).group(0)
