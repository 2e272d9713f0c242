"""Who sees what: the one helper every page uses to resolve the user's organization, role and row scope.

- The organization comes from ``?org=SLUG`` (remembered in the session), else the session, else the
  user's first membership. A slug the user is not a member of is a 404, never another tenant's data.
- finance/admin/viewer read everything in the organization; an engineer reads only the rows of their
  teams (the rollups' team); a viewer can change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Max, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from finops.accounts.models import Membership, Organization, Role, Team
from finops.usage.models import DailyCost, DailyTagCost, IngestJob
from finops.web.cache import dashboard_cache_version

SESSION_KEY = "org"


@dataclass(frozen=True)
class Scope:
    """The organization and rows a request may read, and what it may change."""

    membership: Membership
    memberships: tuple[Membership, ...]
    # None: every team of the organization; otherwise the ids (engineers).
    team_ids: tuple[int, ...] | None

    @property
    def organization(self) -> Organization:
        return self.membership.organization

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def can_write(self) -> bool:
        return self.role != Role.VIEWER

    @property
    def can_manage_billing(self) -> bool:
        """Upload billing files: organization-wide data, so finance and admin only."""
        return self.role in (Role.ADMIN, Role.FINANCE)

    @property
    def sees_all_teams(self) -> bool:
        return self.team_ids is None

    @cached_property
    def cache_prefix(self) -> str:
        """Cache key prefix for what this scope reads: the organization's cache version (bumped after an
        ingest), its latest successful ingest (so a missed bump cannot serve stale numbers) and its teams."""
        organization_id = self.organization.pk
        latest = IngestJob.objects.filter(organization_id=organization_id, status=IngestJob.Status.SUCCEEDED).aggregate(
            latest=Max("pk")
        )["latest"]
        teams = "all" if self.team_ids is None else ",".join(map(str, self.team_ids)) or "none"
        return f"{organization_id}:{dashboard_cache_version(organization_id)}:{latest or 0}:{teams}"

    def daily_costs(self) -> QuerySet[DailyCost]:
        queryset = DailyCost.objects.filter(organization_id=self.organization.pk)
        if self.team_ids is not None:
            queryset = queryset.filter(team_id__in=self.team_ids)
        return queryset

    def daily_tag_costs(self) -> QuerySet[DailyTagCost]:
        queryset = DailyTagCost.objects.filter(organization_id=self.organization.pk)
        if self.team_ids is not None:
            queryset = queryset.filter(team_id__in=self.team_ids)
        return queryset

    def teams(self) -> QuerySet[Team]:
        queryset = Team.objects.filter(organization_id=self.organization.pk)
        if self.team_ids is not None:
            queryset = queryset.filter(pk__in=self.team_ids)
        return queryset

    def team_or_404(self, slug: str) -> Team:
        team = self.teams().filter(slug=slug).first()
        if team is None:
            raise Http404("No such team.")
        return team


def scope_for(request: HttpRequest) -> Scope | None:
    """The request's scope, or None when the user belongs to no organization. Unknown ``?org`` -> 404."""
    memberships = tuple(
        Membership.objects.filter(user=request.user).select_related("organization").order_by("organization__slug")
    )
    wanted = request.GET.get("org")
    if wanted:
        chosen = next((m for m in memberships if m.organization.slug == wanted), None)
        if chosen is None:
            raise Http404("No such organization.")
    else:
        remembered = request.session.get(SESSION_KEY)
        chosen = next((m for m in memberships if m.organization.slug == remembered), None)
        chosen = chosen or (memberships[0] if memberships else None)
    if chosen is None:
        return None
    if request.session.get(SESSION_KEY) != chosen.organization.slug:
        request.session[SESSION_KEY] = chosen.organization.slug
    team_ids = None
    if chosen.role == Role.ENGINEER:
        team_ids = tuple(sorted(chosen.teams.values_list("pk", flat=True)))
    return Scope(membership=chosen, memberships=memberships, team_ids=team_ids)


def org_page(*, write: str | None = None) -> Callable:
    """Decorator for pages: login required, ``request.scope`` set (a page without an organization shows
    the 'no organization' page). ``write``: on POST, the Scope property that must hold
    (``"can_write"``, ``"can_manage_billing"``), else 403."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            scope = scope_for(request)
            if scope is None:
                return render(request, "web/no_organization.html", {"scope": None}, status=200)
            if request.method == "POST" and (not scope.can_write or (write and not getattr(scope, write))):
                raise PermissionDenied("Your role cannot change anything here.")
            request.scope = scope
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
