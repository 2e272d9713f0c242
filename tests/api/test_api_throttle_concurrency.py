"""The API's request counter is atomic: concurrent requests never get past the limit, on Redis (shared by
every web process) and on the embedded file cache (one process, a lock)."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache

from finops.api import throttling
from tests.conftest import redis_url


def _hammer(threads: int, per_thread: int, key: str) -> list[int]:
    counts: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker() -> None:
        barrier.wait()
        mine = [throttling._count(key, 60) for _ in range(per_thread)]
        with lock:
            counts.extend(mine)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return counts


def _cache(monkeypatch, backend) -> None:
    monkeypatch.setattr(throttling, "cache", backend)


@pytest.mark.services
def test_redis_counter_is_exact_under_8_threads(monkeypatch):
    backend = RedisCache(redis_url() or "redis://127.0.0.1:6379/0", {"KEY_PREFIX": "finops-test-throttle"})
    _cache(monkeypatch, backend)
    backend.delete("k")
    counts = _hammer(8, 150, "k")
    # Every increment is counted once: the counts are exactly 1..1200, so a limit of N lets exactly N through.
    assert sorted(counts) == list(range(1, 1201))
    backend.delete("k")


def test_file_cache_counter_is_exact_under_8_threads(monkeypatch, tmp_path):
    _cache(monkeypatch, FileBasedCache(str(tmp_path), {}))
    counts = _hammer(8, 50, "k")
    assert sorted(counts) == list(range(1, 401))


def test_the_configured_cache_is_one_of_the_two_counted_kinds():
    assert isinstance(caches["default"], RedisCache | FileBasedCache)
