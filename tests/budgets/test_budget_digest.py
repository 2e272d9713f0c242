"""Weekly spend digest: to subscribed members with an email, once per user and week, via a real SMTP server."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from finops.budgets.models import DigestDelivery
from finops.budgets.services import budget_create, budget_evaluate, digest_subscribe, weekly_digest_send
from tests.budgets.budget_helpers import SERVICES, TODAY, add_user, build_org, cost_frame, period_sum, smtp_settings

pytestmark = pytest.mark.django_db
AS_OF = TODAY - timedelta(days=1)


def test_weekly_digest_once_per_user_and_week(smtp_server):
    frame = cost_frame(first=date(2026, 2, 1))
    org = build_org(frame)
    fin = add_user(org, "fin", "fin@example.com")
    eng = add_user(org, "eng", "eng@example.com", role="engineer")
    silent = add_user(org, "silent", "")
    add_user(org, "unsubscribed", "u@example.com")
    for user in (fin, eng, silent):
        digest_subscribe(user=user, organization=org)
    budget = budget_create(organization=org, data={"name": "Total", "amount": "100000"})
    budget_evaluate(budget=budget, today=TODAY)
    other = build_org(frame.head(3), slug="other")
    with pytest.raises(ValueError, match="not a member"):
        digest_subscribe(user=fin, organization=other)

    with override_settings(**smtp_settings(smtp_server.port)):
        sent = weekly_digest_send(today=TODAY)
        assert len(sent) == 2
        assert sorted(r for m in smtp_server.messages for r in m.recipients) == ["eng@example.com", "fin@example.com"]
        week = period_sum(frame, AS_OF - timedelta(days=6), AS_OF)
        before = period_sum(frame, AS_OF - timedelta(days=13), AS_OF - timedelta(days=7))
        top = max(SERVICES, key=lambda s: period_sum(frame, AS_OF - timedelta(days=6), AS_OF, service_name=[s]))
        for message in smtp_server.parsed():
            assert message["Subject"] == f"[finops] Weekly spend, Acme: USD {week:,.2f} (2026-03-13 to 2026-03-19)"
            text = message.get_body(preferencelist=("plain",)).get_content()
            html = message.get_body(preferencelist=("html",)).get_content()
            for body in (text, html):
                assert f"{week:,.2f}" in body and f"{before:,.2f}" in body
                assert top in body and "Total" in body
            assert f"{(week - before) / before * 100:+.1f}%" in text
            assert f"{Decimal(100000):,.2f}" in text

        # Later the same week: nothing new. The next week: one more each.
        assert weekly_digest_send(today=TODAY + timedelta(days=2)) == []
        assert len(smtp_server.messages) == 2
        assert len(weekly_digest_send(today=TODAY + timedelta(days=7))) == 2
    assert len(smtp_server.messages) == 4
    assert (
        sorted(DigestDelivery.objects.values_list("week_start", flat=True))
        == [date(2026, 3, 16)] * 2 + [date(2026, 3, 23)] * 2
    )
