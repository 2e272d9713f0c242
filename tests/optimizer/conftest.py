"""Fixtures of the optimizer-run tests."""

from __future__ import annotations

import pytest

from finops.accounts.services import organization_get_or_create
from tests.optimizer.optruns_helpers import ingest_fixture, seed_catalog


@pytest.fixture
def org(tmp_path):
    """The reduced demo-like organization "acme", its rows kept on ``org.fixture_rows``, and the catalog."""
    organization, _ = organization_get_or_create(slug="acme", name="Acme")
    rows = ingest_fixture(organization, tmp_path)
    seed_catalog()
    organization.fixture_rows = rows
    return organization
