"""Demo budgets: one in each state, with amounts computed from the organization's own data so the states hold
whatever day the demo is seeded on, and recipients, so the first evaluation sends alerts.

- "Cloud total": the whole organization, comfortably under (amount 1.5 x the forecast, and above the upper
  95% bound): ok, no alert.
- "Team ml": at risk on the forecast (amount between actual-to-date and the forecast): the forecast 100%
  alert (and the actual 80% one when actual already reached it).
- "EC2 us-east-1": already breached this period (amount 80% of actual-to-date): the actual 80% and 100%
  alerts and the forecast 100% alert. Breaching needs spend this period: on the first day of a month (data up
  to yesterday), the budget is quarterly, or annual, whichever already has spend.
- "Team <slug>" of the first team a demo engineer belongs to (other than ml): comfortably under (amount 1.5 x
  the forecast), so an engineer sees a budget of their own team.
- "Data platform (auto)": a quarterly budget of the Data Platform billing account whose amount adjusts to the
  average of the last 2 complete quarters (whatever state that gives).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from finops.accounts.models import Membership, Organization, Role, Team
from finops.budgets.models import Budget
from finops.budgets.services import budget_create, budget_state, budget_update
from finops.core.amounts import CENT, quantize_money
from finops.usage.models import DailyCost

EC2 = "Amazon Elastic Compute Cloud"
DATA_PLATFORM_ACCOUNT = "859302716445"
RECIPIENT_USERNAMES = ("finance", "admin")
EMAIL_DOMAIN = "demo.finops.example"  # .example is reserved (RFC 2606): demo mail never reaches anyone
THRESHOLDS = [
    {"percent": "80", "kind": "actual"},
    {"percent": "100", "kind": "actual"},
    {"percent": "100", "kind": "forecast"},
]


def _ensure_emails(organization: Organization, stdout: Any) -> list[str]:
    """The demo recipients; a demo user without an email gets <username>@demo.finops.example."""
    users = []
    user_model = get_user_model()
    for username in RECIPIENT_USERNAMES:
        user = user_model.objects.filter(username=username).first()
        if user is None or not Membership.objects.filter(user=user, organization=organization).exists():
            continue
        if not user.email:
            user.email = f"{username}@{EMAIL_DOMAIN}"
            user.save(update_fields=["email"])
            stdout.write(f"budgets: gave demo user {username} the email {user.email}.\n")
        users.append(username)
    return users


def _state(organization: Organization, today: date, **fields: Any):
    """Evaluate an unsaved budget of ``fields`` with a placeholder amount (reads only)."""
    probe = Budget(organization=organization, amount=Decimal(1), thresholds=[], **fields)
    evaluation, _ = budget_state(budget=probe, today=today)
    return evaluation


def _save(organization: Organization, data: dict) -> Budget:
    existing = Budget.objects.filter(organization=organization, name=data["name"]).first()
    if existing is not None:
        return budget_update(budget=existing, data=data)
    return budget_create(organization=organization, data=data)


@transaction.atomic
def seed_budgets_demo(*, organization: Organization, stdout: Any, today: date | None = None) -> list[Budget]:
    """Create (or refresh, by name) the demo budgets of ``organization`` for the period containing ``today``
    (default: today, UTC; pass the demo data's end day when it is not today)."""
    today = today or timezone.now().date()
    if not DailyCost.objects.filter(organization=organization).exists():
        stdout.write("budgets: the organization has no cost data; no demo budgets.\n")
        return []
    users = _ensure_emails(organization, stdout)
    recipients = {"recipient_users": users, "recipient_emails": [] if users else [f"finops@{EMAIL_DOMAIN}"]}
    budgets = []

    total = _state(organization, today, period="monthly", scope={})
    ok_amount = max(
        quantize_money(total.forecast * Decimal("1.5")), quantize_money(total.upper[0.95] * Decimal("1.25")), CENT
    )
    budgets.append(
        _save(
            organization,
            {"name": "Cloud total", "amount": str(ok_amount), "scope": {}, "thresholds": THRESHOLDS, **recipients},
        )
    )

    team = "ml" if Team.objects.filter(organization=organization, slug="ml").exists() else None
    risk_scope = {"team": [team]} if team else {}
    risk = _state(organization, today, period="monthly", scope=risk_scope)
    # Between actual-to-date and the forecast, nearer the forecast: P(breach) > 0.5 on any day of the month.
    risk_amount = quantize_money(risk.actual + (risk.forecast - risk.actual) * Decimal("0.6"))
    if risk_amount <= risk.actual:
        stdout.write("budgets: no forecast spend left this month; the at-risk demo budget may not be at risk.\n")
        risk_amount = quantize_money(risk.actual) + CENT
    budgets.append(
        _save(
            organization,
            {
                "name": f"Team {team}" if team else "At risk",
                "amount": str(risk_amount),
                "scope": risk_scope,
                "thresholds": THRESHOLDS,
                **recipients,
            },
        )
    )

    breach_scope = {"service_name": [EC2], "region_id": ["us-east-1"]}
    if not DailyCost.objects.filter(organization=organization, service_name=EC2, region_id="us-east-1").exists():
        breach_scope = {}
    for period in ("monthly", "quarterly", "annual"):
        breach = _state(organization, today, period=period, scope=breach_scope)
        if breach.actual > 0:
            break
    else:
        stdout.write("budgets: no spend yet this year; the breached demo budget cannot be breached today.\n")
    breach_amount = max(quantize_money(breach.actual * Decimal("0.8")), CENT)
    budgets.append(
        _save(
            organization,
            {
                "name": "EC2 us-east-1" if breach_scope else "Breached",
                "amount": str(breach_amount),
                "period": period,
                "scope": breach_scope,
                "thresholds": THRESHOLDS,
                **recipients,
            },
        )
    )

    own = (
        Team.objects.filter(members__organization=organization, members__role=Role.ENGINEER)
        .exclude(slug=team or "")
        .order_by("slug")
        .first()
    )
    if own is not None:
        mine = _state(organization, today, period="monthly", scope={"team": [own.slug]})
        budgets.append(
            _save(
                organization,
                {
                    "name": f"Team {own.slug}",
                    "amount": str(max(quantize_money(mine.forecast * Decimal("1.5")), CENT)),
                    "scope": {"team": [own.slug]},
                    "thresholds": THRESHOLDS,
                    **recipients,
                },
            )
        )

    if DailyCost.objects.filter(organization=organization, billing_account_id=DATA_PLATFORM_ACCOUNT).exists():
        data = _state(organization, today, period="quarterly", scope={"billing_account_id": [DATA_PLATFORM_ACCOUNT]})
        budgets.append(
            _save(
                organization,
                {
                    "name": "Data platform (auto)",
                    # Used until 2 complete quarters of data exist: 20% above the forecast.
                    "amount": str(max(quantize_money(data.forecast * Decimal("1.2")), CENT)),
                    "period": "quarterly",
                    "scope": {"billing_account_id": [DATA_PLATFORM_ACCOUNT]},
                    "auto_adjust_periods": 2,
                    "thresholds": THRESHOLDS,
                    **recipients,
                },
            )
        )
    for budget in budgets:
        stdout.write(f"budgets: {budget.name} ({budget.period}, {budget.currency} {budget.amount:,.2f}).\n")
    return budgets
