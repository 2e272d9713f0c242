"""Process start-up: a missing or invalid setting ends the process with one clear line, not a traceback; a web
process imports at boot what its first requests would otherwise import."""

from __future__ import annotations

import sys


def load_settings_or_exit() -> None:
    """Load the Django settings now; on a configuration error print ``finops: configuration error: ...`` to
    stderr and exit with status 2."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - touching a setting loads the settings module
    except ImproperlyConfigured as error:
        sys.stderr.write(f"finops: configuration error: {error}\n")
        raise SystemExit(2) from None


def warm_web_process() -> None:
    """Import now what a web server process's first requests would: the URLconf and every view behind it
    (Django loads it on the first request; pandas, DRF), and scipy.stats (the overview's projection intervals,
    finops.core.normal). finops.wsgi and finops.asgi call this once the application is loaded, so a worker's
    first page is not the one that pays them (measured: 0.6 s more on the first overview, and up to 1.4 s on
    the first request a fresh worker served). Workers and commands keep importing on first use."""
    from django.urls import get_resolver

    from finops.core.normal import preload

    _ = get_resolver().url_patterns
    preload()
