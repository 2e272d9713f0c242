"""While an ingest holds its long write transaction, requests that only read still answer at once: their
bookkeeping writes (a token's last use, a user's last login, sessions, the login lockout's counts) never make
them wait out the database's lock and fail. On SQLite the ingest holds the database's one write lock; on
PostgreSQL it locks only the tables it writes."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from finops.api.models import ApiToken
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
PROMPT = 5.0  # seconds; the database's own lock timeout is 30


@contextmanager
def ingest_holding_the_write_lock():
    """Another connection in the middle of a write transaction, as an ingest is."""
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], timeout=1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM usage_lineitem WHERE id < 0")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    import psycopg

    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or "postgres",
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )
    try:
        other.execute("LOCK TABLE usage_lineitem IN SHARE ROW EXCLUSIVE MODE")
        yield
    finally:
        other.rollback()
        other.close()


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.fixture(autouse=True)
def _embedded_sessions_on_sqlite(settings, tmp_path):
    """SQLite is the embedded mode, whose sessions live in a file cache (settings without REDIS_URL). CI's SQLite
    lanes set REDIS_URL, and with Redis the sessions are ``cached_db`` (written through to the database, for
    production on PostgreSQL, where an ingest does not lock the sessions table)."""
    if connection.vendor == "sqlite" and settings.SESSION_ENGINE != "django.contrib.sessions.backends.cache":
        settings.CACHES = {
            **settings.CACHES,
            "sessions": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)},
        }
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"


def test_reads_and_logins_answer_while_an_ingest_writes():
    organization = factories.organization("busy")
    membership = factories.member(organization, "busy-fin", password="pw-1")
    key = factories.token_key(membership.user, organization, "t")
    token = ApiToken.objects.get(user=membership.user)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(hours=1))  # due
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with ingest_holding_the_write_lock():
        response, took = _timed(lambda: api.get("/api/v1/teams/"))
        assert response.status_code == 200 and took < PROMPT
        page = Client()
        response, took = _timed(lambda: page.post("/accounts/login/", {"username": "busy-fin", "password": "pw-1"}))
        assert response.status_code == 302 and took < PROMPT
        response, took = _timed(lambda: page.get("/teams/"))
        assert response.status_code == 200 and took < PROMPT
        wrong = Client()
        response, took = _timed(lambda: wrong.post("/accounts/login/", {"username": "busy-fin", "password": "no"}))
        assert response.status_code == 200 and took < PROMPT
    # Once the lock is gone the bookkeeping works again.
    api.get("/api/v1/teams/")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > timezone.now() - timedelta(minutes=1)
