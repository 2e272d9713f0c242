"""Explore in a real browser: the searchable filter pickers, the filter chips and the month axis."""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_picker_search_chips_and_a_twelve_month_axis(tenants, browser_page):
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    page.goto("/explore/?org=alpha&group=service&granularity=month&start=2023-11-01&end=2024-10-31")
    search = page.locator("#f-service").locator("xpath=preceding-sibling::input[@type='search']")
    search.fill("virtual")
    visible = page.eval_on_selector("#f-service", "s => Array.from(s.options).filter(o => !o.hidden).map(o => o.value)")
    assert visible and all("virtual" in v.lower() for v in visible)
    page.select_option("#f-service", visible[:1])
    page.click("#explore-form button[type=submit]")
    page.wait_for_url("**service=**")
    chip = page.locator("#explore-chips a.chip")
    assert chip.count() == 1 and visible[0] in chip.text_content()
    traces = browser_page.plot_traces("#chart-explore")
    assert all(len(t["x"]) == 12 and t["x"][0] == "2023-11-01" and t["x"][-1] == "2024-10-01" for t in traces)
    # The chip is a link: reachable by keyboard, Enter removes the filter.
    chip.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "service=" not in url)
    assert page.locator("#explore-chips").count() == 0
    assert browser_page.errors == []
