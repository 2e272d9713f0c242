"""The one validator of budget input, used by the services (hence the API, the commands and web forms).

``budget_validate`` checks every field against the organization's data and returns a clean ``BudgetSpec``,
or raises ``BudgetValidationError`` (a Django ``ValidationError`` with ``message_dict``: field -> messages),
collecting every field's problems at once. It writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from finops.accounts.models import Membership, Organization
from finops.budgets import calc
from finops.budgets.models import Budget
from finops.budgets.selectors import DIMENSIONS, SCOPE_KEYS, known_dimension_values, known_tag_values, scope_currencies

MAX_PERCENT = Decimal(1000)
PERCENT_PLACES = Decimal("0.001")
MAX_AUTO_PERIODS = 36


class BudgetValidationError(ValidationError):
    """Field-level messages: ``error.message_dict == {"amount": ["..."], ...}``."""


@dataclass(frozen=True)
class BudgetSpec:
    name: str
    scope: dict
    period: str
    amount: Decimal
    currency: str
    cost_metric: str
    thresholds: list[dict]  # [{"percent": "80", "kind": "actual"}]
    recipient_users: list = field(default_factory=list)  # User instances, members of the organization
    recipient_emails: list[str] = field(default_factory=list)
    auto_adjust_periods: int | None = None
    active: bool = True


def _as_list(value: Any) -> list | None:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _clean_percent(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise InvalidOperation
    number = Decimal(str(raw).strip())
    if not number.is_finite():
        raise InvalidOperation
    return number


def _percent_text(value: Decimal) -> str:
    text = format(value.quantize(PERCENT_PLACES).normalize(), "f")
    return text


def _scope(organization: Organization, raw: Any, errors: dict[str, list[str]]) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        errors.setdefault("scope", []).append("Scope must be an object of filters.")
        return {}
    unknown_keys = sorted(set(raw) - set(SCOPE_KEYS))
    if unknown_keys:
        errors.setdefault("scope", []).append(
            f"Unknown scope filter(s) {', '.join(unknown_keys)}; use {', '.join(SCOPE_KEYS)}."
        )
    clean: dict = {}
    for key in (*DIMENSIONS, "team"):
        if key not in raw:
            continue
        values = _as_list(raw[key])
        if values is None or not all(isinstance(v, str) and v for v in values):
            errors.setdefault(f"scope.{key}", []).append("Must be a list of non-empty strings.")
            continue
        values = sorted(set(values))
        if not values:
            continue
        missing = sorted(set(values) - known_dimension_values(organization=organization, key=key, values=values))
        if missing:
            what = "team" if key == "team" else key
            errors.setdefault(f"scope.{key}", []).append(
                f"Unknown {what} value(s) in organization {organization.slug}: {', '.join(missing)}."
            )
            continue
        clean[key] = values
    if "tags" in raw:
        tags = raw["tags"]
        if not isinstance(tags, dict):
            errors.setdefault("scope.tags", []).append("Tags must be an object: {tag key: [values]}.")
        else:
            clean_tags = {}
            for key, raw_values in sorted(tags.items()):
                values = _as_list(raw_values)
                if not key or "__" in key or values is None or not all(isinstance(v, str) for v in values):
                    errors.setdefault("scope.tags", []).append(
                        f"Tag {key!r}: a key without '__' and a list of string values."
                    )
                    continue
                values = sorted(set(values))
                if not values:
                    continue
                missing = sorted(set(values) - known_tag_values(organization=organization, key=key, values=values))
                if missing:
                    errors.setdefault("scope.tags", []).append(
                        f"Unknown value(s) of tag {key!r} in organization {organization.slug}: {', '.join(missing)}."
                    )
                    continue
                clean_tags[key] = values
            if clean_tags:
                clean["tags"] = clean_tags
    return clean


def _thresholds(raw: Any, errors: dict[str, list[str]]) -> list[dict]:
    items = _as_list(raw)
    if items is None:
        errors.setdefault("thresholds", []).append("Thresholds must be a list of {percent, kind}.")
        return []
    clean: list[dict] = []
    seen = set()
    for index, item in enumerate(items):
        where = f"Threshold {index + 1}"
        if not isinstance(item, dict):
            errors.setdefault("thresholds", []).append(f"{where}: must be an object with percent and kind.")
            continue
        kind = item.get("kind", "actual")
        if kind not in calc.KINDS:
            errors.setdefault("thresholds", []).append(f"{where}: kind must be one of {', '.join(calc.KINDS)}.")
            continue
        try:
            percent = _clean_percent(item.get("percent"))
        except (InvalidOperation, ValueError, TypeError):
            got = item.get("percent")
            errors.setdefault("thresholds", []).append(f"{where}: percent must be a number, got {got!r}.")
            continue
        if not Decimal(0) < percent <= MAX_PERCENT:
            errors.setdefault("thresholds", []).append(
                f"{where}: percent must be greater than 0 and at most 1000, got {percent}."
            )
            continue
        text = _percent_text(percent)
        if (text, kind) in seen:
            errors.setdefault("thresholds", []).append(f"{where}: {text}% on {kind} is listed twice.")
            continue
        seen.add((text, kind))
        clean.append({"percent": text, "kind": kind})
    return sorted(clean, key=lambda t: (t["kind"], Decimal(t["percent"])))


def budget_validate(*, organization: Organization, data: dict, instance: Budget | None = None) -> BudgetSpec:
    """Check ``data`` (the fields of ``BudgetSpec``; users as ids or usernames) for ``organization``."""
    errors: dict[str, list[str]] = {}

    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = ["A name is required."]
    elif len(name) > 200:
        errors["name"] = ["At most 200 characters."]
    else:
        clash = Budget.objects.filter(organization=organization, name=name)
        if instance is not None and instance.pk:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["name"] = [f"A budget named {name!r} already exists in organization {organization.slug}."]

    period = data.get("period", "monthly")
    if period not in calc.PERIODS:
        errors["period"] = [f"Period must be one of {', '.join(calc.PERIODS)}, got {period!r}."]

    amount = Decimal(0)
    raw_amount = data.get("amount")
    try:
        if isinstance(raw_amount, (bool, float)):
            raise InvalidOperation  # floats are not exact money; pass a string or Decimal
        amount = Decimal(str(raw_amount).strip())
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["amount"] = [f"Amount must be a decimal number (as a string), got {raw_amount!r}."]
    else:
        if amount <= 0:
            errors["amount"] = [f"Amount must be greater than zero, got {amount}."]
        elif amount.as_tuple().exponent < -16 or amount.adjusted() >= 22:
            errors["amount"] = ["Amount has too many digits (at most 22 before and 16 after the point)."]

    currency = str(data.get("currency") or "USD").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = [f"Currency must be a 3-letter ISO 4217 code, got {currency!r}."]

    cost_metric = data.get("cost_metric", "billed")
    if cost_metric not in ("billed", "effective"):
        errors["cost_metric"] = [f"Cost metric must be billed or effective (amortized), got {cost_metric!r}."]

    scope = _scope(organization, data.get("scope"), errors)
    thresholds = _thresholds(data.get("thresholds"), errors)

    users = []
    raw_users = _as_list(data.get("recipient_users"))
    user_model = get_user_model()
    if raw_users is not None and not all(isinstance(u, str | int | user_model) for u in raw_users):
        raw_users = None  # e.g. a JSON object in the list: refused like a non-list, never a crash
    if raw_users is None:
        errors["recipient_users"] = ["Recipient users must be a list of user ids or usernames."]
    elif raw_users:
        members = Membership.objects.filter(organization=organization).select_related("user")
        by_key: dict[Any, Any] = {}
        for membership in members:
            by_key[membership.user.pk] = membership.user
            by_key[membership.user.get_username()] = membership.user
        unknown = [str(u) for u in raw_users if (u.pk if isinstance(u, user_model) else u) not in by_key]
        if unknown:
            errors["recipient_users"] = [
                f"Not member(s) of organization {organization.slug}: {', '.join(sorted(set(unknown)))}."
            ]
        else:
            chosen = {}
            for u in raw_users:
                user = by_key[u.pk if isinstance(u, user_model) else u]
                chosen[user.pk] = user
            users = list(chosen.values())
            no_email = sorted(u.get_username() for u in users if not u.email)
            if no_email:
                errors["recipient_users"] = [f"User(s) without an email address: {', '.join(no_email)}."]

    emails: list[str] = []
    raw_emails = _as_list(data.get("recipient_emails"))
    if raw_emails is None:
        errors["recipient_emails"] = ["Recipient emails must be a list of addresses."]
    else:
        bad = []
        for address in raw_emails:
            text = str(address).strip()
            try:
                validate_email(text)
            except ValidationError:
                bad.append(text or repr(address))
            else:
                if text.lower() not in {e.lower() for e in emails}:
                    emails.append(text)
        if bad:
            errors["recipient_emails"] = [f"Invalid email address(es): {', '.join(bad)}."]

    auto = data.get("auto_adjust_periods")
    if auto in ("", None):
        auto = None
    else:
        try:
            if isinstance(auto, bool):
                raise ValueError
            auto = int(auto)
        except (TypeError, ValueError):
            errors["auto_adjust_periods"] = [f"Must be a whole number of periods, got {auto!r}."]
            auto = None
        else:
            if not 1 <= auto <= MAX_AUTO_PERIODS:
                errors["auto_adjust_periods"] = [f"Must be between 1 and {MAX_AUTO_PERIODS} periods, got {auto}."]

    if "currency" not in errors and not any(key.startswith("scope") for key in errors):
        billed_in = scope_currencies(organization=organization, scope=scope)
        if billed_in and currency not in billed_in:
            errors["currency"] = [
                f"No costs in this budget's scope are billed in {currency} (they are billed in "
                f"{', '.join(sorted(billed_in))}): a budget in {currency} would never see any spend."
            ]

    if thresholds and not users and not emails and "recipient_users" not in errors and "recipient_emails" not in errors:
        errors["recipient_emails"] = ["Thresholds need at least one recipient (a user or an email address)."]

    if errors:
        raise BudgetValidationError(errors)
    return BudgetSpec(
        name=name,
        scope=scope,
        period=period,
        amount=amount,
        currency=currency,
        cost_metric=cost_metric,
        thresholds=thresholds,
        recipient_users=users,
        recipient_emails=emails,
        auto_adjust_periods=auto,
        active=bool(data.get("active", True)),
    )
