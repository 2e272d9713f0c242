"""One error shape for every status, stable codes, and throttling per token and per user (429 + Retry-After)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.api.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def org_user():
    cache.clear()
    organization = Organization.objects.create(slug="err-org", name="Err")
    membership, _ = membership_set(username="err-admin", organization=organization, role="admin")
    viewer, _ = membership_set(username="err-viewer", organization=organization, role="viewer")
    yield organization, membership.user, viewer.user
    cache.clear()


def client_for(user, organization, scope="write") -> APIClient:
    client = APIClient()
    key = token_create(user=user, organization=organization, name="t", scope=scope).key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_400_names_the_fields(org_user):
    organization, admin, _ = org_user
    error = assert_error(
        client_for(admin, organization).post("/api/v1/tokens/", {"scope": "root"}, format="json"), 400, "invalid"
    )
    assert set(error["fields"]) == {"name", "scope"}
    assert all(isinstance(m, list) and m for m in error["fields"].values())
    assert_error(client_for(admin, organization).get("/api/v1/line-items/", {"service": "a\x00b"}), 400, "invalid")


def test_400_on_malformed_json(org_user):
    organization, admin, _ = org_user
    response = client_for(admin, organization).post(
        "/api/v1/tokens/", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_401_without_credentials(org_user):
    error = assert_error(APIClient().get("/api/v1/costs/summary"), 401, "not_authenticated")
    assert "credentials" in error["message"]


def test_403_for_role_and_for_read_scope(org_user):
    organization, admin, viewer = org_user
    assert_error(client_for(viewer, organization, scope="read").get("/api/v1/members/"), 403, "permission_denied")
    upload = {"file": SimpleUploadedFile("x.csv", b"a\n")}
    as_viewer = APIClient()  # a viewer holds no write token: the role itself refuses the write
    as_viewer.force_authenticate(viewer)
    assert_error(as_viewer.post("/api/v1/ingest-jobs/", upload), 403, "permission_denied")
    read = client_for(admin, organization, scope="read")
    assert_error(read.post("/api/v1/tokens/", {"name": "x"}), 403, "permission_denied")


def test_404_and_405_and_406(org_user):
    organization, admin, _ = org_user
    client = client_for(admin, organization)
    assert_error(client.get("/api/v1/ingest-jobs/999999/"), 404, "not_found")
    assert_error(client.get("/api/v1/line-items/", {"cursor": "garbage"}), 404, "not_found")
    assert_error(client.put("/api/v1/teams/x/", {}), 405, "method_not_allowed")
    assert_error(client.get("/api/v1/teams/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable")


def test_409_conflict_shape(org_user, settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path
    organization, admin, _ = org_user
    client = client_for(admin, organization)
    first = {"file": SimpleUploadedFile("a.csv", b"a,b\n1,2\n")}
    second = {"file": SimpleUploadedFile("a.csv", b"a,b\n1,3\n")}
    assert client.post("/api/v1/ingest-jobs/", first, HTTP_IDEMPOTENCY_KEY="k").status_code == 202
    assert_error(client.post("/api/v1/ingest-jobs/", second, HTTP_IDEMPOTENCY_KEY="k"), 409, "conflict")


def _rates(settings, token: str, user: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": token, "user": user}}


def test_429_per_token_with_retry_after(org_user, settings):
    organization, admin, _ = org_user
    _rates(settings, token="3/min", user="1000/min")
    first, second = client_for(admin, organization), client_for(admin, organization)
    assert [first.get("/api/v1/teams/").status_code for _ in range(3)] == [200, 200, 200]
    throttled = first.get("/api/v1/teams/")
    error = assert_error(throttled, 429, "throttled")
    assert 0 < int(throttled["Retry-After"]) <= 60 and error["retry_after"] == throttled["Retry-After"]
    assert second.get("/api/v1/teams/").status_code == 200  # another token has its own budget


def test_429_per_user_across_tokens_and_session(org_user, settings):
    organization, admin, viewer = org_user
    _rates(settings, token="1000/min", user="4/min")
    tokens = [client_for(admin, organization) for _ in range(2)]
    statuses = [tokens[i % 2].get("/api/v1/teams/").status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    session = APIClient()
    session.force_login(admin)
    assert session.get("/api/v1/teams/").status_code == 429
    assert client_for(viewer, organization, scope="read").get("/api/v1/teams/").status_code == 200


def test_500_in_the_error_shape_with_the_traceback_in_the_log_only(org_user, monkeypatch, caplog):
    organization, admin, _ = org_user

    def broken(**kwargs):
        raise RuntimeError("secret detail /srv/finops/var/ingest")

    monkeypatch.setattr("finops.api.views.cost_breakdown", broken)
    response = client_for(admin, organization).get("/api/v1/costs/summary")
    error = assert_error(response, 500, "server_error")
    assert error["message"] == "Internal server error."
    assert b"secret detail" not in response.content and b"Traceback" not in response.content
    logged = [r for r in caplog.records if r.name == "finops.api" and r.levelname == "ERROR"]
    assert len(logged) == 1 and logged[0].exc_info[0] is RuntimeError
    assert "GET /api/v1/costs/summary" in logged[0].getMessage()


def test_a_refused_request_logs_one_line_without_traceback(org_user, caplog):
    organization, _, viewer = org_user
    client_for(viewer, organization, scope="read").get("/api/v1/members/")
    page = Client()
    page.force_login(viewer)
    assert page.post("/budgets/new?org=err-org", {}).status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert [r.status_code for r in refused] == [403, 403]
    assert all(r.exc_info is None for r in refused)
