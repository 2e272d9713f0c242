"""Per-organization cache of dashboard aggregates. Every key carries the organization's version, so one
``dashboard_cache_bump`` (called when an ingest finishes) invalidates all of that organization's entries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache

T = TypeVar("T")
TIMEOUT = 24 * 3600
# Bump when the shape of a cached value changes, so a deploy never reads entries written by older code.
SCHEMA = 3  # 3: Explore's cached rows carry no display texts of period and cost


def _version_key(organization_id: int) -> str:
    return f"finops:dash:version:{organization_id}"


def dashboard_cache_version(organization_id: int) -> int:
    version = cache.get(_version_key(organization_id))
    if version is None:
        cache.add(_version_key(organization_id), 1, timeout=None)
        version = cache.get(_version_key(organization_id)) or 1
    return int(version)


def dashboard_cache_bump(organization_id: int) -> int:
    """Invalidate every cached dashboard aggregate of an organization (after an ingest). Returns the new version."""
    key = _version_key(organization_id)
    dashboard_cache_version(organization_id)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between the two calls
        cache.set(key, 2, timeout=None)
        return 2


def cached(prefix: str, name: str, params: dict[str, Any], compute: Callable[[], T]) -> T:
    """``compute()`` once per (prefix, name, params). ``prefix`` is a Scope's ``cache_prefix``: organization,
    its version, its data marker and the rows the scope reads."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:24]
    key = f"finops:dash:s{SCHEMA}:{prefix}:{name}:{digest}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=TIMEOUT)
    return value
