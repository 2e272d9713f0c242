"""Commitment terms (start, end, size) from the providers' own inventory exports.

Pure module: no Django. FOCUS 1.0-1.2 line items carry no commitment start or end, so an organization imports its
commitments' terms from the provider's inventory instead. Two files are accepted, as the AWS CLI writes them:

- ``aws ec2 describe-reserved-instances --output json``: ``{"ReservedInstances": [...]}``, each with
  ``ReservedInstancesId``, ``Start``, ``End`` (ISO 8601, e.g. ``2015-08-07T11:54:42.000Z``; CLI v2 prints
  ``+00:00``), ``InstanceCount`` (integer), ``Duration`` (seconds: 31536000 or 94608000 for one or three years)
  (EC2 API reference, DescribeReservedInstances / ReservedInstances);
- ``aws savingsplans describe-savings-plans --output json``: ``{"savingsPlans": [...]}``, each with
  ``savingsPlanId``, ``savingsPlanArn``, ``start``, ``end`` (strings), ``commitment`` (the hourly commitment,
  a decimal string), ``termDurationInSeconds`` (Savings Plans API reference, SavingsPlan).

Matching (``term_for``): a reservation's inventory id is the FOCUS ``CommitmentDiscountId`` or CUR ARN
``arn:aws:ec2:REGION:ACCOUNT:reserved-instances/<ReservedInstancesId>``; a savings plan's is its ARN
(``arn:aws:savingsplans::ACCOUNT:savingsplan/<savingsPlanId>``). Both end with ``/<id>``, so a commitment
matches the imported term whose id is the last path segment of its id (or equals it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

RESERVED_INSTANCES = "ReservedInstances"
SAVINGS_PLANS = "savingsPlans"
EXPECTED = (
    f"expected `aws ec2 describe-reserved-instances --output json` (a {RESERVED_INSTANCES!r} list) or "
    f"`aws savingsplans describe-savings-plans --output json` (a {SAVINGS_PLANS!r} list)"
)


class CommitmentTermsError(ValueError):
    """A refused inventory file; the message names the file, and the entry index and field when it is one."""


@dataclass(frozen=True)
class CommitmentTerm:
    id: str  # ReservedInstancesId or savingsPlanId
    kind: str  # "reservation" or "savings_plan"
    arn: str  # savingsPlanArn; "" for a reservation (the describe output carries no ARN)
    start: datetime
    end: datetime
    units: Decimal | None  # InstanceCount of a reservation
    hourly_commitment: Decimal | None  # commitment of a savings plan, per hour
    state: str


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise CommitmentTermsError(f"{where}: expected an ISO 8601 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise CommitmentTermsError(f"{where}: not an ISO 8601 time: {value!r}") from error
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(entry: Mapping[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise CommitmentTermsError(f"{where}.{field}: expected a non-empty string, got {value!r}")
    return value.strip()


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CommitmentTermsError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _positive_decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CommitmentTermsError(f"{where}: expected a decimal number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise CommitmentTermsError(f"{where}: not a decimal number: {value!r}") from error
    if not number.is_finite() or number <= 0:
        raise CommitmentTermsError(f"{where}: expected a positive amount, got {value!r}")
    return number


def _span(entry: Mapping[str, Any], start_field: str, end_field: str, where: str) -> tuple[datetime, datetime]:
    start = _time(entry.get(start_field), f"{where}.{start_field}")
    end = _time(entry.get(end_field), f"{where}.{end_field}")
    if end <= start:
        raise CommitmentTermsError(
            f"{where}.{end_field}: {end.isoformat()} is not after {start_field} {start.isoformat()}"
        )
    return start, end


def _reservation(entry: Any, index: int, name: str) -> CommitmentTerm:
    where = f"{name}: ReservedInstances[{index}]"
    if not isinstance(entry, dict):
        raise CommitmentTermsError(f"{where}: expected an object")
    start, end = _span(entry, "Start", "End", where)
    count = _positive_int(entry.get("InstanceCount"), f"{where}.InstanceCount")
    if "Duration" in entry:
        _positive_int(entry["Duration"], f"{where}.Duration")
    return CommitmentTerm(
        id=_text(entry, "ReservedInstancesId", where),
        kind="reservation",
        arn="",
        start=start,
        end=end,
        units=Decimal(count),
        hourly_commitment=None,
        state=str(entry.get("State") or ""),
    )


def _savings_plan(entry: Any, index: int, name: str) -> CommitmentTerm:
    where = f"{name}: savingsPlans[{index}]"
    if not isinstance(entry, dict):
        raise CommitmentTermsError(f"{where}: expected an object")
    plan_id = _text(entry, "savingsPlanId", where)
    arn = _text(entry, "savingsPlanArn", where)
    if not arn.endswith("/" + plan_id):
        raise CommitmentTermsError(f"{where}.savingsPlanArn: {arn!r} does not end with savingsPlanId {plan_id!r}")
    start, end = _span(entry, "start", "end", where)
    if "termDurationInSeconds" in entry:
        _positive_int(entry["termDurationInSeconds"], f"{where}.termDurationInSeconds")
    return CommitmentTerm(
        id=plan_id,
        kind="savings_plan",
        arn=arn,
        start=start,
        end=end,
        units=None,
        hourly_commitment=_positive_decimal(entry.get("commitment"), f"{where}.commitment"),
        state=str(entry.get("state") or ""),
    )


def parse_commitment_terms(data: bytes | str, name: str) -> list[CommitmentTerm]:
    """Every entry of one describe-reserved-instances or describe-savings-plans JSON output, or an error naming
    ``name`` (and the entry index and field). Ids must be unique within the file."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise CommitmentTermsError(f"{name}: not JSON ({error}); {EXPECTED}") from error
    if isinstance(document, dict) and isinstance(document.get(RESERVED_INSTANCES), list):
        terms = [_reservation(e, i, name) for i, e in enumerate(document[RESERVED_INSTANCES])]
        key = RESERVED_INSTANCES
    elif isinstance(document, dict) and isinstance(document.get(SAVINGS_PLANS), list):
        terms = [_savings_plan(e, i, name) for i, e in enumerate(document[SAVINGS_PLANS])]
        key = SAVINGS_PLANS
    else:
        raise CommitmentTermsError(f"{name}: neither output; {EXPECTED}")
    seen: dict[str, int] = {}
    for index, term in enumerate(terms):
        if term.id in seen:
            raise CommitmentTermsError(f"{name}: {key}[{index}]: id {term.id!r} repeats entry {seen[term.id]}")
        seen[term.id] = index
    return terms


def term_key(commitment_id: str) -> str:
    """The part of an inventory commitment id an imported term's id is matched against: the last ``/`` segment of
    an ARN (``.../reserved-instances/<id>``, ``.../savingsplan/<id>``), else the id itself."""
    return commitment_id.rstrip("/").rpartition("/")[2] or commitment_id


def term_for(commitment_id: str, terms: Mapping[str, CommitmentTerm]) -> CommitmentTerm | None:
    """The imported term of an inventory commitment, ``terms`` keyed by term id; a savings plan whose ARN is known
    must match it exactly (two accounts' plan ids never collide, but a different ARN is not this plan)."""
    term = terms.get(term_key(commitment_id)) or terms.get(commitment_id)
    if term is None:
        return None
    if term.arn and commitment_id.startswith("arn:") and commitment_id != term.arn:
        return None
    return term
