"""The account menu's pages: API tokens (create with scope and expiry, the key shown once then only its prefix,
list, revoke; forged requests refused) and alert emails (each toggle changes who gets the next email)."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from finops.api.models import ApiToken
from finops.api.services import TokenError, token_create
from finops.budgets.services import weekly_digest_send
from finops.commitments.services import alert_recipients, commitment_expiry_alerts
from finops.forecasting.models import Anomaly, AnomalySubscription, Dimension
from finops.forecasting.services import anomaly_alerts_send
from tests import factories
from tests.commitments.cur_helpers import commitment_rows, write_cur
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(username: str, *, strict: bool = False) -> Client:
    client = Client(enforce_csrf_checks=strict)
    assert client.login(username=username, password=PASSWORD)
    return client


def csrf_of(client: Client, url: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode()).group(1)


def as_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- API tokens ---------------------------------------------------------------------------------------------
def test_token_round_trip_key_shown_once_then_only_its_prefix(tenants):
    ann = login("ann")
    page = ann.get("/account/tokens/")
    assert page.status_code == 200 and 'id="token-form"' in page.content.decode()
    before = timezone.now()
    created = ann.post("/account/tokens/", {"name": "ci", "scope": "write", "expires_in_days": "90"})
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    key = re.search(r'id="new-token-key">([^<]+)<', created.content.decode()).group(1)
    token = ApiToken.objects.get(user__username="ann", organization=tenants["alpha"])
    assert key.startswith(f"finops_{token.prefix}_") and token.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert token.name == "ci" and token.scope == "write" and token.revoked_at is None
    assert timedelta(days=90) <= token.expires_at - before < timedelta(days=90, minutes=1)
    assert as_token(key).get("/api/v1/tokens/").status_code == 200  # the key works
    again = ann.get("/account/tokens/").content.decode()
    secret = key.split("_", 2)[2]  # the secret may itself hold "_" (URL-safe base64)
    assert key not in again and secret not in again  # never again: neither the key nor its secret
    assert f"finops_{token.prefix}_…" in again and "Read and write" in again and "Active" in again

    revoked = ann.post(f"/account/tokens/{token.pk}/revoke")
    assert revoked.status_code == 302 and revoked["Location"] == "/account/tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert as_token(key).get("/api/v1/tokens/").status_code == 401
    assert "Revoked" in ann.get("/account/tokens/").content.decode()


def test_token_pages_need_a_login_and_a_csrf_token(tenants):
    assert Client().get("/account/tokens/").status_code == 302
    assert Client().get("/account/alerts/").status_code == 302
    strict = login("ann", strict=True)
    assert strict.post("/account/tokens/", {"name": "forged", "scope": "read"}).status_code == 403
    assert not ApiToken.objects.filter(name="forged").exists()
    mine = factories.user("ann")
    token = token_create(user=mine, organization=tenants["alpha"], name="keep").token
    assert strict.post(f"/account/tokens/{token.pk}/revoke").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    # With the page's own CSRF token the same request works.
    csrf = csrf_of(strict, "/account/tokens/")
    ok = strict.post(f"/account/tokens/{token.pk}/revoke", {"csrfmiddlewaretoken": csrf})
    assert ok.status_code == 302


def test_other_organizations_and_other_members_tokens_cannot_be_revoked(tenants):
    bob_token = token_create(user=factories.user("bob"), organization=tenants["beta"], name="bob").token
    vic_token = token_create(user=factories.user("vic"), organization=tenants["alpha"], name="vic").token
    ann, eve = login("ann"), login("eve")
    assert ann.post(f"/account/tokens/{bob_token.pk}/revoke").status_code == 404  # another organization's
    assert eve.post(f"/account/tokens/{vic_token.pk}/revoke").status_code == 404  # another member's
    assert eve.post("/account/tokens/999999/revoke").status_code == 404
    assert "vic" not in {r["token"].name for r in eve.get("/account/tokens/").context["rows"]}
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 0
    # An admin sees and revokes every member's token of their organization, never another organization's.
    factories.member(tenants["alpha"], "adam", "admin", password=PASSWORD)
    adam = login("adam")
    assert {r["token"].name for r in adam.get("/account/tokens/").context["rows"]} == {"vic"}
    assert adam.post(f"/account/tokens/{vic_token.pk}/revoke").status_code == 302
    assert adam.post(f"/account/tokens/{bob_token.pk}/revoke").status_code == 404
    assert set(ApiToken.objects.filter(revoked_at__isnull=False).values_list("name", flat=True)) == {"vic"}


def test_a_viewer_gets_read_tokens_only(tenants):
    vic = login("vic")
    form = vic.get("/account/tokens/").content.decode()
    assert 'value="read"' in form and 'value="write"' not in form
    refused = vic.post("/account/tokens/", {"name": "w", "scope": "write", "expires_in_days": "30"})
    assert refused.status_code == 400 and not ApiToken.objects.filter(name="w").exists()
    with pytest.raises(TokenError, match="viewer"):  # the service refuses it too: the API and the command
        token_create(user=factories.user("vic"), organization=tenants["alpha"], name="w", scope="write")
    api = APIClient()
    assert api.login(username="vic", password=PASSWORD)
    assert api.post("/api/v1/tokens/", {"name": "w", "scope": "write"}, format="json").status_code == 400
    assert not ApiToken.objects.filter(name="w").exists()
    created = vic.post("/account/tokens/", {"name": "r", "scope": "read", "expires_in_days": ""})
    assert created.status_code == 200
    token = ApiToken.objects.get(name="r")
    assert token.scope == "read" and token.expires_at is None


def test_bad_token_input_is_refused_with_the_field_named(tenants):
    ann = login("ann")
    response = ann.post("/account/tokens/", {"name": "", "scope": "admin", "expires_in_days": "-3"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "scope", "expires_in_days"}
    assert ApiToken.objects.count() == 0


# --- alert emails -------------------------------------------------------------------------------------------
def _with_email(username: str) -> None:
    user = factories.user(username)
    user.email = f"{username}@example.com"
    user.save(update_fields=["email"])


def test_digest_toggle_changes_who_gets_the_next_digest(tenants):
    _with_email("vic")
    vic = login("vic")
    assert vic.get("/account/alerts/").context["form"].initial["digest"] is False
    saved = vic.post("/account/alerts/", {"digest": "on", "anomaly_mode": "off", "anomaly_min_impact": "0"})
    assert saved.status_code == 302
    monday = date(2026, 10, 5)
    assert [d.recipients for d in weekly_digest_send(today=monday)] == [["vic@example.com"]]
    assert [m.to for m in mail.outbox] == [["vic@example.com"]]
    assert vic.post("/account/alerts/", {"anomaly_mode": "off", "anomaly_min_impact": "0"}).status_code == 302
    assert weekly_digest_send(today=monday + timedelta(days=7)) == []
    assert len(mail.outbox) == 1


def _anomaly(org, dimension: str, key: str, impact: str, day: date = date(2026, 9, 20)) -> Anomaly:
    return Anomaly.objects.create(
        organization=org,
        metric="billed",
        currency="USD",
        dimension=dimension,
        key=key,
        day=day,
        expected=Decimal(100),
        actual=Decimal(100) + Decimal(impact),
        lower=Decimal(90),
        upper=Decimal(110),
        impact=Decimal(impact),
        direction="spike",
        model="test",
    )


def test_anomaly_toggle_and_an_engineer_gets_only_their_teams_series(tenants):
    alpha, team, other = tenants["alpha"], tenants["team"], tenants["other_team"]
    for username in ("ann", "eve"):
        _with_email(username)
    _anomaly(alpha, Dimension.TOTAL, "", "900")
    _anomaly(alpha, Dimension.TEAM, team.slug, "400")
    _anomaly(alpha, Dimension.TEAM, other.slug, "700")
    _anomaly(alpha, Dimension.TEAM, other.slug, "50", day=date(2026, 9, 19))  # below ann's minimum
    ann, eve = login("ann"), login("eve")
    assert ann.post("/account/alerts/", {"anomaly_mode": "immediate", "anomaly_min_impact": "100"}).status_code == 302
    assert eve.post("/account/alerts/", {"anomaly_mode": "immediate", "anomaly_min_impact": "0"}).status_code == 302
    assert AnomalySubscription.objects.get(user__username="ann").min_impact == Decimal(100)
    assert ann.get("/account/alerts/").context["form"].initial["anomaly_mode"] == "immediate"

    sent = anomaly_alerts_send(organization=alpha, mode="immediate")
    emailed: dict[str, list[str]] = {}
    for message in mail.outbox:
        emailed.setdefault(message.to[0], []).append(message.subject)
    # ann (finance): every series with an impact of 100 or more; eve (engineer): her team's series only.
    assert sorted(len(v) for v in emailed.values()) == [1, 3] and set(emailed) == {r for r, _ in sent}
    assert len(emailed["ann@example.com"]) == 3
    (eve_subject,) = emailed["eve@example.com"]
    assert f"team {team.slug}," in eve_subject
    assert anomaly_alerts_send(organization=alpha, mode="immediate") == []  # nothing twice

    # Off: the next anomaly reaches only those still subscribed.
    assert ann.post("/account/alerts/", {"anomaly_mode": "off", "anomaly_min_impact": "0"}).status_code == 302
    assert not AnomalySubscription.objects.filter(user__username="ann").exists()
    mail.outbox.clear()
    _anomaly(alpha, Dimension.TEAM, team.slug, "300", day=date(2026, 9, 21))
    anomaly_alerts_send(organization=alpha, mode="immediate")
    assert [m.to for m in mail.outbox] == [["eve@example.com"]]


def test_commitment_toggle_changes_who_gets_the_next_expiry_alert(tmp_path):
    org = factories.organization("renewco")
    factories.ingest_files(org, [write_cur(tmp_path / "cur.csv", commitment_rows())])
    factories.member(org, "r-fin", "finance", password=PASSWORD, email="fin@example.com")
    factories.member(org, "r-viewer", "viewer", password=PASSWORD, email="viewer@example.com")
    factories.member(org, "r-eng", "engineer", password=PASSWORD, email="eng@example.com")
    assert alert_recipients(org) == ["fin@example.com"]  # the default: finance and admins
    fin, viewer, eng = login("r-fin"), login("r-viewer"), login("r-eng")
    assert fin.get("/account/alerts/").context["form"].initial["commitments"] is True
    assert "commitments" not in eng.get("/account/alerts/").context["form"].fields  # organization-wide
    off = {"anomaly_mode": "off", "anomaly_min_impact": "0"}
    assert fin.post("/account/alerts/", off).status_code == 302  # unchecked: off
    assert viewer.post("/account/alerts/", {**off, "commitments": "on"}).status_code == 302
    assert eng.post("/account/alerts/", {**off, "commitments": "on"}).status_code == 302  # the field is ignored
    assert alert_recipients(org) == ["viewer@example.com"]
    sent = commitment_expiry_alerts(organization=org, today=date(2026, 10, 2))  # 90 days before the RI's end
    assert sent and all(a.recipients == ["viewer@example.com"] for a in sent)
    assert mail.outbox and all(m.to == ["viewer@example.com"] for m in mail.outbox)


def test_alerts_page_refuses_bad_input_and_saves_nothing(tenants):
    ann = login("ann")
    response = ann.post("/account/alerts/", {"digest": "on", "anomaly_mode": "hourly", "anomaly_min_impact": "-5"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"anomaly_mode", "anomaly_min_impact"}
    assert not AnomalySubscription.objects.exists()
    strict = login("ann", strict=True)
    assert strict.post("/account/alerts/", {"anomaly_mode": "immediate", "anomaly_min_impact": "0"}).status_code == 403
    assert not AnomalySubscription.objects.exists()


def test_account_links_are_in_the_header(tenants):
    html = login("eve").get("/").content.decode()
    assert 'href="/account/tokens/"' in html and 'href="/account/alerts/"' in html
