"""python manage.py commitments --org SLUG [--json] [--today YYYY-MM-DD]"""

from __future__ import annotations

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from finops.commitments.selectors import commitment_inventory


def _percent(value: float | None) -> str:
    return "unknown" if value is None else f"{100 * value:.1f}%"


class Command(BaseCommand):
    help = "Reservations and savings plans: scope, end, hourly commitment, 30-day utilization and coverage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--json", action="store_true", help="print the inventory as JSON (the API's shape)")
        parser.add_argument("--today", type=str, help="count days to each end from this day (default: today, UTC)")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=2)
        today = None
        if options["today"]:
            try:
                today = date.fromisoformat(options["today"])
            except ValueError as error:
                raise CommandError(f"--today: not a date (YYYY-MM-DD): {options['today']!r}", returncode=2) from error
        inventory = commitment_inventory(organization=organization, today=today)
        if options["json"]:
            self.stdout.write(json.dumps(inventory.document()))
            return
        if not inventory.commitments:
            self.stdout.write(f"No reservations or savings plans in the last 30 days of {organization.slug}'s data.")
            return
        header = ("commitment", "kind", "scope", "end", "days", "$/h", "utilization", "coverage")
        rows = []
        for c in inventory.commitments:
            scope = "/".join(filter(None, (c.billing_account_id, c.region_id or "all regions", c.family)))
            hourly = "unknown" if c.hourly_commitment is None else f"{c.hourly_commitment:,.4f}"
            end = c.end.date().isoformat() if c.end else "unknown"
            days = "" if c.days_to_end is None else str(c.days_to_end)
            rows.append((c.id, c.kind, scope, end, days, hourly, _percent(c.utilization), _percent(c.coverage)))
        widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
        for row in (header, *rows):
            self.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        self.stdout.write(
            f"Window {inventory.window_start:%Y-%m-%d}..{inventory.window_end:%Y-%m-%d} (end exclusive). "
            + (
                f"{sum(1 for c in inventory.commitments if not c.end_known)} without an end date in the data."
                if any(not c.end_known for c in inventory.commitments)
                else ""
            )
        )
