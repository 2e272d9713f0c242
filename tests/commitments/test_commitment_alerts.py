"""Expiry alerts 90, 30 and 7 days before a commitment's end, through a real SMTP server (aiosmtpd on loopback) and
a controlled clock: exactly once per commitment and threshold across repeated runs, the tightest threshold only
for a commitment first seen late, none for a commitment without an end date, kept pending through an SMTP outage,
and the daily Celery beat task."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.test import override_settings

from finops.commitments import services
from finops.commitments.models import CommitmentExpiryAlert
from finops.commitments.services import commitment_expiry_alerts
from finops.commitments.tasks import expiry_alerts
from tests import factories
from tests.budgets.budget_helpers import smtp_settings
from tests.commitments.cur_helpers import RI_ARN, SP_ARN, commitment_rows, write_cur
from tests.conftest import FOCUS_SAMPLE

pytestmark = pytest.mark.django_db
RI_END_DAY = date(2026, 12, 31)  # cur_helpers.RI_END
SP_END_DAY = date(2027, 2, 14)  # cur_helpers.SP_END


@pytest.fixture
def org(tmp_path):
    organization = factories.organization("alertco")
    factories.ingest_files(organization, [write_cur(tmp_path / "cur.csv", commitment_rows())])
    factories.member(organization, "a-fin", "finance", email="fin@example.com")
    factories.member(organization, "a-admin", "admin", email="admin@example.com")
    factories.member(organization, "a-viewer", "viewer", email="viewer@example.com")
    return organization


def _subjects(sink) -> list[str]:
    return [m["Subject"] for m in sink.parsed()]


def test_each_threshold_once_on_a_controlled_clock(org, smtp_server):
    with override_settings(**smtp_settings(smtp_server.port)):
        for day in (date(2026, 9, 1), date(2026, 10, 1)):  # 121 and 91 days before the reservation's end
            assert commitment_expiry_alerts(organization=org, today=day) == []
        sent = commitment_expiry_alerts(organization=org, today=date(2026, 10, 2))  # 90 days
        assert [(a.commitment_id, a.threshold_days) for a in sent] == [(RI_ARN, 90)]
        assert commitment_expiry_alerts(organization=org, today=date(2026, 10, 2)) == []  # a rerun: nothing
        assert commitment_expiry_alerts(organization=org, today=date(2026, 10, 20)) == []
        sent = commitment_expiry_alerts(organization=org, today=date(2026, 11, 16))  # plan: 90 days; RI: 45
        assert [(a.commitment_id, a.threshold_days) for a in sent] == [(SP_ARN, 90)]
        sent = commitment_expiry_alerts(organization=org, today=date(2026, 12, 1))  # RI: 30 days
        assert [(a.commitment_id, a.threshold_days) for a in sent] == [(RI_ARN, 30)]
        for day in (date(2026, 12, 2), date(2026, 12, 23)):
            assert commitment_expiry_alerts(organization=org, today=day) == []
        sent = commitment_expiry_alerts(organization=org, today=date(2026, 12, 24))  # RI: 7 days
        assert [(a.commitment_id, a.threshold_days) for a in sent] == [(RI_ARN, 7)]
        assert commitment_expiry_alerts(organization=org, today=date(2027, 1, 5)) == []  # ended: no more

    messages = smtp_server.parsed()
    assert len(messages) == 4
    for message in messages:
        assert sorted(a.strip() for a in message["To"].split(",")) == ["admin@example.com", "fin@example.com"]
    subjects = _subjects(smtp_server)
    assert subjects[0] == "[Alertco] Reservation arn:aws:ec2:us-east-1:444455556666:reserved-instances/" \
        "11111111-2222-3333-4444-555555555555 ends in 90 days (2026-12-31)"  # fmt: skip
    assert "Savings plan" in subjects[1] and "ends in 90 days (2027-02-14)" in subjects[1]
    assert "ends in 30 days" in subjects[2] and "ends in 7 days" in subjects[3]
    body = messages[2].get_body(("plain",)).get_content()
    assert "Utilization (last 30 days): 92%" in body and "Hourly commitment: 0.12 USD/h" in body
    assert "/optimizer/" in body
    rows = CommitmentExpiryAlert.objects.filter(organization=org)
    assert sorted((r.commitment_id == RI_ARN, r.threshold_days, r.status) for r in rows) == [
        (False, 90, "sent"), (True, 7, "sent"), (True, 30, "sent"), (True, 90, "sent")
    ]  # fmt: skip


def test_first_seen_late_sends_the_tightest_threshold_only(org, smtp_server):
    with override_settings(**smtp_settings(smtp_server.port)):
        sent = commitment_expiry_alerts(organization=org, today=date(2026, 12, 11))  # RI 20 days, plan 65 days
        assert sorted((a.commitment_id, a.threshold_days) for a in sent) == [(RI_ARN, 30), (SP_ARN, 90)]
        assert commitment_expiry_alerts(organization=org, today=date(2026, 12, 12)) == []
    assert len(smtp_server.messages) == 2
    skipped = CommitmentExpiryAlert.objects.get(commitment_id=RI_ARN, threshold_days=90)
    assert skipped.status == "skipped" and skipped.sent_at is None


def test_no_alert_without_an_end_date(smtp_server):
    organization = factories.organization("focusalert")
    factories.ingest_files(organization, [FOCUS_SAMPLE])
    factories.member(organization, "f-fin", "finance", email="fin@example.com")
    with override_settings(**smtp_settings(smtp_server.port)):
        for day in (date(2024, 9, 30), date(2026, 12, 1)):
            assert commitment_expiry_alerts(organization=organization, today=day) == []
    assert smtp_server.messages == [] and not CommitmentExpiryAlert.objects.exists()


def test_smtp_outage_keeps_the_alert_pending_then_sends_it_once(org, smtp_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with override_settings(**smtp_settings(closed_port)), pytest.raises(OSError):
        commitment_expiry_alerts(organization=org, today=date(2026, 12, 24))
    # Both due alerts (reservation 7 days, plan 52 days: its 90) are recorded; the first send failed and stopped
    # the delivery, so the plan's alert was not tried yet.
    alert = CommitmentExpiryAlert.objects.get(commitment_id=RI_ARN, threshold_days=7)
    assert alert.status == "pending" and alert.attempts == 1 and "refused" in alert.last_error.lower()
    waiting = CommitmentExpiryAlert.objects.get(commitment_id=SP_ARN, threshold_days=90)
    assert waiting.status == "pending" and waiting.attempts == 0
    with override_settings(**smtp_settings(smtp_server.port)):
        sent = commitment_expiry_alerts(organization=org, today=date(2026, 12, 25))
        assert [(a.commitment_id, a.threshold_days) for a in sent] == [(RI_ARN, 7), (SP_ARN, 90)]
        assert commitment_expiry_alerts(organization=org, today=date(2026, 12, 26)) == []
    assert len(smtp_server.messages) == 2
    alert.refresh_from_db()
    assert alert.status == "sent" and alert.attempts == 2


def test_beat_task_runs_every_organization_on_the_clock(org, smtp_server, monkeypatch):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "commitments.expiry_alerts")
    assert entry["task"] == expiry_alerts.name
    monkeypatch.setattr(services.timezone, "now", lambda: datetime(2026, 12, 1, 6, 30, tzinfo=UTC))
    with override_settings(**smtp_settings(smtp_server.port)):
        assert expiry_alerts.apply().get() == {"alertco": 2}  # RI 30 days; plan 75 days: its 90
        assert expiry_alerts.apply().get() == {"alertco": 0}
    assert len(smtp_server.messages) == 2
