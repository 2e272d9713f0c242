"""Team allocation rules: which tag values make teams, and the admins' mapping of tag values to teams.

A line item's team comes only from the configured team tag keys (``FINOPS_TEAM_TAG_KEYS``, first key present
wins). Its value is read through the organization's mapping (:class:`TeamTagMapping`): its own team, merged
into another team, or ignored (unallocated). A value nobody mapped gets a team of its own at ingest. Changing
a mapping re-attributes the line items carrying that value and rebuilds the rollups, in one transaction;
web pages, the API and tests call :func:`team_tag_mapping_set` and read :func:`team_tag_mappings`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Organization, Team, TeamTagMapping
from finops.accounts.services import teams_for_tag_values
from finops.core.signals import organization_data_changed
from finops.usage.models import DailyCost, LineItem
from finops.usage.rebuild import rollups_rebuild

Action = TeamTagMapping.Action


class TeamMappingError(ValueError):
    """Invalid mapping; ``errors`` maps each bad field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class MappingRow:
    tag_value: str
    action: str  # team | merge | ignore
    team: str | None  # slug of the team the value counts for (None: unallocated)
    explicit: bool  # an admin decided it (False: the value made its own team at ingest)


def team_tag_mappings(policy: AccessPolicy) -> list[MappingRow]:
    """Every team tag value the organization knows: the admins' mappings and the teams made at ingest."""
    organization = policy.organization
    mapped = {
        m.tag_value: MappingRow(m.tag_value, m.action, m.team.slug if m.team else None, True)
        for m in TeamTagMapping.objects.filter(organization=organization).select_related("team")
    }
    for team in Team.objects.filter(organization=organization).exclude(tag_value__in=list(mapped)):
        mapped[team.tag_value] = MappingRow(team.tag_value, Action.TEAM, team.slug, False)
    return [mapped[v] for v in sorted(mapped, key=str.lower)]


def team_tag_mapping_set(
    *, policy: AccessPolicy, tag_value: str, action: str, team: str | None = None
) -> TeamTagMapping:
    """Record what ``tag_value`` means and re-attribute its cost: ``team`` (its own team, created if missing),
    ``merge`` (into the team with slug ``team``) or ``ignore`` (unallocated). Admins only (``PermissionDenied``);
    :class:`TeamMappingError` names every bad field and nothing is written."""
    if not policy.is_admin or not policy.can_write:
        raise PermissionDenied("Team mappings are edited by admins.")
    organization = policy.organization
    value = tag_value.strip() if isinstance(tag_value, str) else ""
    errors: dict[str, str] = {}
    if not value:
        errors["tag_value"] = "must be a non-empty tag value"
    elif len(value) > 255:
        errors["tag_value"] = "must be at most 255 characters"
    if action not in Action.values:
        errors["action"] = f"must be one of {', '.join(Action.values)}, got {action!r}"
    target = None
    if action == Action.MERGE:
        target = Team.objects.filter(organization=organization, slug=team or "").first()
        if not team:
            errors["team"] = "merge needs the slug of the team to merge into"
        elif target is None:
            errors["team"] = f"no team {team!r} in {organization.slug}"
        elif target.tag_value == value:
            errors["team"] = "a value cannot be merged into its own team"
    if errors:
        raise TeamMappingError(errors)
    with transaction.atomic():
        if action == Action.TEAM:
            target = teams_for_tag_values(organization=organization, tag_values=[value])[value]
        mapping, _ = TeamTagMapping.objects.update_or_create(
            organization=organization,
            tag_value=value,
            defaults={"action": action, "team": target if action != Action.IGNORE else None},
        )
        resolved = target.tag_value if target is not None and action != Action.IGNORE else ""
        _reattribute(organization, value, resolved)
        rollups_rebuild(organization_id=organization.pk)
        transaction.on_commit(lambda: organization_data_changed.send(sender=DailyCost, organization_id=organization.pk))
    return mapping


def _reattribute(organization: Organization, value: str, resolved: str) -> int:
    """Line items whose team tag (first configured key present) is ``value`` now count for ``resolved``."""
    keys = list(settings.FINOPS_TEAM_TAG_KEYS)
    changed = 0
    for position, key in enumerate(keys):
        rows = LineItem.objects.filter(organization=organization, **{f"tags__{key}": value})
        for earlier in keys[:position]:
            rows = rows.exclude(**{"tags__has_key": earlier})
        changed += rows.update(team_tag_value=resolved)
    return changed
