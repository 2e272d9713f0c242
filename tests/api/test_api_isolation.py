"""The tenant-isolation matrix: every endpoint x every caller kind x own/other organization.

Other-organization objects are 404 (never 403), lists never include another organization's rows, and
role rules hold (members: admin only; engineers: their teams' rows; viewers and read tokens: no writes)."""

from __future__ import annotations

import pytest

from finops.accounts.models import Membership, Team
from finops.api.models import ApiToken
from finops.usage.models import IngestJob, LineItem
from tests.api import api_fixtures
from tests.api.api_fixtures import OTHER_ACCOUNT, ROLES

pytestmark = pytest.mark.django_db
world = api_fixtures.world  # the module-scoped fixture, re-exported for pytest

ADMIN_ONLY = {"members"}
# endpoint -> (model, how a detail URL names an object)
OBJECT_ENDPOINTS = {
    "line-items": (LineItem, "pk"),
    "ingest-jobs": (IngestJob, "pk"),
    "organizations": (None, "slug"),
    "teams": (Team, "slug"),
    "members": (Membership, "pk"),
    "tokens": (ApiToken, "pk"),
}


def may_read(role: str, endpoint: str) -> bool:
    # Tokens in this world belong to the admin user.
    return endpoint not in ADMIN_ONLY or role in ("admin", "token_read", "token_write")


def _object(world, endpoint: str, own: bool, role: str = "admin"):
    organization = world.org if own else world.other
    model, field = OBJECT_ENDPOINTS[endpoint]
    if endpoint == "organizations":
        return organization.slug
    queryset = model.objects.filter(organization=organization)
    if endpoint == "line-items":
        queryset = queryset.filter(team_tag_value=world.engineer_team.tag_value) if own else queryset
    if endpoint == "tokens" and own:
        queryset = queryset.filter(user__username="t-admin" if role.startswith("token_") else f"t-{role}")
    return getattr(queryset.order_by("pk").first(), field)


def _all_pages(client, url: str) -> list[dict]:
    rows = []
    while url:
        page = client.get(url).json()
        rows += page["results"]
        url = page["next"]
    return rows


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(OBJECT_ENDPOINTS))
def test_lists_hold_only_own_rows(world, role, endpoint):
    client = world.client(role)
    response = client.get(f"/api/v1/{endpoint}/", {"page_size": 1000})
    if not may_read(role, endpoint):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        return
    assert response.status_code == 200
    rows = _all_pages(client, f"/api/v1/{endpoint}/?page_size=1000")
    model, field = OBJECT_ENDPOINTS[endpoint]
    if endpoint == "organizations":
        assert [r["slug"] for r in rows] == ["t-acme"]
        return
    other = set(model.objects.filter(organization=world.other).values_list(field, flat=True))
    listed = {r[field if field != "pk" else "id"] for r in rows}
    assert listed and not listed & other
    if endpoint == "tokens":
        mine = "t-admin" if role == "admin" or role.startswith("token_") else f"t-{role}"
        users = {r["username"] for r in rows}
        assert users == ({"t-admin", "t-finance", "t-engineer", "t-viewer"} if mine == "t-admin" else {mine})
    if endpoint == "line-items":
        assert OTHER_ACCOUNT not in {r["billing_account_id"] for r in rows}
        own = LineItem.objects.filter(organization=world.org)
        if role == "engineer":
            own = own.filter(team_tag_value=world.engineer_team.tag_value)
        assert listed == set(own.values_list("pk", flat=True))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(OBJECT_ENDPOINTS))
@pytest.mark.parametrize("own", [True, False], ids=["own", "other"])
def test_detail_is_404_outside_the_organization(world, role, endpoint, own):
    response = world.client(role).get(f"/api/v1/{endpoint}/{_object(world, endpoint, own, role)}/")
    if not may_read(role, endpoint):
        assert response.status_code == 403  # refused by role in their own organization: nothing leaks
    elif own:
        assert response.status_code == 200
    else:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/v1/costs/summary", {"group_by": "account"}), ("/api/v1/costs/timeseries", {"group_by": "account"})],
)
def test_costs_never_include_another_organization(world, role, path, params):
    response = world.client(role).get(path, params)
    assert response.status_code == 200
    groups = {r["group"] for r in response.json()["rows"]}
    assert groups and OTHER_ACCOUNT not in groups


@pytest.mark.parametrize("role", ["admin", "finance", "engineer", "viewer"])
def test_session_user_naming_another_organization_gets_404(world, role):
    for path in ("/api/v1/costs/summary", "/api/v1/teams/", "/api/v1/line-items/"):
        response = world.client(role).get(path, {"org": "t-other"})
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert world.client(role).get("/api/v1/teams/", {"org": "t-acme"}).status_code == 200


@pytest.mark.parametrize("role", ["token_read", "token_write"])
def test_a_token_ignores_org_parameter(world, role):
    rows = world.client(role).get("/api/v1/teams/", {"org": "t-other"}).json()["results"]
    assert rows and {r["slug"] for r in rows} <= set(
        Team.objects.filter(organization=world.org).values_list("slug", flat=True)
    )


WRITE_EXPECTED = {
    # role -> (POST tokens, DELETE other-org token, POST ingest-jobs without a file)
    "admin": (201, 404, 400),
    "finance": (201, 404, 400),
    "engineer": (201, 404, 403),
    "viewer": (201, 404, 403),
    "token_read": (403, 403, 403),
    "token_write": (201, 404, 400),
}


@pytest.mark.parametrize("role", ROLES)
def test_writes_by_role_and_scope(world, role):
    client = world.client(role)
    other_token = ApiToken.objects.filter(organization=world.other).first()
    got = (
        client.post("/api/v1/tokens/", {"name": "x"}, format="json").status_code,
        client.delete(f"/api/v1/tokens/{other_token.pk}/").status_code,
        client.post("/api/v1/ingest-jobs/", {}, format="multipart").status_code,
    )
    assert got == WRITE_EXPECTED[role]
    assert ApiToken.objects.get(pk=other_token.pk).revoked_at is None


def test_other_organization_token_sees_its_own_world_only(world):
    client = world.client("other_token")
    lines = _all_pages(client, "/api/v1/line-items/?page_size=1000")
    assert len(lines) == len(world.other_rows) and {r["billing_account_id"] for r in lines} == {OTHER_ACCOUNT}
    acme_job = IngestJob.objects.filter(organization=world.org).first()
    assert client.get(f"/api/v1/ingest-jobs/{acme_job.pk}/").status_code == 404


def test_catalogs_need_authentication_only(world):
    from rest_framework.test import APIClient

    anonymous = APIClient().get("/api/v1/skus/")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    for role in ROLES:
        assert world.client(role).get("/api/v1/skus/").status_code == 200
        assert world.client(role).get("/api/v1/catalog-imports/").status_code == 200


@pytest.mark.parametrize(("role", "sees_totals"), [("finance", True), ("viewer", True), ("engineer", False)])
def test_ingest_job_totals_are_hidden_from_engineers(world, role, sees_totals):
    jobs = world.client(role).get("/api/v1/ingest-jobs/").json()["results"]
    assert len(jobs) == 1
    assert (jobs[0]["totals"] is not None) == sees_totals
    if sees_totals:
        assert set(jobs[0]["totals"]) == {"USD"}
