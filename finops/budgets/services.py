"""Writes for budgets: create/update (validated), evaluate (idempotent), alert and digest delivery.

Exactly-once alerts
-------------------
1. ``budget_evaluate`` computes the state and, in one transaction, inserts a *pending* ``BudgetAlert`` per
   crossed (budget, period, threshold, kind), with the rendered email, ``ON CONFLICT DO NOTHING`` on the unique
   constraint: a second evaluation (a retry, or another worker at the same time) inserts nothing.
2. ``budget_alerts_deliver`` then sends the pending alerts one email per evaluation (the rows one evaluation
   inserted share their rendered message, which lists every threshold crossed), in a transaction holding their
   row locks (``SELECT ... FOR UPDATE SKIP LOCKED``; on SQLite the IMMEDIATE transaction holds the database
   write lock): the alerts are re-read as pending, sent, and marked sent in that transaction. A concurrent
   worker skips locked rows and finds them sent afterwards.
A crash after the insert and before the send leaves the row pending: the next evaluation (the task redelivered
thanks to ``acks_late``/``reject_on_worker_lost``, or the next daily run) sends it. An SMTP error rolls back
(the row stays pending, its attempt and error recorded, the failure logged by ``finops.core.outbox``), the
delivery stops there and the task retries. The one window left is a crash after the SMTP server accepted
the message and before the commit: that alert is sent again; its Message-ID is stable, so receivers can drop it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from finops.accounts.models import Membership, Organization
from finops.budgets import calc, emails
from finops.budgets.models import Budget, BudgetAlert, DigestDelivery, DigestSubscription
from finops.budgets.selectors import budget_daily_costs, budgets_for, last_data_day, spend_projection
from finops.budgets.validation import BudgetSpec, budget_validate
from finops.core import outbox
from finops.core.amounts import grouped_money, money_str
from finops.usage.models import DailyCost
from finops.usage.selectors import cost_summary

PAUSE_SETTING = "FINOPS_BUDGETS_TEST_PAUSE_FILE"  # test-only: see _test_pause
STATUS_LABELS = {"ok": "OK", "at_risk": "At risk", "breached": "Breached"}
METRIC_LABELS = {"billed": "billed cost", "effective": "effective (amortized) cost"}


# ---------------------------------------------------------------------------------------------------------
# Create / update


def _apply(budget: Budget, spec: BudgetSpec) -> Budget:
    for name in ("name", "scope", "period", "amount", "currency", "cost_metric", "thresholds"):
        setattr(budget, name, getattr(spec, name))
    budget.recipient_emails = spec.recipient_emails
    budget.auto_adjust_periods = spec.auto_adjust_periods
    budget.active = spec.active
    budget.save()
    budget.recipient_users.set(spec.recipient_users)
    return budget


@transaction.atomic
def budget_create(*, organization: Organization, data: dict) -> Budget:
    """Validate ``data`` (see ``validation.budget_validate``) and create the budget; nothing is written when
    it is refused (``BudgetValidationError`` with field messages)."""
    spec = budget_validate(organization=organization, data=data)
    return _apply(Budget(organization=organization), spec)


@transaction.atomic
def budget_update(*, budget: Budget, data: dict) -> Budget:
    """Replace the budget's fields with ``data`` (all fields, validated as on create)."""
    spec = budget_validate(organization=budget.organization, data=data, instance=budget)
    return _apply(budget, spec)


# ---------------------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class AlertOutcome:
    threshold: Decimal
    kind: str
    recipients: list[str]
    status: str  # "sent" (by this run), "would_send" (dry run), "pending" (left for a retry)


@dataclass
class BudgetResult:
    budget: Budget
    evaluation: calc.BudgetEvaluation
    amount_source: str  # "fixed" or "auto"
    alerts: list[AlertOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "id": self.budget.pk,
            "name": self.budget.name,
            "period": self.budget.period,
            "period_start": ev.period_start.isoformat(),
            "period_end": ev.period_end.isoformat(),
            "as_of": ev.as_of.isoformat() if ev.as_of else None,
            "currency": self.budget.currency,
            "cost_metric": self.budget.cost_metric,
            "amount": money_str(ev.amount),
            "amount_source": self.amount_source,
            "actual": money_str(ev.actual),
            "forecast": money_str(ev.forecast),
            "forecast_interval": {
                f"{int(level * 100)}": [money_str(ev.lower[level]), money_str(ev.upper[level])] for level in calc.LEVELS
            },
            "probability_of_breach": round(ev.probability_of_breach, 4),
            "status": ev.status,
            "model": ev.model,
            "days_elapsed": ev.days_elapsed,
            "days_total": ev.days_total,
            "thresholds_crossed": [{"threshold": _percent_number(t.percent), "kind": t.kind} for t in ev.crossed],
            "alerts_sent": [
                {"threshold": _percent_number(a.threshold), "kind": a.kind, "recipients": a.recipients}
                for a in self.alerts
                if a.status in ("sent", "would_send")
            ],
        }


def _percent_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def budget_recipients(budget: Budget) -> list[str]:
    addresses = {u.email.strip() for u in budget.recipient_users.all() if u.email}
    addresses.update(e.strip() for e in budget.recipient_emails or [])
    return sorted(addresses, key=str.lower)


def _thresholds(budget: Budget) -> list[calc.Threshold]:
    return [calc.Threshold(percent=Decimal(str(t["percent"])), kind=t["kind"]) for t in budget.thresholds or []]


def _amount(budget: Budget, today: date, as_of: date | None) -> tuple[Decimal, str]:
    """The configured amount, or the average actual of the last N complete periods (auto-adjusting) when
    the organization has data for all of each of them (periods before its first data day are skipped)."""
    if not budget.auto_adjust_periods or as_of is None:
        return budget.amount, "fixed"
    first_day = DailyCost.objects.filter(organization=budget.organization).aggregate(first=Min("day"))["first"]
    periods = [
        (start, end)
        for start, end in calc.previous_periods(budget.period, today, budget.auto_adjust_periods)
        if first_day is not None and start >= first_day and end <= as_of
    ]
    if not periods:
        return budget.amount, "fixed"
    daily = budget_daily_costs(budget=budget, start=periods[-1][0], end=periods[0][1])
    totals = [sum((c for d, c in daily.items() if start <= d <= end), Decimal(0)) for start, end in periods]
    auto = calc.auto_amount(totals)
    return (auto, "auto") if auto is not None else (budget.amount, "fixed")


def budget_state(*, budget: Budget, today: date | None = None) -> tuple[calc.BudgetEvaluation, str]:
    """Evaluate ``budget`` for the period containing ``today`` (default: today, UTC). Reads only."""
    today = today or timezone.now().date()
    as_of = last_data_day(organization=budget.organization)
    if as_of is not None and as_of > today:
        as_of = today
    amount, source = _amount(budget, today, as_of)
    projection = spend_projection(
        organization=budget.organization,
        scope=budget.scope or {},
        metric=budget.cost_metric,
        currency=budget.currency,
        period=budget.period,
        today=today,
    )
    evaluation = calc.evaluate_projection(projection, amount=amount, thresholds=_thresholds(budget))
    return evaluation, source


def _percent_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def alert_subject_facts(ev: calc.BudgetEvaluation, crossed: list[calc.Threshold]) -> list[str]:
    """The subject's facts: the actual percentage of the amount when an actual threshold is crossed, the
    forecast percentage when a forecast one is (each the evaluation's number, not the threshold's)."""
    facts = []
    if any(t.kind == "actual" for t in crossed):
        facts.append(f"spend at {ev.actual / ev.amount * 100:.1f}%")
    if any(t.kind == "forecast" for t in crossed):
        facts.append(f"forecast at {ev.forecast / ev.amount * 100:.1f}%")
    return facts


def _alert_context(budget: Budget, ev: calc.BudgetEvaluation, source: str, due: list[calc.Threshold]) -> dict:
    """One email for the evaluation: every threshold crossed this period, those not alerted before marked new."""
    amount = ev.amount
    new = {(t.percent.normalize(), t.kind) for t in due}
    ordered = sorted(ev.crossed, key=lambda t: (t.kind != "actual", t.percent))
    thresholds = [
        {
            "percent": _percent_text(t.percent),
            "kind": t.kind,
            "limit": grouped_money(calc.limit(amount, t)),
            "new": (t.percent.normalize(), t.kind) in new,
        }
        for t in ordered
    ]
    return {
        "budget_name": budget.name,
        "organization": budget.organization.name or budget.organization.slug,
        "period_name": budget.period,
        "period_label": calc.period_label(budget.period, ev.period_start),
        "period_start": ev.period_start.isoformat(),
        "period_end": ev.period_end.isoformat(),
        "as_of": ev.as_of.isoformat() if ev.as_of else "no data yet",
        "thresholds": thresholds,
        "subject_facts": ", ".join(alert_subject_facts(ev, due)),
        "currency": budget.currency,
        "metric_label": METRIC_LABELS.get(budget.cost_metric, budget.cost_metric),
        "amount": grouped_money(amount),
        "amount_source": source,
        "auto_periods": budget.auto_adjust_periods,
        "actual": grouped_money(ev.actual),
        "forecast": grouped_money(ev.forecast),
        "lower80": grouped_money(ev.lower[0.8]),
        "upper80": grouped_money(ev.upper[0.8]),
        "lower95": grouped_money(ev.lower[0.95]),
        "upper95": grouped_money(ev.upper[0.95]),
        "probability": f"{ev.probability_of_breach * 100:.1f}",
        "status_label": STATUS_LABELS[ev.status],
        "used_percent": f"{ev.actual / amount * 100:.1f}",
        "forecast_percent": f"{ev.forecast / amount * 100:.1f}",
        "days_elapsed": ev.days_elapsed,
        "days_total": ev.days_total,
        "days_remaining": ev.days_remaining,
        "elapsed_percent": f"{ev.elapsed_fraction * 100:.0f}",
        "run_rate": grouped_money(ev.daily_run_rate),
        "allowance": grouped_money(ev.remaining_daily_allowance) if (ev.remaining_daily_allowance or 0) > 0 else "",
        "exhaustion_date": ev.exhaustion_date.isoformat() if ev.exhaustion_date else "",
        "budget_path": budget.get_absolute_url(),
    }


def _evaluation_json(result: BudgetResult) -> dict:
    data = result.as_dict()
    data.pop("alerts_sent")
    return data


def _test_pause() -> None:
    """Test-only (setting FINOPS_BUDGETS_TEST_PAUSE_FILE): after the pending alerts are committed, write
    "<file>.reached" and wait while <file> exists, so a test can kill the worker at exactly this point."""
    path = getattr(settings, PAUSE_SETTING, "")
    if not path:
        return
    pause = Path(path)
    Path(f"{pause}.reached").write_text(str(time.time()))
    deadline = time.monotonic() + 300
    while pause.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def budget_evaluate(*, budget: Budget, today: date | None = None, dry_run: bool = False) -> BudgetResult:
    """Evaluate one budget, record pending alerts for the thresholds crossed and send every pending alert of
    the budget. Idempotent. With ``dry_run`` nothing is written or sent: the alerts that would be sent are
    listed (crossed thresholds without a sent alert this period)."""
    ev, source = budget_state(budget=budget, today=today)
    result = BudgetResult(budget=budget, evaluation=ev, amount_source=source)
    recipients = budget_recipients(budget)
    existing = {
        (a.threshold_percent.normalize(), a.kind): a.status
        for a in BudgetAlert.objects.filter(budget=budget, period_start=ev.period_start)
    }
    due = [t for t in ev.crossed if existing.get((t.percent.normalize(), t.kind)) != BudgetAlert.Status.SENT]
    if dry_run:
        result.alerts = [AlertOutcome(t.percent, t.kind, recipients, "would_send") for t in due if recipients]
        return result

    with transaction.atomic():
        new = []
        todo = [t for t in due if recipients and (t.percent.normalize(), t.kind) not in existing]
        if todo:
            # One email for every threshold this evaluation crosses first; each keeps its own row (exactly once
            # per budget, period, threshold and kind), and delivery sends the rows of one email together.
            subject, text, html = emails.render("budget_alert", _alert_context(budget, ev, source, todo))
        for threshold in todo:
            new.append(
                BudgetAlert(
                    organization_id=budget.organization_id,
                    budget=budget,
                    period_start=ev.period_start,
                    threshold_percent=threshold.percent,
                    kind=threshold.kind,
                    recipients=recipients,
                    subject=subject,
                    body_text=text,
                    body_html=html,
                    numbers=_evaluation_json(result),
                )
            )
        BudgetAlert.objects.bulk_create(new, ignore_conflicts=True)  # the unique constraint decides
        Budget.objects.filter(pk=budget.pk).update(
            last_evaluation=_evaluation_json(result), last_status=ev.status, last_evaluated_at=timezone.now()
        )
    _test_pause()
    sent = budget_alerts_deliver(budget=budget)
    result.alerts = [
        AlertOutcome(Decimal(format(a.threshold_percent.normalize(), "f")), a.kind, a.recipients, "sent")
        for a in sent
        if a.period_start == ev.period_start
    ]
    return result


def budgets_evaluate(
    *, organization: Organization | None = None, today: date | None = None, dry_run: bool = False
) -> list[BudgetResult]:
    """Evaluate every active budget (of ``organization``, or all)."""
    return [budget_evaluate(budget=b, today=today, dry_run=dry_run) for b in budgets_for(organization=organization)]


# ---------------------------------------------------------------------------------------------------------
# Delivery (exactly once)


def budget_alerts_deliver(*, budget: Budget | None = None, organization: Organization | None = None) -> list:
    """Send the pending alerts (of a budget, of an organization, or all), each exactly once. The rows one
    evaluation inserted (same budget, period and rendered message) go out as one email."""
    pending = BudgetAlert.objects.filter(status=BudgetAlert.Status.PENDING)
    if budget is not None:
        pending = pending.filter(budget=budget)
    if organization is not None:
        pending = pending.filter(organization=organization)
    groups: dict[tuple, list[int]] = defaultdict(list)
    rows = pending.order_by("pk").values_list("pk", "budget_id", "period_start", "subject", "body_text")
    for pk, budget_id, period_start, subject, text in rows:
        groups[(budget_id, period_start, subject, text)].append(pk)
    sent = []
    for pks in groups.values():
        sent.extend(_deliver_alert_group(pks))
    return sent


def _deliver_alert_group(pks: list[int]) -> list[BudgetAlert]:
    """One email for the rows of ``pks`` still pending, sent and marked sent in one transaction holding their
    row locks (rows another worker holds are left to it)."""
    try:
        with transaction.atomic():
            rows = list(
                BudgetAlert.objects.select_for_update(skip_locked=True)
                .filter(pk__in=pks, status=BudgetAlert.Status.PENDING)
                .order_by("pk")
            )
            if not rows:  # sent already, or another worker is sending them right now
                return []
            first = rows[0]
            outbox.send(
                subject=first.subject,
                text=first.body_text,
                html=first.body_html,
                recipients=list(first.recipients),
                kind="budget-alert",
                message_key=f"finops.budget-alert.{first.pk}",
            )
            now = timezone.now()
            for row in rows:
                row.status, row.sent_at, row.attempts = BudgetAlert.Status.SENT, now, row.attempts + 1
            BudgetAlert.objects.bulk_update(rows, ["status", "sent_at", "attempts"])
    except outbox.SEND_ERRORS as error:  # kept pending; the task retries with a backoff
        BudgetAlert.objects.filter(pk__in=pks, status=BudgetAlert.Status.PENDING).update(
            attempts=F("attempts") + 1, last_error=str(error)
        )
        raise
    return rows


# ---------------------------------------------------------------------------------------------------------
# Weekly spend digest


@transaction.atomic
def digest_subscribe(*, user: Any, organization: Organization, active: bool = True) -> DigestSubscription:
    if not Membership.objects.filter(user=user, organization=organization).exists():
        raise ValueError(f"{user} is not a member of organization {organization.slug}")
    subscription, _ = DigestSubscription.objects.update_or_create(
        user=user, organization=organization, defaults={"active": active}
    )
    return subscription


def _digest_context(organization: Organization, week_start: date, as_of: date | None) -> dict:
    end = as_of or week_start - timedelta(days=1)
    start = end - timedelta(days=6)
    current = cost_summary(organization=organization, group_by="provider", start=start, end=end)
    previous = cost_summary(
        organization=organization, group_by="provider", start=start - timedelta(days=7), end=start - timedelta(1)
    )
    by_currency: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in current:
        by_currency[row.currency][0] += row.cost
    for row in previous:
        by_currency[row.currency][1] += row.cost
    totals = []
    for currency, (now, before) in sorted(by_currency.items()):
        change = f"{(now - before) / before * 100:+.1f}%" if before else ""
        totals.append(
            {"currency": currency, "total": grouped_money(now), "previous": grouped_money(before), "change": change}
        )
    services = [
        {"group": r.group, "currency": r.currency, "cost": grouped_money(r.cost)}
        for r in cost_summary(organization=organization, group_by="service", start=start, end=end)[:5]
    ]
    budgets = []
    for budget in budgets_for(organization=organization):
        state = budget.last_evaluation or {}
        if not state:
            continue
        budgets.append(
            {
                "name": budget.name,
                "path": budget.get_absolute_url(),
                "period_label": calc.period_label(budget.period, date.fromisoformat(state["period_start"])),
                "status": STATUS_LABELS.get(state.get("status", ""), state.get("status", "")),
                "currency": budget.currency,
                "actual": grouped_money(Decimal(state["actual"])),
                "amount": grouped_money(Decimal(state["amount"])),
                "forecast": grouped_money(Decimal(state["forecast"])),
            }
        )
    return {
        "organization": organization.name or organization.slug,
        "week_start": start.isoformat(),
        "week_end": end.isoformat(),
        "currency": totals[0]["currency"] if len(totals) == 1 else "",
        "total": totals[0]["total"] if len(totals) == 1 else "; ".join(f"{t['currency']} {t['total']}" for t in totals),
        "totals": totals,
        "services": services,
        "budgets": budgets,
        "metric_label": METRIC_LABELS["billed"],
    }


def weekly_digest_send(*, today: date | None = None) -> list[DigestDelivery]:
    """One digest per subscribed user, organization and week (the Monday on or before ``today``), exactly once
    (same pending -> sent protocol as alerts)."""
    today = today or timezone.now().date()
    week_start = today - timedelta(days=today.weekday())
    subscriptions = DigestSubscription.objects.filter(active=True).select_related("user", "organization")
    by_org: dict[int, list[DigestSubscription]] = defaultdict(list)
    for subscription in subscriptions:
        member = Membership.objects.filter(user=subscription.user, organization=subscription.organization).exists()
        if member and subscription.user.email and subscription.user.is_active:
            by_org[subscription.organization_id].append(subscription)
    for subs in by_org.values():
        organization = subs[0].organization
        done = set(
            DigestDelivery.objects.filter(organization=organization, week_start=week_start).values_list(
                "user_id", flat=True
            )
        )
        todo = [s for s in subs if s.user_id not in done]
        if not todo:
            continue
        as_of = last_data_day(organization=organization)
        if as_of is not None and as_of >= today:
            as_of = today - timedelta(days=1)
        subject, text, html = emails.render("weekly_digest", _digest_context(organization, week_start, as_of))
        DigestDelivery.objects.bulk_create(
            [
                DigestDelivery(
                    organization=organization,
                    user=s.user,
                    week_start=week_start,
                    recipients=[s.user.email],
                    subject=subject,
                    body_text=text,
                    body_html=html,
                )
                for s in todo
            ],
            ignore_conflicts=True,
        )
    pending = DigestDelivery.objects.filter(status=DigestDelivery.Status.PENDING).order_by("pk")
    return outbox.deliver_pending(DigestDelivery, list(pending.values_list("pk", flat=True)), "digest")
