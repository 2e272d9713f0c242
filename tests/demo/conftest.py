"""One seeded demo for the tests of this folder that read it: ``seed_demo`` costs over a minute per run (price
catalog, ingest, forecasts, rightsizing, budgets), so it runs once and is committed, each test's own writes
roll back with its transaction, and everything is deleted after the folder's last test."""

from __future__ import annotations

import os
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

DEMO_END = "2026-03-15"
DEMO_MONTHS = "2"
DEMO_PASSWORD = "pw-for-test"
DEMO_USERS = ["admin", "finance", "engineer", "viewer", "analyst"]


@dataclass(frozen=True)
class SeededDemo:
    var_dir: Path  # the VAR_DIR the seed wrote its generated files under
    output: str  # what the command printed
    emails_sent: int  # the alert emails the seed sent


@pytest.fixture(scope="package")
def seeded_demo(django_db_setup, django_db_blocker, tmp_path_factory) -> SeededDemo:
    from finops.accounts.models import Organization
    from tests import factories

    var_dir = tmp_path_factory.mktemp("demo-var")
    previous = os.environ.get("DEMO_PASSWORD")
    os.environ["DEMO_PASSWORD"] = DEMO_PASSWORD
    out = StringIO()
    try:
        with django_db_blocker.unblock(), override_settings(VAR_DIR=var_dir):
            mail.outbox = []
            call_command("seed_demo", "--end", DEMO_END, "--months", DEMO_MONTHS, stdout=out)
            sent = len(mail.outbox)
    finally:
        if previous is None:
            os.environ.pop("DEMO_PASSWORD", None)
        else:
            os.environ["DEMO_PASSWORD"] = previous
    yield SeededDemo(var_dir=var_dir, output=out.getvalue(), emails_sent=sent)
    with django_db_blocker.unblock():
        factories.delete_organizations(
            list(Organization.objects.filter(slug__in=["demo", "focus-sample"])), usernames=DEMO_USERS
        )
        factories.delete_catalog()
