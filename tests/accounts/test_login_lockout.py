"""Login lockout: too many failed logins for one username, or from one client address, pause logins for it,
the right password included; a success resets the count."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

LIMIT = 10  # FINOPS_LOGIN_FAILURE_LIMIT's default


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="right-password")


def _login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_right_password_is_refused_once_a_user_is_locked_out(client, alice):
    for _ in range(LIMIT - 1):
        assert _login(client, "alice", "wrong").status_code == 200  # the form again, with its error
    locked = _login(client, "alice", "wrong")
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    # Another address does not help: the username is locked.
    refused = _login(client, "alice", "right-password", address="10.9.9.9")
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_one_address_trying_many_usernames_is_locked_out(client, alice):
    for n in range(LIMIT):
        _login(client, f"nobody-{n}", "guess", address="10.0.0.7")
    assert _login(client, "alice", "right-password", address="10.0.0.7").status_code == 429
    # The user is not locked: from another address the right password logs in.
    response = _login(client, "alice", "right-password", address="10.0.0.8")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_a_successful_login_resets_the_count(client, alice):
    for _ in range(LIMIT - 1):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", "right-password").status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        assert _login(client, "alice", "wrong").status_code == 200
    assert _login(client, "alice", "right-password").status_code == 302
