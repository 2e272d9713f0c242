"""Anomaly alert emails: multipart, immediate and daily digest, each anomaly at most once per recipient and mode."""

from __future__ import annotations

import smtplib
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from finops.accounts.models import Organization
from finops.forecasting.models import Anomaly, AnomalyAlert, AnomalySubscription
from finops.forecasting.services import (
    anomaly_alerts_send,
    anomaly_feedback_set,
    anomaly_subscription_create,
    forecast_refresh_inline,
)
from finops.forecasting.tasks import anomaly_digest
from tests.forecasting.fc_fixtures import LAST_DAY, committed_usage, usage_frame

pytestmark = pytest.mark.django_db
IMMEDIATE, DIGEST = "immediate", "daily_digest"


@pytest.fixture(scope="module")
def _spiked_loaded(django_db_setup, django_db_blocker):
    """The spiked usage written once for the module (committed_usage)."""
    with committed_usage(django_db_blocker, usage_frame(spikes={("i-web-1", LAST_DAY): 900.0})) as pk:
        yield pk


@pytest.fixture
def spiked(_spiked_loaded):
    return Organization.objects.get(pk=_spiked_loaded)


def test_immediate_alerts_are_sent_once_per_anomaly_and_recipient(spiked):
    user = get_user_model().objects.create_user(username="fin", email="Fin@Example.com")
    anomaly_subscription_create(organization=spiked, user=user, mode=IMMEDIATE)
    anomaly_subscription_create(organization=spiked, email="oncall@example.com", mode=IMMEDIATE)
    # Minimum impacts: the planted spike is ~900 in every series it touches, so 800 passes and 10,000 does not.
    anomaly_subscription_create(organization=spiked, email="cfo@example.com", mode=IMMEDIATE, min_impact=Decimal(800))
    anomaly_subscription_create(organization=spiked, email="ceo@example.com", mode=IMMEDIATE, min_impact=Decimal(10**4))
    forecast_refresh_inline(organization=spiked)

    anomalies = list(Anomaly.objects.all())
    assert len(anomalies) == 5
    assert all(Decimal(800) <= abs(a.impact) < Decimal(10**4) for a in anomalies)
    by_recipient: dict[str, list] = {}
    for message in mail.outbox:
        assert len(message.to) == 1
        by_recipient.setdefault(message.to[0], []).append(message)
    assert {r: len(m) for r, m in by_recipient.items()} == {
        "fin@example.com": 5,
        "oncall@example.com": 5,
        "cfo@example.com": 5,
    }
    total = next(a for a in anomalies if a.dimension == "total")
    message = next(m for m in by_recipient["fin@example.com"] if "on total," in m.subject)
    assert f"{total.impact:+,.2f} USD" in message.subject and str(LAST_DAY) in message.subject
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    for text in (message.body, html):
        assert f"{total.actual:,.2f}" in text and f"{total.expected:,.2f}" in text and "i-web-1" in text
    assert AnomalyAlert.objects.filter(status="sent").count() == 15

    # A rerun of the refresh, or of the sender, sends nothing new.
    forecast_refresh_inline(organization=spiked)
    assert anomaly_alerts_send(organization=spiked, mode=IMMEDIATE) == []
    assert len(mail.outbox) == 15


def test_daily_digest_lists_the_anomalies_once(spiked):
    anomaly_subscription_create(organization=spiked, email="team@example.com", mode=DIGEST)
    forecast_refresh_inline(organization=spiked)
    assert mail.outbox == []  # digest subscribers get nothing immediately
    assert anomaly_digest() == {"emails": 1}
    (message,) = mail.outbox
    assert message.to == ["team@example.com"] and message.subject == "[finops] Acme: 5 cost anomalies"
    for anomaly in Anomaly.objects.all():
        assert anomaly.series_label in message.body and anomaly.series_label in message.alternatives[0][0]
    assert anomaly_digest() == {"emails": 0}
    assert len(mail.outbox) == 1


def test_expected_and_suppressed_anomalies_are_not_sent(spiked):
    anomaly_subscription_create(organization=spiked, email="team@example.com", mode=DIGEST)
    forecast_refresh_inline(organization=spiked)
    user = get_user_model().objects.create_user(username="fin")
    from finops.accounts.models import Membership

    Membership.objects.create(user=user, organization=spiked, role="finance")
    total = Anomaly.objects.get(dimension="total")
    anomaly_feedback_set(anomaly=total, user=user, verdict="not_an_anomaly")
    anomaly_digest()
    (message,) = mail.outbox
    assert "4 cost anomalies" in message.subject and not AnomalyAlert.objects.filter(anomaly=total).exists()


def test_a_claim_by_another_worker_is_respected_and_a_failed_send_is_retried(spiked, monkeypatch):
    anomaly_subscription_create(organization=spiked, email="oncall@example.com", mode=IMMEDIATE)
    forecast_refresh_inline(organization=spiked, send_alerts=False)
    total = Anomaly.objects.get(dimension="total")
    # Another worker claimed the total's alert a moment ago (and is sending it).
    AnomalyAlert.objects.create(
        anomaly=total, recipient="oncall@example.com", mode=IMMEDIATE, batch=uuid.uuid4(), claimed_at=timezone.now()
    )
    # The SMTP server is down for the first attempt.
    from django.core.mail import EmailMultiAlternatives

    real_send = EmailMultiAlternatives.send

    def down(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", down)
    assert anomaly_alerts_send(organization=spiked, mode=IMMEDIATE) == []
    assert AnomalyAlert.objects.filter(status="failed").count() == 4 and mail.outbox == []
    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    sent = anomaly_alerts_send(organization=spiked, mode=IMMEDIATE)
    assert len(sent) == 4 and total.pk not in [ids[0] for _, ids in sent]
    assert len(mail.outbox) == 4
    assert anomaly_alerts_send(organization=spiked, mode=IMMEDIATE) == []
    assert len(mail.outbox) == 4


def test_the_database_refuses_a_second_alert_row(spiked):
    forecast_refresh_inline(organization=spiked)
    anomaly = Anomaly.objects.first()
    row = {"anomaly": anomaly, "recipient": "a@example.com", "mode": IMMEDIATE, "claimed_at": timezone.now()}
    AnomalyAlert.objects.create(batch=uuid.uuid4(), **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnomalyAlert.objects.create(batch=uuid.uuid4(), **row)


def test_subscription_validation(spiked):
    with pytest.raises(ValidationError) as error:
        anomaly_subscription_create(organization=spiked, mode=IMMEDIATE)
    assert "give a user or an email address" in error.value.message_dict["email"][0]
    with pytest.raises(ValidationError) as error:
        anomaly_subscription_create(organization=spiked, email="not-an-email", mode=IMMEDIATE)
    assert "email" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        anomaly_subscription_create(organization=spiked, email="a@example.com", mode="hourly")
    assert "mode" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        anomaly_subscription_create(organization=spiked, email="a@example.com", min_impact=Decimal(-1))
    assert "min_impact" in error.value.message_dict
    assert not AnomalySubscription.objects.exists()
