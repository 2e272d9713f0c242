"""The click-through checks every page's layout at two widths and runs axe-core at the first
(tests/web/test_web_demo_clickthrough.py): that covers the second only while no media query switches between them."""

from __future__ import annotations

import re
from pathlib import Path

from tests.web.test_web_demo_clickthrough import WIDTHS


def test_no_media_query_between_the_widths() -> None:
    """No stylesheet switches between the widths: a media query whose breakpoint lies in between would show
    content at the second width that axe never checks."""
    static = Path(__file__).resolve().parents[2] / "static"
    breakpoints = []
    for sheet in static.rglob("*.css"):
        for query in re.findall(r"@media[^{]*", sheet.read_text()):
            breakpoints += [(sheet.name, int(px)) for px in re.findall(r"(\d+)px", query)]
    assert breakpoints, "no media query found: the scan is broken"
    between = [(name, px) for name, px in breakpoints if WIDTHS[0] <= px <= WIDTHS[-1]]
    assert between == [], f"breakpoints between {WIDTHS}: {between}; run axe at each width"
