"""The chunked refresh through real Celery worker processes on Redis: chunks fan out, commit concurrently
(prefork, 2 processes), the last one finishes the run, immediate alerts go out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from finops.accounts.models import Organization
from finops.forecasting.models import AnomalyAlert, ForecastChunk, ForecastRun, SeriesForecast
from finops.forecasting.selectors import series_plan
from finops.forecasting.services import anomaly_subscription_create
from finops.forecasting.tasks import forecast_refresh_enqueue
from tests.conftest import ROOT, redis_url
from tests.forecasting.fc_fixtures import LAST_DAY, load, usage_frame
from tests.usage.test_worker import _database_url

# Every task the worker sends (refresh_finish, sent by a chunk task) goes to the test's unique queue, not to the
# shared "forecasts" queue the routes name.
WORKER = """
import sys
from finops.celery import app
app.conf.task_default_queue = sys.argv[1]
app.conf.task_routes = {"*": {"queue": sys.argv[1]}}
app.worker_main(["worker", "-Q", sys.argv[1], "--pool=prefork", "--concurrency=2", "--without-heartbeat",
                 "--without-gossip", "--without-mingle", "--loglevel=INFO"])
"""


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_chunked_refresh_through_a_real_worker_on_redis(settings):
    url = redis_url()
    settings.FINOPS_FORECAST_CHUNK_SIZE = 3
    organization = Organization.objects.create(slug=f"fc-worker-{uuid.uuid4().hex[:6]}", name="Worker Co")
    load(organization, usage_frame(spikes={("i-web-1", LAST_DAY): 900.0}))
    anomaly_subscription_create(organization=organization, email="oncall@example.com", mode="immediate")
    planned = series_plan(organization=organization, as_of=LAST_DAY)
    queue = f"finops-fc-test-{uuid.uuid4().hex}"
    env = {**os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": url, "DJANGO_DEBUG": "1"}
    env.setdefault("DJANGO_SECRET_KEY", "worker-test")
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, queue],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        run = forecast_refresh_enqueue(organization=organization, trigger="ingest", queue=queue)
        assert run.chunks_total == -(-len(planned) // 3) >= 2
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and worker.poll() is None:
            run.refresh_from_db()
            if run.finished:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert run.status == ForecastRun.Status.SUCCEEDED, f"run {run.status} {run.failures}; worker log:\n{output[-4000:]}"
    assert run.trigger == "ingest" and run.series_done == run.series_total == len(planned)
    assert set(ForecastChunk.objects.filter(run=run).values_list("status", flat=True)) == {"done"}
    assert SeriesForecast.objects.filter(run=run).count() == len(planned)
    assert run.anomalies_found == 5
    # refresh_finish ran on the worker and sent the immediate alerts (to the worker's file mail backend).
    assert AnomalyAlert.objects.filter(status="sent", recipient="oncall@example.com").count() == 5
    assert "forecasting.refresh_finish" in output
