"""Token lifecycle: stored hashed, shown once, expiry, revocation, read scope, last use, the command."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.api.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db):
    organization = Organization.objects.create(slug="tok-org", name="Tok")
    Organization.objects.create(slug="tok-elsewhere", name="Elsewhere")
    membership, _ = membership_set(username="tok-user", organization=organization, role="finance")
    get_user_model().objects.create_user("tok-stranger")
    return membership


def as_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_command_prints_the_key_once_and_stores_only_its_hash(member):
    key, message = command("tok-user", "--org", "tok-org", "--scope", "write", "--expires-days", "7")
    token = ApiToken.objects.get()
    assert key.startswith(f"finops_{token.prefix}_") and "not shown again" in message and key not in message
    assert token.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    stored = [str(v) for v in ApiToken.objects.values_list(flat=False).get()]
    assert not any(key in v or key.split("_", 2)[2] in v for v in stored)
    assert token.scope == "write" and token.user.username == "tok-user"
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)
    response = as_token(key).get("/api/v1/organizations/")
    assert response.status_code == 200 and [o["slug"] for o in response.json()["results"]] == ["tok-org"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tok-stranger", "--org", "tok-org"], "not a member"),
        (["tok-user", "--org", "tok-elsewhere"], "not a member"),
        (["tok-user", "--org", "nope"], "no organization 'nope'"),
        (["ghost", "--org", "tok-org"], "no user 'ghost'"),
        (["tok-user", "--org", "tok-org", "--expires-days", "0"], "positive"),
    ],
)
def test_command_refuses_with_exit_2_and_writes_nothing(member, args, message):
    with pytest.raises(CommandError, match=message) as raised:
        command(*args)
    assert raised.value.returncode == 2
    assert not ApiToken.objects.exists()


def test_api_create_shows_key_once_list_never_and_revoke(member):
    client = APIClient()
    client.force_login(member.user)
    created = client.post("/api/v1/tokens/", {"name": "ci", "scope": "read", "expires_in_days": 30}, format="json")
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert body["prefix"] in key and body["scope"] == "read" and body["organization"] == "tok-org"
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert [t["id"] for t in listed] == [body["id"]] and all("key" not in t for t in listed)
    assert key not in client.get(f"/api/v1/tokens/{body['id']}/").content.decode()
    token_client = as_token(key)
    assert token_client.get("/api/v1/teams/").status_code == 200
    # Revoke: 204, the record stays with revoked_at, and the key stops working (401).
    assert client.delete(f"/api/v1/tokens/{body['id']}/").status_code == 204
    assert client.get(f"/api/v1/tokens/{body['id']}/").json()["revoked_at"] is not None
    refused = token_client.get("/api/v1/teams/")
    assert refused.status_code == 401
    assert refused.json()["error"] == {"code": "not_authenticated", "message": "Token revoked."}


def test_expired_and_unknown_and_malformed_tokens_are_401(member):
    key, _ = command("tok-user", "--org", "tok-org", "--expires-days", "1")
    assert as_token(key).get("/api/v1/teams/").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = as_token(key).get("/api/v1/teams/")
    assert expired.status_code == 401 and expired.json()["error"]["message"] == "Token expired."
    assert expired["WWW-Authenticate"] == "Token"
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert as_token(tampered).get("/api/v1/teams/").json()["error"]["message"] == "Invalid token."
    assert as_token("not-a-token").get("/api/v1/teams/").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token a b")
    assert client.get("/api/v1/teams/").status_code == 401


def test_read_scope_refuses_writes_with_403(member):
    key, _ = command("tok-user", "--org", "tok-org", "--scope", "read")
    response = as_token(key).post("/api/v1/tokens/", {"name": "more"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "permission_denied", "message": "This token is read-only."}
    assert ApiToken.objects.count() == 1
    write_key, _ = command("tok-user", "--org", "tok-org", "--scope", "write")
    assert as_token(write_key).post("/api/v1/tokens/", {"name": "more"}, format="json").status_code == 201


def test_last_used_is_recorded_at_most_once_a_minute(member):
    key, _ = command("tok-user", "--org", "tok-org")
    assert ApiToken.objects.get().last_used_at is None
    as_token(key).get("/api/v1/teams/")
    first = ApiToken.objects.get().last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=30)
    as_token(key).get("/api/v1/teams/")
    assert ApiToken.objects.get().last_used_at == first  # within the minute: not written again
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    as_token(key).get("/api/v1/teams/")
    assert ApiToken.objects.get().last_used_at > first


def test_a_removed_member_s_token_stops_working(member):
    key, _ = command("tok-user", "--org", "tok-org")
    member.delete()
    assert as_token(key).get("/api/v1/teams/").status_code == 401


def test_tokens_of_others_are_hidden_unless_admin(member):
    other, _ = membership_set(username="tok-admin", organization=member.organization, role="admin")
    command("tok-admin", "--org", "tok-org")
    mine_key, _ = command("tok-user", "--org", "tok-org")
    theirs = ApiToken.objects.get(user=other.user)
    client = as_token(mine_key)
    assert [t["username"] for t in client.get("/api/v1/tokens/").json()["results"]] == ["tok-user"]
    assert client.get(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 403  # read token: scope first
    admin = APIClient()
    admin.force_login(other.user)
    assert len(admin.get("/api/v1/tokens/").json()["results"]) == 2
