"""The pure inventory computation (no database): thresholds, timestamps, utilization, coverage and scope rules on
small hand-made groups whose expectations follow from the definitions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from finops.commitments.inventory import (
    EligibleUsage,
    Observation,
    build_inventory,
    due_thresholds,
    extras_keys,
    parse_time,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 11, 11, tzinfo=UTC)  # 240 hours later


@pytest.mark.parametrize(
    ("days", "due"),
    [(None, []), (-1, []), (0, [7, 30, 90]), (7, [7, 30, 90]), (8, [30, 90]), (30, [30, 90]), (31, [90]),
     (90, [90]), (91, [])],
)  # fmt: skip
def test_due_thresholds(days, due):
    assert due_thresholds(days) == due


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-31T23:59:59.000Z", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-12-31 23:59:59", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-12-31T01:00:00+01:00", datetime(2026, 12, 31, 0, 0, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("not a date", None),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_extras_keys_cover_both_cur_spellings():
    keys = extras_keys()
    assert {"reservation/EndTime", "reservation_end_time", "savingsPlan/EndTime", "savings_plan_end_time"} <= set(keys)


def obs(cid: str, status: str | None, charge: str, effective: str, listed: str, **kw) -> Observation:
    return Observation(cid, status, charge, Decimal(effective), Decimal(listed), T0, T1, **kw)


def test_reservation_utilization_coverage_and_scope():
    ri = {"category": "Usage", "type": "Reserved Instance", "billing_account_id": "a1", "region_id": "eu-west-1"}
    observations = [
        obs("ri", "Used", "Usage", "30", "50", instance_type="r5.large", **ri),
        obs("ri", "Unused", "Usage", "10", "10", instance_type="r5.large", **ri),
        obs("ri", None, "Purchase", "0", "0", **ri, extras={"reservation/EndTime": "2027-01-01T00:00:00Z"}),
    ]
    eligible = [
        EligibleUsage("a1", "eu-west-1", "r5.large", "Compute", Decimal("50")),  # what it covered
        EligibleUsage("a1", "eu-west-1", "r5.2xlarge", "Compute", Decimal("50")),  # same family: eligible
        EligibleUsage("a1", "us-east-1", "r5.large", "Compute", Decimal("900")),  # other region
        EligibleUsage("a1", "eu-west-1", "m5.large", "Compute", Decimal("900")),  # other family
        EligibleUsage("a2", "eu-west-1", "r5.large", "Compute", Decimal("900")),  # other billing account
    ]
    [c] = build_inventory(observations, eligible, today=date(2026, 12, 2))
    assert (c.kind, c.region_id, c.family, c.billing_account_id) == ("reservation", "eu-west-1", "r5", "a1")
    assert (c.used_cost, c.unused_cost, c.utilization) == (Decimal(30), Decimal(10), 0.75)
    assert (c.covered_list_cost, c.eligible_list_cost, c.coverage) == (Decimal(50), Decimal(100), 0.5)
    assert c.hourly_commitment == Decimal(40) / 240
    assert c.end == datetime(2027, 1, 1, tzinfo=UTC) and c.days_to_end == 30 and c.start is None


def test_savings_plan_unknown_end_and_nothing_used():
    observations = [obs("sp", "Unused", "Usage", "24", "24", category="Spend", billing_account_id="a1")]
    eligible = [
        EligibleUsage("a1", "us-east-1", "m5.large", "Compute", Decimal("10")),
        EligibleUsage("a1", "us-east-1", "", "Storage", Decimal("99")),  # not compute
    ]
    [c] = build_inventory(observations, eligible, today=date(2026, 12, 2))
    assert c.kind == "savings_plan" and c.region_id is None and c.family is None
    assert c.utilization == 0.0 and c.coverage == 0.0 and c.eligible_list_cost == Decimal(10)
    assert c.hourly_commitment == Decimal("0.1") and c.end is None and c.days_to_end is None
    assert c.document()["end_known"] is False and c.document()["hourly_commitment"] == "0.1"


def test_ec2_instance_plan_is_scoped_to_its_region_and_family_and_order_is_by_end():
    plan = {"category": "Spend", "billing_account_id": "a1"}
    extras = {"savings_plan_region": "us-east-1", "savings_plan_instance_type_family": "c5",
              "savings_plan_end_time": "2027-03-01T00:00:00Z"}  # fmt: skip
    observations = [
        obs("sp-late", "Used", "Usage", "5", "8", **plan, extras=extras),
        obs("sp-none", "Used", "Usage", "5", "8", **plan),
        obs("sp-soon", "Used", "Usage", "5", "8", **plan, extras={"savingsPlan/EndTime": "2027-01-01T00:00:00Z"}),
    ]
    eligible = [
        EligibleUsage("a1", "us-east-1", "c5.large", "Compute", Decimal("16")),
        EligibleUsage("a1", "us-west-2", "c5.large", "Compute", Decimal("16")),
    ]
    inventory = build_inventory(observations, eligible, today=date(2026, 12, 2))
    assert [c.id for c in inventory] == ["sp-soon", "sp-late", "sp-none"]  # unknown end last
    late = inventory[1]
    assert (late.region_id, late.family, late.eligible_list_cost, late.coverage) == ("us-east-1", "c5", 16, 0.5)
    assert inventory[2].eligible_list_cost == Decimal(32)  # a Compute plan: every region


def test_no_usage_and_no_cost_leaves_utilization_and_coverage_unknown():
    [c] = build_inventory([obs("ri", None, "Purchase", "0", "0", category="Usage")], [], today=date(2026, 12, 2))
    assert c.utilization is None and c.coverage is None and c.hourly_commitment is None
    assert c.eligible_list_cost is None  # no billing account, region or family to scope it


def test_coverage_counts_only_usage_in_the_commitments_currency():
    """A billing account billed in two currencies (a FOCUS file may hold both): the EUR usage is no part of a USD
    reservation's eligible usage, so coverage never divides USD by USD + EUR."""
    ri = {"category": "Usage", "type": "Reserved Instance", "billing_account_id": "a1", "region_id": "eu-west-1"}
    observations = [obs("ri", "Used", "Usage", "30", "50", instance_type="r5.large", currency="USD", **ri)]
    eligible = [
        EligibleUsage("a1", "eu-west-1", "r5.large", "Compute", Decimal("80"), currency="USD"),
        EligibleUsage("a1", "eu-west-1", "r5.large", "Compute", Decimal("900"), currency="EUR"),
    ]
    [c] = build_inventory(observations, eligible, today=date(2026, 12, 2))
    assert c.currency == "USD" and c.eligible_list_cost == Decimal(80) and c.coverage == 50 / 80
