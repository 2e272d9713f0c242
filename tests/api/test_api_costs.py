"""costs/summary and costs/timeseries: numbers equal pandas group-bys of the ingested FOCUS sample, the
summary equals `cost_report --format json`, and engineers see only their teams' rows."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import call_command

from tests.api import api_fixtures
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import team_of

pytestmark = pytest.mark.django_db
world = api_fixtures.world  # the module-scoped fixture, re-exported for pytest
METRIC_COLUMNS = {"billed": "BilledCost", "effective": "EffectiveCost", "list": "ListCost"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """The fixture read independently: text columns, Decimal money, the documented labels."""
    df = pd.read_csv(FOCUS_SAMPLE, dtype=str, keep_default_na=False)
    for column in METRIC_COLUMNS.values():
        df[column] = [Decimal(v) if v not in ("", "NULL") else Decimal(0) for v in df[column]]
    df = df.replace({"NULL": ""})
    df["service"] = df["ServiceName"]
    df["account"] = df["BillingAccountId"]
    df["region"] = df["RegionId"].where(df["RegionId"] != "", df["RegionName"])
    df["day"] = pd.to_datetime(df["ChargePeriodStart"]).dt.date
    df["team_value"] = [team_of(r, settings.FINOPS_TEAM_TAG_KEYS) for r in df.to_dict("records")]
    df["environment"] = [json.loads(t).get("environment", "") if t else "" for t in df["Tags"]]
    for column in ("service", "account", "region", "environment"):
        df[column] = df[column].replace({"": "(none)"})
    return df


def pandas_sum(df: pd.DataFrame, by: list[str], metric: str = "billed") -> dict:
    grouped = df.groupby(by)[METRIC_COLUMNS[metric]].sum()
    return {(k if isinstance(k, tuple) else (k,)): v for k, v in grouped.items()}


def api_rows(payload: dict) -> dict:
    assert {r["currency"] for r in payload["rows"]} <= {"USD"}
    return {tuple(r["groups"]): Decimal(r["cost"]) for r in payload["rows"]}


@pytest.mark.parametrize(
    ("group_by", "columns", "metric"),
    [
        ("service", ["service"], "billed"),
        ("service", ["service"], "effective"),
        ("account", ["account"], "list"),
        ("region", ["region"], "billed"),
        ("tag:environment", ["environment"], "billed"),
        ("service,region", ["service", "region"], "effective"),
        ("tag:environment,service", ["environment", "service"], "billed"),
    ],
)
def test_summary_equals_pandas_group_by(world, frame, group_by, columns, metric):
    response = world.client("finance").get(
        "/api/v1/costs/summary", {"group_by": group_by, "metric": metric, "org": "t-acme"}
    )
    assert response.status_code == 200, response.content
    payload = response.json()
    assert payload["metric"] == metric and payload["group_by"] == group_by
    assert api_rows(payload) == pandas_sum(frame, columns, metric)
    costs = [Decimal(r["cost"]) for r in payload["rows"]]
    assert costs == sorted(costs, reverse=True)
    assert all(r["group"] == " / ".join(r["groups"]) for r in payload["rows"])


@pytest.mark.parametrize("group_by", ["service", "account", "region", "team", "charge_category", "tag:environment"])
def test_summary_is_the_cost_report_json(world, group_by):
    out = StringIO()
    args = ["--org", "t-acme", "--group-by", group_by, "--start", "2024-09-03", "--end", "2024-09-20"]
    call_command("cost_report", *args, "--format", "json", stdout=out)
    cli = json.loads(out.getvalue())
    api = (
        world.client("token_read")
        .get("/api/v1/costs/summary", {"group_by": group_by, "start": "2024-09-03", "end": "2024-09-20"})
        .json()
    )
    for key in ("metric", "group_by", "start", "end"):
        assert api[key] == cli[key]
    assert [{k: r[k] for k in ("group", "currency", "cost")} for r in api["rows"]] == cli["rows"]


def test_date_range_is_inclusive_and_filters_apply(world, frame):
    start, end = date(2024, 9, 10), date(2024, 9, 12)
    params = {"group_by": "service", "start": start, "end": end, "region": "us-east-1", "org": "t-acme"}
    payload = world.client("admin").get("/api/v1/costs/summary", params).json()
    subset = frame[(frame["day"] >= start) & (frame["day"] <= end) & (frame["region"] == "us-east-1")]
    assert len(subset) > 0
    assert api_rows(payload) == pandas_sum(subset, ["service"])
    one = frame["ServiceName"].value_counts().index[0]
    payload = world.client("admin").get("/api/v1/costs/summary", {"group_by": "region", "service": one}).json()
    assert api_rows(payload) == pandas_sum(frame[frame["ServiceName"] == one], ["region"])


def test_tag_filter(world, frame):
    payload = world.client("admin").get("/api/v1/costs/summary", {"group_by": "service", "tag": "environment=prod"})
    assert payload.status_code == 200
    subset = frame[frame["environment"] == "prod"]
    assert len(subset) > 0
    assert api_rows(payload.json()) == pandas_sum(subset, ["service"])


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_timeseries_totals_equal_pandas(world, frame, granularity):
    payload = (
        world.client("viewer")
        .get("/api/v1/costs/timeseries", {"granularity": granularity, "group_by": "service", "metric": "effective"})
        .json()
    )
    df = frame.copy()
    if granularity == "week":
        df["period"] = [d - timedelta(days=d.weekday()) for d in df["day"]]
    elif granularity == "month":
        df["period"] = [d.replace(day=1) for d in df["day"]]
    else:
        df["period"] = df["day"]
    expected = {(p.isoformat(), s): v for (p, s), v in pandas_sum(df, ["period", "service"], "effective").items()}
    got = {(r["period"], r["groups"][0]): Decimal(r["cost"]) for r in payload["rows"]}
    assert got == expected
    assert payload["granularity"] == granularity
    periods = [r["period"] for r in payload["rows"]]
    assert periods == sorted(periods)
    # Without a group-by: one total per period.
    totals = world.client("viewer").get("/api/v1/costs/timeseries", {"granularity": granularity}).json()["rows"]
    by_period = df.groupby("period")["BilledCost"].sum()
    assert {r["period"]: Decimal(r["cost"]) for r in totals} == {p.isoformat(): v for p, v in by_period.items()}


def test_engineer_sees_only_their_teams_rows(world, frame):
    team = world.engineer_team
    mine = frame[frame["team_value"] == team.tag_value]
    assert 0 < len(mine) < len(frame)
    for path, extra in (("/api/v1/costs/summary", {}), ("/api/v1/costs/summary", {"group_by": "tag:environment"})):
        payload = world.client("engineer").get(path, {"group_by": "service", **extra}).json()
        columns = ["environment"] if extra else ["service"]
        assert api_rows(payload) == pandas_sum(mine, columns)
    teams = world.client("engineer").get("/api/v1/costs/summary", {"group_by": "team"}).json()
    assert [r["group"] for r in teams["rows"]] == [team.slug]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "colour"}, "group_by"),
        ({"group_by": "service,region,account"}, "group_by"),
        ({"metric": "cheapest"}, "metric"),
        ({"start": "2024-13-01"}, "start"),
        ({"tag": "no-equals-sign"}, "tag"),
    ],
)
def test_bad_parameters_are_400_with_the_field(world, params, field):
    response = world.client("admin").get("/api/v1/costs/summary", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]


def test_start_after_end_is_400(world):
    response = world.client("admin").get("/api/v1/costs/summary", {"start": "2024-09-10", "end": "2024-09-01"})
    assert response.status_code == 400 and "after" in response.json()["error"]["message"]
