"""GET /api/v1/ lists the API's resources (name -> absolute URL) instead of a 404, and the schema documents it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from finops.api.urls import router

pytestmark = pytest.mark.django_db

# What a client must be able to find from the root (the README's documented endpoints).
DOCUMENTED = {
    "skus": "/api/v1/skus/",
    "prices": "/api/v1/prices/",
    "prices/lookup": "/api/v1/prices/lookup",
    "line-items": "/api/v1/line-items/",
    "ingest-jobs": "/api/v1/ingest-jobs/",
    "tokens": "/api/v1/tokens/",
    "budgets": "/api/v1/budgets/",
    "anomalies": "/api/v1/anomalies/",
    "optimizer/runs": "/api/v1/optimizer/runs/",
    "costs/summary": "/api/v1/costs/summary",
    "costs/timeseries": "/api/v1/costs/timeseries",
    "rightsizing": "/api/v1/rightsizing",
    "commitments": "/api/v1/commitments/",
    "carbon/summary": "/api/v1/carbon/summary",
    "saved-views": "/api/v1/saved-views/",
    "focus-export": "/api/v1/focus-export",
    "schema": "/api/v1/schema/",
}


def test_root_lists_every_resource_with_its_url():
    response = APIClient().get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    for name, path in DOCUMENTED.items():
        assert body[name] == f"http://testserver{path}", name
    assert {prefix for prefix, _viewset, _basename in router.registry} <= set(body)
    assert list(body) == sorted(body)


def test_every_listed_url_answers_and_is_no_404():
    client = APIClient()
    for name, url in APIClient().get("/api/v1/").json().items():
        status = client.get(url).status_code
        assert status in (200, 401, 403), (name, url, status)  # anonymous: refused, never "no such endpoint"


def test_unknown_urls_are_still_the_json_404():
    response = APIClient().get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_schema_documents_the_root(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("schema-reader"))
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    body = schema["paths"]["/api/v1/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "object" and body["additionalProperties"]["format"] == "uri"
