"""The pages' side of access: every page resolves the caller's ``AccessPolicy`` (finops.accounts.access) here.

The organization comes from ``?org=SLUG`` (remembered in the session), else the session, else the user's
first membership. A slug the user is not a member of is a 404, never another tenant's data.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from finops.accounts.access import AccessPolicy, policy_for_user
from finops.usage.models import IngestJob
from finops.web.cache import dashboard_cache_version

SESSION_KEY = "org"


def scope_for(request: HttpRequest) -> AccessPolicy | None:
    """The request's access policy, or None when the user belongs to no organization. Unknown ``?org`` -> 404."""
    policy = policy_for_user(
        request.user, organization_slug=request.GET.get("org"), remembered_slug=request.session.get(SESSION_KEY)
    )
    if policy is not None and request.session.get(SESSION_KEY) != policy.organization.slug:
        request.session[SESSION_KEY] = policy.organization.slug
    return policy


def cache_prefix(scope: AccessPolicy) -> str:
    """Cache key prefix for what a policy reads: the organization's cache version (bumped after an ingest),
    its latest successful ingest (so a missed bump cannot serve stale numbers) and its teams."""
    organization_id = scope.organization.pk
    latest = IngestJob.objects.filter(organization_id=organization_id, status=IngestJob.Status.SUCCEEDED).aggregate(
        latest=Max("pk")
    )["latest"]
    teams = "all" if scope.team_ids is None else ",".join(map(str, scope.team_ids)) or "none"
    return f"{organization_id}:{dashboard_cache_version(organization_id)}:{latest or 0}:{teams}"


def org_page(*, write: str | None = None, personal: bool = False) -> Callable:
    """Decorator for pages: login required, ``request.scope`` set to the caller's AccessPolicy (a page without
    an organization shows the 'no organization' page). ``write``: on POST, the policy property that must hold
    (``"can_write"``, ``"can_manage_billing"``), else 403. ``personal``: the page's POSTs change only the
    caller's own settings (API tokens, alert emails), which every role may; its services say what each may choose."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            scope = scope_for(request)
            if scope is None:
                return render(request, "web/no_organization.html", {"scope": None}, status=200)
            refused = not scope.can_write or (write and not getattr(scope, write))
            if request.method == "POST" and not personal and refused:
                raise PermissionDenied("Your role cannot change anything here.")
            request.scope = scope
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def render_page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a page with the caller's policy in the context as ``scope`` (the layout's organization switcher
    and role-dependent navigation read it)."""
    return render(request, template, {"scope": getattr(request, "scope", None), **context}, status=status)
