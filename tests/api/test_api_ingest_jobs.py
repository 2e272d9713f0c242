"""ingest-jobs: upload -> 202 + job URL -> the Celery task ingests it (eager here); Idempotency-Key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.api.models import IdempotencyRecord
from finops.api.services import token_create
from finops.celery import app as celery_app
from finops.core.money import MoneySum
from finops.usage.models import IngestJob, LineItem
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import decimal_sum, read_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def uploader(settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    organization = Organization.objects.create(slug="up-org", name="Up")
    membership, _ = membership_set(username="up-finance", organization=organization, role="finance")
    key = token_create(user=membership.user, organization=organization, name="ci", scope="write").key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def upload(client: APIClient, content: bytes | None = None, name: str = "focus.csv", **headers):
    content = FOCUS_SAMPLE.read_bytes() if content is None else content
    return client.post(
        "/api/v1/ingest-jobs/",
        {"file": SimpleUploadedFile(name, content), "format": "auto"},
        format="multipart",
        **headers,
    )


def test_upload_is_accepted_then_the_job_succeeds(uploader, eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(uploader)
    assert response.status_code == 202 and len(callbacks) == 1
    body = response.json()
    assert body["status"] == "pending" and response["Location"] == body["url"]
    assert body["url"].endswith(f"/api/v1/ingest-jobs/{body['id']}/")
    job = uploader.get(body["url"]).json()
    assert job["status"] == "succeeded" and job["source"] == "api" and job["files"] == ["focus.csv"]
    rows = read_rows(FOCUS_SAMPLE)
    assert job["rows_read"] == len(rows) and job["progress"]["fraction"] == 1.0
    assert Decimal(job["totals"]["USD"]["billed_cost"]) == decimal_sum(rows, "BilledCost")
    stored = LineItem.objects.filter(organization__slug="up-org").aggregate(t=MoneySum("billed_cost"))["t"]
    assert stored == decimal_sum(rows, "BilledCost")
    history = uploader.get("/api/v1/ingest-jobs/").json()["results"]
    assert [j["id"] for j in history] == [body["id"]]


def test_a_bad_file_fails_the_job_with_its_message(uploader, eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(uploader, b"just,some\ncsv,text\n", name="junk.csv")
    assert response.status_code == 202
    job = uploader.get(response.json()["url"]).json()
    assert job["status"] == "failed" and "junk.csv" in job["error"]
    assert not LineItem.objects.filter(organization__slug="up-org").exists()


def test_idempotency_key_replays_the_first_response_and_starts_no_second_job(uploader):
    first = upload(uploader, HTTP_IDEMPOTENCY_KEY="upload-42")
    again = upload(uploader, HTTP_IDEMPOTENCY_KEY="upload-42")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert IngestJob.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    other = upload(uploader, HTTP_IDEMPOTENCY_KEY="upload-43")
    assert other.status_code == 202 and IngestJob.objects.count() == 2


def test_same_key_with_a_different_body_is_409_and_starts_nothing(uploader):
    upload(uploader, HTTP_IDEMPOTENCY_KEY="k1")
    conflict = upload(uploader, FOCUS_SAMPLE.read_bytes()[:-200], HTTP_IDEMPOTENCY_KEY="k1")
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "conflict" and "k1" in error["message"]
    assert IngestJob.objects.count() == 1


def test_an_expired_key_counts_as_new(uploader, settings):
    upload(uploader, HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at="2000-01-01T00:00:00Z")
    again = upload(uploader, HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 202 and "Idempotent-Replayed" not in again
    assert IngestJob.objects.count() == 2 and IdempotencyRecord.objects.count() == 1


def test_keys_are_private_to_their_caller(uploader):
    upload(uploader, HTTP_IDEMPOTENCY_KEY="shared")
    membership = Organization.objects.get(slug="up-org").memberships.get()
    session = APIClient()
    session.force_login(membership.user)
    response = upload(session, FOCUS_SAMPLE.read_bytes()[:-200], HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 202 and IngestJob.objects.count() == 2


def test_upload_needs_a_file(uploader):
    response = uploader.post("/api/v1/ingest-jobs/", {"format": "auto"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    assert not IngestJob.objects.exists()
