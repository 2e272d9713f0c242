"""The tenant-isolation matrix, continued for the domain endpoints: optimizer runs, rightsizing, forecasts,
anomalies, budgets and carbon. Every endpoint x every caller kind x own/other organization: other-organization
objects are 404, lists never include another organization's rows, engineers see only their teams' series and
budgets (and no organization-wide optimizer runs or carbon), viewers and read tokens cannot write."""

from __future__ import annotations

import pytest

from finops.budgets.models import Budget
from finops.forecasting.models import AnomalyFeedback
from optimizer.models import OptimizationRun
from optimizer.rightsizing.models import RightsizingRun
from tests.api import api_fixtures
from tests.api.api_fixtures import ROLES

pytestmark = pytest.mark.django_db
world = api_fixtures.world  # the module-scoped fixture, re-exported for pytest

ENDPOINTS = ["optimizer/runs", "forecasts", "anomalies", "budgets"]
NOT_FOR_ENGINEERS = {"optimizer/runs", "carbon/summary"}  # organization-wide numbers
MANAGERS = {"admin", "finance", "token_write"}  # tokens of this world belong to the admin user
WRITERS = MANAGERS | {"engineer"}


@pytest.fixture(scope="module")
def domain(world, django_db_blocker):
    with django_db_blocker.unblock():
        return api_fixtures.build_domain(world)  # removed with the organizations by the world's teardown


def may_read(role: str, endpoint: str) -> bool:
    return not (role == "engineer" and endpoint in NOT_FOR_ENGINEERS)


def _all_pages(client, url: str) -> list[dict]:
    rows = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        rows += page["results"]
        url = page["next"]
    return rows


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_domain_lists_hold_only_own_rows(world, domain, role, endpoint):
    client = world.client(role)
    response = client.get(f"/api/v1/{endpoint}/")
    if not may_read(role, endpoint):
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
        return
    listed = {r["id"] for r in _all_pages(client, f"/api/v1/{endpoint}/")}
    assert domain.own[endpoint].pk in listed
    assert domain.other[endpoint].pk not in listed
    model = type(domain.own[endpoint])
    assert not listed & set(model.objects.filter(organization=world.other).values_list("pk", flat=True))
    wide = domain.org_wide.get(endpoint)
    if wide is not None:
        assert (wide.pk in listed) == (role != "engineer")  # engineers: their teams' series and budgets only


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("own", [True, False], ids=["own", "other"])
def test_domain_detail_is_404_outside_the_organization(world, domain, role, endpoint, own):
    obj = (domain.own if own else domain.other)[endpoint]
    client = world.client(role)
    paths = [f"/api/v1/{endpoint}/{obj.pk}/"]
    paths += {
        "optimizer/runs": [f"/api/v1/optimizer/runs/{obj.pk}/purchases/", f"/api/v1/optimizer/runs/{obj.pk}/backtest/"],
        "budgets": [f"/api/v1/budgets/{obj.pk}/alerts/"],
    }.get(endpoint, [])
    for path in paths:
        response = client.get(path)
        if not may_read(role, endpoint):
            assert response.status_code == 403, path
        elif own:
            assert response.status_code == 200, path
        else:
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ["engineer"])
@pytest.mark.parametrize("endpoint", ["forecasts", "anomalies", "budgets"])
def test_engineers_get_404_for_organization_wide_objects(world, domain, role, endpoint):
    response = world.client(role).get(f"/api/v1/{endpoint}/{domain.org_wide[endpoint].pk}/")
    assert response.status_code == 404
    assert world.client("finance").get(f"/api/v1/{endpoint}/{domain.org_wide[endpoint].pk}/").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_rightsizing_and_carbon_by_role(world, domain, role):
    client = world.client(role)
    response = client.get("/api/v1/rightsizing")
    assert response.status_code == 200
    body = response.json()
    own_run = RightsizingRun.objects.get(organization=world.org)
    assert body["run"] == own_run.pk
    resources = {r["resource_id"] for r in body["recommendations"]}
    assert all(r.endswith("-t-acme") for r in resources)
    if role == "engineer":  # only the team's resource; the total is of those rows (30.00)
        assert resources == {"i-team-t-acme"} and body["total_monthly_savings"] == "30.00"
    else:
        assert resources == {"i-team-t-acme", "i-wide-t-acme"} and body["total_monthly_savings"] == "70.00"
    carbon = client.get("/api/v1/carbon/summary")
    assert carbon.status_code == (403 if role == "engineer" else 200)


# role -> (POST run, POST budget, PATCH other budget, DELETE other budget, feedback on other anomaly,
#          bad feedback on own anomaly, POST rightsizing with a bad option)
def _expected(role: str) -> tuple[int, ...]:
    manager = role in MANAGERS
    writer = role in WRITERS
    return (
        400 if manager else 403,
        400 if manager else 403,
        404 if manager else 403,
        404 if manager else 403,
        404 if writer else 403,
        400 if writer else 403,
        400 if manager else 403,
    )


@pytest.mark.parametrize("role", ROLES)
def test_domain_writes_by_role_and_scope(world, domain, role):
    client = world.client(role)
    other_budget, other_anomaly = domain.other["budgets"], domain.other["anomalies"]
    runs_before = OptimizationRun.objects.count()
    got = (
        client.post("/api/v1/optimizer/runs/", {"lookback_days": 5}, format="json").status_code,
        client.post("/api/v1/budgets/", {}, format="json").status_code,
        client.patch(f"/api/v1/budgets/{other_budget.pk}/", {"name": "taken"}, format="json").status_code,
        client.delete(f"/api/v1/budgets/{other_budget.pk}/").status_code,
        client.post(f"/api/v1/anomalies/{other_anomaly.pk}/feedback/", {"verdict": "expected"}).status_code,
        client.post(f"/api/v1/anomalies/{domain.own['anomalies'].pk}/feedback/", {"verdict": "nope"}).status_code,
        client.post("/api/v1/rightsizing", {"lookback_days": 0}, format="json").status_code,
    )
    assert got == _expected(role)
    # Nothing of the other organization changed, nothing was started or written.
    assert Budget.objects.get(pk=other_budget.pk).name == other_budget.name
    assert OptimizationRun.objects.count() == runs_before
    assert not AnomalyFeedback.objects.exists()
    assert RightsizingRun.objects.filter(organization=world.org).count() == 1


def test_other_organization_token_sees_only_its_domain_objects(world, domain):
    client = world.client("other_token")
    for endpoint in ENDPOINTS:
        listed = {r["id"] for r in _all_pages(client, f"/api/v1/{endpoint}/")}
        assert domain.other[endpoint].pk in listed and domain.own[endpoint].pk not in listed
        assert client.get(f"/api/v1/{endpoint}/{domain.own[endpoint].pk}/").status_code == 404
    body = client.get("/api/v1/rightsizing").json()
    assert {r["resource_id"] for r in body["recommendations"]} == {"i-team-t-other", "i-wide-t-other"}
