"""Text from the data reaches Plotly escaped: a tag value written as HTML is shown as text, never as a link."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from finops.web import figures
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv
from tests.web.conftest import PASSWORD

HOSTILE = '<a href="https://evil.example/">Click me</a>'


def test_figure_text_is_escaped_and_templates_are_kept():
    frame = pd.DataFrame({"month": ["2025-01-01", "2025-01-01"], "group": [HOSTILE, "%{y} & co"], "cost": [1.0, 2.0]})
    figure = figures.stacked_bars(frame, x="month", group="group", value="cost", title="t", currency="USD")
    escaped = figures.escape_figure_text(figure)
    names = {trace["name"] for trace in escaped["data"]}
    assert '&lt;a href="https://evil.example/"&gt;Click me&lt;/a&gt;' in names
    assert "%&#123;y} &amp; co" in names
    # The module's own templates keep their markup and placeholders.
    assert all(t["hovertemplate"].endswith("<extra>%{fullData.name}</extra>") for t in escaped["data"])
    # Numbers are untouched and the input is not modified.
    assert [t["y"] for t in escaped["data"]] == [t["y"] for t in figure["data"]]
    assert HOSTILE in {trace["name"] for trace in figure["data"]}


def test_labels_in_hover_templates_are_escaped():
    frame = pd.DataFrame({"day": ["2025-01-01"], "cost": [1.0], "units": [2.0]})
    figure = figures.bars_and_line(
        frame,
        x="day",
        bar="cost",
        bar_label=HOSTILE,
        line="units",
        line_label="per order",
        title="t",
        currency="USD",
        line_unit="USD/order",
    )
    assert "<a href" not in json.dumps([t["hovertemplate"] for t in figure["data"]])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_tag_value_written_as_a_link_is_shown_as_text(tmp_path, browser_page):
    rows = read_rows(FOCUS_SAMPLE)
    for index, row in enumerate(rows):  # two teams, so the charts draw a legend
        row["Tags"] = json.dumps({"team": HOSTILE if index % 2 else "plain"})
    path = write_csv(tmp_path / "hostile.csv", rows)
    factories.ingest_command("hostile", path)
    factories.member(factories.organization("hostile"), "fin", password=PASSWORD)
    browser_page.login("fin", PASSWORD)
    page = browser_page.page
    # The overview stacks by team; Explore groups by the raw tag value.
    for url, shown in (
        ("/?org=hostile&stack=team", None),
        ("/explore/?org=hostile&group=tag:team&granularity=month", HOSTILE),
    ):
        page.goto(url)
        page.wait_for_selector(".plot .legend .legendtext")
        assert page.locator('a[href^="https://evil.example"]').count() == 0
        assert page.locator(".plot a").count() == 0
        if shown:
            assert shown in page.locator(".plot .legend .legendtext").all_text_contents()
    assert browser_page.errors == []
