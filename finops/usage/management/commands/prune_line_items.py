"""python manage.py prune_line_items [--months N] [--dry-run]"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.usage.services import line_items_retention_run


class Command(BaseCommand):
    help = (
        "Remove the line items of billing periods older than FINOPS_LINE_ITEM_RETENTION_MONTHS months (or --months), "
        "keeping the daily rollups. PostgreSQL drops whole month partitions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months", type=int, help="months to keep (default FINOPS_LINE_ITEM_RETENTION_MONTHS)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be removed, remove nothing")

    def handle(self, *args, **options) -> None:
        months = options["months"]
        if months is not None and months < 1:
            raise CommandError("--months must be 1 or more", returncode=2)
        result = line_items_retention_run(months=months, dry_run=options["dry_run"])
        if result is None:
            self.stdout.write(
                f"retention is off (FINOPS_LINE_ITEM_RETENTION_MONTHS={settings.FINOPS_LINE_ITEM_RETENTION_MONTHS}): "
                "nothing removed"
            )
            return
        verb = "would remove" if options["dry_run"] else "removed"
        partitions = f", {len(result.months)} month partition(s)" if result.months else ""
        self.stdout.write(
            f"line items of billing periods before {result.before:%Y-%m-%d}: {verb} {result.rows:,} rows{partitions}"
        )
