"""Writes of the api app: tokens (create, revoke, authenticate) and idempotency records."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from finops.accounts.models import Membership, Organization, Role
from finops.api.models import ApiToken, IdempotencyRecord
from finops.core.writes import best_effort_write

KEY_PREFIX = "finops"
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


class TokenError(ValueError):
    """A token cannot be created or used; the message says why (safe to show to its holder)."""


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    key: str  # the secret, shown once and never stored


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def token_create(
    *,
    user: AbstractBaseUser,
    organization: Organization,
    name: str,
    scope: str = ApiToken.Scope.READ,
    expires_in_days: int | None = None,
) -> NewToken:
    """A new token for a member of ``organization``. The returned key is the only copy of the secret. A viewer
    gets no write token: it could write nothing (a token never exceeds its user's role), so it would mislead."""
    if scope not in ApiToken.Scope.values:
        raise TokenError(f"unknown scope {scope!r}; choose one of {', '.join(ApiToken.Scope.values)}")
    if expires_in_days is not None and expires_in_days <= 0:
        raise TokenError("expiry must be a positive number of days")
    membership = Membership.objects.filter(user=user, organization=organization).first()
    if membership is None:
        raise TokenError(f"user {user} is not a member of organization {organization.slug}")
    if scope == ApiToken.Scope.WRITE and membership.role == Role.VIEWER:
        raise TokenError(f"user {user} is a viewer in {organization.slug}: a viewer's token can only read")
    prefix = secrets.token_hex(4)
    while ApiToken.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        organization=organization,
        user=user,
        name=name or "token",
        prefix=prefix,
        key_sha256=_hash(key),
        scope=scope,
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    return NewToken(token=token, key=key)


def token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke (idempotent: a revoked token keeps its first revocation time)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=token.revoked_at)
    return token


def token_authenticate(key: str) -> ApiToken:
    """The live token for ``key``, recording its use; TokenError says why a key is refused."""
    parts = key.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise TokenError("Invalid token.")
    token = ApiToken.objects.select_related("user", "organization").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.key_sha256, _hash(key)):
        raise TokenError("Invalid token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenError("Token revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenError("Token expired.")
    if not token.user.is_active:
        raise TokenError("User inactive.")
    if not Membership.objects.filter(user=token.user, organization=token.organization).exists():
        raise TokenError("Token's user is no longer a member of its organization.")
    # One UPDATE a minute per token at most: busy scripts must not turn every read into a write.
    due = token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY
    if due and best_effort_write("a token's last use", ApiToken.objects.filter(pk=token.pk).update, last_used_at=now):
        token.last_used_at = now
    return token


def idempotency_ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "FINOPS_IDEMPOTENCY_TTL_HOURS", 24))


def idempotency_find(*, organization: Organization, caller: str, key: str) -> IdempotencyRecord | None:
    """The live record of ``key``; an expired one is deleted so its key can be used again."""
    record = IdempotencyRecord.objects.filter(organization=organization, caller=caller, key=key).first()
    if record is not None and record.created_at <= timezone.now() - idempotency_ttl():
        record.delete()
        return None
    return record


def idempotency_record(
    *,
    organization: Organization,
    user: AbstractBaseUser,
    token_id: int | None,
    caller: str,
    key: str,
    request_sha256: str,
    status: int,
    body: dict,
) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        organization=organization,
        user=user,
        token_id=token_id,
        caller=caller,
        key=key,
        request_sha256=request_sha256,
        response_status=status,
        response_body=body,
    )
