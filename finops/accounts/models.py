"""Tenancy: organizations, teams (cost centers) and role memberships. Every cost row has one organization."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Organization(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Team(models.Model):
    """A cost center. Line items are assigned to a team by the value of a team tag (``tag_value``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    tag_value = models.CharField(max_length=255, help_text="Tag value that assigns cost to this team.")

    class Meta:
        ordering = ["organization", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="team_unique_slug"),
            models.UniqueConstraint(fields=["organization", "tag_value"], name="team_unique_tag_value"),
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class TeamTagMapping(models.Model):
    """What one value of a team tag means, decided by an admin: its own team, merged into another team, or
    ignored (its cost stays unallocated). Values without a mapping get a team of their own at ingest."""

    class Action(models.TextChoices):
        TEAM = "team", "Own team"
        MERGE = "merge", "Merge into a team"
        IGNORE = "ignore", "Ignore (unallocated)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="team_mappings")
    tag_value = models.CharField(max_length=255)
    action = models.CharField(max_length=16, choices=Action.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="mapped_values")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "tag_value"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "tag_value"], name="team_mapping_unique_value"),
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.tag_value} -> {self.action}"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    FINANCE = "finance", "Finance"
    ENGINEER = "engineer", "Engineer"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")

    class Meta:
        ordering = ["organization", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"
