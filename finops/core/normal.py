"""scipy's normal distribution (``scipy.stats.norm``), imported on its first use.

Importing scipy.stats costs about a CPU-second, and the forecasting and budget math is imported whenever the
apps load: every web process, worker and management command (and each of the test suite's subprocesses) would
pay it, most of them never computing an interval. ``norm`` here forwards every attribute to scipy's object, so
the numbers are scipy's own. Django-free.
"""

from __future__ import annotations

from typing import Any


class _Norm:
    def __getattr__(self, name: str) -> Any:  # only for names not yet set on the instance
        from scipy.stats import norm as scipy_norm

        value = getattr(scipy_norm, name)
        setattr(self, name, value)
        return value


norm = _Norm()


def preload() -> None:
    """Import scipy.stats now: a web process does at boot (finops.core.startup.warm_web_process), so that its
    first overview page (the month-end projection's intervals) does not pay the import."""
    _ = norm.ppf
