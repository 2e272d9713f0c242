"""Production settings: `check --deploy` is clean with the README's production environment, a missing setting
stops every entry point with one line, and every response carries the Content-Security-Policy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The README's production environment (Modes and settings), with a secret of the length Django asks for.
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k" * 20 + "-production-test-secret-with-enough-entropy-x7Qp",
    "DJANGO_ALLOWED_HOSTS": "finops.example.com",
}


def _run(args: list[str], program: str = sys.executable, **overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_SETTINGS_MODULE="finops.settings", **overrides)
    return subprocess.run([program, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_same_check_fails_without_the_https_settings():
    """The check above can fail: turning the HTTPS defaults off brings Django's warnings back."""
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION,
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SESSION_COOKIE_SECURE="0",
        DJANGO_SECURE_HSTS_SECONDS="0",
    )
    assert result.returncode != 0
    for code in ("security.W004", "security.W008", "security.W012"):
        assert code in result.stderr + result.stdout


CELERY = str(Path(sys.executable).with_name("celery"))


@pytest.mark.parametrize(
    ("program", "args"),
    [
        (sys.executable, ["manage.py", "check"]),
        (sys.executable, ["-c", "import finops.wsgi"]),
        (sys.executable, ["-c", "import finops.asgi"]),
        (CELERY, ["-A", "finops", "worker"]),
    ],
    ids=["manage.py", "wsgi", "asgi", "celery worker"],
)
def test_a_missing_secret_key_stops_with_one_line(program, args):
    result = _run(args, program, DJANGO_DEBUG="0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "finops: configuration error: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/costs/summary"])
def test_every_response_carries_the_content_security_policy(client, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_health_checks_over_plain_http_are_not_redirected():
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "print(c.get('/healthz', HTTP_HOST='finops.example.com').status_code,"
        " c.get('/accounts/login/', HTTP_HOST='finops.example.com').status_code)\n"
    )
    result = _run(["-c", code], **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["200", "301"]


def test_behind_a_proxy_the_lockout_must_know_the_client_addresses():
    args = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    result = _run(args, **PRODUCTION, DJANGO_BEHIND_TLS_PROXY="1")
    assert result.returncode != 0 and "finops.W001" in result.stdout + result.stderr
    assert _run(args, **PRODUCTION, DJANGO_BEHIND_TLS_PROXY="1", FINOPS_TRUSTED_PROXY_COUNT="1").returncode == 0


@pytest.mark.parametrize(
    ("module", "loaded"), [("finops.wsgi", True), ("finops.asgi", True), ("django; django.setup()", False)]
)
def test_the_web_server_imports_its_urlconf_and_scipy_stats_at_boot_and_nothing_else_does(module, loaded):
    """A server process imports its URLconf (every view) and scipy.stats as it starts, not on its first requests;
    workers and commands (django.setup() alone) still import them on first use (startup.warm_web_process)."""
    code = f"import sys\nimport {module}\nprint('scipy.stats' in sys.modules, 'finops.urls' in sys.modules)"
    result = _run(["-c", code], **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == [str(loaded), str(loaded)]


@pytest.mark.parametrize(
    ("url", "jit", "options"),
    [
        ("postgres://u:p@db:5432/finops", None, "-c jit=off"),
        ("postgres://u:p@db:5432/finops", "1", None),  # the server's setting stays
        (
            "postgres://u:p@db:5432/finops?options=-c%20statement_timeout%3D5000",
            None,
            "-c statement_timeout=5000 -c jit=off",
        ),
        ("sqlite:///var/x.sqlite3", None, None),
    ],
)
def test_postgres_connections_run_without_jit_unless_asked(url, jit, options):
    code = (
        "from django.conf import settings\nprint(repr(settings.DATABASES['default'].get('OPTIONS', {}).get('options')))"
    )
    result = _run(["-c", code], **PRODUCTION, DATABASE_URL=url, FINOPS_PG_JIT=jit or "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(options)
