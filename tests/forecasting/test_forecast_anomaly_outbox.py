"""The outbox's failure policy for anomaly emails: an SMTP failure leaves the rows to retry (status failed, with
the error) and is logged with the recipient count and the error; the next send delivers each one exactly once."""

from __future__ import annotations

import logging
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from finops.accounts.models import Organization
from finops.forecasting.models import AnomalyAlert
from finops.forecasting.services import anomaly_alerts_send, anomaly_subscription_create, forecast_refresh_inline
from finops.forecasting.tasks import anomaly_digest
from tests.forecasting.fc_fixtures import LAST_DAY, load, usage_frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def spiked():
    organization = Organization.objects.create(slug="acme", name="Acme")
    load(organization, usage_frame(spikes={("i-web-1", LAST_DAY): 900.0}))
    return organization


def refuse(self, *args, **kwargs):
    raise smtplib.SMTPRecipientsRefused({"oncall@example.com": (550, b"mailbox unavailable")})


@pytest.mark.parametrize("mode", ["immediate", "daily_digest"])
def test_a_failed_anomaly_email_is_logged_kept_and_sent_once_later(spiked, mode, monkeypatch, caplog):
    anomaly_subscription_create(organization=spiked, email="oncall@example.com", mode=mode)
    forecast_refresh_inline(organization=spiked, send_alerts=False)
    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    with caplog.at_level(logging.WARNING, logger="finops.core.outbox"):
        assert anomaly_alerts_send(organization=spiked, mode=mode) == []
    rows = AnomalyAlert.objects.filter(mode=mode)
    assert rows.count() == 5 and set(rows.values_list("status", flat=True)) == {"failed"}
    assert all("mailbox unavailable" in error for error in rows.values_list("error", flat=True))
    messages = [r.getMessage() for r in caplog.records if r.name == "finops.core.outbox"]
    assert len(messages) == (5 if mode == "immediate" else 1)
    assert all(
        f"anomaly-{mode} email to 1 recipient(s) not sent" in m and "SMTPRecipientsRefused" in m for m in messages
    )
    assert mail.outbox == []

    monkeypatch.undo()
    if mode == "immediate":
        assert len(anomaly_alerts_send(organization=spiked, mode=mode)) == 5
    else:
        assert anomaly_digest() == {"emails": 1}
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert len(mail.outbox) == (5 if mode == "immediate" else 1)
    assert anomaly_alerts_send(organization=spiked, mode=mode) == []
    assert len(mail.outbox) == (5 if mode == "immediate" else 1)
