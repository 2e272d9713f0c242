"""Process start-up: a missing or invalid setting ends the process with one clear line, not a traceback."""

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
