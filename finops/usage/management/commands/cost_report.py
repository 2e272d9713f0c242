"""python manage.py cost_report --org SLUG [--start] [--end] [--group-by ...] [--metric ...] [--format ...]"""

from __future__ import annotations

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from finops.core.amounts import money_str
from finops.core.spreadsheet import SpreadsheetSafeWriter
from finops.usage.selectors import (
    BREAKDOWN_FILTERS,
    GROUP_FIELDS,
    METRICS,
    ReportError,
    cost_summary,
    currency_totals,
    parse_filters,
)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}", returncode=2) from error


class Command(BaseCommand):
    help = "Cost per group from the daily rollups (tag:KEY groups from the tag rollup)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--start", type=str, help="first day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--end", type=str, help="last day, YYYY-MM-DD (inclusive)")
        parser.add_argument(
            "--group-by",
            default="service",
            help=f"{'|'.join(GROUP_FIELDS)}|tag:KEY|allocated_resource|allocated_tag:KEY (default service)",
        )
        parser.add_argument("--metric", default="billed", choices=list(METRICS))
        parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"keep rows whose NAME ({'|'.join(BREAKDOWN_FILTERS)}) is VALUE; repeat for several values",
        )

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=2)
        start = _day(options["start"]) if options["start"] else None
        end = _day(options["end"]) if options["end"] else None
        try:
            filters = parse_filters(options["filter"])
            rows = cost_summary(
                organization=organization,
                group_by=options["group_by"],
                metric=options["metric"],
                start=start,
                end=end,
                filters=filters,
            )
        except ReportError as error:
            raise CommandError(str(error), returncode=2) from error
        output = options["format"]
        if output == "json":
            payload = {
                "metric": options["metric"],
                "group_by": options["group_by"],
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
                "rows": [{"group": r.group, "currency": r.currency, "cost": money_str(r.cost)} for r in rows],
                "totals": [{"currency": c, "cost": money_str(t)} for c, t in currency_totals(rows).items()],
            }
            if filters:
                payload["filters"] = filters
            self.stdout.write(json.dumps(payload))
        elif output == "csv":
            writer = SpreadsheetSafeWriter(self.stdout, lineterminator="\n")
            writer.writerow(["group", "currency", "cost"])
            for r in rows:
                writer.writerow([r.group, r.currency, money_str(r.cost)])
        else:
            if not rows:
                self.stdout.write("No costs in that range. Ingest a billing export with ingest_usage.")
                return
            width = max(len(r.group) for r in rows)
            self.stdout.write(f"{options['group_by']:<{width}}  currency  {options['metric']} cost")
            for r in rows:
                self.stdout.write(f"{r.group:<{width}}  {r.currency:<8}  {r.cost:>16,.2f}")
            for currency, total in currency_totals(rows).items():
                self.stdout.write(f"{'total':<{width}}  {currency:<8}  {total:>16,.2f}")
