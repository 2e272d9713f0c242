"""The dashboards' reads of the rollups, made cheap at scale (issue #19), answer what they answered before:
the overview's month-to-date numbers from one read, Explore's filter choices from one read, the tag keys and
KEY=VALUE choices from a loose index scan. Expectations by hand or from the per-window selectors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finops.accounts.access import policy_for_user
from finops.core.money import MoneySum
from finops.usage.models import DailyCost, DailyTagCost
from finops.usage.selectors import daily_costs_visible, usage_q
from finops.web import selectors
from tests import factories

NOV1, NOV6, NOV20 = date(2026, 11, 1), date(2026, 11, 6), date(2026, 11, 20)
DEC1, DEC3, AS_OF = date(2026, 12, 1), date(2026, 12, 3), date(2026, 12, 6)


def _policy(organization, username: str, role: str = "finance", teams=None):
    factories.member(organization, username, role, teams=teams)
    return policy_for_user(factories.user(username), organization_slug=organization.slug)


def period_total(scope, *, metric: str, start: date, end: date, currency: str, usage_only: bool = False) -> Decimal:
    """The metric's total over [start, end] of the rows ``scope`` sees, by one plain aggregate."""
    rows = daily_costs_visible(scope).filter(day__gte=start, day__lte=end, billing_currency=currency)
    rows = rows.filter(usage_q()) if usage_only else rows
    return rows.aggregate(t=MoneySum(selectors.METRICS[metric]))["t"] or Decimal(0)


def _cost(organization, job, day, **fields):
    """A rollup row costing 1 (billed, effective and list) unless ``fields`` say otherwise."""
    return factories.daily_cost(
        organization, job, day, **{"billed_cost": 1, "effective_cost": 1, "list_cost": 1} | fields
    )


def _seed_costs(organization):
    """Rows in the three windows of month_to_date (Dec 1-6; Nov 1-6; Nov 7-30), two teams and none, a tax, a
    correction, and a EUR row that no USD number may count."""
    job = factories.placeholder_ingest_job(organization)
    web = factories.team(organization, "web")
    data = factories.team(organization, "data")

    def row(day, service, cost, **fields):
        fields.setdefault("effective_cost", cost)
        fields.setdefault("list_cost", cost)
        return factories.daily_cost(organization, job, day, service_name=service, billed_cost=Decimal(cost), **fields)

    DailyCost.objects.bulk_create(
        [
            row(DEC1, "EC2", "100.0000000000000001", team=web),
            row(DEC3, "EC2", "50", team=data),
            row(DEC3, "S3", "7.25"),  # no team: Unallocated
            row(DEC1, "EC2", "20", charge_category="Tax"),
            row(DEC3, "EC2", "-5", charge_class="Correction", team=web),
            row(DEC3, "EC2", "999", billing_currency="EUR", team=web),
            row(NOV1, "EC2", "80", team=web),
            row(NOV6, "S3", "3", team=data),
            row(NOV1, "EC2", "60", charge_category="Tax"),
            row(NOV20, "EC2", "400", team=web),  # after the same day of last month: its charge kinds only
            row(NOV20, "S3", "9", charge_category="Purchase"),
        ]
    )


@pytest.mark.django_db
def test_month_to_date_by_hand():
    organization = factories.organization("mtd")
    _seed_costs(organization)
    policy = _policy(organization, "mtd-cfo")
    numbers = selectors.month_to_date(policy, dimension="team", metric="billed", last=AS_OF, currency="USD")
    assert numbers.mtd == Decimal("172.2500000000000001")  # 100.0..01 + 50 + 7.25 + 20 - 5
    assert numbers.mtd_usage == Decimal("157.2500000000000001")  # neither the tax nor the correction
    assert (numbers.previous, numbers.previous_usage) == (Decimal(143), Decimal(83))  # Nov 1-6
    assert numbers.kinds == {
        "usage": Decimal("157.2500000000000001"),
        "tax": Decimal(20),
        "correction": Decimal(-5),
    }
    assert numbers.previous_month_kinds == {"usage": Decimal(483), "tax": Decimal(60), "purchase": Decimal(9)}
    assert numbers.groups == {
        "web": Decimal("100.0000000000000001"),
        "data": Decimal(50),
        "Unallocated": Decimal("7.25"),
    }
    assert numbers.previous_groups == {"web": Decimal(80), "data": Decimal(3)}
    euros = selectors.month_to_date(policy, dimension="service", metric="billed", last=AS_OF, currency="EUR")
    assert (euros.mtd, euros.previous, euros.groups) == (Decimal(999), Decimal(0), {"EC2": Decimal(999)})


@pytest.mark.django_db
@pytest.mark.parametrize("dimension", selectors.STACK_DIMENSIONS)
@pytest.mark.parametrize("metric", selectors.OVERVIEW_METRICS)
def test_month_to_date_matches_the_per_window_selectors(dimension, metric):
    organization = factories.organization("mtd-parity")
    _seed_costs(organization)
    policy = _policy(organization, "mtd-parity-cfo")
    web = policy.teams().get(slug="web")
    engineer = _policy(organization, "mtd-parity-eng", "engineer", teams=[web])
    for scope in (policy, engineer):
        numbers = selectors.month_to_date(scope, dimension=dimension, metric=metric, last=AS_OF, currency="USD")
        common = {"metric": metric, "currency": "USD"}
        now, before = {"start": DEC1, "end": AS_OF}, {"start": NOV1, "end": NOV6}
        assert numbers.mtd == period_total(scope, **common, **now)
        assert numbers.previous == period_total(scope, **common, **before)
        assert numbers.mtd_usage == period_total(scope, **common, **now, usage_only=True)
        assert numbers.previous_usage == period_total(scope, **common, **before, usage_only=True)
        assert numbers.kinds == selectors.charge_kind_totals(scope, **common, **now)
        whole_november = selectors.charge_kind_totals(scope, **common, start=NOV1, end=date(2026, 11, 30))
        assert numbers.previous_month_kinds == whole_november
        grouped = {"dimension": dimension, **common, "usage_only": True}
        assert numbers.groups == selectors.group_totals(scope, **grouped, **now)
        assert numbers.previous_groups == selectors.group_totals(scope, **grouped, **before)
    # The engineer sees web's rows only.
    mine = selectors.month_to_date(engineer, dimension="team", metric="billed", last=AS_OF, currency="USD")
    assert set(mine.groups) == {"web"}


@pytest.mark.django_db
def _reads(queries: CaptureQueriesContext, table: str) -> int:
    return sum(table in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_currencies_and_main_currency_from_one_read():
    organization = factories.organization("cur")
    job = factories.placeholder_ingest_job(organization)
    DailyCost.objects.bulk_create(
        [
            _cost(organization, job, DEC1, billing_currency="USD", row_count=3),
            _cost(organization, job, DEC1, billing_currency="EUR", row_count=4),
            _cost(organization, job, DEC3, billing_currency="USD", row_count=3),
            _cost(organization, job, DEC3, billing_currency="JPY", row_count=5),
        ]
    )
    policy = _policy(organization, "cur-cfo")
    with CaptureQueriesContext(connection) as queries:
        assert selectors.main_currency(policy) == "USD"  # 6 line items, JPY 5, EUR 4
        assert selectors.currencies(policy) == ["EUR", "JPY", "USD"]
        assert selectors.other_currencies(policy) == ["EUR", "JPY"]
    assert _reads(queries, "usage_dailycost") == 1
    empty = _policy(factories.organization("cur-none"), "cur-none-cfo")
    assert (selectors.main_currency(empty), selectors.currencies(empty)) == ("USD", [])


@pytest.mark.django_db
def test_explore_choices_are_the_values_of_the_window():
    organization = factories.organization("choices")
    job = factories.placeholder_ingest_job(organization)
    web = factories.team(organization, "web")
    DailyCost.objects.bulk_create(
        [
            _cost(organization, job, DEC1, service_name="EC2", region_id="x",
                                 billing_account_id="111", sub_account_id="", team=web),
            _cost(organization, job, DEC3, service_name="S3", region_id="y",
                                 billing_account_id="111", sub_account_id="a", billing_currency="EUR",
                                 pricing_category="Committed"),
            _cost(organization, job, NOV20, service_name="RDS", region_id="z",
                                 billing_account_id="222"),  # before the window
        ]
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        choices = selectors.explore_choices(_policy(organization, "choices-cfo"), start=DEC1, end=AS_OF)
    assert _reads(queries, "usage_dailycost") == 1
    assert choices == {
        "service": ["EC2", "S3"],
        "account": ["111"],
        "sub_account": ["(none)", "a"],
        "region": ["x", "y"],
        "team": ["(none)", "web"],
        "charge_category": ["Usage"],
        "pricing_category": ["(none)", "Committed"],
        "provider": ["AWS"],
        "currency": ["EUR", "USD"],
    }
    assert selectors.explore_choices(_policy(organization, "choices-2"), start=AS_OF, end=AS_OF) == {
        name: [] for name in selectors.FILTER_DIMENSIONS
    }


def _seed_tags(organization, pairs_by_team):
    job = factories.placeholder_ingest_job(organization)
    rows = []
    for team, pairs in pairs_by_team.items():
        for day in (DEC1, DEC3):  # every pair on two days: distinct pairs, not rows
            for key, value in pairs:
                fields = factories.daily_cost_fields(organization, job, day, billed_cost=Decimal(1), team=team)
                rows.append(DailyTagCost(**fields, tag_key=key, tag_value=value, effective_cost=0, list_cost=0))
    DailyTagCost.objects.bulk_create(rows)


@pytest.mark.django_db
def test_tag_keys_and_values_in_code_point_order(monkeypatch):
    organization = factories.organization("tags")
    other = factories.organization("tags-other")
    web, data = factories.team(organization, "web"), factories.team(organization, "data")
    # Upper case sorts before lower case and "_" between them in code point order (not in a linguistic one).
    web_pairs = [("owner", "zoe"), ("owner", "Zed"), ("owner", "_ops"), ("app", "shop"), ("Env", "prod")]
    data_pairs = [("owner", "ann"), ("team", "data"), ("app", "Batch")]
    _seed_tags(organization, {web: web_pairs, data: data_pairs, None: [("app", "orphan")]})
    _seed_tags(other, {None: [("secret", "x")]})
    everything = {*web_pairs, *data_pairs, ("app", "orphan")}
    policy = _policy(organization, "tags-cfo")
    assert selectors.explore_tag_keys(policy) == sorted({k for k, _ in everything}) == ["Env", "app", "owner", "team"]
    assert selectors.explore_tag_values(policy) == [f"{k}={v}" for k, v in sorted(everything)]
    # At most EXPLORE_TAG_VALUES pairs, the first ones in order, across keys: one read for the keys, then one
    # per key until there are enough (owner and team are not read).
    monkeypatch.setattr(selectors, "EXPLORE_TAG_VALUES", 4)
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.explore_tag_values(policy) == ["Env=prod", "app=Batch", "app=orphan", "app=shop"]
    assert _reads(queries, "usage_dailytagcost") == 3
    # An engineer sees the pairs of their teams' rows only; an engineer in no team sees none.
    engineer = _policy(organization, "tags-eng", "engineer", teams=[web])
    assert selectors.explore_tag_keys(engineer) == ["Env", "app", "owner"]
    assert selectors.explore_tag_values(engineer) == ["Env=prod", "app=shop", "owner=Zed", "owner=_ops"]
    nobody = _policy(organization, "tags-none", "engineer", teams=[])
    assert (selectors.explore_tag_keys(nobody), selectors.explore_tag_values(nobody)) == ([], [])


@pytest.mark.django_db
@pytest.mark.parametrize("dimension", selectors.STACK_DIMENSIONS)
def test_overview_monthly_matches_monthly_by_and_commitment_monthly(dimension):
    organization = factories.organization("monthly")
    job = factories.placeholder_ingest_job(organization)
    web = factories.team(organization, "web")
    rows = [
        # October: tax only (no usage: no commitment month), November and December: used, unused, on demand.
        _cost(organization, job, date(2026, 10, 1), charge_category="Tax", billed_cost=5),
        _cost(organization, job, NOV1, list_cost=100, effective_cost=60, commitment_discount_status="Used", team=web),
        _cost(organization, job, NOV20, list_cost=40, effective_cost=40, commitment_discount_status="Unused"),
        _cost(organization, job, NOV20, list_cost=50, effective_cost=50, billed_cost=50, service_name="S3"),
        _cost(organization, job, DEC3, list_cost=30, effective_cost=20, commitment_discount_status="used", team=web),
        _cost(organization, job, DEC3, list_cost=9, billing_currency="EUR"),
    ]
    DailyCost.objects.bulk_create(rows)
    policy = _policy(organization, "monthly-cfo")
    window = {"start": date(2026, 1, 1), "end": AS_OF, "currency": "USD"}
    for metric in selectors.OVERVIEW_METRICS:
        monthly, commitments = selectors.overview_monthly(policy, dimension=dimension, metric=metric, **window)
        expected = selectors.monthly_by(policy, dimension=dimension, metric=metric, **window)
        pd.testing.assert_frame_equal(monthly, expected)
        pd.testing.assert_frame_equal(commitments, selectors.commitment_monthly(policy, **window))
    # By hand: November's coverage = used list 100 / (usage list 190 - unused list 40); utilisation 60 / 100.
    november = commitments.set_index("month").loc[NOV1]
    assert november["coverage"] == pytest.approx(100 / 150) and november["utilisation"] == pytest.approx(0.6)
    assert list(commitments["month"]) == [NOV1, DEC1]
    assert november["savings"] == Decimal(40)


@pytest.mark.django_db
def test_cost_breakdown_by_team_names_teams_by_slug():
    """Grouped by team id in the database and named in Python: the same slugs and "(none)" as the join gave."""
    from finops.usage.selectors import cost_breakdown

    organization = factories.organization("by-team")
    _seed_costs(organization)
    usd = {"currency": "USD"}
    rows = cost_breakdown(organization=organization, group_by=["team"], start=DEC1, end=AS_OF, filters=usd)
    assert [(r.group, r.cost) for r in rows] == [
        ("web", Decimal("95.0000000000000001")),  # 100.0..01 and the -5 correction
        ("data", Decimal(50)),
        ("(none)", Decimal("27.25")),  # S3 7.25 and the tax 20
    ]
    daily = cost_breakdown(
        organization=organization, group_by=["service", "team"], granularity="day", start=DEC3, end=DEC3, filters=usd
    )
    assert [(r.period, r.groups, r.cost) for r in daily] == [
        (DEC3, ("EC2", "data"), Decimal(50)),
        (DEC3, ("S3", "(none)"), Decimal("7.25")),
        (DEC3, ("EC2", "web"), Decimal(-5)),
    ]
