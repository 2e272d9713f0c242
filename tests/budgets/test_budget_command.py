"""evaluate_budgets: the --json contract, --dry-run writing and sending nothing, then the real run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.budgets.models import Budget, BudgetAlert
from finops.budgets.services import budget_create
from tests.budgets.budget_helpers import TODAY, add_user, build_org, cost_frame, period_sum

pytestmark = pytest.mark.django_db
MARCH = date(2026, 3, 1)
AS_OF = TODAY - timedelta(days=1)


@pytest.fixture
def setup(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    frame = cost_frame(first=date(2025, 12, 1))
    org = build_org(frame)
    add_user(org, "fin", "fin@example.com")
    actual = period_sum(frame, MARCH, AS_OF)
    common = {"recipient_users": ["fin"], "recipient_emails": ["cfo@example.com"]}
    budget_create(
        organization=org,
        data={
            "name": "breached",
            "amount": str(actual - 1),
            "thresholds": [{"percent": 100, "kind": "actual"}],
            **common,
        },
    )
    budget_create(
        organization=org,
        data={
            "name": "at risk",
            "amount": str((actual * Decimal("1.2")).quantize(Decimal("0.01"))),
            "thresholds": [{"percent": 100, "kind": "forecast"}, {"percent": 90, "kind": "actual"}],
            **common,
        },
    )
    budget_create(
        organization=org,
        data={"name": "ok", "amount": str(actual * 3), "thresholds": [{"percent": 80, "kind": "actual"}], **common},
    )
    budget_create(organization=org, data={"name": "inactive", "amount": "1", "active": False})
    return org, actual


def run(*args: str) -> dict:
    out = StringIO()
    call_command("evaluate_budgets", "--org", "acme", "--json", "--today", TODAY.isoformat(), *args, stdout=out)
    return json.loads(out.getvalue())


def test_dry_run_json_contract_and_nothing_written(setup):
    _org, actual = setup
    payload = run("--dry-run")
    assert set(payload) >= {"budgets"}
    rows = {b["name"]: b for b in payload["budgets"]}
    assert sorted(rows) == ["at risk", "breached", "ok"]  # active budgets only
    for row in rows.values():
        assert {"name", "period", "amount", "actual", "forecast", "probability_of_breach", "alerts_sent"} <= set(row)
        assert row["period"] == "monthly"
        for key in ("amount", "actual", "forecast"):
            assert isinstance(row[key], str)
            Decimal(row[key])
        assert isinstance(row["probability_of_breach"], float) and 0.0 <= row["probability_of_breach"] <= 1.0
        assert Decimal(row["actual"]) == actual
    assert rows["breached"]["status"] == "breached" and rows["breached"]["probability_of_breach"] == 1.0
    assert rows["at risk"]["status"] == "at_risk" and rows["at risk"]["probability_of_breach"] >= 0.5
    assert rows["ok"]["status"] == "ok" and rows["ok"]["probability_of_breach"] < 0.5
    assert rows["breached"]["alerts_sent"] == [
        {"threshold": 100, "kind": "actual", "recipients": ["cfo@example.com", "fin@example.com"]}
    ]
    assert rows["at risk"]["alerts_sent"] == [
        {"threshold": 100, "kind": "forecast", "recipients": ["cfo@example.com", "fin@example.com"]}
    ]  # actual is 1/1.2 = 83% of the amount: the 90% actual threshold is not reached
    assert rows["ok"]["alerts_sent"] == []
    # Nothing written, nothing sent.
    assert BudgetAlert.objects.count() == 0
    assert set(Budget.objects.values_list("last_status", flat=True)) == {""}
    assert mail.outbox == []

    # The real run sends what the dry run listed, once.
    real = {b["name"]: b for b in run()["budgets"]}
    assert {n: r["alerts_sent"] for n, r in real.items()} == {n: r["alerts_sent"] for n, r in rows.items()}
    assert len(mail.outbox) == 2
    subjects = {m.subject.split(" (")[0] for m in mail.outbox}
    assert subjects == {'[finops] Budget "breached"', '[finops] Budget "at risk"'}
    assert BudgetAlert.objects.filter(status="sent").count() == 2
    assert all(r["alerts_sent"] == [] for r in run()["budgets"])
    assert run("--dry-run")["budgets"][0]["alerts_sent"] == []
    assert len(mail.outbox) == 2


def test_text_output_and_unknown_org(setup):
    out = StringIO()
    call_command("evaluate_budgets", "--org", "acme", "--dry-run", "--today", TODAY.isoformat(), stdout=out)
    text = out.getvalue()
    assert "acme/breached [monthly 2026-03-01..2026-03-31] BREACHED" in text
    assert "alert would send: 100% actual -> cfo@example.com, fin@example.com" in text
    with pytest.raises(CommandError, match="no organization 'nope'"):
        call_command("evaluate_budgets", "--org", "nope")
