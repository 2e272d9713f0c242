"""Signal receivers of the accounts app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import update_last_login

from finops.core.writes import best_effort_write


def last_login_record(sender: Any, user: Any, **kwargs: Any) -> None:
    """Django's ``update_last_login``, skipped while the database cannot take the write at once."""
    best_effort_write("a user's last login", update_last_login, sender, user, **kwargs)
