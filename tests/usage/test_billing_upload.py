"""One billing-upload use case (finops.usage.services.billing_upload_create) behind the Data page and the API's
ingest-jobs upload: accepted files land under FINOPS_INGEST_DIR/uploads/<uuid>/, a refused upload leaves no
folder, no job and no line item behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.api.services import token_create
from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob, LineItem
from finops.usage.tasks import ingest_job_run_task
from tests.conftest import FOCUS_SAMPLE

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    organization = Organization.objects.create(slug="upload-org", name="Upload")
    membership, _ = membership_set(username="upload-finance", organization=organization, role="finance")
    return membership


def _web(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def _api(membership) -> APIClient:
    key = token_create(user=membership.user, organization=membership.organization, name="ci", scope="write").key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _post_web(membership, fmt: str = "auto"):
    upload = SimpleUploadedFile("focus.csv", FOCUS_SAMPLE.read_bytes())
    return _web(membership).post("/data/", {"files": upload, "format": fmt})


def _post_api(membership):
    upload = SimpleUploadedFile("focus.csv", FOCUS_SAMPLE.read_bytes())
    return _api(membership).post("/api/v1/ingest-jobs/", {"file": upload, "format": "auto"}, format="multipart")


def _uploads(settings) -> list[str]:
    folder = settings.FINOPS_INGEST_DIR / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _refuse(**kwargs):
    raise IngestError("no such file", file="focus.csv")


@pytest.mark.parametrize("post", [_post_web, _post_api], ids=["web", "api"])
def test_a_refused_upload_leaves_no_folder_job_or_line_item(finance, settings, monkeypatch, post):
    monkeypatch.setattr("finops.usage.services.ingest_job_create", _refuse)
    jobs, items = IngestJob.objects.count(), LineItem.objects.count()
    response = post(finance)
    assert response.status_code == 400
    assert "file focus.csv: no such file" in response.content.decode()
    assert _uploads(settings) == []
    assert (IngestJob.objects.count(), LineItem.objects.count()) == (jobs, items)


def test_an_unknown_format_on_the_page_leaves_no_folder_or_job(finance, settings):
    response = _post_web(finance, fmt="bogus")
    assert response.status_code == 400 and "unknown format &#x27;bogus&#x27;" in response.content.decode()
    assert _uploads(settings) == [] and not IngestJob.objects.exists()


@pytest.mark.parametrize(("post", "source"), [(_post_web, "upload"), (_post_api, "api")], ids=["web", "api"])
def test_an_accepted_upload_is_saved_in_its_own_folder_and_enqueued_once(
    finance, settings, monkeypatch, django_capture_on_commit_callbacks, post, source
):
    queued = []
    monkeypatch.setattr(ingest_job_run_task, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        post(finance)
    job = IngestJob.objects.get()
    assert queued == [job.pk] and job.source == source and job.status == "pending"
    (folder,) = _uploads(settings)
    saved = settings.FINOPS_INGEST_DIR / "uploads" / folder / "focus.csv"
    assert [f.path for f in job.files.all()] == [str(saved.resolve())]
    assert saved.read_bytes() == FOCUS_SAMPLE.read_bytes()


# --- Limits, and the files of ended jobs ------------------------------------------------------------------


@pytest.mark.parametrize(("post", "client"), [(_post_web, "web"), (_post_api, "api")], ids=["web", "api"])
def test_an_upload_over_the_limit_is_refused_with_413_and_leaves_nothing(finance, settings, post, client):
    settings.FINOPS_MAX_UPLOAD_BYTES = FOCUS_SAMPLE.stat().st_size - 1
    response = post(finance)
    assert response.status_code == 413
    text = response.content.decode()
    assert "larger than the upload limit of" in text
    if client == "api":
        assert response.json()["error"]["code"] == "too_large"
    assert _uploads(settings) == [] and not IngestJob.objects.exists()


def test_the_service_counts_the_bytes_of_an_upload_without_a_length(finance, settings):
    from finops.usage.formats.errors import TooLargeError
    from finops.usage.services import billing_upload_create

    settings.FINOPS_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(TooLargeError, match=r"focus\.csv.*larger than the upload limit of 1,000 bytes"):
        billing_upload_create(
            organization=finance.organization,
            files=[SimpleUploadedFile("focus.csv", FOCUS_SAMPLE.read_bytes())],
            user=None,
        )
    assert _uploads(settings) == [] and not IngestJob.objects.exists()


@pytest.mark.parametrize("good", [True, False], ids=["succeeded", "failed"])
def test_an_ended_jobs_upload_is_deleted(finance, settings, django_capture_on_commit_callbacks, monkeypatch, good):
    from finops.usage.services import billing_upload_create, ingest_job_run

    content = FOCUS_SAMPLE.read_bytes() if good else b"BilledCost,Nonsense\n1,2\n"
    monkeypatch.setattr(ingest_job_run_task, "delay", lambda job_id: None)
    job = billing_upload_create(
        organization=finance.organization, files=[SimpleUploadedFile("focus.csv", content)], user=None
    )
    assert len(_uploads(settings)) == 1  # kept while the job may still run
    try:
        ingest_job_run(job, followups=False)
    except IngestError:
        assert not good
    job.refresh_from_db()
    assert job.status == (IngestJob.Status.SUCCEEDED if good else IngestJob.Status.FAILED)
    assert _uploads(settings) == []


def test_the_command_lines_files_are_never_deleted(tmp_path):
    import shutil
    from io import StringIO

    from django.core.management import call_command

    copy = tmp_path / "mine.csv"
    shutil.copy(FOCUS_SAMPLE, copy)
    call_command("ingest_usage", str(copy), "--org", "cli-org", "--json", stdout=StringIO())
    assert copy.read_bytes() == FOCUS_SAMPLE.read_bytes()


def test_a_redelivered_task_leaves_a_finished_job_as_it_is(finance, settings, monkeypatch):
    """acks_late: a second worker may pick the same job up while (or after) the first runs it."""
    from finops.usage.services import billing_upload_create, ingest_job_run

    monkeypatch.setattr(ingest_job_run_task, "delay", lambda job_id: None)
    job = billing_upload_create(
        organization=finance.organization, files=[SimpleUploadedFile("focus.csv", FOCUS_SAMPLE.read_bytes())], user=None
    )
    stale = IngestJob.objects.get(pk=job.pk)  # what the second worker loaded: still pending
    first = ingest_job_run(job, followups=False)
    assert first.status == IngestJob.Status.SUCCEEDED
    rows = LineItem.objects.count()
    second = ingest_job_run(stale, followups=False)  # its files are gone: it must not even try
    assert second.status == IngestJob.Status.SUCCEEDED and second.error == ""
    assert IngestJob.objects.get(pk=job.pk).status == IngestJob.Status.SUCCEEDED
    assert LineItem.objects.count() == rows


def test_two_files_with_one_name_in_one_upload_are_both_kept(finance, settings, monkeypatch):
    from finops.usage.services import billing_upload_create

    monkeypatch.setattr(ingest_job_run_task, "delay", lambda job_id: None)
    job = billing_upload_create(
        organization=finance.organization,
        files=[SimpleUploadedFile("a.csv", b"first"), SimpleUploadedFile("a.csv", b"second")],
        user=None,
    )
    stored = sorted((Path(f.path).name, Path(f.path).read_bytes()) for f in job.files.all())
    assert stored == [("a-2.csv", b"second"), ("a.csv", b"first")]
