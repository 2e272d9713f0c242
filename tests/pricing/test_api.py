"""Price catalog endpoints and page: same numbers as the CLI, read-only, login required."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from pricing.models import CatalogSource, Price
from pricing.tasks import refresh_catalogs
from tests import factories
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db
LIBCLOUD = ROOT / "pricing" / "data" / "libcloud_pricing.json.gz"


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker):
    """The shipped Libcloud catalog, imported once for the module: its tests only read it (each test's own
    writes roll back with its transaction)."""
    with django_db_blocker.unblock():
        call_command("import_prices", str(LIBCLOUD), "--json", stdout=StringIO())
    yield
    with django_db_blocker.unblock():
        factories.delete_catalog()


@pytest.fixture
def user_client(client):
    get_user_model().objects.create_user("pat", password="pw-pat-123")
    client.login(username="pat", password="pw-pat-123")
    return client


def test_lookup_api_matches_the_cli(catalog, user_client):
    out = StringIO()
    call_command("price_lookup", "--region", "us-east-1", "--instance-type", "m5.large", "--json", stdout=out)
    cli = json.loads(out.getvalue())
    api = user_client.get("/api/v1/prices/lookup", {"region": "us-east-1", "instance_type": "m5.large"}).json()
    assert api["sku"] == cli["sku"]
    assert [(p["term"], p["hourly"]) for p in api["prices"]] == [(p["term"], p["hourly"]) for p in cli["prices"]]


def test_lists_filter_and_paginate(catalog, user_client):
    response = user_client.get(
        "/api/v1/prices/", {"region": "us-east-1", "instance_type": "m5.large", "term": "on_demand"}
    )
    assert response.status_code == 200
    rows = response.json()["results"]
    expected = Price.objects.filter(sku__region="us-east-1", sku__instance_type="m5.large", term="on_demand")
    assert {Decimal(r["hourly"]) for r in rows} == {p.hourly for p in expected}
    assert all(isinstance(r["hourly"], str) for r in rows)
    page = user_client.get("/api/v1/skus/", {"page_size": 5}).json()
    assert len(page["results"]) == 5 and page["next"]
    second = user_client.get(page["next"]).json()
    assert not {r["id"] for r in page["results"]} & {r["id"] for r in second["results"]}


def test_bad_parameters_and_unknown_sku(catalog, user_client):
    assert user_client.get("/api/v1/prices/", {"term": "lease"}).status_code == 400
    missing = user_client.get("/api/v1/prices/lookup", {"region": "us-east-1"})
    assert missing.status_code == 400 and "instance_type" in missing.json()["error"]["fields"]
    assert (
        user_client.get("/api/v1/prices/lookup", {"region": "mars-1", "instance_type": "m5.large"}).status_code == 404
    )


def test_login_required_and_read_only(catalog, client, user_client):
    from django.test import Client

    assert Client().get("/api/v1/prices/").status_code in (401, 403)
    assert user_client.post("/api/v1/prices/", {}).status_code == 405


def test_catalog_page_lists_imports_and_lookup(catalog, user_client):
    page = user_client.get("/pricing/", {"region": "us-east-1", "instance_type": "m5.large"})
    text = page.content.decode()
    assert page.status_code == 200 and "libcloud 3.9.1" in text and 'id="lookup-table"' in text and "0.096" in text


def test_refresh_task_imports_configured_sources_and_records_failures(catalog, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    CatalogSource.objects.create(url="http://127.0.0.1:9/nothing-listens-here.json")
    results = refresh_catalogs()
    assert results[0]["status"] == "failed"
    source = CatalogSource.objects.get()
    assert "download failed" in source.last_error and source.last_checked_at is not None
