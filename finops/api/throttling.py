"""Per-token and per-user request rates (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``: ``token``, ``user``).

Counting is atomic, so concurrent requests cannot slip past the limit: a fixed window per caller whose counter
is incremented in one step (Redis ``INCR`` when the cache is Redis, shared by every web process; otherwise a
counter under a process-wide lock, the embedded mode's single process). Rates are read on every request (not
frozen at import), so settings overrides apply.
"""

from __future__ import annotations

import math
import threading
import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from finops.api.models import ApiToken
from finops.core.cache import REDIS_UNAVAILABLE

_LOCAL_LOCK = threading.Lock()


def _count(key: str, window_seconds: int) -> int:
    """Add one request to ``key``'s window and return the window's count."""
    client = getattr(cache, "_cache", None)
    get_client = getattr(client, "get_client", None)
    if get_client is not None:  # django.core.cache.backends.redis.RedisCache
        if not getattr(cache, "redis_available", lambda: True)():
            return 0
        try:
            redis = get_client(key, write=True)
            redis_key = cache.make_and_validate_key(key)
            with redis.pipeline() as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, window_seconds + 1)
                count, _ = pipe.execute()
        except REDIS_UNAVAILABLE as error:
            if hasattr(cache, "mark_unavailable"):
                cache.mark_unavailable(error)
            return 0  # Redis out of reach: requests are not counted (served, not refused) until it is back
        return int(count)
    with _LOCAL_LOCK:
        count = int(cache.get(key, 0)) + 1
        cache.set(key, count, timeout=window_seconds + 1)
        return count


class _WindowThrottle(BaseThrottle):
    scope = ""

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        ident = self.ident(request)
        if rate is None or ident is None:
            return True
        limit, window = SimpleRateThrottle.parse_rate(None, rate)
        now = time.time()
        window_start = math.floor(now / window) * window
        self.retry_after = max(1, math.ceil(window_start + window - now))
        return _count(f"finops:throttle:{self.scope}:{ident}:{int(window_start)}", window) <= limit

    def wait(self) -> float | None:
        return getattr(self, "retry_after", None)


class TokenRateThrottle(_WindowThrottle):
    """Each token has its own budget."""

    scope = "token"

    def ident(self, request) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, ApiToken) else None


class UserRateThrottle(_WindowThrottle):
    """All of a user's requests (session and every token) share one budget."""

    scope = "user"

    def ident(self, request) -> str | None:
        return str(request.user.pk) if request.user and request.user.is_authenticated else None
