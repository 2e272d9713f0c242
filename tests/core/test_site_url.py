"""Links in emails: SITE_URL, which a local demo takes from DEMO_PORT (settings default and `make demo`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_SITE_URL = "from django.conf import settings; import django; django.setup(); print(settings.SITE_URL)"


def _settings_site_url(**overrides: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "DEMO_PORT")}
    env.update(DJANGO_SETTINGS_MODULE="finops.settings", DJANGO_DEBUG="1", PYTHONPATH=str(ROOT), **overrides)
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SITE_URL], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_site_url_follows_the_demo_port_unless_set():
    assert _settings_site_url(DEMO_PORT="8123") == "http://127.0.0.1:8123"
    assert _settings_site_url() == "http://127.0.0.1:8000"
    assert _settings_site_url(DEMO_PORT="8123", SITE_URL="https://finops.example.com/") == "https://finops.example.com"


def _make_env(*args: str) -> str:
    """What a recipe of the Makefile sees as SITE_URL (a throwaway target evaluated with the Makefile's exports)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "DEMO_PORT", "MAKEFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "show-site-url: ; @echo $$SITE_URL", *args, "show-site-url"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_make_demo_exports_site_url_from_demo_port():
    assert _make_env("DEMO_PORT=8123") == "http://127.0.0.1:8123"
    assert _make_env() == "http://127.0.0.1:8000"
    assert _make_env("DEMO_PORT=8123", "SITE_URL=https://x.example") == "https://x.example"
    # Under `make test` this runs in a nested make: its MAKEFLAGS and MAKELEVEL would add directory lines.
    # `-o` keeps the install stamp as it is: a Makefile rule (even under -n) would otherwise reinstall.
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "DEMO_PORT", "MAKEFLAGS", "MAKELEVEL")}
    recipe = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "demo", "DEMO_PORT=8123", "PY=true"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "SITE_URL=http://127.0.0.1:8123" in recipe.splitlines()[-1]  # honcho's web, worker and beat
