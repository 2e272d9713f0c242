"""What-if on a stored run, through the command, the API and the run page: a steady fleet whose what-if cost is
worked out by hand from the catalog's rows (hours x rates), the run's own plan priced at the run's optimum, bad
files refused naming the field, and who may ask (admins, finance and viewers read runs; engineers do not)."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from finops.accounts.services import membership_set, organization_get_or_create
from finops.api.services import token_create
from finops.usage.models import LineItem
from optimizer.models import OptimizationRun
from optimizer.services import optimization_run_create, optimization_run_execute
from optimizer.whatif_selectors import WhatIfUnavailable, run_what_if
from pricing.models import Price, Term
from tests import factories
from tests.optimizer.optruns_helpers import START, ingest_fixture, on_demand, seed_catalog, steady_rows

pytestmark = pytest.mark.django_db

COUNT = 5  # m5.large instances running every hour
HOURS = 7 * 24
RI = "ri:m5@us-east-1:1y:standard:no_upfront"
SP = "sp:compute:1y:no_upfront"


@pytest.fixture(scope="module")
def fleet_run(django_db_setup, django_db_blocker, tmp_path_factory):
    """The steady fleet, its catalog, a succeeded run and three members, written once for the module and committed
    (each test's own writes roll back with its transaction), deleted after its last test."""
    with django_db_blocker.unblock():
        organization, _ = organization_get_or_create(slug="steady", name="Steady")
        price = float(on_demand("m5.large", "us-east-1"))
        ingest_fixture(
            organization,
            tmp_path_factory.mktemp("fleet"),
            steady_rows({"i-web": ("m5.large", "us-east-1", COUNT)}, {("m5.large", "us-east-1"): price}),
        )
        seed_catalog([("m5.large", "us-east-1")])  # its spot history is from 2022: stale, so no spot is planned
        run = optimization_run_create(
            organization=organization, parameters={"lookback_days": 7, "backtest": False}, enqueue=False
        )
        run = optimization_run_execute(run)
        assert run.status == "succeeded", run.error
        for username, role in (("fin", "finance"), ("view", "viewer"), ("eng", "engineer")):
            membership_set(username=username, organization=organization, role=role, password="pw")
    yield run.pk
    with django_db_blocker.unblock():
        OptimizationRun.objects.filter(organization=organization).delete()
        factories.delete_organizations([organization], usernames=["fin", "view", "eng"])
        factories.delete_catalog()


@pytest.fixture
def fleet(fleet_run):
    return OptimizationRun.objects.get(pk=fleet_run)


def _rate(term: str, **fields) -> Decimal:
    """The catalog row's hourly rate for m5.large in us-east-1, read straight from the price table."""
    row = Price.objects.get(sku__instance_type="m5.large", sku__region="us-east-1", term=term, lease_years=1, **fields)
    assert row.upfront == 0
    return row.hourly


def _document(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_what_if_cost_by_hand_from_the_catalog_rows(fleet):
    od = on_demand("m5.large", "us-east-1")
    ri = _rate(Term.RESERVED, purchase_option="no_upfront", offering_class="standard")
    sp = _rate(Term.SAVINGS_PLAN, purchase_option="no_upfront", plan_type="compute")
    # 3 reserved units, a plan commitment that buys exactly one instance-hour per hour, the fifth on demand.
    answer = run_what_if(
        fleet,
        {"reservations": [{"offer": RI, "count": 3}], "savings_plans": [{"offer": SP, "hourly_commitment": str(sp)}]},
    )
    mine = answer["rows"][0]
    assert mine["strategy"] == "what_if" and answer["consistent_with_run"] is True
    expected = HOURS * (3 * ri + sp + (COUNT - 4) * od)
    assert Decimal(mine["cost"]) == expected.quantize(Decimal("0.01"))
    assert Decimal(mine["all_on_demand"]) == (HOURS * COUNT * od).quantize(Decimal("0.01"))
    assert Decimal(mine["savings"]) == (HOURS * COUNT * od - expected).quantize(Decimal("0.01"))
    assert mine["breakdown"] == {
        "reservations": str((HOURS * 3 * ri).quantize(Decimal("0.01")).normalize()),
        "savings_plans": str((HOURS * sp).quantize(Decimal("0.01")).normalize()),
        "spot": "0",
        "on_demand": str((HOURS * od).quantize(Decimal("0.01")).normalize()),
    }
    assert mine["coverage"] == pytest.approx(4 / COUNT) and mine["utilization"] == pytest.approx(1.0)
    assert mine["break_even_hours"] == 1 and Decimal(mine["upfront"]) == 0
    assert [r["strategy"] for r in answer["rows"]] == ["what_if", "optimizer", "p10_reserved", "console_savings_plan"]
    # Five steady instances: the optimum serves them all at the cheapest committed rate; the what-if pays more.
    optimal = Decimal(answer["rows"][1]["cost"])
    assert optimal == Decimal(fleet.results["objective"]) and optimal < Decimal(mine["cost"])
    assert Decimal(answer["differences"]["optimizer"]["cost"]) == Decimal(mine["cost"]) - optimal
    (reserved, plan) = sorted(answer["what_if"]["purchases"], key=lambda p: p["kind"])
    assert reserved["offer_id"] == RI and reserved["quantity"] == "3" and reserved["expected_utilization"] == 1.0
    assert plan["offer_id"] == SP and Decimal(plan["quantity"]) == sp


def test_the_runs_own_plan_costs_the_runs_optimum(fleet):
    purchases = fleet.results["purchases"]
    document = {
        "reservations": [
            {"offer": p["offer_id"], "count": int(Decimal(p["quantity"]))}
            for p in purchases
            if p["kind"] == "reservation"
        ],
        "savings_plans": [
            {"offer": p["offer_id"], "hourly_commitment": p["quantity"]}
            for p in purchases
            if p["kind"] == "savings_plan"
        ],
    }
    answer = run_what_if(fleet, document)
    mine, optimizer = answer["rows"][0], answer["rows"][1]
    assert mine["cost"] == optimizer["cost"] == fleet.results["objective"]
    assert mine["savings"] == fleet.results["savings"] and answer["best"] == "what_if"
    assert answer["differences"]["optimizer"]["cost"] == "0"


def test_changed_usage_is_said_not_hidden(fleet):
    LineItem.objects.filter(organization=fleet.organization, charge_period_start__gte=START.replace(day=12)).delete()
    answer = run_what_if(fleet, {})
    assert answer["consistent_with_run"] is False
    assert any("changed since run" in note for note in answer["notes"])


def test_a_run_that_did_not_succeed_cannot_answer(fleet):
    pending = optimization_run_create(organization=fleet.organization, parameters={"lookback_days": 7}, enqueue=False)
    with pytest.raises(WhatIfUnavailable, match="pending"):
        run_what_if(pending, {})


# --- the command ------------------------------------------------------------------------------------------


def _command(*args: str) -> str:
    out = StringIO()
    call_command("recommend_commitments", *args, stdout=out)
    return out.getvalue()


def test_command_on_an_existing_run(fleet, tmp_path):
    path = _document(tmp_path / "mine.json", {"reservations": [{"offer": RI, "count": 2}]})
    before = OptimizationRun.objects.count()
    detail = json.loads(_command("--org", "steady", "--run", str(fleet.pk), "--what-if", path, "--json"))
    assert OptimizationRun.objects.count() == before  # priced on the run: nothing solved or stored anew
    assert detail["id"] == fleet.pk and detail["what_if"]["rows"][0]["purchases"] == {RI: "2"}
    text = _command("--org", "steady", "--run", str(fleet.pk), "--what-if", path)
    assert "What-if on run" in text and "console_savings_plan" in text and "more than the optimal plan" in text


def test_command_with_a_fresh_run(fleet, tmp_path):
    path = _document(tmp_path / "mine.json", {"savings_plans": [{"offer": SP, "hourly_commitment": "0.05"}]})
    detail = json.loads(_command("--org", "steady", "--lookback-days", "7", "--what-if", path, "--json"))
    assert detail["id"] != fleet.pk and detail["what_if"]["run"] == detail["id"]
    assert detail["what_if"]["rows"][1]["cost"] == detail["results"]["objective"]


@pytest.mark.parametrize(
    ("document", "extra", "message"),
    [
        ({"reservations": [{"offer": RI, "count": 1.5}]}, [], "reservations[0].count: must be a whole number"),
        ({"reservations": [{"offer": "ri:nope", "count": 1}]}, [], "reservations[0].offer: offer 'ri:nope' is not one"),
        ({"savings_plans": [{"offer": SP, "hourly_commitment": "x"}]}, [], "savings_plans[0].hourly_commitment"),
        ("{not json", [], "invalid JSON"),
    ],
)
def test_command_refuses_a_bad_file_naming_the_field(fleet, tmp_path, document, extra, message):
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(CommandError) as info:
        _command("--org", "steady", "--run", str(fleet.pk), "--what-if", str(path), *extra)
    assert info.value.returncode == 2 and message in str(info.value)


def test_command_refuses_a_bad_file_before_solving(fleet, tmp_path):
    path = _document(tmp_path / "bad.json", {"reservations": [{"offer": RI, "count": -2}]})
    before = OptimizationRun.objects.count()
    with pytest.raises(CommandError, match=r"reservations\[0\]\.count: must not be negative") as info:
        _command("--org", "steady", "--lookback-days", "7", "--what-if", str(path))
    assert info.value.returncode == 2 and OptimizationRun.objects.count() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "1"], "--run needs --what-if"),
        (["--what-if", "{path}", "--enqueue"], "not with --enqueue"),
        (["--what-if", "{missing}"], "cannot read"),
        (["--run", "999999", "--what-if", "{path}"], "no run 999999 in steady"),
    ],
)
def test_command_option_errors(fleet, tmp_path, args, message):
    path = _document(tmp_path / "ok.json", {})
    args = [a.format(path=path, missing=tmp_path / "missing.json") for a in args]
    with pytest.raises(CommandError, match=message) as info:
        _command("--org", "steady", *args)
    assert info.value.returncode == 2


# --- the API and the page ---------------------------------------------------------------------------------


def _api(username: str) -> APIClient:
    client = APIClient()
    assert client.login(username=username, password="pw")
    return client


def test_api_what_if_by_role(fleet):
    url = f"/api/v1/optimizer/runs/{fleet.pk}/what-if/"
    body = {"reservations": [{"offer": RI, "count": 2}]}
    finance = _api("fin").post(url, body, format="json")
    assert finance.status_code == 200, finance.content
    assert finance.json()["rows"][0]["purchases"] == {RI: "2"}
    viewer = _api("view").post(url, body, format="json")  # writes nothing: readers may ask
    assert viewer.status_code == 200 and viewer.json()["rows"] == finance.json()["rows"]
    assert _api("eng").post(url, body, format="json").status_code == 403
    assert APIClient().post(url, body, format="json").status_code == 401
    other, _ = organization_get_or_create(slug="other", name="Other")
    membership_set(username="stranger", organization=other, role="finance", password="pw")
    assert _api("stranger").post(url, body, format="json").status_code == 404


def test_api_refuses_a_bad_document_naming_the_field_and_a_pending_run(fleet):
    client = _api("fin")
    bad = client.post(
        f"/api/v1/optimizer/runs/{fleet.pk}/what-if/",
        {"reservations": [{"offer": SP, "count": 1}], "savings_plans": [{"offer": SP, "hourly_commitment": -1}]},
        format="json",
    )
    assert bad.status_code == 400
    fields = bad.json()["error"]["fields"]
    assert "list it under savings_plans" in fields["reservations[0].offer"][0]
    assert "must not be negative" in fields["savings_plans[0].hourly_commitment"][0]
    pending = optimization_run_create(organization=fleet.organization, parameters={"lookback_days": 7}, enqueue=False)
    conflict = client.post(f"/api/v1/optimizer/runs/{pending.pk}/what-if/", {}, format="json")
    assert conflict.status_code == 409 and "pending" in conflict.json()["error"]["message"]


def test_api_read_only_token_cannot_post_a_what_if(fleet):
    user = get_user_model().objects.get(username="view")
    key = token_create(user=user, organization=fleet.organization, name="ro", scope="read").key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(f"/api/v1/optimizer/runs/{fleet.pk}/what-if/", {}, format="json").status_code == 403


def _page(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password="pw")
    return client


def test_run_page_what_if_form_by_role(fleet):
    url = f"/optimizer/runs/{fleet.pk}/"
    plain = _page("view").get(url).content.decode()
    assert 'id="what-if-text"' in plain and 'id="what-if-table"' not in plain
    assert all(p["offer_id"] in plain for p in fleet.results["purchases"])  # the form starts as the run's plan
    query = {"what_if": json.dumps({"reservations": [{"offer": RI, "count": 3}]})}
    for username in ("fin", "view"):
        page = _page(username).get(url, query)
        html = page.content.decode()
        assert page.status_code == 200 and 'id="what-if-table"' in html
        assert 'data-strategy="what_if"' in html and 'data-strategy="console_savings_plan"' in html
    assert _page("eng").get(url, query).status_code == 403
    bad = _page("fin").get(url, {"what_if": json.dumps({"reservations": [{"offer": RI, "count": -1}]})})
    assert bad.status_code == 400
    assert "reservations[0].count</code>: must not be negative" in bad.content.decode()
