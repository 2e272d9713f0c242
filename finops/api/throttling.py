"""Per-token and per-user request rates (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``: ``token``, ``user``).

Rates are read on every request (not frozen at import), so settings overrides apply.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from finops.api.models import ApiToken


class _ConfigurableRate(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class TokenRateThrottle(_ConfigurableRate):
    """Each token has its own budget."""

    scope = "token"

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return None


class UserRateThrottle(_ConfigurableRate):
    """All of a user's requests (session and every token) share one budget."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
        return None
