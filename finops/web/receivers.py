"""How the web app reacts to events of the domain apps (connected in ``WebConfig.ready``)."""

from __future__ import annotations

from finops.web.cache import dashboard_cache_bump
from finops.web.tasks import dashboard_refresh_task


def dashboards_refresh_after_ingest(*, organization_id: int, inline: bool = False, **kwargs: object) -> None:
    """Invalidate and re-warm the organization's dashboards in a worker (inline: invalidate; pages recompute)."""
    if inline:
        dashboard_cache_bump(organization_id)
    else:
        dashboard_refresh_task.delay(organization_id)


def dashboards_invalidate(*, organization_id: int, **kwargs: object) -> None:
    """The rollups under the cached dashboards changed: drop the organization's cached aggregates."""
    dashboard_cache_bump(organization_id)
