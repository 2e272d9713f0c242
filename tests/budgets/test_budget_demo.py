"""seed_budgets_demo on the real demo data: a budget in every state whatever the day, and a first evaluation
that sends alerts to the demo users."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from finops.accounts.models import Role
from finops.accounts.services import membership_set, organization_get_or_create
from finops.budgets.demo import seed_budgets_demo
from finops.budgets.models import BudgetAlert
from finops.budgets.services import budgets_evaluate
from finops.demo.generator import generate_demo_billing
from finops.usage.services import ingest_job_create, ingest_job_run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("end", "breached_period"),
    [(date(2026, 3, 15), "monthly"), (date(2026, 3, 1), "quarterly")],  # the 1st: no spend yet this month
)
def test_demo_budgets_in_every_state(tmp_path, settings, end, breached_period):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    demo, _ = organization_get_or_create(slug="demo", name="Demo Corp")
    paths = generate_demo_billing(tmp_path, end=end, months=2)
    ingest_job_run(ingest_job_create(organization=demo, paths=paths, source="demo"))
    membership_set(username="finance", organization=demo, role=Role.FINANCE)
    membership_set(username="admin", organization=demo, role=Role.ADMIN)
    out = StringIO()

    budgets = seed_budgets_demo(organization=demo, stdout=out, today=end)

    assert "gave demo user finance the email finance@demo.finops.example" in out.getvalue()
    assert get_user_model().objects.get(username="admin").email == "admin@demo.finops.example"
    results = {r.budget.name: r for r in budgets_evaluate(organization=demo, today=end)}
    assert set(results) == {b.name for b in budgets}
    assert results["Cloud total"].evaluation.status == "ok"
    assert results["Cloud total"].alerts == []
    assert results["Team ml"].evaluation.status == "at_risk"
    assert ("100", "forecast") in {(str(a.threshold), a.kind) for a in results["Team ml"].alerts}
    breached = results["EC2 us-east-1"]
    assert breached.evaluation.status == "breached" and breached.budget.period == breached_period
    assert {(str(a.threshold), a.kind) for a in breached.alerts} >= {("80", "actual"), ("100", "actual")}
    # One email per budget evaluation that crossed thresholds, not one per threshold.
    alerted = [name for name, r in results.items() if r.alerts]
    assert len(mail.outbox) == len(alerted) > 0
    assert BudgetAlert.objects.filter(status="sent").count() == sum(len(r.alerts) for r in results.values())
    assert set(mail.outbox[0].to) == {"finance@demo.finops.example", "admin@demo.finops.example"}
    (ec2,) = [m for m in mail.outbox if '"EC2 us-east-1"' in m.subject]
    ev = breached.evaluation
    assert f"spend at {ev.actual / ev.amount * 100:.1f}%" in ec2.subject
    for alert in breached.alerts:
        assert f"{alert.threshold}% {alert.kind} (USD" in ec2.body
    sent = len(mail.outbox)

    # Seeding again refreshes the same budgets (by name) and sends nothing new.
    again = seed_budgets_demo(organization=demo, stdout=StringIO(), today=end)
    assert sorted(b.pk for b in again) == sorted(b.pk for b in budgets)
    budgets_evaluate(organization=demo, today=end)
    assert len(mail.outbox) == sent
