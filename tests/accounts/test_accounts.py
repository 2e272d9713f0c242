from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Membership, Organization, Team
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    organization = Organization.objects.create(slug="acme", name="Acme")
    Team.objects.create(organization=organization, slug="web", name="Web", tag_value="web")
    return organization


def test_add_member_creates_user_with_role_and_team(org):
    out = StringIO()
    call_command(
        "add_member",
        "eve",
        "--org",
        "acme",
        "--role",
        "engineer",
        "--team",
        "web",
        "--password",
        "s3cret-pw",
        stdout=out,
    )
    assert "Created user eve" in out.getvalue()
    membership = Membership.objects.get(user__username="eve", organization=org)
    assert membership.role == "engineer"
    assert [t.slug for t in membership.teams.all()] == ["web"]
    assert authenticate(username="eve", password="s3cret-pw") is not None
    call_command("add_member", "eve", "--org", "acme", "--role", "viewer", stdout=StringIO())
    membership.refresh_from_db()
    assert membership.role == "viewer"
    assert authenticate(username="eve", password="s3cret-pw") is not None  # unchanged without --password


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nope", "--role", "viewer", "--password", "x"], "no organization"),
        (["--org", "acme", "--role", "viewer", "--team", "ghost", "--password", "x"], "no team"),
        (["--org", "acme", "--role", "viewer"], "needs --password"),
    ],
)
def test_add_member_errors(org, args, message):
    with pytest.raises(CommandError) as caught:
        call_command("add_member", "zed", *args, stdout=StringIO())
    assert message in str(caught.value)
    assert not Membership.objects.filter(user__username="zed").exists()


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY",)}
    env["DJANGO_DEBUG"] = "0"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=dict(env, DJANGO_SETTINGS_MODULE="finops.settings"),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
