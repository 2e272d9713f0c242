"""The outbox's failure policy for budget alerts: an SMTP refusal keeps the alerts pending and is logged with the
recipient count and the error; a later retry sends each alert exactly once, with the same Message-ID."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from django.test import override_settings

from finops.budgets.models import BudgetAlert
from finops.budgets.services import budget_alerts_deliver, budget_create, budgets_evaluate
from tests.budgets.budget_helpers import TODAY, add_user, build_org, cost_frame, smtp_settings

SITE = "https://finops.example.org"


@pytest.fixture(scope="module")
def frame():
    return cost_frame(first=date(2025, 12, 1))


@pytest.fixture
def org(frame):
    organization = build_org(frame)
    add_user(organization, "fin", "fin@example.com")
    budget_create(
        organization=organization,
        data={
            "name": "Tiny",
            "amount": "1.00",
            "thresholds": [{"percent": 50, "kind": "actual"}, {"percent": 100, "kind": "actual"}],
            "recipient_users": ["fin"],
            "recipient_emails": ["ops@example.com"],
        },
    )
    return organization


class Refusing:
    """An SMTP server that refuses every message (a 554 to DATA)."""

    async def handle_DATA(self, server, session, envelope):
        return "554 5.7.1 rejected for now"


@pytest.mark.django_db
def test_a_refused_alert_stays_pending_is_logged_and_a_retry_sends_it_once(org, smtp_server, caplog, monkeypatch):
    monkeypatch.setattr(type(smtp_server), "handle_DATA", Refusing.handle_DATA)
    settings = override_settings(**smtp_settings(smtp_server.port), SITE_URL=SITE)
    with caplog.at_level(logging.WARNING, logger="finops.core.outbox"), pytest.raises(OSError), settings:
        budgets_evaluate(organization=org, today=TODAY)
    statuses = BudgetAlert.objects.order_by("pk").values_list("status", "attempts")
    assert list(statuses) == [("pending", 1), ("pending", 1)]  # one email for both thresholds
    assert "rejected for now" in BudgetAlert.objects.order_by("pk").first().last_error
    (record,) = [r for r in caplog.records if r.name == "finops.core.outbox"]
    assert "budget-alert email to 2 recipient(s) not sent" in record.getMessage()
    assert "rejected for now" in record.getMessage()
    assert smtp_server.messages == []

    monkeypatch.undo()
    with override_settings(**smtp_settings(smtp_server.port), SITE_URL=SITE):
        sent = budget_alerts_deliver(organization=org)
        assert len(sent) == 2 and budget_alerts_deliver(organization=org) == []
        assert all(r.alerts == [] for r in budgets_evaluate(organization=org, today=TODAY))
    assert len(smtp_server.messages) == 1
    ids = [m["Message-ID"] for m in smtp_server.parsed()]
    first = BudgetAlert.objects.order_by("pk").first()
    assert ids == [f"<finops.budget-alert.{first.pk}@finops.example.org>"]  # stable: the group's first row
    assert list(BudgetAlert.objects.order_by("pk").values_list("status", "attempts")) == [("sent", 2), ("sent", 2)]
