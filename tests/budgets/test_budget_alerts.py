"""Alert emails through a real SMTP server (aiosmtpd on loopback): one email per evaluation listing every
threshold crossed, its subject stating the actual and forecast percentages; exactly once per (budget, period,
threshold, kind) across repeated and concurrent evaluations, a crash between insert and send, and an SMTP outage."""

from __future__ import annotations

import socket
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from finops.budgets import services
from finops.budgets.models import BudgetAlert
from finops.budgets.services import budget_create, budgets_evaluate
from tests.budgets.budget_helpers import (
    TODAY,
    add_user,
    build_org,
    cost_frame,
    period_sum,
    smtp_settings,
)

MARCH = date(2026, 3, 1)
AS_OF = TODAY - timedelta(days=1)
SITE = "https://finops.example.org"


@pytest.fixture(scope="module")
def frame():
    return cost_frame(first=date(2025, 12, 1))


@pytest.fixture
def org(frame):
    organization = build_org(frame)
    add_user(organization, "fin", "fin@example.com")
    return organization


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def make_budgets(org, frame):
    actual = period_sum(frame, MARCH, AS_OF)
    breached = budget_create(
        organization=org,
        data={
            "name": "Cloud total",
            "amount": str((actual / 2).quantize(Decimal("0.01"))),
            "thresholds": [
                {"percent": 50, "kind": "actual"},
                {"percent": 100, "kind": "actual"},
                {"percent": 100, "kind": "forecast"},
                {"percent": 900, "kind": "actual"},  # not reached
            ],
            "recipient_users": ["fin"],
            "recipient_emails": ["ops@example.com"],
        },
    )
    fine = budget_create(
        organization=org,
        data={
            "name": "Plenty",
            "amount": str(actual * 10),
            "thresholds": [{"percent": 80, "kind": "actual"}, {"percent": 100, "kind": "forecast"}],
            "recipient_emails": ["ops@example.com"],
        },
    )
    return actual, breached, fine


def evaluate(port: int):
    with override_settings(**smtp_settings(port), SITE_URL=SITE):
        return budgets_evaluate(organization=None, today=TODAY)


@pytest.mark.django_db
def test_alert_emails_content_and_exactly_once(org, frame, smtp_server):
    actual, breached, _ = make_budgets(org, frame)
    results = evaluate(smtp_server.port)

    by_name = {r.budget.name: r for r in results}
    assert by_name["Cloud total"].evaluation.status == "breached"
    assert by_name["Plenty"].evaluation.status == "ok" and by_name["Plenty"].alerts == []
    forecast = by_name["Cloud total"].evaluation.forecast
    assert sorted((a.threshold, a.kind) for a in by_name["Cloud total"].alerts) == [
        (Decimal(50), "actual"),
        (Decimal(100), "actual"),
        (Decimal(100), "forecast"),
    ]

    # One email for the evaluation, not one per threshold.
    assert len(smtp_server.messages) == 1
    for received in smtp_server.messages:
        assert sorted(received.recipients) == ["fin@example.com", "ops@example.com"]
    messages = smtp_server.parsed()
    amount = breached.amount
    used = f"{actual / amount * 100:.1f}"  # the fixture's March rows against the amount: about 200%
    assert used.startswith(("199.", "200."))
    forecast_pct = f"{forecast / amount * 100:.1f}"
    assert [m["Subject"] for m in messages] == [
        f'[finops] Budget "Cloud total" (2026-03): spend at {used}%, forecast at {forecast_pct}% of '
        f"USD {money(amount)} (50% actual, 100% actual, 100% forecast crossed)"
    ]
    for message in messages:
        assert message.is_multipart()
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        for body in (text, html):
            assert money(amount) in body
            assert money(actual) in body  # actual to date = the fixture's March rows
            assert money(forecast) in body
            assert "100.0%" in body  # probability of exceeding: already breached
            assert f"{SITE}/budgets/{breached.pk}/" in body
            for limit in (amount / 2, amount):  # every threshold crossed, with its limit
                assert money(limit) in body
            assert "900%" not in body  # not reached
        assert "50% actual (USD" in text and "100% actual (USD" in text and "100% forecast (USD" in text
        assert "19 of 31 days elapsed" in text
        assert message["Message-ID"].startswith("<finops.budget-alert.")

    # A second evaluation sends nothing more.
    again = evaluate(smtp_server.port)
    assert all(r.alerts == [] for r in again)
    assert len(smtp_server.messages) == 1
    # Exactly once stays per (budget, period, threshold, kind): one row each, all sent by the one email.
    assert BudgetAlert.objects.filter(status="sent").count() == 3
    assert BudgetAlert.objects.count() == 3


@pytest.mark.django_db
def test_crash_between_insert_and_send_then_retry_sends_once(org, frame, smtp_server, monkeypatch):
    make_budgets(org, frame)

    def crash() -> None:
        raise SystemExit("worker died after inserting the pending alerts")

    monkeypatch.setattr(services, "_test_pause", crash)
    with pytest.raises(SystemExit):
        evaluate(smtp_server.port)
    assert smtp_server.messages == []
    # The first budget's three alerts were inserted (one transaction) and none sent.
    assert list(BudgetAlert.objects.values_list("status", flat=True)) == ["pending"] * 3
    monkeypatch.undo()

    results = evaluate(smtp_server.port)
    assert len(smtp_server.messages) == 1
    assert sum(len(r.alerts) for r in results) == 3
    assert set(BudgetAlert.objects.values_list("status", flat=True)) == {"sent"}
    evaluate(smtp_server.port)
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_smtp_outage_keeps_alerts_pending_until_a_retry(org, frame, smtp_server):
    make_budgets(org, frame)
    with pytest.raises(OSError):
        evaluate(dead_port())
    # The one email of the three alerts failed (recorded on each); all three stay pending.
    assert list(BudgetAlert.objects.order_by("pk").values_list("status", "attempts")) == [("pending", 1)] * 3
    assert "refused" in BudgetAlert.objects.order_by("pk").first().last_error.lower()
    evaluate(smtp_server.port)
    assert len(smtp_server.messages) == 1
    assert set(BudgetAlert.objects.values_list("status", flat=True)) == {"sent"}


def dead_port() -> int:
    """A loopback port with nothing listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_evaluations_send_each_alert_once(org, frame, smtp_server):
    make_budgets(org, frame)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    outcomes: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results = budgets_evaluate(organization=None, today=TODAY)
            outcomes.append(sum(len(r.alerts) for r in results))
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            connection.close()

    # Settings are overridden once, here: override_settings swaps process-wide state, and two threads
    # entering and leaving it concurrently can restore each other's value (leaking SMTP to later tests).
    with override_settings(**smtp_settings(smtp_server.port), SITE_URL=SITE):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert errors == []
    assert len(smtp_server.messages) == 1
    assert sum(outcomes) == 3  # each thread reports the alerts it sent itself
    assert BudgetAlert.objects.filter(status="sent").count() == 3


@pytest.mark.django_db
def test_subject_states_the_spend_percentage_not_the_threshold(org, frame, smtp_server):
    """Spend at 125% of the amount crossing an 80% threshold: the subject says 125.0%, not "reached 80%"."""
    actual = period_sum(frame, MARCH, AS_OF)
    amount = (actual / Decimal("1.25")).quantize(Decimal("0.01"))
    budget_create(
        organization=org,
        data={
            "name": "Over",
            "amount": str(amount),
            "thresholds": [{"percent": 80, "kind": "actual"}],
            "recipient_emails": ["ops@example.com"],
        },
    )
    evaluate(smtp_server.port)
    (message,) = smtp_server.parsed()
    used = f"{actual / amount * 100:.1f}"
    assert used == "125.0"
    assert message["Subject"] == (
        f'[finops] Budget "Over" (2026-03): spend at 125.0% of USD {money(amount)} (80% actual crossed)'
    )
    assert "reached 80%" not in message["Subject"]


@pytest.mark.django_db
def test_a_threshold_crossed_later_gets_its_own_email_listing_the_earlier_ones(org, frame, smtp_server):
    """Exactly once per threshold: a later evaluation that crosses a new threshold sends one email for it,
    listing the threshold alerted before as such."""
    actual = period_sum(frame, MARCH, AS_OF)
    budget = budget_create(
        organization=org,
        data={
            "name": "Later",
            "amount": str(actual * 2),
            "thresholds": [{"percent": 40, "kind": "actual"}, {"percent": 80, "kind": "actual"}],
            "recipient_emails": ["ops@example.com"],
        },
    )
    evaluate(smtp_server.port)
    assert [m["Subject"].endswith("(40% actual crossed)") for m in smtp_server.parsed()] == [True]
    # Spend grows past 80% of a smaller amount: only the 80% threshold is new.
    services.budget_update(budget=budget, data={**_budget_data(budget), "amount": str(actual)})
    evaluate(smtp_server.port)
    messages = smtp_server.parsed()
    assert len(messages) == 2
    assert messages[1]["Subject"].endswith("(80% actual crossed)")
    text = messages[1].get_body(preferencelist=("plain",)).get_content()
    assert "40% actual (USD" in text and "alerted before" in text
    assert sorted(BudgetAlert.objects.values_list("threshold_percent", flat=True)) == [Decimal(40), Decimal(80)]


def _budget_data(budget) -> dict:
    return {
        "name": budget.name,
        "amount": str(budget.amount),
        "thresholds": budget.thresholds,
        "recipient_emails": budget.recipient_emails,
    }
