"""Reads for commitments: the inventory of an organization's reservations and savings plans.

Computed on read from the trailing ``WINDOW_DAYS`` of line items rather than stored: two GROUP BY queries in the
database over one index range (``lineitem_org_time_idx``: organization, charge_period_start), returning one row
per commitment and status and one per eligible usage group, whatever the number of line items. Nothing derived is
stored, so nothing goes stale when an ingest replaces a billing slice. The web page, the API, the
``commitments`` command, the expiry alerts and the optimizer all call :func:`commitment_inventory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Case, FloatField, Max, Min, Sum, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from finops.accounts.access import BILLING_MANAGERS, AccessPolicy
from finops.accounts.models import Membership, Organization
from finops.commitments.inventory import (
    EXPIRY_THRESHOLDS_DAYS,
    WINDOW_DAYS,
    Commitment,
    EligibleUsage,
    Observation,
    build_inventory,
    extras_keys,
)
from finops.commitments.models import CommitmentAlertSubscription, ImportedCommitmentTerm
from finops.commitments.terms import CommitmentTerm
from finops.core.money import MoneySum
from finops.usage.models import DailyCost, LineItem

NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
UNKNOWN_END_NOTE = (
    "End dates come from the provider's commitment columns (AWS CUR reservation/EndTime, savingsPlan/EndTime). "
    "FOCUS exports carry none on line items: those commitments show an unknown end and get no expiry alert unless "
    "their terms are imported from the provider's inventory (import_commitment_terms)."
)


@dataclass(frozen=True)
class Inventory:
    organization: Organization
    today: date
    window_start: datetime | None  # None: the organization has no cost data
    window_end: datetime | None
    commitments: list[Commitment]

    def document(self) -> dict[str, Any]:
        return {
            "organization": self.organization.slug,
            "today": self.today.isoformat(),
            "window": {
                "start": self.window_start.isoformat() if self.window_start else None,
                "end": self.window_end.isoformat() if self.window_end else None,
                "days": WINDOW_DAYS,
            },
            "expiry_thresholds_days": list(EXPIRY_THRESHOLDS_DAYS),
            "unknown_end": sum(1 for c in self.commitments if not c.end_known),
            "note": UNKNOWN_END_NOTE,
            "commitments": [c.document() for c in self.commitments],
        }


def _window(organization: Organization) -> tuple[datetime, datetime] | None:
    last = DailyCost.objects.filter(organization=organization).aggregate(last=Max("day"))["last"]
    if last is None:
        return None
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    return end - timedelta(days=WINDOW_DAYS), end


def commitment_inventory(*, organization: Organization, today: date | None = None) -> Inventory:
    """The organization's commitments seen in the last ``WINDOW_DAYS`` days of its data, with utilization and
    coverage over those days; ``today`` (default: now, UTC) counts the days to each end."""
    today = today or timezone.now().date()
    window = _window(organization)
    if window is None:
        return Inventory(organization, today, None, None, [])
    start, end = window
    lines = LineItem.objects.filter(
        organization=organization, charge_period_start__gte=start, charge_period_start__lt=end
    )
    keys = extras_keys()
    extras = {f"x{i}": Max(KT(f"extras__{key}")) for i, key in enumerate(keys)}
    groups = (
        lines.filter(commitment_discount_id__isnull=False)
        .exclude(commitment_discount_id="")
        # FOCUS 1.1+ CommitmentDiscountQuantity (kept in extras): summed only where it is a plain number.
        .annotate(quantity_text=KT("extras__CommitmentDiscountQuantity"))
        .values("commitment_discount_id", "commitment_discount_status", "charge_category")
        .annotate(
            quantity=Sum(
                Case(
                    When(quantity_text__regex=NUMBER, then=Cast("quantity_text", FloatField())),
                    default=None,
                    output_field=FloatField(),
                )
            ),
            quantity_unit=Max(KT("extras__CommitmentDiscountUnit")),
            effective=MoneySum("effective_cost"),
            listed=MoneySum(Coalesce("list_cost", "effective_cost")),
            first_start=Min("charge_period_start"),
            last_end=Max("charge_period_end"),
            provider=Max("provider_name"),
            billing_account=Max("billing_account_id"),
            sub_account=Max("sub_account_id"),
            type=Max("commitment_discount_type"),
            category=Max("commitment_discount_category"),
            name=Max("commitment_discount_name"),
            region=Max("region_id"),
            instance_type=Max("instance_type"),
            currency=Max("billing_currency"),
            **extras,
        )
        .order_by()
    )
    observations = [
        Observation(
            commitment_id=g["commitment_discount_id"],
            status=g["commitment_discount_status"],
            charge_category=g["charge_category"],
            effective_cost=g["effective"] or Decimal(0),
            list_cost=g["listed"] or Decimal(0),
            first_start=g["first_start"],
            last_end=g["last_end"],
            provider=g["provider"],
            billing_account_id=g["billing_account"],
            sub_account_id=g["sub_account"],
            type=g["type"],
            category=g["category"],
            name=g["name"],
            region_id=g["region"],
            instance_type=g["instance_type"],
            currency=g["currency"],
            extras={key: g[f"x{i}"] for i, key in enumerate(keys)},
            quantity=g["quantity"],
            quantity_unit=g["quantity_unit"],
        )
        for g in groups
    ]
    eligible: list[EligibleUsage] = []
    if observations:
        usage = (
            lines.filter(charge_category="Usage")
            .exclude(commitment_discount_status__iexact="unused")
            .values("billing_account_id", "billing_currency", "region_id", "instance_type", "service_category")
            .annotate(listed=MoneySum(Coalesce("list_cost", "effective_cost")))
            .order_by()
        )
        eligible = [
            EligibleUsage(
                billing_account_id=u["billing_account_id"],
                region_id=u["region_id"] or "",
                instance_type=u["instance_type"] or "",
                service_category=u["service_category"] or "",
                list_cost=u["listed"] or Decimal(0),
                currency=u["billing_currency"],
            )
            for u in usage
        ]
    terms = imported_commitment_terms(organization=organization) if observations else {}
    return Inventory(organization, today, start, end, build_inventory(observations, eligible, today=today, terms=terms))


def imported_commitment_terms(*, organization: Organization) -> dict[str, CommitmentTerm]:
    """Term id -> the organization's imported commitment term (``import_commitment_terms``)."""
    return {
        row.commitment_id: CommitmentTerm(
            id=row.commitment_id,
            kind=row.kind,
            arn=row.arn,
            start=row.start,
            end=row.end,
            units=row.units,
            hourly_commitment=row.hourly_commitment,
            state=row.state,
        )
        for row in ImportedCommitmentTerm.objects.filter(organization=organization)
    }


def commitment_inventory_for(policy: AccessPolicy, *, today: date | None = None) -> Inventory:
    """The inventory for a caller: commitments are bought for the whole organization, so like the other
    organization-wide reports (optimizer runs, carbon summary) it is read by admins, finance and viewers;
    an engineer, who sees only their teams' costs, is refused."""
    if not policy.sees_all_teams:
        raise PermissionDenied("Commitments are organization-wide: your role sees only your teams' costs.")
    return commitment_inventory(organization=policy.organization, today=today)


def commitment_expiries(*, organization: Organization, today: date | None = None) -> dict[str, datetime]:
    """Commitment id -> end, for the commitments whose end the data carries."""
    inventory = commitment_inventory(organization=organization, today=today)
    return {c.id: c.end for c in inventory.commitments if c.end is not None}


def organizations_with_data() -> list[Organization]:
    """Organizations with cost data (the daily expiry-alert run visits each; a rollup scan, not line items)."""
    ids = DailyCost.objects.values_list("organization_id", flat=True).distinct()
    return list(Organization.objects.filter(pk__in=ids).order_by("slug"))


def commitment_alert_choices(*, organization: Organization) -> dict[int, bool]:
    """user id -> the member's own choice about expiry alerts (members without a choice are absent)."""
    rows = CommitmentAlertSubscription.objects.filter(organization=organization)
    return dict(rows.values_list("user_id", "active"))


def commitment_alert_subscribed(*, user: AbstractBaseUser, organization: Organization) -> bool:
    """Whether the member gets the expiry alerts: their choice, else yes for admins and finance."""
    choice = commitment_alert_choices(organization=organization).get(user.pk)
    if choice is not None:
        return choice
    membership = Membership.objects.filter(user=user, organization=organization).first()
    return membership is not None and membership.role in BILLING_MANAGERS
