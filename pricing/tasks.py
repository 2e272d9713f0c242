"""Celery tasks for price catalogs: thin shells around the services."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from pricing.fetch import download, download_pages
from pricing.importers import PriceImportError
from pricing.models import CatalogSource
from pricing.services import catalog_import


@shared_task(name="pricing.refresh_catalogs", acks_late=True, reject_on_worker_lost=True)
def refresh_catalogs() -> list[dict]:
    """Re-import every enabled CatalogSource; one source failing does not stop the others."""
    return [refresh_catalog_source.run(source.pk) for source in CatalogSource.objects.filter(enabled=True)]


@shared_task(name="pricing.refresh_catalog_source", acks_late=True, reject_on_worker_lost=True)
def refresh_catalog_source(source_id: int) -> dict:
    source = CatalogSource.objects.get(pk=source_id)
    downloads = Path(settings.VAR_DIR) / "pricing" / "downloads"
    source.last_checked_at = timezone.now()
    try:
        if source.format == "azure-retail" or "prices.azure.com" in source.url:
            paths = download_pages(source.url, downloads)
        else:
            paths = [download(source.url, downloads)]
        record, duplicate = catalog_import(paths=paths, fmt=source.format, location=source.url)
    except PriceImportError as error:
        # Bad or unreachable input: recorded on the source for the admin; retrying now would not help.
        source.last_error = str(error)
        source.save(update_fields=["last_checked_at", "last_error"])
        return {"source": source.url, "status": "failed", "error": str(error)}
    source.last_import, source.last_error = record, ""
    source.save(update_fields=["last_checked_at", "last_error", "last_import"])
    return {"source": source.url, "status": "duplicate" if duplicate else record.status, "import": record.pk}
