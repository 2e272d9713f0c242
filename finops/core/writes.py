"""Writes a request can do without: bookkeeping (a token's last use, a user's last login) that must never
turn a read into an error. On SQLite a long ingest holds the database's one write lock; such a write then
gives up after a moment instead of waiting out the lock and failing the request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import OperationalError, connection, transaction

logger = logging.getLogger("finops.writes")
# How long a best-effort write waits for SQLite's write lock, in milliseconds.
SQLITE_WAIT_MS = 200


def best_effort_write(what: str, write: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
    """Run ``write(*args, **kwargs)`` if the database takes it promptly, else skip it (logged). Returns whether
    it ran."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        write(*args, **kwargs)
        return True
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_WAIT_MS}")
    try:
        with transaction.atomic():
            write(*args, **kwargs)
        return True
    except OperationalError as error:
        if "locked" not in str(error):
            raise
        logger.info("skipped %s: the database is busy (%s)", what, error)
        return False
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(previous)}")
