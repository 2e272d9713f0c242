"""The project's import structure: no cycle between modules, no domain app importing the web pages or the API,
no cycle between apps. Read from the source with ``ast`` (tests/architecture.py), no database.

The ``KNOWN_*`` lists name what is still being moved out; an entry that no longer occurs fails the test, so each
list only shrinks."""

from __future__ import annotations

import itertools
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
    "finops.forecasting",
    "finops.demo",
    "finops.web",
    "finops.api",
    "pricing",
    "optimizer",
    "optimizer.solver",
    "optimizer.rightsizing",
)

# The optimizer run's service enqueues its task and the task calls the service.
KNOWN_MODULE_CYCLES: set[tuple[str, ...]] = {("optimizer.services", "optimizer.tasks", "optimizer.services")}
# The carbon pages and the pricing API still live in their domain apps instead of finops/web and finops/api.
KNOWN_LAYERING_IMPORTERS: set[str] = {"finops.carbon.views", "pricing.api"}
KNOWN_APP_EDGES: set[tuple[str, str]] = {("finops.carbon", "finops.web"), ("pricing", "finops.api")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, PACKAGES)


def test_the_graph_sees_the_project(graph):
    assert "finops.usage.models" in graph["finops.usage.services"]
    assert "optimizer.solver" in graph and "pricing.models" in graph
    assert not any(".migrations" in module for module in graph)


def test_no_import_cycle_between_modules(graph):
    cycles = {tuple(cycle) for cycle in import_cycles(graph)}
    new = sorted(cycles - KNOWN_MODULE_CYCLES)
    assert not new, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in new)
    assert not KNOWN_MODULE_CYCLES - cycles, "gone, remove from KNOWN_MODULE_CYCLES"


def test_domain_apps_never_import_the_web_pages_or_the_api(graph):
    violations = layering_violations(graph, lower=DOMAIN, upper=PRESENTATION)
    new = [(a, b) for a, b in violations if a not in KNOWN_LAYERING_IMPORTERS]
    assert not new, "domain code importing web/api:\n" + "\n".join(f"{a} -> {b}" for a, b in new)
    assert not KNOWN_LAYERING_IMPORTERS - {a for a, _ in violations}, "gone, remove from KNOWN_LAYERING_IMPORTERS"


def test_no_import_cycle_between_apps(graph):
    edges = app_graph(graph, APPS)
    apps_graph: dict[str, set[str]] = {app: set() for app in APPS}
    for source, destination in set(edges) - KNOWN_APP_EDGES:
        apps_graph[source].add(destination)
    cycles = import_cycles(apps_graph)
    report = []
    for cycle in cycles:
        report.append(" -> ".join(cycle))
        report.extend(f"    {a} -> {b}" for step in itertools.pairwise(cycle) for a, b in edges[step])
    assert not cycles, "app cycles, with the imports behind each step:\n" + "\n".join(report)
    assert not KNOWN_APP_EDGES - set(edges), "gone, remove from KNOWN_APP_EDGES"


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
