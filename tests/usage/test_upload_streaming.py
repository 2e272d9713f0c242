"""The upload limit holds while a body streams in: no byte of a file past FINOPS_MAX_UPLOAD_BYTES reaches the
handlers that store it, wherever Django first parses the body (the CSRF middleware reads a form before any
view), and under ASGI, whose handler stores a whole body before Django runs."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import Client

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.usage.formats.errors import TooLargeError
from finops.usage.models import IngestJob
from finops.usage.uploads import AsgiBodyLimit, upload_request_check
from tests.conftest import FOCUS_SAMPLE
from tests.usage import helpers

# Django loads the recorder by its dotted path: it lives in a module imported under that one name.
RECORDER = "tests.usage.helpers.UploadRecorder"
stored = helpers.STORED_UPLOAD_BYTES


@pytest.fixture
def finance(settings, tmp_path):
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    # The project's handlers, then the recorder in front of Django's storing ones.
    own = [h for h in settings.FILE_UPLOAD_HANDLERS if h.startswith("finops.")]
    django = [h for h in settings.FILE_UPLOAD_HANDLERS if not h.startswith("finops.")]
    settings.FILE_UPLOAD_HANDLERS = [*own, RECORDER, *django]
    stored.clear()
    organization = Organization.objects.create(slug="stream-org", name="Stream")
    membership, _ = membership_set(username="stream-finance", organization=organization, role="finance")
    return membership


def _csrf_client(membership) -> tuple[Client, str]:
    """A logged-in browser with CSRF checks on, as in production: the middleware then parses the form."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    client.get("/data/")
    return client, client.cookies["csrftoken"].value


@pytest.mark.django_db
def test_a_page_upload_announced_over_the_limit_stores_none_of_its_file(finance, settings):
    settings.FINOPS_MAX_UPLOAD_BYTES = FOCUS_SAMPLE.stat().st_size // 2
    client, token = _csrf_client(finance)
    with FOCUS_SAMPLE.open("rb") as handle:
        response = client.post("/data/", {"csrfmiddlewaretoken": token, "files": handle, "format": "auto"})
    assert response.status_code == 413
    assert "larger than the upload limit of" in response.content.decode()
    assert stored == []  # the form's token was read, not a byte of the file
    assert not IngestJob.objects.exists()


@pytest.mark.django_db
def test_a_page_upload_within_the_limit_reaches_the_storing_handlers_whole(finance, settings):
    settings.FINOPS_MAX_UPLOAD_BYTES = FOCUS_SAMPLE.stat().st_size + 4096
    client, token = _csrf_client(finance)
    with FOCUS_SAMPLE.open("rb") as handle:
        response = client.post("/data/", {"csrfmiddlewaretoken": token, "files": handle, "format": "auto"})
    assert response.status_code == 302
    assert stored == [FOCUS_SAMPLE.stat().st_size]
    assert IngestJob.objects.get().files.get().size_bytes == FOCUS_SAMPLE.stat().st_size


@pytest.mark.django_db
def test_an_api_upload_with_a_session_announced_over_the_limit_stores_none_of_its_file(finance, settings):
    settings.FINOPS_MAX_UPLOAD_BYTES = FOCUS_SAMPLE.stat().st_size // 2
    client, token = _csrf_client(finance)
    with FOCUS_SAMPLE.open("rb") as handle:
        response = client.post("/api/v1/ingest-jobs/", {"file": handle, "format": "auto"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert stored == []
    assert not IngestJob.objects.exists()


@pytest.mark.django_db
def test_a_body_longer_than_its_content_length_is_stopped_at_the_limit(finance, settings, rf):
    """Django's ASGI request parses all of the body it was handed, whatever its content-length claims: the
    handler counts the bytes themselves."""
    limit = 64 * 1024
    settings.FINOPS_MAX_UPLOAD_BYTES = limit
    with FOCUS_SAMPLE.open("rb") as handle:
        honest = rf.post("/data/", {"files": handle})
    headers = [(b"content-type", honest.META["CONTENT_TYPE"].encode()), (b"content-length", b"1000")]
    scope = {"type": "http", "method": "POST", "path": "/data/", "headers": headers}
    request = ASGIRequest(scope, io.BytesIO(honest.read()))
    assert request.FILES.getlist("files") == []
    assert 0 < stored[0] <= limit
    with pytest.raises(TooLargeError, match=r"focus_sample\.csv: larger than the upload limit of 65,536 bytes"):
        upload_request_check(request)


# --- ASGI ----------------------------------------------------------------------------------------------------


def _serve(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes], path: str = "/api/v1/ingest-jobs/"):
    """Run one request through an ASGI app; (status, body, bytes the app read)."""
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


class Reader:
    """Stands for Django's ASGI handler: reads the whole body, then answers 202."""

    def __init__(self):
        self.read = 0

    async def __call__(self, scope, receive, send):
        while True:
            message = await receive()
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("headers", "read"),
    [([(b"content-length", b"5000")], 0), ([], 1024), ([(b"content-length", b"10")], 1024)],
    ids=["announced", "chunked", "lying"],
)
def test_asgi_bodies_past_the_limit_are_refused_as_they_arrive(settings, headers, read):
    settings.FINOPS_MAX_UPLOAD_BYTES = 1500
    app = Reader()
    status, body = _serve(AsgiBodyLimit(app), headers, [b"x" * 1024] * 5)
    assert status == 413
    assert json.loads(body)["error"] == {
        "code": "too_large",
        "message": "the upload is larger than the upload limit of 1,500 bytes (FINOPS_MAX_UPLOAD_BYTES)",
    }
    assert app.read == read  # what reached Django: nothing past the chunk that crossed the limit


@pytest.mark.nodb
def test_asgi_bodies_within_the_limit_pass_untouched(settings):
    settings.FINOPS_MAX_UPLOAD_BYTES = 1500
    app = Reader()
    status, body = _serve(AsgiBodyLimit(app), [(b"content-length", b"1400")], [b"x" * 700] * 2, path="/data/")
    assert (status, body, app.read) == (202, b"ok", 1400)
