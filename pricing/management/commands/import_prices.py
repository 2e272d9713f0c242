"""python manage.py import_prices PATH|URL [...] [--format auto|aws-offer-csv|...] [--json]"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pricing import importers
from pricing.fetch import download, download_pages
from pricing.importers import PriceImportError
from pricing.services import catalog_import


class Command(BaseCommand):
    help = "Import price catalogs (files or URLs) as one catalog import; re-importing is a no-op."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sources", nargs="+", help="file paths or http(s) URLs")
        parser.add_argument("--format", default="auto", choices=["auto", *importers.FORMATS])
        parser.add_argument("--max-pages", type=int, default=1000, help="for paged APIs (Azure Retail Prices)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        results = []
        for source in options["sources"]:
            try:
                # One catalog per source; an API listing's pages are one catalog.
                paths = self._local_paths(source, options["format"], options["max_pages"])
                record, duplicate = catalog_import(paths=paths, fmt=options["format"], location=source)
            except PriceImportError as error:
                raise CommandError(str(error), returncode=2) from error
            results.append(self._result(record, duplicate))
            if not options["json"]:
                self.stdout.write(self._describe(record, duplicate))
        if options["json"]:
            statuses = {r["status"] for r in results}
            self.stdout.write(
                json.dumps({"status": statuses.pop() if len(statuses) == 1 else "mixed", "imports": results})
            )

    @staticmethod
    def _result(record, duplicate: bool) -> dict:
        return {
            "status": "duplicate" if duplicate else record.status,
            "import": record.pk,
            "format": record.format,
            "provider": record.provider,
            "source": record.source,
            "location": record.location,
            "version": record.version,
            "publication_date": record.publication_date.isoformat() if record.publication_date else None,
            "sha256": record.sha256,
            "rows": record.rows_read,
            "skus_added": 0 if duplicate else record.skus_added,
            "prices_added": 0 if duplicate else record.prices_added,
            "prices_superseded": 0 if duplicate else record.prices_superseded,
            "spot_samples_added": 0 if duplicate else record.spot_samples_added,
            "skipped": record.skipped,
        }

    @staticmethod
    def _describe(record, duplicate: bool) -> str:
        if duplicate:
            return f"{record.location}: already imported as import {record.pk} ({record.source}); nothing changed."
        skipped = ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, n in record.skipped.items())
        return (
            f"{record.location}: imported {record.source} {record.version} ({record.format}): "
            f"{record.rows_read:,} rows, "
            f"{record.skus_added:,} new SKUs, {record.prices_added:,} new prices "
            f"({record.prices_superseded:,} superseded), {record.spot_samples_added:,} spot samples"
            + (f"; skipped {skipped}" if skipped else "")
            + "."
        )

    def _local_paths(self, source: str, fmt: str, max_pages: int) -> list[Path]:
        downloads = Path(settings.VAR_DIR) / "pricing" / "downloads"
        if not source.startswith(("http://", "https://")):
            return [Path(source)]
        if fmt == "azure-retail" or "prices.azure.com" in source:
            return download_pages(source, downloads, max_pages=max_pages)
        return [download(source, downloads)]
