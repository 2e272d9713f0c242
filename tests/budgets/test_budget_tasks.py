"""The Celery tasks are thin: evaluate_all fans out one evaluate_org per organization with an active budget."""

from __future__ import annotations

from datetime import date

import pytest

from finops.budgets import tasks
from finops.budgets.services import budget_create
from tests.budgets.budget_helpers import build_org, cost_frame

pytestmark = pytest.mark.django_db


def test_evaluate_all_fans_out_and_evaluate_org_evaluates(monkeypatch, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    frame = cost_frame(first=date(2026, 3, 1))
    acme, idle, _ = build_org(frame, "acme"), build_org(frame, "idle"), build_org(frame, "none")
    budget_create(organization=acme, data={"name": "a", "amount": "10"})
    budget_create(organization=idle, data={"name": "off", "amount": "10", "active": False})
    queued = []
    monkeypatch.setattr(tasks.evaluate_org, "delay", lambda pk: queued.append(pk))
    assert tasks.evaluate_all.run() == [acme.pk]
    assert queued == [acme.pk]
    result = tasks.evaluate_org.run(acme.pk)
    assert result["organization"] == "acme" and [b["name"] for b in result["budgets"]] == ["a"]
    for task in (tasks.evaluate_all, tasks.evaluate_org, tasks.weekly_digest):
        assert task.acks_late and task.reject_on_worker_lost
    assert tasks.evaluate_org.name == "budgets.evaluate_org" and tasks.weekly_digest.name == "budgets.weekly_digest"
