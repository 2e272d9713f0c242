"""Django's Redis cache, with Redis out of reach treated as an empty cache that keeps nothing.

Everything finops caches (dashboard aggregates, ingest progress, session copies, login attempt counts) can be
recomputed or read from the database, so an unreachable Redis must cost a cache miss, not a 500. After a
connection error or timeout the backend stops asking Redis for ``retry_after`` seconds (per process): a Redis
that hangs instead of refusing costs one timeout per process and period, not one per cache call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("finops.cache")

REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)

# Location -> monotonic time until which Redis is not asked. Module-level: Django builds one backend per thread.
_skip_until: dict[str, float] = {}
_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    """``OPTIONS["retry_after"]`` (seconds, default 5): how long Redis is skipped after it failed. The other
    OPTIONS go to redis-py's connection pool as with Django's RedisCache (socket timeouts)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("retry_after", 5.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._location = ",".join(self._servers)

    def redis_available(self) -> bool:
        """False while Redis is skipped after a failure."""
        return time.monotonic() >= _skip_until.get(self._location, 0.0)

    def mark_unavailable(self, error: Exception) -> None:
        """Skip Redis for ``retry_after`` seconds (a caller that talked to Redis directly saw it fail)."""
        with _lock:
            first = self.redis_available()
            _skip_until[self._location] = time.monotonic() + self.retry_after
        if first:
            logger.warning("Redis cache unreachable (%s): serving without it for %.0f s", error, self.retry_after)

    def _call(self, operation: Callable[[], Any], fallback: Any) -> Any:
        if not self.redis_available():
            return fallback
        try:
            return operation()
        except REDIS_UNAVAILABLE as error:
            self.mark_unavailable(error)
            return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False)

    def get(self, key, default=None, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def get_many(self, keys, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def incr(self, key, delta=1, version=None):
        # Unreachable: counted from zero (a login lockout or version counter restarts rather than failing).
        return self._call(lambda: super(ResilientRedisCache, self).incr(key, delta, version), delta)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data))

    def delete_many(self, keys, version=None):
        return self._call(lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def clear(self):
        return self._call(lambda: super(ResilientRedisCache, self).clear(), False)
