"""The production layout (deploy/): each task goes to its queue, and every queue has a consumer in the production
Procfile, in compose.yaml and in the embedded demo's single worker; one beat; an image built from pyproject."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest
import yaml
from django.conf import settings

from finops.celery import app
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
QUEUES = {"ingest", "forecasts", "optimizer", "default"}

# Where each task must go: a long solve or forecast refresh never sits in front of an ingest.
EXPECTED_QUEUE = {
    "usage.ingest_job_run": "ingest",
    "usage.ingest_part_load": "ingest",
    "usage.ingest_job_commit": "ingest",
    "usage.ingest_jobs_recover": "ingest",
    "usage.line_items_prune": "ingest",
    "forecasting.refresh_all": "forecasts",
    "forecasting.refresh_org": "forecasts",
    "forecasting.refresh_chunk": "forecasts",
    "forecasting.refresh_finish": "forecasts",
    "forecasting.anomaly_digest": "default",
    "optimizer.run_execute": "optimizer",
    "budgets.evaluate_all": "default",
    "budgets.evaluate_org": "default",
    "budgets.weekly_digest": "default",
    "carbon.refresh_org": "default",
    "commitments.expiry_alerts": "default",
    "pricing.refresh_catalogs": "default",
    "pricing.refresh_catalog_source": "default",
    "web.dashboard_refresh": "default",
}


def routed_queue(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def project_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_task_goes_to_its_queue():
    assert set(settings.FINOPS_TASK_QUEUES) == QUEUES
    routes = {name: routed_queue(name) for name in project_tasks()}
    # A task added later lands somewhere the workers read, and this table names it.
    assert set(routes) == set(EXPECTED_QUEUE), "name the queue of each new task here"
    assert routes == EXPECTED_QUEUE


def test_beat_schedules_only_registered_tasks():
    tasks = project_tasks()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in tasks


def test_an_explicit_queue_still_wins_over_the_routes():
    """Tests and tools send to a private queue: the routes must not override it."""
    assert app.amqp.router.route({"queue": "private-q"}, "usage.ingest_job_run")["queue"].name == "private-q"


def procfile(path) -> dict[str, str]:
    processes = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            processes[name.strip()] = command.strip()
    return processes


def consumed_queues(command: str) -> set[str] | None:
    """The queues a `celery -A finops worker` command consumes (None: not a worker)."""
    words = shlex.split(command)
    if "celery" not in " ".join(words) or "worker" not in words:
        return None
    for flag in ("--queues", "-Q"):
        if flag in words:
            return set(words[words.index(flag) + 1].split(","))
    return set(settings.FINOPS_TASK_QUEUES)  # no -Q: the worker consumes CELERY_TASK_QUEUES, all of them


def is_beat(command: str) -> bool:
    return bool(re.search(r"celery\s+-A\s+finops\s+beat\b", command))


def test_production_procfile_has_a_worker_per_queue_one_beat_and_gunicorn():
    processes = procfile(DEPLOY / "Procfile")
    workers = {name: consumed_queues(cmd) for name, cmd in processes.items() if consumed_queues(cmd) is not None}
    assert sorted(q for queues in workers.values() for q in queues) == sorted(QUEUES)  # each exactly once
    assert all(len(queues) == 1 for queues in workers.values())
    assert [name for name, cmd in processes.items() if is_beat(cmd)] == ["beat"]
    assert processes["web"].startswith("gunicorn finops.wsgi:application")


def test_embedded_demo_worker_consumes_every_queue():
    processes = procfile(ROOT / "Procfile")
    workers = [consumed_queues(cmd) for cmd in processes.values() if consumed_queues(cmd) is not None]
    assert workers == [QUEUES]
    assert sum(is_beat(cmd) for cmd in processes.values()) == 1


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_compose_runs_postgres_redis_web_a_worker_per_queue_and_one_beat():
    services = compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "gunicorn finops.wsgi:application" in command_text(services["web"])
    consumers = [consumed_queues(command_text(s)) for s in services.values()]
    consumers = [queues for queues in consumers if queues is not None]
    assert sorted(q for queues in consumers for q in queues) == sorted(QUEUES)
    assert [name for name, s in services.items() if is_beat(command_text(s))] == ["beat"]
    assert "replicas" not in str(services["beat"].get("deploy", {}))
    app_services = [name for name, s in services.items() if s.get("build")]
    assert set(app_services) == {"migrate", "web", "beat"} | {f"worker-{q}" for q in QUEUES}
    for name in app_services:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        environment = service["environment"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["DATABASE_URL"].startswith("postgres://finops:${POSTGRES_PASSWORD:?")
        # Secrets come from the environment of `docker compose`, never from the file.
        assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
        # Web writes uploads that the ingest workers read: the same volume.
        assert "finops-var:/var/lib/finops" in service["volumes"]
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def docker_compose() -> str:
    """docker-compose's path; `make test` and `.ci/run` install it (it only reads the file: no engine needed)."""
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail("docker-compose is missing: `make docker-compose` (apt-get install docker-compose) installs it")
    return path


def test_docker_compose_accepts_the_file_and_refuses_it_without_secrets():
    command = [docker_compose(), "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"]
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin"}
    secrets = {"DJANGO_SECRET_KEY": "s", "POSTGRES_PASSWORD": "p"}
    valid = subprocess.run(command, env={**env, **secrets}, capture_output=True)
    assert valid.returncode == 0, valid.stderr.decode()
    missing = subprocess.run(command, env={**env, "POSTGRES_PASSWORD": "p"}, capture_output=True, text=True)
    assert missing.returncode != 0 and "DJANGO_SECRET_KEY" in missing.stderr + missing.stdout


def test_the_image_installs_from_pyproject_and_bakes_in_no_secret():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY pyproject.toml" in dockerfile and "pip install" in dockerfile
    assert "SECRET" not in dockerfile and "PASSWORD" not in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "var"} <= set(ignored)
