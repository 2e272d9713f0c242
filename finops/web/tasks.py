"""Celery tasks of the web app: thin shells that take ids."""

from __future__ import annotations

from celery import shared_task

from finops.web.cache import dashboard_cache_bump
from finops.web.views import dashboard_cache_warm


@shared_task(name="web.dashboard_refresh", acks_late=True, reject_on_worker_lost=True)
def dashboard_refresh_task(organization_id: int) -> dict:
    """After an ingest: invalidate the organization's cached dashboards, then warm the default views."""
    version = dashboard_cache_bump(organization_id)
    return {"organization": organization_id, "version": version, "warmed": dashboard_cache_warm(organization_id)}
