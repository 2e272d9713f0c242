"""Writes for organizations, teams and memberships."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.text import slugify

from finops.accounts.models import Membership, Organization, Role, Team, TeamTagMapping


def organization_get_or_create(*, slug: str, name: str | None = None) -> tuple[Organization, bool]:
    if slugify(slug) != slug:
        raise ValueError(f"organization slug {slug!r} is not a valid slug (try {slugify(slug)!r})")
    return Organization.objects.get_or_create(slug=slug, defaults={"name": name or slug})


def team_tag_mapping_values(organization: Organization) -> dict[str, str]:
    """The admins' mapping as tag value -> the team tag value its cost counts for ("" = unallocated)."""
    rows = TeamTagMapping.objects.filter(organization=organization).select_related("team")
    ignore = TeamTagMapping.Action.IGNORE
    return {m.tag_value: (m.team.tag_value if m.team and m.action != ignore else "") for m in rows}


def teams_for_tag_values(*, organization: Organization, tag_values: list[str]) -> dict[str, Team]:
    """The team each tag value assigns cost to, creating the missing ones in one query.

    A new team's slug is derived from its value (``-2``, ``-3``... on a clash)."""
    wanted = {v for v in tag_values if v}
    found = {t.tag_value: t for t in Team.objects.filter(organization=organization, tag_value__in=wanted)}
    missing = sorted(wanted - set(found))
    if missing:
        taken = set(Team.objects.filter(organization=organization).values_list("slug", flat=True))
        new_teams = []
        for value in missing:
            base = slugify(value)[:90] or "team"
            slug, n = base, 1
            while slug in taken:
                n += 1
                slug = f"{base}-{n}"
            taken.add(slug)
            new_teams.append(Team(organization=organization, slug=slug, name=value, tag_value=value))
        Team.objects.bulk_create(new_teams)
        found.update({t.tag_value: t for t in Team.objects.filter(organization=organization, tag_value__in=missing)})
    return found


@transaction.atomic
def membership_set(
    *,
    username: str,
    organization: Organization,
    role: str,
    password: str | None = None,
    email: str = "",
    team_slugs: list[str] | None = None,
) -> tuple[Membership, bool]:
    """Create the user if needed and give them ``role`` in ``organization``. Returns (membership, user_created)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    teams = []
    for slug in team_slugs or []:
        team = Team.objects.filter(organization=organization, slug=slug).first()
        if team is None:
            raise ValueError(f"no team {slug!r} in organization {organization.slug}")
        teams.append(team)
    user_model = get_user_model()
    user: AbstractBaseUser
    user, created = user_model.objects.get_or_create(username=username, defaults={"email": email})
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, _ = Membership.objects.update_or_create(user=user, organization=organization, defaults={"role": role})
    if teams:
        membership.teams.add(*teams)
    return membership, created
