"""The project's import structure: no cycle between modules, no domain app importing the web pages or the API,
no cycle between apps. Read from the source with ``ast`` (tests/architecture.py), no database."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.architecture import app_graph, import_cycles, import_graph, layering_violations

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("finops", "pricing", "optimizer")
PRESENTATION = ("finops.web", "finops.api")
# The demo seeds data through the domain apps, so it sits above them but below the pages and the API.
DOMAIN = (
    "finops.accounts",
    "finops.core",
    "finops.usage",
    "finops.forecasting",
    "finops.budgets",
    "finops.carbon",
    "finops.commitments",
    "finops.demo",
    "pricing",
    "optimizer",
)
APPS = (
    "finops.usage",
    "finops.accounts",
    "finops.core",
    "finops.budgets",
    "finops.carbon",
    "finops.commitments",
    "finops.forecasting",
    "finops.demo",
    "finops.web",
    "finops.api",
    "pricing",
    "optimizer",
    "optimizer.solver",
    "optimizer.rightsizing",
)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, PACKAGES)


def test_the_graph_sees_the_project(graph):
    assert "finops.usage.models" in graph["finops.usage.services"]
    assert "optimizer.solver" in graph and "pricing.models" in graph
    assert not any(".migrations" in module for module in graph)


def test_no_import_cycle_between_modules(graph):
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_domain_apps_never_import_the_web_pages_or_the_api(graph):
    violations = layering_violations(graph, lower=DOMAIN, upper=PRESENTATION)
    assert not violations, "domain code importing web/api:\n" + "\n".join(f"{a} -> {b}" for a, b in violations)


def test_no_import_cycle_between_apps(graph):
    edges = app_graph(graph, APPS)
    apps_graph: dict[str, set[str]] = {app: set() for app in APPS}
    for source, destination in edges:
        apps_graph[source].add(destination)
    cycles = import_cycles(apps_graph)
    report = []
    for cycle in cycles:
        report.append(" -> ".join(cycle))
        report.extend(f"    {a} -> {b}" for step in itertools.pairwise(cycle) for a, b in edges[step])
    assert not cycles, "app cycles, with the imports behind each step:\n" + "\n".join(report)


# --- The checker itself, on small packages written for the test ---------------------------------------------


def write_package(base: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return base


def test_checker_reports_every_cycle_with_its_chain(tmp_path):
    base = write_package(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/orders.py": "from shop import billing\n",
            "shop/billing.py": "def total():\n    from .mail import send  # inside a function: still an import\n",
            "shop/mail.py": "import shop.orders\n",
            "shop/stock.py": "from . import audit\n",
            "shop/audit.py": "from shop.stock import level\n",
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": "import shop.orders\nimport shop.migrations\n",
        },
    )
    graph = import_graph(base, ["shop"])
    assert "shop.migrations.0001_initial" not in graph
    assert import_cycles(graph) == [
        ["shop.audit", "shop.stock", "shop.audit"],
        ["shop.billing", "shop.mail", "shop.orders", "shop.billing"],
    ]


def test_checker_reports_a_lower_layer_importing_an_upper_one(tmp_path):
    base = write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/domain/__init__.py": "",
            "app/domain/models.py": "",
            "app/domain/services.py": "from ..web.cache import bump\nfrom app.domain import models\n",
            "app/web/__init__.py": "",
            "app/web/cache.py": "def bump():\n    pass\n",
            "app/web/views.py": "from app.domain.services import x\n",
        },
    )
    graph = import_graph(base, ["app"])
    assert layering_violations(graph, lower=["app.domain"], upper=["app.web"]) == [
        ("app.domain.services", "app.web.cache")
    ]
    assert app_graph(graph, ["app.domain", "app.web"]) == {
        ("app.domain", "app.web"): [("app.domain.services", "app.web.cache")],
        ("app.web", "app.domain"): [("app.web.views", "app.domain.services")],
    }


def test_checker_finds_nothing_in_a_clean_package(tmp_path):
    base = write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/domain/__init__.py": "",
            "app/domain/models.py": "import json\n",
            "app/domain/services.py": (
                "from typing import TYPE_CHECKING\n"
                "from app.domain.models import Thing\n"
                "if TYPE_CHECKING:\n"
                "    from app.web.views import page  # never runs\n"
            ),
            "app/web/__init__.py": "",
            "app/web/views.py": "from app.domain import services\n",
        },
    )
    graph = import_graph(base, ["app"])
    assert graph["app.domain.services"] == {"app.domain.models"}
    assert import_cycles(graph) == []
    assert layering_violations(graph, lower=["app.domain"], upper=["app.web"]) == []
    assert app_graph(graph, ["app.domain", "app.web"]) == {
        ("app.web", "app.domain"): [("app.web.views", "app.domain.services")]
    }


def test_a_web_process_finds_every_task_a_service_queues_by_name():
    """Services queue tasks by name (finops.core.tasks); a process that imported no task module must still
    find them."""
    code = (
        "import django; django.setup()\n"
        "from finops.core.tasks import registered_task\n"
        "from finops.usage.services import INGEST_TASK\n"
        "from optimizer.services import EXECUTE_TASK\n"
        "print(registered_task(INGEST_TASK).name, registered_task(EXECUTE_TASK).name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "finops.test_settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["usage.ingest_job_run", "optimizer.run_execute"]
