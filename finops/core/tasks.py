"""Queueing Celery tasks by name, so that a service never imports the task module that calls it back; and telling
a caller at once when the task queue (the broker) is out of reach."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Task, current_app
from django.db import transaction
from kombu.exceptions import OperationalError

QUEUE_UNAVAILABLE = "the task queue is unavailable; try again later"


class QueueUnavailable(Exception):
    """The broker could not be reached: nothing was queued."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(QUEUE_UNAVAILABLE)


def _broker_errors() -> tuple[type[BaseException], ...]:
    with current_app.connection_for_write() as broker:
        return (OperationalError, *broker.connection_errors)


def registered_task(name: str) -> Task:
    """The task registered as ``name``. A process that is not a worker (a web server, a command) may not have
    imported the apps' task modules yet: discover them as a worker does at start."""
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def queue_check() -> None:
    """Raise QueueUnavailable unless the broker accepts a connection (within its connect timeout, no retry).
    Work that is pointless without a worker (an upload) is refused before anything is written."""
    app = current_app
    if app.conf.task_always_eager:
        return
    errors = _broker_errors()
    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=0)
            broker.default_channel  # noqa: B018 (Redis: the channel's first command reaches the server)
    except errors as error:
        raise QueueUnavailable(str(error)) from error


def enqueue_on_commit(name: str, *args: Any, on_unavailable: Callable[[], None] | None = None) -> None:
    """Queue the task ``name`` with ``args`` once the current transaction commits (at once outside one). When the
    broker cannot be reached, ``on_unavailable`` undoes what would wait forever for the task, and
    QueueUnavailable is raised."""

    def send() -> None:
        errors = _broker_errors()
        try:
            registered_task(name).delay(*args)
        except errors as error:
            if on_unavailable is not None:
                on_unavailable()
            raise QueueUnavailable(str(error)) from error

    transaction.on_commit(send)
