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

from finops.accounts.models import Organization, Team
from finops.accounts.services import membership_set
from finops.api.services import token_create
from finops.celery import app as celery_app
from optimizer.tasks import optimization_run_execute_task
from tests.api.api_fixtures import seed_domain_objects
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
    "/api/v1/focus-export",
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
    "/api/v1/optimizer/runs/",
    "/api/v1/optimizer/runs/{id}/",
    "/api/v1/optimizer/runs/{id}/purchases/",
    "/api/v1/optimizer/runs/{id}/backtest/",
    "/api/v1/optimizer/runs/{id}/what-if/",
    "/api/v1/rightsizing",
    "/api/v1/forecasts/",
    "/api/v1/forecasts/{id}/",
    "/api/v1/anomalies/",
    "/api/v1/anomalies/{id}/",
    "/api/v1/anomalies/{id}/feedback/",
    "/api/v1/budgets/",
    "/api/v1/budgets/{id}/",
    "/api/v1/budgets/{id}/alerts/",
    "/api/v1/budgets/{id}/state/",
    "/api/v1/carbon/summary",
    "/api/v1/saved-views/",
    "/api/v1/saved-views/{id}/",
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
    assert "202" in schema["paths"]["/api/v1/optimizer/runs/"]["post"]["responses"]
    run_post = schema["paths"]["/api/v1/optimizer/runs/"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in run_post["parameters"]}
    carbon = schema["paths"]["/api/v1/carbon/summary"]["get"]
    assert {p["name"] for p in carbon["parameters"]} >= {"group_by", "start", "end"}
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_docs_are_served_from_local_static_files(client):
    page = client.get("/api/docs/")
    text = page.content.decode()
    assert page.status_code == 200 and "/static/drf_spectacular_sidecar/swagger-ui-dist/" in text
    assert "cdn" not in text.lower() and "https://" not in text
    # No inline script, so the Content-Security-Policy's script-src 'self' lets the page run.
    assert "<script>" not in text
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


# Phases as a config file, so one operation can differ: the coverage phase enumerates ~500 bodies per budget
# write (11 fields, nested scope and thresholds), over three minutes of the run; those operations get the
# fuzzing phase only (still --max-examples each, positive and negative), the rest both phases.
CONFIG = """
[phases.examples]
enabled = false

[phases.stateful]
enabled = false

[[operations]]
include-name-regex = "^(POST|PUT|PATCH) /api/v1/budgets/"
phases.coverage.enabled = false
"""


def _schemathesis(url: str, key: str, report: Path, *extra: str) -> subprocess.CompletedProcess:
    config = report.with_suffix(".toml")
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{url}/api/v1/schema/",
        "--header",
        f"Authorization: Token {key}",
        # One connection per request: Django's test server (http.server) reads bytes a refused request left
        # unread as the next request line and answers it in HTTP/0.9, which the client then takes for the
        # response to its next request ("Connection aborted"). Production's gunicorn discards them.
        "--header",
        "Connection: close",
        "--checks",
        CHECKS,
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
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_server, transactional_db, settings, tmp_path, monkeypatch
):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/min", "user": "100000/min"},
    }
    cache.clear()
    celery_app.conf.task_always_eager = True  # uploads run (and mostly fail on fuzzed bytes) in the request
    # Optimizer runs are recorded (202, pending) but not solved: a solve per fuzzed POST would take minutes.
    # Their execution is tested in test_api_domains (inline) and tests/optimizer.
    monkeypatch.setattr(optimization_run_execute_task, "delay", lambda *args, **kwargs: None)
    try:
        sample = write_csv(tmp_path / "sample.csv", read_rows(FOCUS_SAMPLE)[:300])
        call_command("ingest_usage", str(sample), "--org", "fuzz", "--json", stdout=StringIO())
        organization = Organization.objects.get(slug="fuzz")
        membership, _ = membership_set(username="fuzz-admin", organization=organization, role="admin")
        key = token_create(user=membership.user, organization=organization, name="fuzz", scope="write").key
        # Stored objects of every domain, so lists and details serialize real rows.
        team = Team.objects.filter(organization=organization).order_by("slug").first() or Team.objects.create(
            organization=organization, slug="fuzz-team", name="Fuzz", tag_value="fuzz-team"
        )
        seed_domain_objects(organization, team)
        # Everything but DELETE first, so the fuzzer cannot revoke its own token half way through.
        first = _schemathesis(live_server.url, key, tmp_path / "a.xml", "--exclude-method", "DELETE")
        (tmp_path / "a.out").write_text(first.stdout)  # the whole report, when the assertion shows only its end
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
        assert "generated" in first.stdout and "passed" in first.stdout
        second = _schemathesis(live_server.url, key, tmp_path / "b.xml", "--include-method", "DELETE")
        assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-2000:]
    finally:
        celery_app.conf.task_always_eager = False
        cache.clear()
