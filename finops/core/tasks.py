"""Queueing Celery tasks by name, so that a service never imports the task module that calls it back."""

from __future__ import annotations

from typing import Any

from celery import Task, current_app
from django.db import transaction


def registered_task(name: str) -> Task:
    """The task registered as ``name``. A process that is not a worker (a web server, a command) may not have
    imported the apps' task modules yet: discover them as a worker does at start."""
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def enqueue_on_commit(name: str, *args: Any) -> None:
    """Queue the task ``name`` with ``args`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: registered_task(name).delay(*args))
