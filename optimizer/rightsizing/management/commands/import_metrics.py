"""python manage.py import_metrics PATH --org SLUG [--json]"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from optimizer.rightsizing.metrics import MetricsError
from optimizer.rightsizing.services import utilization_import

BAD_INPUT_EXIT = 2


class Command(BaseCommand):
    help = "Import a utilisation metrics CSV (resource_id,timestamp,cpu_percent[,memory_percent]) for rightsizing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=BAD_INPUT_EXIT)
        try:
            record = utilization_import(organization=organization, path=options["path"])
        except MetricsError as error:
            raise CommandError(str(error), returncode=BAD_INPUT_EXIT) from error
        result = {
            "import": record.pk,
            "status": record.status,
            "file": record.file_name,
            "sha256": record.sha256,
            "rows": record.rows,
            "resources": record.resources,
            "hours_written": record.hours_written,
            "hours_replaced": record.hours_replaced,
            "has_memory": record.has_memory,
            "first_hour": record.first_hour.isoformat() if record.first_hour else None,
            "last_hour": record.last_hour.isoformat() if record.last_hour else None,
            "duplicate_of": record.duplicate_of_id,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        elif record.status == record.Status.DUPLICATE:
            self.stdout.write(f"{record.file_name}: unchanged (same file as import #{record.duplicate_of_id}).")
        else:
            self.stdout.write(
                f"{record.file_name}: {record.rows:,} samples, {record.resources} resource(s), "
                f"{record.hours_written:,} hours stored ({record.hours_replaced:,} replaced), "
                f"{record.first_hour:%Y-%m-%d %H:00} to {record.last_hour:%Y-%m-%d %H:00} UTC"
                f"{', with memory' if record.has_memory else ', CPU only'}."
            )
