"""Series extraction from the daily rollups, checked against a pandas group-by of the fixture."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest

from finops.accounts.models import Organization
from finops.forecasting.conf import forecast_config
from finops.forecasting.selectors import SeriesKey, cost_as_of, daily_cost_frame, series_plan, series_values
from finops.usage.models import DailyCost
from tests.forecasting.fc_fixtures import FIRST_DAY, LAST_DAY, RESOURCES, committed_usage, effective, usage_frame

pytestmark = pytest.mark.django_db

COLUMNS = {"service": "service", "account": "account", "region": "region", "team": "team"}


@pytest.fixture(scope="module")
def org_loaded(django_db_setup, django_db_blocker):
    """The usage frame written once for the module (committed_usage)."""
    frame = usage_frame()
    with committed_usage(django_db_blocker, frame) as pk:
        yield pk, frame.assign(effective=effective(frame))


@pytest.fixture
def org_frame(org_loaded):
    pk, frame = org_loaded
    return Organization.objects.get(pk=pk), frame.copy()


def _expected_plan(frame: pd.DataFrame, metric_column: str, metric: str) -> list[SeriesKey]:
    config = forecast_config()
    window_start = LAST_DAY - timedelta(days=config.spend_window_days - 1)
    history_cutoff = LAST_DAY - timedelta(days=config.min_history_days - 1)
    keyed = frame.assign(total="")
    expected = []
    for dimension, column in {"total": "total", **COLUMNS}.items():
        first = keyed.groupby(column)["day"].min()
        spend = keyed[keyed["day"] >= window_start].groupby(column)[metric_column].sum()
        for key, amount in spend.items():
            if first[key] <= history_cutoff and abs(amount) >= config.min_spend:
                expected.append(SeriesKey(metric, "USD", dimension, key))
    return sorted(expected)


def test_series_plan_matches_a_pandas_group_by(org_frame):
    organization, frame = org_frame
    assert cost_as_of(organization=organization) == LAST_DAY
    planned = series_plan(organization=organization, as_of=LAST_DAY)
    assert forecast_config().metrics == ("effective",)  # the default metric
    assert planned == _expected_plan(frame, "effective", "effective")
    keys = {(s.dimension, s.key) for s in planned}
    # The KMS key (under the spend floor) and the new queue (short history) have no series of their own.
    assert ("service", "AWS Key Management Service") not in keys
    assert ("service", "Amazon Simple Queue Service") not in keys
    assert ("team", "") in keys and ("total", "") in keys  # untagged spend is a series too


def test_billed_metric_is_planned_when_configured(org_frame, settings):
    organization, frame = org_frame
    settings.FINOPS_FORECAST_METRICS = ("effective", "billed")
    planned = series_plan(organization=organization, as_of=LAST_DAY)
    assert planned == sorted(_expected_plan(frame, "effective", "effective") + _expected_plan(frame, "cost", "billed"))


@pytest.mark.parametrize("dimension", ["total", "service", "account", "region", "team"])
def test_daily_values_match_a_pandas_group_by(org_frame, dimension):
    organization, frame = org_frame
    column = COLUMNS.get(dimension)
    keys = [""] if column is None else sorted(set(frame[column]))
    series = [SeriesKey("effective", "USD", dimension, key) for key in keys]
    values = series_values(organization=organization, series=series, end=LAST_DAY)
    for item in series:
        rows = frame if column is None else frame[frame[column] == item.key]
        daily = rows.groupby("day")["effective"].sum()
        first = min(daily.index)
        index = pd.date_range(first, LAST_DAY, freq="D").date
        expected = daily.reindex(index, fill_value=Decimal(0))
        got_first, got = values[item]
        assert got_first == first
        assert got == [float(v) for v in expected]
    long = daily_cost_frame(organization=organization, metric="billed", dimension=dimension)
    grouped = frame.assign(key="" if column is None else frame[column] if column else "")
    expected_long = grouped.groupby(["day", "key"])["cost"].sum()
    assert {(r.day, r.key): r.cost for r in long.itertuples()} == expected_long.to_dict()


def test_series_values_fill_missing_days_with_zero(org_frame):
    organization, _ = org_frame
    queue = next(r for r in RESOURCES if r.resource == "queue-1")
    key = SeriesKey("effective", "USD", "service", queue.service)
    first, values = series_values(organization=organization, series=[key], end=LAST_DAY)[key]
    assert first == queue.first_day and len(values) == (LAST_DAY - first).days + 1
    # A day with no rows in the middle of the history is a zero, not a gap.
    gap = LAST_DAY - timedelta(days=3)
    DailyCost.objects.filter(organization=organization, service_name=queue.service, day=gap).delete()
    _, values = series_values(organization=organization, series=[key], end=LAST_DAY)[key]
    assert values[-4] == 0.0 and len(values) == (LAST_DAY - first).days + 1
    assert first > FIRST_DAY


def test_unknown_dimension_is_refused(org_frame):
    organization, _ = org_frame
    with pytest.raises(ValueError, match="unknown dimension 'colour'"):
        daily_cost_frame(organization=organization, metric="billed", dimension="colour")
