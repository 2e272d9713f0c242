"""python manage.py carbon_report --org SLUG [--start] [--end] [--group-by ...] [--format table|csv|json] [--refresh]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.carbon.management.commands._common import day_range, organization_or_exit
from finops.carbon.selectors import MEASURES, REPORT_GROUPS, CarbonReportError, carbon_summary, measure_text
from finops.carbon.services import CarbonError, carbon_recompute
from finops.core.spreadsheet import SpreadsheetSafeWriter


class Command(BaseCommand):
    help = "Energy and emissions per group from the daily carbon rollups (Cloud Carbon Footprint method)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--start", type=str, help="first day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--end", type=str, help="last day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--group-by", default="service", help=f"{'|'.join(REPORT_GROUPS)} (default service)")
        parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
        parser.add_argument("--refresh", action="store_true", help="recompute the rollup of the range first")

    def handle(self, *args, **options) -> None:
        organization = organization_or_exit(options["org"])
        start, end = day_range(options)
        if options["group_by"] not in REPORT_GROUPS:
            raise CommandError(
                f"unknown --group-by {options['group_by']!r}; choose one of {', '.join(REPORT_GROUPS)}", returncode=2
            )
        try:
            if options["refresh"]:
                carbon_recompute(organization=organization, start=start, end=end)
            report = carbon_summary(organization=organization, group_by=options["group_by"], start=start, end=end)
        except (CarbonReportError, CarbonError) as error:
            raise CommandError(str(error), returncode=2) from error
        output = options["format"]
        if output == "json":
            self.stdout.write(json.dumps(report.as_json()))
        elif output == "csv":
            writer = SpreadsheetSafeWriter(self.stdout, lineterminator="\n")
            writer.writerow(["group", *MEASURES, "method"])
            for r in report.rows:
                writer.writerow([r.group, *(measure_text(r.values[m]) for m in MEASURES), r.method])
        else:
            if report.pending:
                pending = report.pending
                self.stdout.write(
                    f"Pending: {pending['days']:,} day(s) of ingested usage ({pending['first']}..{pending['last']}) "
                    f"have no carbon estimate yet; refresh: {pending['refresh']}."
                )
            if not report.rows:
                if not report.pending:
                    self.stdout.write("No usage in that range: nothing to estimate.")
                return
            width = max(len(r.group) for r in report.rows)
            self.stdout.write(
                f"{options['group_by']:<{width}}  {'vCPU-h':>12}  {'kWh':>12}  {'op kgCO2e':>12}  "
                f"{'emb kgCO2e':>12}  method"
            )
            for r in report.rows:
                v = r.values
                self.stdout.write(
                    f"{r.group:<{width}}  {v['vcpu_hours']:>12,.1f}  {v['kwh']:>12,.2f}  "
                    f"{v['operational_kgco2e']:>12,.2f}  {v['embodied_kgco2e']:>12,.2f}  {r.method}"
                )
            as_of = report.as_of.isoformat() if report.as_of else "none"
            self.stdout.write(f"coefficients {report.coefficients}; estimates as of {as_of}")
            if report.grid_estimated_regions:
                self.stdout.write(
                    "regions without a grid factor (provider average used): " + ", ".join(report.grid_estimated_regions)
                )
