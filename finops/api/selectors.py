"""Reads of the api app: the API tokens a caller may list and revoke (the API's /tokens/ and the web's page)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from finops.accounts.access import AccessPolicy
from finops.api.models import ApiToken


def tokens_visible(policy: AccessPolicy, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The organization's tokens of ``user``; an admin's policy sees every member's (to revoke a leaked one)."""
    tokens = policy.scope(ApiToken.objects.select_related("user", "organization"))
    return tokens if policy.is_admin else tokens.filter(user=user)
