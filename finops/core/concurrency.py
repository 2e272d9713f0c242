"""Run an iterator ahead of its consumer in a thread (pure: no Django)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
_PUT_WAIT = 0.05  # seconds between checks of the stop flag while the queue is full


def prefetch(source: Iterator[T], depth: int = 2, *, name: str = "prefetch") -> Generator[T, None, None]:
    """Yield ``source``'s items, produced by a background thread named ``name`` up to ``depth`` items ahead.

    Worth it when producing releases the GIL (arrow parsing, decompression) while the consumer works on
    something else (conversion, a database load). An exception in the producer is re-raised in the consumer.
    When the consumer stops early (closes this generator, or raises), the producer stops and closes
    ``source`` before this generator returns, so no thread or open file outlives it.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=_PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            put((_DONE, error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
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
        thread.join()
