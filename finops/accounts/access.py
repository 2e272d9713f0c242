"""Who may see and change what: the one access policy of the product.

Web pages, the REST API, management commands and tasks all decide visibility with an ``AccessPolicy``. Web
builds it from the session user (``policy_for_user``), the API from a token or a session
(``policy_for_token`` / ``policy_for_user``); the rules below live here and nowhere else.

- An organization the caller is not a member of does not exist for them (404, so existence does not leak).
- ``admin``, ``finance`` and ``viewer`` read everything in the organization; an ``engineer`` reads only the
  rows of their teams (rows without a team are not theirs).
- ``viewer`` changes nothing; a read-only token changes nothing, whatever its user's role.
- Billing data (uploads) is organization-wide: only ``admin`` and ``finance`` manage it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from finops.accounts.models import Membership, Organization, Role, Team

ADMINS = frozenset({Role.ADMIN})  # members and everyone's API tokens
BILLING_MANAGERS = frozenset({Role.ADMIN, Role.FINANCE})  # billing uploads, budgets, commitment runs
SEE_ALL_TEAMS = frozenset({Role.ADMIN, Role.FINANCE, Role.VIEWER})


@dataclass(frozen=True)
class AccessPolicy:
    """The organization a caller acts in, the rows they may read and what they may change."""

    membership: Membership
    # Every organization the user belongs to (the web's organization switcher), ordered by slug.
    memberships: tuple[Membership, ...]
    # None: every row of the organization; otherwise the ids of the teams whose rows the caller may read.
    team_ids: tuple[int, ...] | None
    # Set when the caller is an API token: its id, and whether it may only read.
    token_id: int | None = None
    read_only_token: bool = False

    @property
    def organization(self) -> Organization:
        return self.membership.organization

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def caller(self) -> str:
        """Identity for per-caller records (idempotency keys): the token, else the user."""
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.membership.user_id}"

    @property
    def can_write(self) -> bool:
        return self.role != Role.VIEWER and not self.read_only_token

    @property
    def can_manage_billing(self) -> bool:
        """Upload billing files: organization-wide data, so finance and admin only."""
        return self.can_write and self.role in BILLING_MANAGERS

    @property
    def is_admin(self) -> bool:
        """Manages the organization's members and sees everyone's API tokens."""
        return self.role in ADMINS

    @property
    def sees_all_teams(self) -> bool:
        return self.team_ids is None

    def visible_teams(self) -> list[Team] | None:
        """Teams whose rows the caller may read; None means every row (teamless included)."""
        return None if self.team_ids is None else list(Team.objects.filter(pk__in=self.team_ids))

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

    def scope(self, queryset: QuerySet, *, organization_field: str = "organization", team_field: str | None = None):
        """``queryset`` without the rows of other organizations and, when ``team_field`` names the row's team
        (a Team foreign key or its id), without the rows of teams the caller may not read."""
        queryset = queryset.filter(**{organization_field: self.organization.pk})
        if team_field is not None and self.team_ids is not None:
            queryset = queryset.filter(**{f"{team_field}__in": self.team_ids})
        return queryset


def _policy(chosen: Membership, memberships: Sequence[Membership], **token: object) -> AccessPolicy:
    team_ids = None
    if chosen.role not in SEE_ALL_TEAMS:
        team_ids = tuple(sorted(chosen.teams.values_list("pk", flat=True)))
    return AccessPolicy(membership=chosen, memberships=tuple(memberships), team_ids=team_ids, **token)


def policy_for_user(
    user: AbstractBaseUser, *, organization_slug: str | None = None, remembered_slug: str | None = None
) -> AccessPolicy | None:
    """The policy of a logged-in user in ``organization_slug`` (a 404 when they are not a member of it), else
    in ``remembered_slug`` when still a member, else in their first organization by slug. None when the user
    belongs to no organization."""
    memberships = tuple(
        Membership.objects.filter(user=user).select_related("organization").order_by("organization__slug")
    )
    if organization_slug:
        chosen = next((m for m in memberships if m.organization.slug == organization_slug), None)
        if chosen is None:
            raise Http404(f"No organization {organization_slug!r}.")
    else:
        chosen = next((m for m in memberships if m.organization.slug == remembered_slug), None)
        chosen = chosen or (memberships[0] if memberships else None)
    return None if chosen is None else _policy(chosen, memberships)


def policy_for_token(*, user: AbstractBaseUser, organization_id: int, token_id: int, read_only: bool) -> AccessPolicy:
    """The policy of an API token: its user in the token's organization only. Raises Membership.DoesNotExist
    when the user is no longer a member there (the token stops working)."""
    chosen = Membership.objects.select_related("organization").get(user=user, organization_id=organization_id)
    return _policy(chosen, (chosen,), token_id=token_id, read_only_token=read_only)


def policy_for_member(*, user: AbstractBaseUser, organization_id: int) -> AccessPolicy:
    """The policy of a member outside a request (what the emails sent to them may show). Raises
    Membership.DoesNotExist when the user is not a member of the organization."""
    chosen = Membership.objects.select_related("organization").get(user=user, organization_id=organization_id)
    return _policy(chosen, (chosen,))
