"""Shared fixtures. Services (PostgreSQL, Redis) are checked once: a test marked ``services`` skips with a
loud reason on a laptop that lacks them, and FINOPS_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing
service into a failed run instead of a skip."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FOCUS_SAMPLE = SHARED_DATA / "focus" / "focus_sample.csv"
CUR_SAMPLE = SHARED_DATA / "aws_cur" / "sample-anonymous-aws-export-dataset.csv"


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL")
    return url if url and _reachable(url) else None


CHROMIUM = Path("/usr/bin/chromium")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (Debian's chromium driven by Playwright), or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; no browser download needed)"
    return None


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("FINOPS_REQUIRE_BROWSER") == "1" and (missing := browser_missing()):
        raise pytest.UsageError(f"FINOPS_REQUIRE_BROWSER=1 but the browser is missing: {missing}")
    if os.environ.get("FINOPS_REQUIRE_SERVICES") == "1":
        if not os.environ.get("REDIS_URL"):
            raise pytest.UsageError("FINOPS_REQUIRE_SERVICES=1 but REDIS_URL is not set.")
        if redis_url() is None:
            raise pytest.UsageError(f"FINOPS_REQUIRE_SERVICES=1 but Redis at {os.environ['REDIS_URL']} is unreachable.")
        if not SHARED_DATA.is_dir():
            raise pytest.UsageError(f"FINOPS_REQUIRE_SERVICES=1 but the shared data folder {SHARED_DATA} is missing.")


# A test that reaches the database does it through one of these fixtures (directly or through another
# fixture) or through the ``django_db`` mark; pytest-django refuses database access to any other test.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "django_db_setup",
        "live_server",
        "admin_user",
        "admin_client",
    }
)


def uses_database(item: pytest.Item) -> bool:
    if item.get_closest_marker("django_db") is not None:
        return True
    return not DATABASE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Conditional skips, loud reasons; under FINOPS_REQUIRE_* pytest_configure already refused to run instead.
    missing_redis = redis_url() is None
    missing_browser = browser_missing()
    missing_data = not SHARED_DATA.is_dir()
    for item in items:
        # The database-free lane: these run once in CI, the others on SQLite and on PostgreSQL. A test put
        # here by mistake cannot pass silently: pytest-django fails it on its first query.
        if not uses_database(item):
            item.add_marker(pytest.mark.nodb)
        if "services" in item.keywords:
            item.add_marker(
                pytest.mark.skipif(missing_redis, reason="SERVICE MISSING: needs a reachable Redis at REDIS_URL")
            )
        if "browser" in item.keywords:
            item.add_marker(
                pytest.mark.skipif(missing_browser is not None, reason=f"BROWSER MISSING: {missing_browser}")
            )
        if "shared_data" in item.fixturenames:
            item.add_marker(pytest.mark.skipif(missing_data, reason=f"DATA MISSING: {SHARED_DATA} not found"))


@pytest.fixture
def shared_data() -> Path:
    return SHARED_DATA


def pytest_sessionstart(session: pytest.Session) -> None:
    """.ci/run says which database a run must use; a run that silently fell back to SQLite fails."""
    expected = os.environ.get("FINOPS_EXPECT_DB")
    if expected:
        from django.db import connection

        if connection.vendor != expected:
            raise pytest.UsageError(f"FINOPS_EXPECT_DB={expected} but the suite runs on {connection.vendor}")


@pytest.fixture(autouse=True)
def _fresh_sessions_cache(request):
    """Sessions and the login lockout's attempt counts live in the "sessions" cache, which outlives a test.
    Only tests with a database log in."""
    if request.node.get_closest_marker("nodb"):
        yield
        return
    from django.core.cache import caches

    caches["sessions"].clear()
    yield
    caches["sessions"].clear()
