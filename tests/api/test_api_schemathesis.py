"""The OpenAPI schema and docs, and schemathesis against a live server: every operation exercised with
generated inputs (bounded), zero 5xx responses, every response conforming to the schema."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.api.services import token_create
from finops.celery import app as celery_app
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
EXPECTED_PATHS = {
    "/api/v1/costs/summary",
    "/api/v1/costs/timeseries",
    "/api/v1/line-items/",
    "/api/v1/line-items/{id}/",
    "/api/v1/ingest-jobs/",
    "/api/v1/ingest-jobs/{id}/",
    "/api/v1/organizations/",
    "/api/v1/teams/",
    "/api/v1/members/",
    "/api/v1/tokens/",
    "/api/v1/tokens/{id}/",
    "/api/v1/skus/",
    "/api/v1/prices/",
    "/api/v1/prices/lookup",
    "/api/v1/catalog-imports/",
}


@pytest.mark.django_db
def test_schema_lists_every_endpoint_and_documents_errors(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= EXPECTED_PATHS
    summary = schema["paths"]["/api/v1/costs/summary"]["get"]
    assert {p["name"] for p in summary["parameters"]} >= {"group_by", "metric", "start", "end", "tag", "team"}
    assert "429" in summary["responses"] and "Retry-After" in summary["responses"]["429"]["headers"]
    assert "202" in schema["paths"]["/api/v1/ingest-jobs/"]["post"]["responses"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_docs_are_served_from_local_static_files(client):
    page = client.get("/api/docs/")
    text = page.content.decode()
    assert page.status_code == 200 and "/static/drf_spectacular_sidecar/swagger-ui-dist/" in text
    assert "cdn" not in text.lower() and "https://" not in text


def _schemathesis(url: str, key: str, report: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/api/v1/schema/",
        "--header",
        f"Authorization: Token {key}",
        "--checks",
        CHECKS,
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        "6",
        "--seed",
        "8",
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "60",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *extra,
    ]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    # cwd: schemathesis keeps a cache folder in the working directory; not in the checkout.
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=report.parent)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, transactional_db, settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/min", "user": "100000/min"},
    }
    cache.clear()
    celery_app.conf.task_always_eager = True  # uploads run (and mostly fail on fuzzed bytes) in the request
    try:
        sample = write_csv(tmp_path / "sample.csv", read_rows(FOCUS_SAMPLE)[:300])
        call_command("ingest_usage", str(sample), "--org", "fuzz", "--json", stdout=StringIO())
        organization = Organization.objects.get(slug="fuzz")
        membership, _ = membership_set(username="fuzz-admin", organization=organization, role="admin")
        key = token_create(user=membership.user, organization=organization, name="fuzz", scope="write").key
        # Everything but DELETE first, so the fuzzer cannot revoke its own token half way through.
        first = _schemathesis(live_server.url, key, tmp_path / "a.xml", "--exclude-method", "DELETE")
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
        assert "generated" in first.stdout and "passed" in first.stdout
        second = _schemathesis(live_server.url, key, tmp_path / "b.xml", "--include-method", "DELETE")
        assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-2000:]
    finally:
        celery_app.conf.task_always_eager = False
        cache.clear()
