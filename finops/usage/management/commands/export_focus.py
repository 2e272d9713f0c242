"""python manage.py export_focus --org SLUG [--start] [--end] [--version 1.0|1.2|1.3] [--format csv|parquet] OUTPUT"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from finops.usage.export import (
    DEFAULT_VERSION,
    FOCUS_VERSIONS,
    FORMATS,
    ExportError,
    focus_csv_lines,
    write_focus_parquet,
)
from finops.usage.selectors import ReportError, focus_export

BAD_INPUT_EXIT = 2


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}", returncode=BAD_INPUT_EXIT) from error


class Command(BaseCommand):
    help = "Export an organization's line items as a FOCUS dataset (CSV or Parquet), '-' writing CSV to stdout."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        # --version is the FOCUS version here (the brief's contract), replacing Django's --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("output", help="file to write ('-': standard output, CSV only)")
        parser.add_argument("--org", required=True)
        parser.add_argument("--start", type=str, help="first day, YYYY-MM-DD (inclusive, by charge period start)")
        parser.add_argument("--end", type=str, help="last day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--version", dest="focus_version", default=DEFAULT_VERSION, choices=list(FOCUS_VERSIONS))
        parser.add_argument("--format", choices=list(FORMATS), help="default: parquet for *.parquet, else csv")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=BAD_INPUT_EXIT)
        output = options["output"]
        fmt = options["format"] or ("parquet" if output.endswith(".parquet") else "csv")
        if output == "-" and fmt != "csv":
            raise CommandError("Parquet needs a file, not standard output", returncode=BAD_INPUT_EXIT)
        try:
            columns, records = focus_export(
                organization=organization,
                version=options["focus_version"],
                start=_day(options["start"]) if options["start"] else None,
                end=_day(options["end"]) if options["end"] else None,
            )
            if output == "-":
                rows = -1
                for line in focus_csv_lines(records, columns):
                    self.stdout.write(line, ending="")
                    rows += 1
                return
            path = Path(output)
            if fmt == "parquet":
                rows = write_focus_parquet(records, columns, path)
            else:
                rows = -1
                with path.open("w", encoding="utf-8", newline="") as stream:
                    for line in focus_csv_lines(records, columns):
                        stream.write(line)
                        rows += 1
        except (ReportError, ExportError) as error:
            raise CommandError(str(error), returncode=BAD_INPUT_EXIT) from error
        self.stderr.write(f"{rows} rows, FOCUS {options['focus_version']}, {len(columns)} columns -> {path} ({fmt})")
