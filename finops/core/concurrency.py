"""Run an iterator ahead of its consumer in a thread (pure: no Django)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield ``source``'s items, produced by a background thread up to ``depth`` items ahead.

    Worth it when producing releases the GIL (arrow parsing) while the consumer waits on I/O
    (a database load). An exception in the producer is re-raised in the consumer; if the consumer
    stops early, the producer stops at its next item.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                if stop.is_set():
                    return
                items.put((item, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            items.put((None, error))
            return
        items.put((_DONE, None))

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                items.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
