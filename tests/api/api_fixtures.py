"""Shared world for the API tests: two organizations with real ingested FOCUS rows, one user per role,
tokens, and API clients acting as each caller. Imported by the test modules (fixtures re-exported there)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from finops.accounts.models import Membership, Organization, Team
from finops.accounts.services import membership_set
from finops.api.services import token_create
from finops.usage.models import BillingSlice, DailyCost, IngestJob, LineItem
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv

ROLES = ["admin", "finance", "engineer", "viewer", "token_read", "token_write"]
OTHER_ACCOUNT = "999999999999"


@dataclass
class World:
    org: Organization
    other: Organization
    rows: list[dict[str, str]]  # org's FOCUS rows (the whole public sample)
    other_rows: list[dict[str, str]]
    engineer_team: Team
    keys: dict[str, str] = field(default_factory=dict)  # token_read / token_write / other_admin -> key
    usernames: list[str] = field(default_factory=list)

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role.startswith("token_") or role == "other_token":
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.keys[role]}")
        else:
            client.force_login(get_user_model().objects.get(username=f"t-{role}"))
        return client


def _other_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """A second tenant's bill: other account, other team tag values, so any leak is visible."""
    out = []
    for row in rows:
        row = dict(row)
        row["BillingAccountId"] = OTHER_ACCOUNT
        if row["Tags"] not in ("", "NULL"):
            tags = json.loads(row["Tags"])
            if "business_unit" in tags:
                tags["business_unit"] = "other-" + str(tags["business_unit"])
            row["Tags"] = json.dumps(tags)
        out.append(row)
    return out


def build_world(tmp: Path) -> World:
    cache.clear()  # throttle history of earlier runs
    rows = read_rows(FOCUS_SAMPLE)
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "t-acme", "--json", stdout=StringIO())
    other_rows = _other_rows(rows[:120])
    path = write_csv(tmp / "other.csv", other_rows)
    call_command("ingest_usage", str(path), "--org", "t-other", "--json", stdout=StringIO())
    org = Organization.objects.get(slug="t-acme")
    other = Organization.objects.get(slug="t-other")
    team = Team.objects.filter(organization=org).order_by("slug").first()
    usernames = []
    for role in ("admin", "finance", "engineer", "viewer"):
        membership_set(
            username=f"t-{role}",
            organization=org,
            role=role,
            password="pw",
            team_slugs=[team.slug] if role == "engineer" else None,
        )
        usernames.append(f"t-{role}")
    membership_set(username="t-other-admin", organization=other, role="admin", password="pw")
    usernames.append("t-other-admin")
    world = World(org=org, other=other, rows=rows, other_rows=other_rows, engineer_team=team, usernames=usernames)
    admin = get_user_model().objects.get(username="t-admin")
    world.keys["token_read"] = token_create(user=admin, organization=org, name="r", scope="read").key
    world.keys["token_write"] = token_create(user=admin, organization=org, name="w", scope="write").key
    for role in ("finance", "engineer", "viewer"):  # everyone has a token of their own to list
        token_create(user=get_user_model().objects.get(username=f"t-{role}"), organization=org, name=role)
    other_admin = get_user_model().objects.get(username="t-other-admin")
    world.keys["other_token"] = token_create(user=other_admin, organization=other, name="o", scope="write").key
    return world


def destroy_world(world: World) -> None:
    orgs = [world.org, world.other]
    LineItem.objects.filter(organization__in=orgs).delete()
    DailyCost.objects.filter(organization__in=orgs).delete()
    BillingSlice.objects.filter(organization__in=orgs).delete()
    IngestJob.objects.filter(organization__in=orgs).delete()
    Membership.objects.filter(organization__in=orgs).delete()
    Organization.objects.filter(pk__in=[o.pk for o in orgs]).delete()
    get_user_model().objects.filter(username__in=world.usernames).delete()
    cache.clear()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> World:
    with django_db_blocker.unblock():
        built = build_world(tmp_path_factory.mktemp("world"))
    yield built
    with django_db_blocker.unblock():
        destroy_world(built)
