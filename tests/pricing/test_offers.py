"""Pure price arithmetic, checked against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pricing.offers import break_even_month, effective_hourly, savings_vs_on_demand, spot_stats


def test_effective_hourly_spreads_the_upfront_fee_over_the_term():
    # 1 year all upfront 525.60 = 0.06/h over 8,760 h; 3-year partial: 0.02 + 1576.80 / 26,280 h = 0.08.
    assert effective_hourly(hourly=Decimal("0"), upfront=Decimal("525.60"), lease_years=1) == Decimal("0.06")
    assert effective_hourly(hourly=Decimal("0.02"), upfront=Decimal("1576.80"), lease_years=3) == Decimal("0.08")
    assert effective_hourly(hourly=Decimal("0.05"), upfront=Decimal(0), lease_years=None) == Decimal("0.05")
    with pytest.raises(ValueError, match="term"):
        effective_hourly(hourly=Decimal(0), upfront=Decimal(10), lease_years=None)


def test_savings_and_break_even():
    assert savings_vs_on_demand(effective=Decimal("0.06"), on_demand=Decimal("0.10")) == Decimal("0.4")
    assert savings_vs_on_demand(effective=Decimal("0.06"), on_demand=Decimal(0)) is None
    # Upfront 300, hourly 0.02 vs on-demand 0.10: saves 0.08 x 730 = 58.40 a month -> paid back in month 6.
    assert break_even_month(hourly=Decimal("0.02"), upfront=Decimal(300), on_demand=Decimal("0.10"), lease_years=1) == 6
    assert break_even_month(hourly=Decimal("0.05"), upfront=Decimal(0), on_demand=Decimal("0.10"), lease_years=1) == 1
    # Never pays back within the term.
    assert (
        break_even_month(hourly=Decimal("0.09"), upfront=Decimal(1000), on_demand=Decimal("0.10"), lease_years=1)
        is None
    )
    assert (
        break_even_month(hourly=Decimal("0.10"), upfront=Decimal(0), on_demand=Decimal("0.10"), lease_years=1) is None
    )


def test_spot_stats_are_time_weighted():
    t0 = datetime(2022, 5, 31, 18, tzinfo=UTC)
    # 0.03 for 3 h, then 0.06 for 1 h, then 0.09 (held one average interval, 2 h).
    samples = [
        (t0, Decimal("0.03")),
        (t0 + timedelta(hours=3), Decimal("0.06")),
        (t0 + timedelta(hours=4), Decimal("0.09")),
    ]
    stats = spot_stats(samples, on_demand=Decimal("0.10"))
    assert stats.samples == 3 and stats.max == pytest.approx(0.09)
    assert stats.mean == pytest.approx((0.03 * 3 + 0.06 * 1 + 0.09 * 2) / 6)
    assert stats.share_above_50pct_on_demand == pytest.approx(3 / 6)  # 0.06 and 0.09 exceed 0.05
    assert stats.share_above_80pct_on_demand == pytest.approx(2 / 6)  # only 0.09 exceeds 0.08
    assert stats.p95 == pytest.approx(0.09)
    assert spot_stats([], on_demand=None) is None
