"""System checks of the accounts app (run by `manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def login_lockout_sees_client_addresses(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Behind a proxy, every login comes from the proxy's address unless the lockout reads X-Forwarded-For:
    ten failed logins by anyone would then lock everyone out."""
    behind_proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None) is not None
    if behind_proxy and not getattr(settings, "AXES_IPWARE_PROXY_COUNT", None):
        return [
            Warning(
                "DJANGO_BEHIND_TLS_PROXY is set but FINOPS_TRUSTED_PROXY_COUNT is not: the login lockout would "
                "count every client as the proxy's address, so a few failed logins would lock everyone out.",
                hint="Set FINOPS_TRUSTED_PROXY_COUNT to the number of proxies that append to X-Forwarded-For.",
                id="finops.W001",
            )
        ]
    return []
