"""Regenerate the README's screenshots (docs/screenshots/*.png) at 1440 x 900: `make screenshots`.

Seeds a small demo in a temporary var directory (its own SQLite database), runs one optimizer run with
every option, serves the app with Django's development server and drives Debian's /usr/bin/chromium through
Playwright (never a downloaded browser). Nothing outside the temporary directory and docs/screenshots/ is
written.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1440, 900
DEMO_END = "2026-03-15"  # fixed, so a regeneration shows the same data
DEMO_MONTHS = 4
PASSWORD = "demo"
RUN_OPTIMIZER = """
from finops.accounts.models import Organization
from optimizer.services import optimization_run_create, optimization_run_execute
run = optimization_run_create(
    organization=Organization.objects.get(slug="demo"),
    parameters={"lookback_days": 7, "term": "1y", "payment": "no_upfront", "max_spot_share": 0.2,
                "backtest": True, "rightsize": True, "carbon": True},
    enqueue=False,
)
print(optimization_run_execute(run).pk)
"""
CHARTS_SETTLED = """() => Array.from(document.querySelectorAll('.plot[data-figure]'))
    .every(el => el.classList.contains('plot-empty') || (el.data && el._fullLayout))"""


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> None:
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not found: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="finops-screenshots-") as var:
        port = free_port()
        env = {**os.environ, "FINOPS_VAR_DIR": var, "DJANGO_DEBUG": "1", "DEMO_PASSWORD": PASSWORD}
        env.pop("DATABASE_URL", None)  # the temporary SQLite database, never a configured one
        env["SITE_URL"] = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--end", DEMO_END, "--months", str(DEMO_MONTHS))
        run_id = int(manage(env, "shell", "-c", RUN_OPTIMIZER).split()[-1])
        print(f"seeded {DEMO_MONTHS} months and optimizer run #{run_id} in {time.monotonic() - started:.0f} s")
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/healthz")
            pages = {
                "overview": "/",
                "explore": "/explore/",
                "carbon": "/carbon/",
                "optimizer-run": f"/optimizer/runs/{run_id}/",
            }
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, base_url=base)
                page.goto("/accounts/login/")
                page.fill("#id_username", "finance")
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(lambda url: "/accounts/login/" not in url)
                for name, path in pages.items():
                    page.goto(path)
                    page.wait_for_function(CHARTS_SETTLED, timeout=30_000)
                    page.wait_for_load_state("networkidle")
                    target = OUT / f"{name}.png"
                    page.screenshot(path=str(target))
                    print(f"{target.relative_to(ROOT)}  {path}")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
