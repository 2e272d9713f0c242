"""budget_evaluate on the database: scoped actual-to-date (pandas sums of the fixture), projection = actual +
summed forecast of the scoped series, tag scopes from line items, auto-adjusting amounts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from finops.accounts.models import Organization
from finops.budgets.models import Budget
from finops.budgets.services import budget_create, budget_evaluate
from finops.forecasting.calc.select import forecast_series
from finops.usage.models import DailyTagCost, LineItem
from tests import factories
from tests.budgets.budget_helpers import (
    FIRST_DAY,
    SERVICES,
    TODAY,
    add_line_items,
    build_org,
    cost_frame,
    period_sum,
)

pytestmark = pytest.mark.django_db
EC2 = SERVICES[0]
MARCH = date(2026, 3, 1)
AS_OF = TODAY - timedelta(days=1)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return cost_frame()


@pytest.fixture(scope="module")
def org_built(frame, django_db_setup, django_db_blocker):
    """The organization with the frame's daily rollups, written once for the module and committed (each test's own
    writes roll back with its transaction), deleted after its last test."""
    with django_db_blocker.unblock():
        organization = build_org(frame)
    yield organization.pk
    with django_db_blocker.unblock():
        factories.delete_organizations([organization])


@pytest.fixture
def org(org_built):
    return Organization.objects.get(pk=org_built)


def expected_forecast(frame: pd.DataFrame, column: str = "billed", **filters) -> Decimal:
    """actual + the summed point forecast of the scoped daily series for the rest of March, built here."""
    mask = pd.Series(True, index=frame.index)
    for key, values in filters.items():
        mask &= frame[key].isin(values)
    daily = frame[mask].groupby("day")[column].apply(lambda s: float(sum(s, Decimal(0))))
    history = daily[daily.index >= AS_OF - timedelta(days=181)]  # the last 182 days
    fc = forecast_series(history.to_numpy(), history.index[0], horizon=(date(2026, 3, 31) - AS_OF).days)
    actual = period_sum(frame, MARCH, AS_OF, column, **filters)
    return (actual + Decimal(repr(float(fc.point.sum())))).quantize(Decimal("0.01"))


def make(org, **data) -> Budget:
    base = {"name": "b", "amount": "50000", "period": "monthly"}
    return budget_create(organization=org, data={**base, **data})


@pytest.mark.parametrize(
    ("scope", "filters"),
    [
        ({}, {}),
        ({"service_name": [EC2], "region_id": ["us-east-1"]}, {"service_name": [EC2], "region_id": ["us-east-1"]}),
        ({"team": ["search"]}, {"team": ["search"]}),
        (
            {"sub_account_id": ["444455556666"], "billing_account_id": ["111122223333"]},
            {"sub_account_id": ["444455556666"]},
        ),
    ],
)
def test_actual_and_forecast_of_a_scope(org, frame, scope, filters):
    budget = make(org, scope=scope)
    ev = budget_evaluate(budget=budget, today=TODAY).evaluation
    assert ev.period_start == MARCH and ev.period_end == date(2026, 3, 31) and ev.as_of == AS_OF
    assert ev.actual == period_sum(frame, MARCH, AS_OF, **filters)
    assert ev.forecast == expected_forecast(frame, **filters)
    assert ev.lower[0.95] <= ev.forecast <= ev.upper[0.95]


def test_effective_metric(org, frame):
    budget = make(org, cost_metric="effective", scope={"service_name": [SERVICES[1]]})
    ev = budget_evaluate(budget=budget, today=TODAY).evaluation
    assert ev.actual == period_sum(frame, MARCH, AS_OF, "effective", service_name=[SERVICES[1]])
    assert ev.forecast == expected_forecast(frame, "effective", service_name=[SERVICES[1]])


def test_tag_scope_reads_the_tag_rollup(org, frame):
    add_line_items(org, frame[frame.day >= date(2025, 12, 1)])
    LineItem.objects.filter(organization=org).delete()  # one tag key is answered from DailyTagCost alone
    budget = make(org, scope={"tags": {"env": ["prod"]}, "team": ["checkout"]})
    ev = budget_evaluate(budget=budget, today=TODAY).evaluation
    # env=prod is exactly the us-east-1 rows of the fixture.
    assert ev.actual == period_sum(frame, MARCH, AS_OF, region_id=["us-east-1"], team=["checkout"])
    recent = frame[frame.day >= date(2025, 12, 1)]
    assert ev.forecast == expected_forecast(recent, region_id=["us-east-1"], team=["checkout"])


def test_scope_on_two_tag_keys_reads_line_items(org, frame):
    add_line_items(org, frame[frame.day >= date(2025, 12, 1)])
    budget = make(org, scope={"tags": {"env": ["dev"], "team": ["search"]}})
    DailyTagCost.objects.filter(organization=org).delete()  # both tags must hold on the same line item
    ev = budget_evaluate(budget=budget, today=TODAY).evaluation
    assert ev.actual == period_sum(frame, MARCH, AS_OF, region_id=["eu-west-1"], team=["search"])
    assert ev.actual > 0


def test_quarterly_actual(org, frame):
    budget = make(org, period="quarterly", scope={"region_id": ["eu-west-1"]})
    ev = budget_evaluate(budget=budget, today=TODAY).evaluation
    assert ev.period_start == date(2026, 1, 1) and ev.period_end == date(2026, 3, 31)
    assert ev.actual == period_sum(frame, date(2026, 1, 1), AS_OF, region_id=["eu-west-1"])


def test_auto_adjusting_amount_is_the_average_of_complete_periods(org, frame):
    budget = make(org, auto_adjust_periods=3)
    result = budget_evaluate(budget=budget, today=TODAY)
    months = [
        (date(2025, 12, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
    ]
    expected = sum((period_sum(frame, s, e) for s, e in months), Decimal(0)) / 3
    assert result.amount_source == "auto"
    assert result.evaluation.amount == expected.quantize(Decimal("0.01"))
    # Only complete periods with data count: 6 asked, 4 exist (Nov .. Feb).
    budget.auto_adjust_periods = 6
    budget.save()
    months.insert(0, (FIRST_DAY, date(2025, 11, 30)))
    expected = sum((period_sum(frame, s, e) for s, e in months), Decimal(0)) / 4
    assert budget_evaluate(budget=budget, today=TODAY).evaluation.amount == expected.quantize(Decimal("0.01"))


def test_evaluation_is_recorded_on_the_budget(org, frame):
    budget = make(org)
    result = budget_evaluate(budget=budget, today=TODAY)
    budget.refresh_from_db()
    assert budget.last_status == result.evaluation.status
    assert Decimal(budget.last_evaluation["actual"]) == period_sum(frame, MARCH, AS_OF)
    assert budget.last_evaluation["forecast"] == str(result.evaluation.forecast)
