"""Saved Explore views: a name and the query string, owned by a user, visible to every member of its organization.

The web page validates the query (it owns Explore's parameters) before calling ``saved_view_create``; the
service keeps only Explore's own parameters, so a saved view never pins an organization or an export format."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from django.db.models import QuerySet

from finops.accounts.access import AccessPolicy
from finops.usage.models import SavedView

MAX_NAME = 200
MAX_QUERY = 4000
# Parameters of a page request that are not part of the view itself.
NOT_SAVED = frozenset({"org", "format", "rows"})


class SavedViewError(ValueError):
    """A saved view was asked for with a bad name or query; the message names the field."""


def saved_view_query_clean(query: str) -> str:
    """The query string without a leading '?' and without the parameters NOT_SAVED. Pure."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=False) if k not in NOT_SAVED]
    return urlencode(pairs)


@transaction.atomic
def saved_view_create(*, policy: AccessPolicy, name: str, query: str) -> SavedView:
    """Save ``query`` as ``name`` for the caller in the caller's organization."""
    errors = []
    name = name.strip()
    if not name:
        errors.append("name: give the view a name")
    elif len(name) > MAX_NAME:
        errors.append(f"name: at most {MAX_NAME} characters")
    cleaned = saved_view_query_clean(query)
    if len(cleaned) > MAX_QUERY:
        errors.append(f"query: at most {MAX_QUERY} characters")
    if errors:
        raise SavedViewError("; ".join(errors))
    return SavedView.objects.create(
        organization=policy.organization, owner_id=policy.membership.user_id, name=name, query=cleaned
    )


def saved_views_visible(policy: AccessPolicy) -> QuerySet[SavedView]:
    """The saved views of the caller's organization (shared with every member), by name."""
    return SavedView.objects.filter(organization=policy.organization).select_related("owner").order_by("name", "id")
