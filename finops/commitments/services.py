"""Writes for commitments: the expiry alerts, 90/30/7 days before a commitment's end, each exactly once.

Same protocol as the budget alerts: in one transaction, a pending ``CommitmentExpiryAlert`` row (with the rendered
email) is inserted per due (commitment, threshold), ``ON CONFLICT DO NOTHING`` on the unique constraint, so a
second run inserts nothing; then ``finops.core.outbox.deliver_pending`` sends each pending row under its row lock
and marks it sent. A crash before the send leaves the row pending for the next run; an SMTP error keeps it pending
and re-raises (the task retries with a backoff).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from finops.accounts.access import BILLING_MANAGERS, SEE_ALL_TEAMS
from finops.accounts.models import Membership, Organization
from finops.commitments.inventory import Commitment, due_thresholds
from finops.commitments.models import CommitmentAlertSubscription, CommitmentExpiryAlert, ImportedCommitmentTerm
from finops.commitments.selectors import commitment_alert_choices, commitment_inventory, organizations_with_data
from finops.commitments.terms import CommitmentTerm, CommitmentTermsError, parse_commitment_terms
from finops.core import outbox

KIND = "commitment-expiry"


def alert_recipients(organization: Organization) -> list[str]:
    """The email addresses of the organization's active members who get expiry alerts: admins and finance unless
    they turned them off, viewers who turned them on (``CommitmentAlertSubscription``). Engineers never: commitments
    are organization-wide."""
    members = (
        Membership.objects.filter(organization=organization, role__in=list(SEE_ALL_TEAMS), user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
    )
    choices = commitment_alert_choices(organization=organization)
    return sorted({m.user.email for m in members if choices.get(m.user_id, m.role in BILLING_MANAGERS)})


@transaction.atomic
def commitment_alert_subscribe(
    *, user: AbstractBaseUser, organization: Organization, active: bool
) -> CommitmentAlertSubscription:
    """Record a member's choice to get (or not) the organization's expiry alerts. Raises ValueError for a user
    who is not a member, or an engineer (the alerts name every commitment of the organization)."""
    membership = Membership.objects.filter(user=user, organization=organization).first()
    if membership is None:
        raise ValueError(f"{user} is not a member of organization {organization.slug}")
    if membership.role not in SEE_ALL_TEAMS:
        raise ValueError(f"{user} reads only their teams' costs: commitment alerts cover the whole organization")
    subscription, _ = CommitmentAlertSubscription.objects.update_or_create(
        user=user, organization=organization, defaults={"active": active}
    )
    return subscription


def _render(organization: Organization, commitment: Commitment, threshold: int) -> tuple[str, str, str]:
    context = {
        "organization": organization.name or organization.slug,
        "commitment": commitment.document(),
        "threshold": threshold,
        "site_url": outbox.site_url(),
    }
    subject = " ".join(render_to_string("commitments/email/expiry_subject.txt", context).split())
    text = render_to_string("commitments/email/expiry_body.txt", context)
    html = render_to_string("commitments/email/expiry_body.html", context)
    return subject, text, html


def commitment_expiry_alerts(*, organization: Organization, today: date | None = None) -> list[CommitmentExpiryAlert]:
    """Record the due expiry alerts of the organization's commitments and send every pending one; the alerts sent.

    Due: the commitment's end is known, not past, and ``today`` is within a threshold's days of it. Only the
    tightest due threshold is emailed; looser ones not recorded yet are recorded as skipped."""
    today = today or timezone.now().date()
    inventory = commitment_inventory(organization=organization, today=today)
    recipients = alert_recipients(organization)
    existing = set(
        CommitmentExpiryAlert.objects.filter(organization=organization).values_list("commitment_id", "threshold_days")
    )
    new = []
    for commitment in inventory.commitments:
        due = [t for t in due_thresholds(commitment.days_to_end) if (commitment.id, t) not in existing]
        if not due or not recipients or commitment.end is None:
            continue
        tightest = due[0]
        subject, text, html = _render(organization, commitment, tightest)
        for threshold in due:
            new.append(
                CommitmentExpiryAlert(
                    organization=organization,
                    commitment_id=commitment.id,
                    threshold_days=threshold,
                    ends_at=commitment.end,
                    status=CommitmentExpiryAlert.Status.PENDING
                    if threshold == tightest
                    else CommitmentExpiryAlert.Status.SKIPPED,
                    recipients=recipients,
                    subject=subject,
                    body_text=text,
                    body_html=html,
                )
            )
    with transaction.atomic():
        CommitmentExpiryAlert.objects.bulk_create(new, ignore_conflicts=True)  # the unique constraint decides
    pending = CommitmentExpiryAlert.objects.filter(
        organization=organization, status=CommitmentExpiryAlert.Status.PENDING
    ).order_by("pk")
    return outbox.deliver_pending(CommitmentExpiryAlert, list(pending.values_list("pk", flat=True)), KIND)


def commitment_expiry_alerts_all(*, today: date | None = None) -> dict[str, int]:
    """Every organization with cost data: organization slug -> alerts sent."""
    return {
        organization.slug: len(commitment_expiry_alerts(organization=organization, today=today))
        for organization in organizations_with_data()
    }


@dataclass(frozen=True)
class TermsImport:
    files: list[str]
    terms: list[CommitmentTerm]
    replaced: int  # ids that were imported before (their rows replaced)


def commitment_terms_import(organization: Organization, *paths: Path | str) -> TermsImport:
    """Import commitment terms from AWS inventory exports (describe-reserved-instances, describe-savings-plans
    JSON): every file is read and checked first, then all are written in one transaction, so a bad file writes
    nothing. Idempotent: an id imported again replaces its row. Raises :class:`CommitmentTermsError`."""
    if not paths:
        raise CommitmentTermsError("no file given")
    parsed: dict[str, tuple[CommitmentTerm, str]] = {}
    for path in map(Path, paths):
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommitmentTermsError(f"{path}: cannot read ({error.strerror or error})") from error
        for term in parse_commitment_terms(data, path.name):
            if term.id in parsed and parsed[term.id][1] != path.name:
                raise CommitmentTermsError(f"{path.name}: id {term.id!r} is also in {parsed[term.id][1]}")
            parsed[term.id] = (term, path.name)
    now = timezone.now()
    rows = [
        ImportedCommitmentTerm(
            organization=organization,
            commitment_id=term.id,
            kind=term.kind,
            arn=term.arn,
            start=term.start,
            end=term.end,
            units=term.units,
            hourly_commitment=term.hourly_commitment,
            state=term.state[:32],
            source_file=source,
            imported_at=now,
        )
        for term, source in parsed.values()
    ]
    with transaction.atomic():
        existing = ImportedCommitmentTerm.objects.filter(organization=organization, commitment_id__in=list(parsed))
        replaced, _ = existing.delete()
        ImportedCommitmentTerm.objects.bulk_create(rows)
    return TermsImport(files=[str(p) for p in paths], terms=[t for t, _ in parsed.values()], replaced=replaced)
