"""Pages a person logs into: login, overview scoped to the user's organizations."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE
from tests.usage.helpers import grouped_sum, read_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants():
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "alpha", "--json", stdout=StringIO())
    call_command("ingest_usage", str(CUR_SAMPLE), "--org", "beta", "--json", stdout=StringIO())
    membership_set(
        username="ann",
        organization=Organization.objects.get(slug="alpha"),
        role="finance",
        password="pw-ann-123",
    )
    membership_set(
        username="bob",
        organization=Organization.objects.get(slug="beta"),
        role="viewer",
        password="pw-bob-123",
    )


def test_login_required_and_login_page_renders(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content


def test_login_with_password_then_overview_shows_own_costs(client, two_tenants):
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw-ann-123"})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    rows = read_rows(FOCUS_SAMPLE)
    top_service, top_cost = max(
        grouped_sum(rows, lambda r: r["ServiceName"], "BilledCost").items(), key=lambda kv: kv[1]
    )
    text = page.content.decode()
    assert top_service in text
    assert f"{top_cost.quantize(Decimal('0.01')):,}" in text


def test_wrong_password_is_refused(client, two_tenants):
    response = client.post("/accounts/login/", {"username": "ann", "password": "nope"})
    assert response.status_code == 200 and b"didn't match" in response.content


def test_a_user_never_sees_another_organization(client, two_tenants):
    client.login(username="bob", password="pw-bob-123")
    assert client.get("/?org=alpha").status_code == 404
    page = client.get("/explore/?granularity=month").content.decode()
    assert "beta" in page
    assert "Amazon Elastic Compute Cloud" not in page  # in alpha's FOCUS data, not in beta's CUR


def test_healthz(client):
    assert client.get("/healthz").json()["status"] == "ok"
