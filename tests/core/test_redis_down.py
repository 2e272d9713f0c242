"""Redis down (cache, sessions' copies and Celery broker): pages render from the database and uploads are refused
at once with a clear message, leaving no job and no upload folder behind.

The test runs its own redis-server on a free port and points the production settings' cache, sessions and broker
(finops/settings.py evaluated with that REDIS_URL) at it; then it stops that server."""

from __future__ import annotations

import runpy
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from finops.accounts.models import Organization
from finops.accounts.services import membership_set
from finops.celery import app as celery_app
from finops.usage.models import IngestJob
from tests.conftest import FOCUS_SAMPLE, ROOT
from tests.usage.helpers import grouped_sum, read_rows

pytestmark = [
    pytest.mark.django_db(transaction=True),  # autocommit as in production: on_commit callbacks run
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="SERVICE MISSING: redis-server not installed"),
]

PAGES = ["/", "/explore/", "/teams/", "/data/", "/budgets/", "/anomalies/", "/optimizer/", "/commitments/", "/carbon/"]
REFUSAL_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.05)

    def keys(self, pattern: str) -> list[bytes]:
        return self.client.keys(pattern)

    def hang(self) -> None:
        """Still accepting connections (the kernel does), never answering: a frozen or unreachable-by-route host."""
        self.process.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture
def production_redis(settings, tmp_path, monkeypatch) -> Iterator[RedisServer]:
    """The cache, session and broker settings that finops/settings.py computes for this REDIS_URL."""
    server = RedisServer(tmp_path)
    monkeypatch.setenv("REDIS_URL", server.url)
    production = runpy.run_path(str(ROOT / "finops" / "settings.py"))
    settings.CACHES = production["CACHES"]
    settings.SESSION_ENGINE = production["SESSION_ENGINE"]
    settings.AXES_HANDLER = production["AXES_HANDLER"]
    settings.FINOPS_INGEST_DIR = tmp_path / "ingest"
    broker = {
        "broker_url": production["CELERY_BROKER_URL"],
        "broker_transport_options": production["CELERY_BROKER_TRANSPORT_OPTIONS"],
        "broker_connection_timeout": production["CELERY_BROKER_CONNECTION_TIMEOUT"],
        "task_publish_retry_policy": production["CELERY_TASK_PUBLISH_RETRY_POLICY"],
        "task_ignore_result": production["CELERY_TASK_IGNORE_RESULT"],
    }
    saved = {key: celery_app.conf[key] for key in broker}
    celery_app.conf.update(broker)
    forget_producer_pools()
    try:
        yield server
    finally:
        server.stop()
        celery_app.conf.update(saved)
        forget_producer_pools()


def forget_producer_pools() -> None:
    """Celery keeps the producer pools of the broker it first connected to: start over with the current one."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def organization() -> Organization:
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "resilient", "--json", stdout=StringIO())
    organization = Organization.objects.get(slug="resilient")
    membership_set(username="fin", organization=organization, role="finance", password="pw-fin-123")
    return organization


def logged_in() -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": "fin", "password": "pw-fin-123"})
    assert response.status_code == 302, response.content[:500]
    return client


def billing_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("focus.csv", FOCUS_SAMPLE.read_bytes())


def upload_folders(settings) -> set[str]:
    folder = Path(settings.FINOPS_INGEST_DIR) / "uploads"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_with_redis_down_pages_render_and_uploads_are_refused(production_redis, organization, settings):
    rows = read_rows(FOCUS_SAMPLE)
    top_service, _ = max(grouped_sum(rows, lambda r: r["ServiceName"], "BilledCost").items(), key=lambda kv: kv[1])

    # Redis up: the session, the dashboards and the queue live in it.
    client = logged_in()
    assert client.get("/").status_code == 200
    assert production_redis.keys("*session*") and production_redis.keys("*finops:dash*")
    summary_up = client.get("/api/v1/costs/summary", {"group_by": "service"})
    assert summary_up.status_code == 200 and summary_up.json()["rows"]
    accepted = client.post("/data/", {"files": billing_file(), "format": "auto"})
    assert accepted.status_code == 302
    assert production_redis.client.llen("ingest") == 1  # queued on the ingest queue, for the ingest workers
    jobs_before = set(IngestJob.objects.values_list("pk", flat=True))
    folders_before = upload_folders(settings)

    production_redis.stop()

    # Pages: cache misses, computed from the database; the session survives (kept in the database too).
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
    assert top_service in client.get("/explore/").content.decode()
    summary_down = client.get("/api/v1/costs/summary", {"group_by": "service"})
    assert summary_down.status_code == 200  # the API's rate counter (Redis INCR) does not fail the request
    assert summary_down.json() == summary_up.json()
    # A new login works too.
    assert logged_in().get("/").status_code == 200

    # Uploads: refused fast, with the reason; nothing written.
    started = time.monotonic()
    page = client.post("/data/", {"files": billing_file(), "format": "auto"})
    web_seconds = time.monotonic() - started
    assert page.status_code == 503
    assert "the task queue is unavailable; try again later" in page.content.decode()
    started = time.monotonic()
    api = client.post("/api/v1/ingest-jobs/", {"file": billing_file(), "format": "auto"})
    api_seconds = time.monotonic() - started
    assert api.status_code == 503 and api["Retry-After"] == "30"
    assert api.json()["error"]["code"] == "queue_unavailable"
    assert "the task queue is unavailable" in api.json()["error"]["message"]
    assert web_seconds < REFUSAL_SECONDS and api_seconds < REFUSAL_SECONDS, (web_seconds, api_seconds)
    assert set(IngestJob.objects.values_list("pk", flat=True)) == jobs_before
    assert upload_folders(settings) == folders_before


def test_a_queue_lost_between_the_check_and_the_enqueue_leaves_nothing_behind(
    production_redis, organization, settings, monkeypatch
):
    """The broker answers the upload's check, then is gone when the job is queued: the stored files and the job
    are removed again (no job pending forever), and the page says why."""
    client = logged_in()
    monkeypatch.setattr("finops.usage.services.queue_check", lambda: None)
    production_redis.stop()
    response = client.post("/data/", {"files": billing_file(), "format": "auto"})
    assert response.status_code == 503
    assert "the task queue is unavailable" in response.content.decode()
    assert not IngestJob.objects.filter(source="upload").exists()
    assert upload_folders(settings) == set()


def test_with_redis_hanging_pages_render_and_uploads_are_refused_within_seconds(
    production_redis, organization, settings
):
    """A Redis that accepts connections but never answers costs timeouts (FINOPS_REDIS_TIMEOUT), not hangs."""
    client = logged_in()
    assert client.get("/").status_code == 200
    production_redis.hang()
    started = time.monotonic()
    for path in ("/", "/explore/", "/data/"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/costs/summary", {"group_by": "service"}).status_code == 200
    pages_seconds = time.monotonic() - started
    started = time.monotonic()
    response = client.post("/data/", {"files": billing_file(), "format": "auto"})
    upload_seconds = time.monotonic() - started
    assert response.status_code == 503 and "the task queue is unavailable" in response.content.decode()
    assert upload_seconds < REFUSAL_SECONDS, upload_seconds
    assert pages_seconds < 4 * REFUSAL_SECONDS, pages_seconds
    assert not IngestJob.objects.filter(source="upload").exists()
    assert upload_folders(settings) == set()


def test_with_redis_down_the_optimizer_pages_render_and_runs_are_refused(
    production_redis, settings, tmp_path, monkeypatch
):
    """The optimizer's pages (the form, a finished run with every option, its status poll and a what-if) are
    read from the database: with Redis down each answers 200 and shows what it showed with Redis up."""
    from finops.accounts.services import organization_get_or_create
    from optimizer.models import OptimizationRun
    from optimizer.services import optimization_run_create, optimization_run_execute
    from tests.optimizer.optruns_helpers import ingest_fixture, seed_catalog

    organization, _ = organization_get_or_create(slug="resilient", name="Resilient")
    ingest_fixture(organization, tmp_path)
    seed_catalog()
    membership_set(username="fin", organization=organization, role="finance", password="pw-fin-123")
    run = optimization_run_create(
        organization=organization,
        parameters={"lookback_days": 7, "backtest": True, "rightsize": True, "carbon": True},
        enqueue=False,
    )
    assert optimization_run_execute(run).status == OptimizationRun.Status.SUCCEEDED, run.error
    pages = [
        "/optimizer/",
        f"/optimizer/runs/{run.pk}/",
        f"/optimizer/runs/{run.pk}/status",
        "/commitments/",
        "/rightsizing/",
    ]
    client = logged_in()
    up = {path: client.get(path) for path in pages}
    assert {path: r.status_code for path, r in up.items()} == dict.fromkeys(pages, 200)

    production_redis.stop()

    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
    assert client.get(f"/optimizer/runs/{run.pk}/status").json() == up[f"/optimizer/runs/{run.pk}/status"].json()
    assert 'id="plan-cost"' in client.get(f"/optimizer/runs/{run.pk}/").content.decode()
    # Starting a run needs the queue: refused at once with the reason, the form kept, no run left pending.
    runs_before = set(OptimizationRun.objects.values_list("pk", flat=True))
    form = {"lookback_days": "7", "term": "1y", "payment": "partial_upfront", "max_spot_share_percent": "15"}
    started = time.monotonic()
    response = client.post("/optimizer/", form)
    assert time.monotonic() - started < REFUSAL_SECONDS
    assert response.status_code == 503
    assert "the task queue is unavailable; try again later" in response.content.decode()
    assert response.context["values"]["payment"] == "partial_upfront"
    assert response.context["values"]["max_spot_share_percent"] == "15"
    api = client.post("/api/v1/optimizer/runs/", {"lookback_days": 7}, content_type="application/json")
    assert api.status_code == 503 and api.json()["error"]["code"] == "queue_unavailable"
    assert set(OptimizationRun.objects.values_list("pk", flat=True)) == runs_before
    # The broker gone between the check and the enqueue: the run recorded meanwhile is removed again.
    monkeypatch.setattr("optimizer.services.queue_check", lambda: None)
    lost = client.post("/optimizer/", form)
    assert lost.status_code == 503 and "the task queue is unavailable" in lost.content.decode()
    assert set(OptimizationRun.objects.values_list("pk", flat=True)) == runs_before
