"""Behaviour of the domain endpoints, numbers checked independently: carbon/summary equals ``carbon_report
--format json``; budgets CRUD round trip, validation errors and the live state against a pandas sum of the
fixture; anomaly feedback stored; forecasts of the latest run with filters; optimizer runs POST -> 202 ->
executed -> results and purchases as stored, Idempotency-Key; rightsizing run and recommendations."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from finops.accounts.services import membership_set, organization_get_or_create
from finops.budgets.models import Budget
from finops.carbon.services import carbon_recompute
from finops.forecasting.models import Anomaly, AnomalyFeedback, ForecastRun, SeriesForecast
from optimizer.models import OptimizationRun, Recommendation
from optimizer.rightsizing.models import RightsizingRun
from optimizer.rightsizing.selectors import rightsizing_payload
from optimizer.services import optimization_run_execute
from tests.api import api_fixtures
from tests.optimizer.optruns_helpers import ingest_fixture, seed_catalog

pytestmark = pytest.mark.django_db
world = api_fixtures.world  # the module-scoped fixture, re-exported for pytest


# --- carbon ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [{}, {"group_by": "region"}, {"group_by": "month", "start": "2024-09-03", "end": "2024-09-20"}],
    ids=["default", "region", "month-range"],
)
def test_carbon_summary_equals_carbon_report_json(world, params):
    carbon_recompute(organization=world.org)
    out = StringIO()
    args = ["carbon_report", "--org", world.org.slug, "--format", "json"]
    for name, value in params.items():
        args += [f"--{name.replace('_', '-')}", value]
    call_command(*args, stdout=out)
    expected = json.loads(out.getvalue())
    response = world.client("finance").get("/api/v1/carbon/summary", params)
    assert response.status_code == 200
    assert response.json() == expected
    assert expected["rows"], "the fixture has compute usage: rows expected"


def test_carbon_summary_bad_input_is_field_level(world):
    client = world.client("admin")
    bad = client.get("/api/v1/carbon/summary", {"group_by": "colour"}).json()["error"]
    assert bad["code"] == "invalid" and "group_by" in bad["fields"]
    backwards = client.get("/api/v1/carbon/summary", {"start": "2024-09-20", "end": "2024-09-01"}).json()["error"]
    assert backwards["fields"]["start"] == ["start 2024-09-20 is after end 2024-09-01"]


# --- budgets -----------------------------------------------------------------------------------------------
BUDGET = {
    "name": "Platform monthly",
    "amount": "1234.50",
    "period": "monthly",
    "cost_metric": "billed",
    "thresholds": [{"percent": "80", "kind": "actual"}, {"percent": "100", "kind": "forecast"}],
    "recipient_emails": ["finops@example.com"],
}


def test_budget_crud_round_trip(world):
    client = world.client("finance")
    created = client.post("/api/v1/budgets/", BUDGET, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert created["Location"] == body["url"] and body["url"].endswith(f"/api/v1/budgets/{body['id']}/")
    stored = Budget.objects.get(pk=body["id"])
    assert stored.organization == world.org and stored.amount == Decimal("1234.50")
    assert body["amount"] == "1234.5" and body["scope"] == {} and body["currency"] == "USD"
    assert body["status"] == "" and body["evaluation"] == {}
    assert client.get(body["url"]).json() == body

    get_user_model().objects.filter(username="t-finance").update(email="finance@example.com")
    patched = client.patch(body["url"], {"amount": "2000", "recipient_users": ["t-finance"]}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["amount"] == "2000" and patched.json()["recipient_users"] == ["t-finance"]
    assert patched.json()["thresholds"] == body["thresholds"]  # untouched by the PATCH

    replaced = client.put(body["url"], {"name": "Renamed", "amount": "10"}, format="json")
    assert replaced.status_code == 200
    assert replaced.json()["thresholds"] == [] and replaced.json()["name"] == "Renamed"  # PUT replaces all

    assert client.delete(body["url"]).status_code == 204
    assert not Budget.objects.filter(pk=body["id"]).exists()
    assert client.get(body["url"]).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": 12.5}, "amount", "Amount must be a decimal number (as a string), got 12.5."),
        ({"amount": "-3"}, "amount", "Amount must be greater than zero, got -3."),
        ({"name": ""}, "name", "A name is required."),
        ({"period": "weekly"}, "period", "Period must be one of"),
        ({"scope": {"team": ["no-such-team"]}}, "scope.team", "no-such-team"),
        ({"recipient_emails": ["not-an-address"]}, "recipient_emails", "Invalid email address(es): not-an-address."),
        ({"colour": "red"}, "colour", "Unknown field."),
        ({"name": "nul\x00name"}, "name", "NUL characters are not allowed."),  # PostgreSQL text cannot hold it
        ({"recipient_users": [{}]}, "recipient_users", "Recipient users must be a list of user ids or usernames."),
    ],
)
def test_budget_validation_errors_are_field_level_and_write_nothing(world, change, field, message):
    before = Budget.objects.count()
    response = world.client("admin").post("/api/v1/budgets/", {**BUDGET, **change}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert any(message in m for m in error["fields"][field]), error
    assert Budget.objects.count() == before


def test_budget_name_clash_and_alerts_and_state(world):
    client = world.client("admin")
    first = client.post("/api/v1/budgets/", BUDGET, format="json").json()
    clash = client.post("/api/v1/budgets/", BUDGET, format="json")
    assert clash.status_code == 400 and "already exists" in clash.json()["error"]["fields"]["name"][0]
    assert client.get(f"/api/v1/budgets/{first['id']}/alerts/").json() == []

    state = client.get(f"/api/v1/budgets/{first['id']}/state/", {"today": "2024-09-30"})
    assert state.status_code == 200, state.content
    body = state.json()
    rows = pd.DataFrame(world.rows)  # the whole fixture is September 2024: the period's actual is all of it
    expected = sum((Decimal(v) for v in rows["BilledCost"] if v not in ("", "NULL")), Decimal(0))
    assert Decimal(body["actual"]) == expected
    assert (body["period_start"], body["period_end"], body["as_of"]) == ("2024-09-01", "2024-09-30", "2024-09-30")
    assert Decimal(body["amount"]) == Decimal("1234.50") and body["amount_source"] == "fixed"
    crossed = {(t["threshold"], t["kind"]) for t in body["thresholds_crossed"]}
    assert ((80, "actual") in crossed) == (expected >= Decimal("1234.50") * Decimal("0.8"))
    bad_day = client.get(f"/api/v1/budgets/{first['id']}/state/", {"today": "soon"}).json()["error"]
    assert "today" in bad_day["fields"]


def test_budget_list_is_cheap_stored_state(world, django_assert_max_num_queries):
    client = world.client("finance")
    for i in range(3):
        client.post("/api/v1/budgets/", {**BUDGET, "name": f"b{i}"}, format="json")
    Budget.objects.filter(organization=world.org).update(last_status="at_risk", last_evaluation={"status": "at_risk"})
    with django_assert_max_num_queries(12):  # no evaluation (no cost reads) per budget
        rows = client.get("/api/v1/budgets/").json()["results"]
    assert len(rows) == 3 and {r["status"] for r in rows} == {"at_risk"}


# --- forecasts and anomalies -------------------------------------------------------------------------------
def test_forecasts_are_the_latest_runs_with_filters(world):
    domain = api_fixtures.build_domain(world)
    older = ForecastRun.objects.create(organization=world.org, as_of=date(2024, 8, 1), status="succeeded")
    stale = SeriesForecast.objects.create(
        run=older, organization=world.org, metric="effective", currency="USD", dimension="total", key="",
        model="naive", reason="short_history", history_start=date(2024, 7, 1), history_end=date(2024, 8, 1),
        sigma=1.0, points={},
    )  # fmt: skip
    client = world.client("viewer")
    rows = client.get("/api/v1/forecasts/").json()["results"]
    ids = {r["id"] for r in rows}
    assert ids == {domain.own["forecasts"].pk, domain.org_wide["forecasts"].pk} and stale.pk not in ids
    team_rows = client.get("/api/v1/forecasts/", {"dimension": "team"}).json()["results"]
    assert [r["key"] for r in team_rows] == [world.engineer_team.slug]
    row = team_rows[0]
    assert row["as_of"] == "2024-09-15" and row["points"]["point"] == ["10.00", "11.50"]
    projection = row["projections"][0]
    assert (projection["period"], projection["total"], projection["actual_to_date"]) == ("month", "150.75", "100.25")
    assert client.get("/api/v1/forecasts/", {"metric": "billed"}).json()["results"] == []
    assert client.get("/api/v1/forecasts/", {"dimension": "planet"}).status_code == 400
    assert client.get(f"/api/v1/forecasts/{stale.pk}/").status_code == 200  # a detail reads any stored one


def test_anomaly_detail_and_feedback_stored(world):
    domain = api_fixtures.build_domain(world)
    anomaly = domain.own["anomalies"]
    client = world.client("engineer")
    detail = client.get(f"/api/v1/anomalies/{anomaly.pk}/").json()
    assert (detail["actual"], detail["expected"], detail["impact"]) == ("35.125", "10", "25.125")
    assert detail["root_cause"][0]["key"] == "AmazonEC2" and detail["feedback"] == []
    response = client.post(
        f"/api/v1/anomalies/{anomaly.pk}/feedback/", {"verdict": "expected", "note": "launch"}, format="json"
    )
    assert response.status_code == 201, response.content
    stored = AnomalyFeedback.objects.get(anomaly=anomaly)
    assert (stored.user.username, stored.verdict, stored.note) == ("t-engineer", "expected", "launch")
    assert Anomaly.objects.get(pk=anomaly.pk).verdict == "expected"
    again = client.get(f"/api/v1/anomalies/{anomaly.pk}/").json()
    assert again["verdict"] == "expected" and [f["note"] for f in again["feedback"]] == ["launch"]
    viewer = world.client("viewer").post(f"/api/v1/anomalies/{anomaly.pk}/feedback/", {"verdict": "confirmed"})
    assert viewer.status_code == 403 and AnomalyFeedback.objects.filter(anomaly=anomaly).count() == 1
    days = client.get("/api/v1/anomalies/", {"start": "2024-09-16"}).json()["results"]
    assert days == []


# --- optimizer runs and rightsizing ------------------------------------------------------------------------
@pytest.fixture
def optimizer_org(tmp_path):
    organization, _ = organization_get_or_create(slug="opt-api", name="Opt API")
    ingest_fixture(organization, tmp_path)
    seed_catalog()
    membership, _ = membership_set(username="opt-admin", organization=organization, role="admin", password="pw")
    client = APIClient()
    client.force_login(membership.user)
    return organization, client


def test_optimizer_run_post_202_execute_and_read(optimizer_org, django_capture_on_commit_callbacks):
    organization, client = optimizer_org
    options = {"lookback_days": 7, "term": "1y", "payment": "no", "backtest": False}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/v1/optimizer/runs/", options, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"] and body["status"] == "pending"
    assert len(callbacks) == 1  # the Celery task is queued on commit
    run = OptimizationRun.objects.get(pk=body["id"])
    assert run.organization == organization and run.parameters["payment"] == "no_upfront"

    # A retry with the same key starts nothing and answers the first response.
    with django_capture_on_commit_callbacks(execute=False) as retry_callbacks:
        retry = client.post("/api/v1/optimizer/runs/", options, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert retry.status_code == 202 and retry.json()["id"] == run.pk and retry["Idempotent-Replayed"] == "true"
    assert not retry_callbacks and OptimizationRun.objects.filter(organization=organization).count() == 1
    conflict = client.post(
        "/api/v1/optimizer/runs/", {**options, "lookback_days": 30}, format="json", HTTP_IDEMPOTENCY_KEY="run-1"
    )
    assert conflict.status_code == 409 and OptimizationRun.objects.filter(organization=organization).count() == 1

    optimization_run_execute(run)  # what the task does, inline
    detail = client.get(body["url"]).json()
    run.refresh_from_db()
    assert detail["status"] == "succeeded", detail["error"]
    assert detail["results"] == json.loads(json.dumps(run.results))  # passed through as stored
    recs = list(Recommendation.objects.filter(run=run).order_by("position"))
    assert recs and [p["offer_id"] for p in detail["purchases"]] == [r.offer_id for r in recs]
    assert [Decimal(p["monthly_savings"]) for p in detail["purchases"]] == [
        r.monthly_savings.quantize(Decimal("0.01")) for r in recs
    ]
    assert client.get(f"{body['url']}purchases/").json() == detail["purchases"]
    assert client.get(f"{body['url']}backtest/").json() == {"id": run.pk, "status": "succeeded", "backtest": None}
    listed = client.get("/api/v1/optimizer/runs/").json()["results"]
    assert [r["id"] for r in listed] == [run.pk] and "results" not in listed[0]


def test_optimizer_run_options_are_validated_field_by_field(optimizer_org):
    organization, client = optimizer_org
    response = client.post(
        "/api/v1/optimizer/runs/",
        {"lookback_days": 5, "term": "2y", "max_spot_share": 2, "teams": ["ghost"], "colour": "red"},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"lookback_days", "term", "max_spot_share", "teams", "colour"}
    assert fields["lookback_days"] == ["must be one of 7, 30, 60, 90, got 5"]
    assert fields["teams"] == ["unknown team(s) in opt-api: ghost"]
    assert not OptimizationRun.objects.filter(organization=organization).exists()


def test_rightsizing_post_runs_inline_and_get_reads_the_latest(optimizer_org):
    organization, client = optimizer_org
    assert client.get("/api/v1/rightsizing").json()["run"] is None
    response = client.post("/api/v1/rightsizing", {"lookback_days": 7, "max_changes": 2}, format="json")
    assert response.status_code == 201, response.content
    run = RightsizingRun.objects.get(organization=organization)
    expected = json.loads(json.dumps(rightsizing_payload(run)))
    assert response.json() == expected
    assert {r["resource_id"] for r in expected["recommendations"]} == {
        "asg/api",
        "asg/steady",
        "asg/batch",
        "asg/ci",
        "asg/dev",
    }
    assert run.parameters and client.get("/api/v1/rightsizing").json() == expected


def test_rightsizing_without_usage_is_a_conflict_and_stores_nothing():
    organization, _ = organization_get_or_create(slug="empty-api", name="Empty")
    membership, _ = membership_set(username="empty-admin", organization=organization, role="admin", password="pw")
    client = APIClient()
    client.force_login(membership.user)
    response = client.post("/api/v1/rightsizing", {}, format="json")
    assert response.status_code == 409
    assert "ingest billing data first" in response.json()["error"]["message"]
    assert not RightsizingRun.objects.filter(organization=organization).exists()
