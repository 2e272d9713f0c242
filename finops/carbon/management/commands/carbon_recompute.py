"""python manage.py carbon_recompute --org SLUG [--start] [--end] [--coefficients VERSION] [--json]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.carbon.management.commands._common import day_range, organization_or_exit
from finops.carbon.services import CarbonError, carbon_recompute


class Command(BaseCommand):
    help = "Recompute the daily carbon rollup (after a new coefficient set, or on demand)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--start", type=str, help="first day, YYYY-MM-DD (default: first usage day)")
        parser.add_argument("--end", type=str, help="last day, YYYY-MM-DD (default: last usage day)")
        parser.add_argument("--coefficients", type=str, help="stored coefficient set version (default: current)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        organization = organization_or_exit(options["org"])
        start, end = day_range(options)
        try:
            result = carbon_recompute(organization=organization, start=start, end=end, version=options["coefficients"])
        except CarbonError as error:
            raise CommandError(str(error), returncode=2) from error
        payload = (
            {"status": "empty", "rows_written": 0}
            if result is None
            else {
                "status": "succeeded",
                "start": result.start.isoformat(),
                "end": result.end.isoformat(),
                "coefficients": result.coefficients,
                "groups": result.groups,
                "rows_written": result.rows_written,
                "rows_deleted": result.rows_deleted,
            }
        )
        if options["json"]:
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write(" ".join(f"{k}={v}" for k, v in payload.items()))
