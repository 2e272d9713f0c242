"""Fault test: a real Celery worker on the real Redis broker is SIGKILLed in the middle of budget evaluation
(after the pending alerts are committed, before any is sent); a new worker gets the unacknowledged task again
(acks_late) and every due alert reaches the SMTP server (aiosmtpd) exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from kombu import Connection

from finops.budgets.models import BudgetAlert
from finops.budgets.services import budget_create
from finops.budgets.tasks import evaluate_org
from tests.budgets.budget_helpers import add_user, build_org, cost_frame
from tests.conftest import ROOT, redis_url

VISIBILITY_TIMEOUT = 4  # seconds before an unacknowledged message goes back to the queue


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def start_worker(queue: str, redis: str, smtp_port: int, pause_file: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.budgets.budget_worker_settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis,
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": "worker-test",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "FINOPS_BUDGETS_TEST_PAUSE_FILE": str(pause_file),
            "FINOPS_TEST_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        }
    )
    command = [sys.executable, "-m", "celery", "-A", "finops", "worker", "-Q", queue, "--pool=solo"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    handle = log.open("a")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True)


def wait_until(condition, timeout: float, worker: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            break
        time.sleep(0.2)
    worker.kill()
    pytest.fail(f"{what} did not happen; worker log:\n{log.read_text()[-4000:]}")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_evaluation_then_every_alert_is_sent_exactly_once(smtp_server, tmp_path):
    today = timezone.now().date()
    frame = cost_frame(first=today - timedelta(days=60), last=today - timedelta(days=1))
    org = build_org(frame, slug=f"kill-{uuid.uuid4().hex[:6]}")
    add_user(org, "fin", "fin@example.com")
    # Forecast thresholds on tiny amounts: crossed whatever the day of the month (actual may still be 0).
    budget_create(
        organization=org,
        data={
            "name": "A",
            "amount": "1",
            "thresholds": [{"percent": p, "kind": "forecast"} for p in (50, 100, 200)],
            "recipient_users": ["fin"],
        },
    )
    budget_create(
        organization=org,
        data={
            "name": "B",
            "amount": "2",
            "thresholds": [{"percent": 100, "kind": "forecast"}],
            "recipient_emails": ["b@example.com"],
        },
    )
    expected = 4  # alert records: one per (budget, threshold)
    expected_emails = 2  # one per budget evaluation, listing every threshold it crossed

    redis = redis_url()
    queue = f"finops-budgets-test-{uuid.uuid4().hex}"
    pause = tmp_path / "pause"
    pause.write_text("hold")
    reached = Path(f"{pause}.reached")
    log = tmp_path / "worker.log"

    first = start_worker(queue, redis, smtp_server.port, pause, log)
    try:
        with Connection(redis) as broker:
            evaluate_org.apply_async(args=[org.pk], queue=queue, connection=broker)
        wait_until(reached.exists, 180, first, log, "the first worker reaching the pause point")
        # Budget A's alerts are committed as pending; nothing was sent.
        assert list(BudgetAlert.objects.values_list("status", flat=True)) == ["pending"] * 3
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    assert smtp_server.messages == []

    pause.unlink()
    second = start_worker(queue, redis, smtp_server.port, pause, log)
    try:
        wait_until(
            lambda: BudgetAlert.objects.filter(status="sent").count() == expected,
            240,
            second,
            log,
            "every alert being sent by the second worker",
        )
        time.sleep(VISIBILITY_TIMEOUT + 2)  # room for a duplicate delivery to show up, if there were one
    finally:
        second.terminate()
        second.wait(timeout=30)

    assert len(smtp_server.messages) == expected_emails
    subjects = sorted(m["Subject"] for m in smtp_server.parsed())
    assert len(set(subjects)) == expected_emails
    budget_a = [s for s in subjects if '"A"' in s]
    assert len(budget_a) == 1 and all(f"{p}% forecast" in budget_a[0] for p in (50, 100, 200)), subjects
    assert BudgetAlert.objects.count() == expected
    assert sorted(r for m in smtp_server.messages for r in m.recipients) == ["b@example.com", "fin@example.com"]
    assert "evaluate_org" in log.read_text()
