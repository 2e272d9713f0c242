"""The organization's existing commitments (reservations, savings plans) from its billing line items.

Pure module: no Django. The selector aggregates the line items of the trailing window in the database and hands
the groups here as plain data; this module merges them per commitment and computes utilization and coverage.

Where the numbers come from (FOCUS semantics; the AWS CUR mapping in ``finops.usage.formats.aws_cur`` fills the
same columns):
- used: ``EffectiveCost`` of the rows with ``CommitmentDiscountStatus`` "Used" (covered usage, amortised);
- unused: ``EffectiveCost`` of the "Unused" rows (FOCUS exports) and of the commitment's Purchase rows, which is 0
  in FOCUS (purchases are amortised into usage) and the unused part of the fee for CUR's ``RIFee`` (reservation
  UnusedAmortizedUpfrontFeeForBillingPeriod + UnusedRecurringFee) and ``SavingsPlanRecurringFee``
  (TotalCommitmentToDate - UsedCommitment) rows;
- utilization = used / (used + unused); unknown when both are 0;
- coverage = on-demand equivalent (``ListCost``, else ``EffectiveCost``) of the usage the commitment covered, over
  that of the usage eligible for it: a reservation's billing account, region and instance family (AWS regional
  reservations are size-flexible within the family); a savings plan's billing account's Compute usage (an EC2
  Instance plan: only its region and family, when the export names them);
- the hourly commitment is the amortised cost per hour it was in force in the window: (used + unused) / hours;
- start, end, offering class, term, payment and reservation count are read from the provider columns kept in the
  line items' ``extras`` (CUR ``reservation/*``, ``savingsPlan/*``, ``pricing/*``); FOCUS carries no commitment
  dates on line items, so there they are unknown (None), and said so. A FOCUS reservation's count comes from
  ``CommitmentDiscountQuantity`` in hours (FOCUS 1.1+): Used + Unused instance-hours over the hours they span.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from finops.commitments.terms import CommitmentTerm, term_for
from finops.core.amounts import money_str
from finops.usage.formats.aws_cur import snake_case

WINDOW_DAYS = 30
EXPIRY_THRESHOLDS_DAYS = (90, 30, 7)

# Attribute -> provider columns in the line items' extras (legacy CUR spelling; the snake_case spelling of CUR 2.0
# and Athena exports is looked up too). The first non-empty value wins.
ATTRIBUTE_SOURCES: dict[str, tuple[str, ...]] = {
    "start": ("reservation/StartTime", "savingsPlan/StartTime"),
    "end": ("reservation/EndTime", "savingsPlan/EndTime"),
    "offering_class": ("pricing/OfferingClass",),
    "term": ("savingsPlan/PurchaseTerm", "pricing/LeaseContractLength"),
    "payment": ("savingsPlan/PaymentOption", "pricing/PurchaseOption"),
    "plan_type": ("savingsPlan/OfferingType",),
    "units": ("reservation/NumberOfReservations",),
    "plan_region": ("savingsPlan/Region",),
    "plan_family": ("savingsPlan/InstanceTypeFamily",),
}


def extras_keys() -> list[str]:
    """Every extras key the selector reads, in both spellings."""
    keys: list[str] = []
    for sources in ATTRIBUTE_SOURCES.values():
        for source in sources:
            for key in (source, snake_case(source)):
                if key not in keys:
                    keys.append(key)
    return keys


@dataclass(frozen=True)
class Observation:
    """One group of a commitment's line items in the window: same commitment, status and charge category."""

    commitment_id: str
    status: str | None  # CommitmentDiscountStatus: Used, Unused or None
    charge_category: str | None
    effective_cost: Decimal
    list_cost: Decimal  # ListCost, else EffectiveCost, of the group
    first_start: datetime
    last_end: datetime
    provider: str | None = None
    billing_account_id: str | None = None
    sub_account_id: str | None = None
    type: str | None = None  # CommitmentDiscountType
    category: str | None = None  # CommitmentDiscountCategory: Spend or Usage
    name: str | None = None
    region_id: str | None = None
    instance_type: str | None = None
    currency: str | None = None
    extras: Mapping[str, str | None] = field(default_factory=dict)  # extras key -> a value of the group
    quantity: float | None = None  # sum of FOCUS CommitmentDiscountQuantity (1.1+, in extras) of the group
    quantity_unit: str | None = None  # its CommitmentDiscountUnit


@dataclass(frozen=True)
class EligibleUsage:
    """Usage (not Unused commitment capacity) of one billing account, region, instance type and service category."""

    billing_account_id: str
    region_id: str
    instance_type: str
    service_category: str
    list_cost: Decimal
    currency: str = ""  # of list_cost: a commitment's coverage only counts usage billed in its own currency


@dataclass(frozen=True)
class Commitment:
    id: str
    kind: str  # "reservation" or "savings_plan"
    provider: str | None
    type: str | None
    category: str | None
    name: str | None
    offering_class: str | None
    term: str | None
    payment: str | None
    plan_type: str | None
    billing_account_id: str | None
    sub_account_id: str | None
    region_id: str | None  # None: every region (a Compute savings plan) or unknown
    family: str | None  # instance family a reservation (or an EC2 Instance plan) covers
    instance_type: str | None
    start: datetime | None  # None: the export does not carry it
    end: datetime | None
    units: Decimal | None  # reservations: number of instances reserved, when the export says
    hourly_commitment: Decimal | None  # amortised cost per hour in force; None when unknown
    currency: str | None
    used_cost: Decimal
    unused_cost: Decimal
    utilization: float | None
    covered_list_cost: Decimal
    eligible_list_cost: Decimal | None
    coverage: float | None
    first_seen: datetime
    last_seen: datetime
    days_to_end: int | None  # from ``today``; None when the end is unknown
    end_source: str | None = None  # "billing", "import" (an imported inventory file) or None (unknown)
    imported_end: datetime | None = None  # the matching imported term's end, also when the billing data wins

    @property
    def end_known(self) -> bool:
        return self.end is not None

    def document(self) -> dict[str, Any]:
        """JSON shape (API and command): money as exact decimal strings (the hourly commitment to 6 places), times
        ISO 8601, shares 0..1."""

        return {
            "id": self.id,
            "kind": self.kind,
            "provider": self.provider,
            "type": self.type,
            "category": self.category,
            "name": self.name,
            "offering_class": self.offering_class,
            "term": self.term,
            "payment": self.payment,
            "plan_type": self.plan_type,
            "scope": {
                "billing_account_id": self.billing_account_id,
                "sub_account_id": self.sub_account_id,
                "region_id": self.region_id,
                "family": self.family,
                "instance_type": self.instance_type,
            },
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "end_known": self.end_known,
            "days_to_end": self.days_to_end,
            "end_source": self.end_source,
            "imported_end": self.imported_end.isoformat() if self.imported_end else None,
            "units": None if self.units is None else format(self.units.normalize(), "f"),
            "hourly_commitment": money_str(self.hourly_commitment.quantize(Decimal("0.000001")))
            if self.hourly_commitment is not None
            else None,
            "currency": self.currency,
            "used_cost": money_str(self.used_cost),
            "unused_cost": money_str(self.unused_cost),
            "utilization": None if self.utilization is None else round(self.utilization, 6),
            "covered_list_cost": money_str(self.covered_list_cost),
            "eligible_list_cost": money_str(self.eligible_list_cost),
            "coverage": None if self.coverage is None else round(self.coverage, 6),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
        }


def family(instance_type: str | None) -> str | None:
    """``m5.2xlarge`` -> ``m5``; None for a missing type."""
    return instance_type.partition(".")[0] if instance_type else None


def parse_time(text: str | None) -> datetime | None:
    """A provider timestamp (``2024-11-30T23:59:59.000Z``, ``2024-11-30 23:59:59``) as aware UTC; None if empty or
    unreadable (the inventory then says the date is unknown rather than guessing)."""
    if not text or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _attribute(extras: Iterable[Mapping[str, str | None]], name: str) -> str | None:
    for source in ATTRIBUTE_SOURCES[name]:
        for key in (source, snake_case(source)):
            for values in extras:
                value = values.get(key)
                if value not in (None, ""):
                    return str(value)
    return None


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v not in (None, "")), None)


def commitment_kind(category: str | None, type_: str | None, commitment_id: str) -> str:
    text = " ".join(filter(None, (category, type_))).lower()
    if "spend" in text or "savings" in text or "savingsplan" in commitment_id.lower():
        return "savings_plan"
    return "reservation"


def _eligible(
    kind: str,
    billing_account: str | None,
    region: str | None,
    fam: str | None,
    eligible: Sequence[EligibleUsage],
    currency: str | None = None,
) -> Decimal | None:
    if billing_account is None:
        return None
    rows = [u for u in eligible if u.billing_account_id == billing_account]
    if currency:
        rows = [u for u in rows if u.currency in (currency, "")]
    if kind == "reservation":
        if region is None or fam is None:
            return None
        rows = [u for u in rows if u.region_id == region and family(u.instance_type) == fam]
    else:
        rows = [u for u in rows if u.service_category == "Compute"]
        if region is not None:
            rows = [u for u in rows if u.region_id == region]
        if fam is not None:
            rows = [u for u in rows if family(u.instance_type) == fam]
    return sum((u.list_cost for u in rows), Decimal(0))


def build_inventory(
    observations: Iterable[Observation],
    eligible: Sequence[EligibleUsage],
    *,
    today: date,
    terms: Mapping[str, CommitmentTerm] | None = None,
) -> list[Commitment]:
    """One :class:`Commitment` per commitment id, ending soonest first (unknown ends last), then by id.

    ``terms`` (term id -> imported term, see :mod:`finops.commitments.terms`) fill the start, end and
    reservation count the billing data lacks; where the billing data has a value it wins, and a different imported
    end stays visible as ``imported_end``."""
    terms = terms or {}
    groups: dict[str, list[Observation]] = {}
    for observation in observations:
        groups.setdefault(observation.commitment_id, []).append(observation)
    inventory = []
    for commitment_id, rows in groups.items():
        extras = [r.extras for r in rows]
        type_ = _first(r.type for r in rows)
        category = _first(r.category for r in rows)
        kind = commitment_kind(category, type_, commitment_id)
        used = sum((r.effective_cost for r in rows if (r.status or "").lower() == "used"), Decimal(0))
        unused = sum(
            (
                r.effective_cost
                for r in rows
                if (r.status or "").lower() == "unused" or (r.charge_category or "") == "Purchase"
            ),
            Decimal(0),
        )
        covered = sum((r.list_cost for r in rows if (r.status or "").lower() == "used"), Decimal(0))
        # The scope: where the covered usage ran (else the commitment's own rows, e.g. a CUR RIFee row).
        ordered = sorted(rows, key=lambda r: (r.status or "").lower() != "used")
        billing_account = _first(r.billing_account_id for r in ordered)
        plan_type = _attribute(extras, "plan_type")
        if kind == "reservation":
            instance_type = _first(r.instance_type for r in ordered)
            region = _first(r.region_id for r in ordered)
            fam = family(instance_type)
        else:  # a Compute plan applies in every region to every family; an EC2 Instance plan names both
            instance_type = None
            region = _attribute(extras, "plan_region")
            fam = _attribute(extras, "plan_family")
        currency = _first(r.currency for r in rows)
        eligible_cost = _eligible(kind, billing_account, region, fam, eligible, currency)
        if eligible_cost is not None and eligible_cost < covered:
            eligible_cost = covered  # covered usage is eligible by definition (another account's, say)
        first_seen = min(r.first_start for r in rows)
        last_seen = max(r.last_end for r in rows)
        start, end = parse_time(_attribute(extras, "start")), parse_time(_attribute(extras, "end"))
        end_source = "billing" if end else None
        term = term_for(commitment_id, terms)
        if term is not None:
            start = start or term.start
            if end is None:
                end, end_source = term.end, "import"
        in_force_from = max(first_seen, start) if start else first_seen
        in_force_to = min(last_seen, end) if end else last_seen
        hours = Decimal((in_force_to - in_force_from).total_seconds()) / 3600
        total = used + unused
        units_text = _attribute(extras, "units")
        try:
            units = Decimal(units_text) if units_text else None
        except ArithmeticError:
            units = None
        if units is None and kind == "reservation":
            units = _units_from_quantity(rows)
        if units is None and term is not None:
            units = term.units
        inventory.append(
            Commitment(
                id=commitment_id,
                kind=kind,
                provider=_first(r.provider for r in rows),
                type=type_,
                category=category,
                name=_first(r.name for r in rows),
                offering_class=_attribute(extras, "offering_class"),
                term=_attribute(extras, "term"),
                payment=_attribute(extras, "payment"),
                plan_type=plan_type,
                billing_account_id=billing_account,
                sub_account_id=_first(r.sub_account_id for r in ordered),
                region_id=region,
                family=fam,
                instance_type=instance_type,
                start=start,
                end=end,
                units=units,
                hourly_commitment=total / hours if total > 0 and hours > 0 else None,
                currency=currency,
                used_cost=used,
                unused_cost=unused,
                utilization=float(used / total) if total > 0 else None,
                covered_list_cost=covered,
                eligible_list_cost=eligible_cost,
                coverage=float(covered / eligible_cost) if eligible_cost else None,
                first_seen=first_seen,
                last_seen=last_seen,
                days_to_end=(end.date() - today).days if end else None,
                end_source=end_source,
                imported_end=term.end if term is not None else None,
            )
        )
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(inventory, key=lambda c: (c.end or far, c.id))


HOUR_UNITS = {"hours", "hour", "hrs", "hr"}


def _units_from_quantity(rows: Sequence[Observation]) -> Decimal | None:
    """A reservation's size from FOCUS CommitmentDiscountQuantity in hours: its Used and Unused rows together
    account for every reserved instance-hour, so their sum over the hours they span is the number reserved."""
    measured = [
        r
        for r in rows
        if (r.status or "").lower() in ("used", "unused")
        and r.quantity is not None
        and (r.quantity_unit or "").strip().lower() in HOUR_UNITS
    ]
    if not measured:
        return None
    hours = (max(r.last_end for r in measured) - min(r.first_start for r in measured)).total_seconds() / 3600
    if hours <= 0:
        return None
    return Decimal(str(round(sum(r.quantity for r in measured) / hours, 3)))


def due_thresholds(days_to_end: int | None, thresholds: Sequence[int] = EXPIRY_THRESHOLDS_DAYS) -> list[int]:
    """The expiry thresholds (days before the end) reached ``days_to_end`` days before it, tightest first; none once
    the commitment has ended or when its end is unknown."""
    if days_to_end is None or days_to_end < 0:
        return []
    return sorted(t for t in thresholds if days_to_end <= t)
