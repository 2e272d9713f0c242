"""The login lockout's attempt store for the embedded mode (django-axes' database handler)."""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler

from finops.core.writes import best_effort_write


class BestEffortDatabaseHandler(AxesDatabaseHandler):
    """Counts and resets failed logins as best-effort writes: while an ingest holds SQLite's write lock a login
    still answers at once (the attempt is then not counted), instead of failing after the lock's timeout."""

    def user_login_failed(self, sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
        best_effort_write("counting a failed login", super().user_login_failed, sender, credentials, request, **kwargs)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        best_effort_write("resetting failed logins", super().user_logged_in, sender, request, user, **kwargs)
