"""python manage.py ingest_usage PATH [PATH ...] --org SLUG [--format auto|FORMAT] [--json] (FORMAT: formats.FORMATS)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.services import organization_get_or_create
from finops.usage import formats
from finops.usage.followups import ingest_followups_run_inline
from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob
from finops.usage.services import ingest_job_create, ingest_job_run

BAD_INPUT_EXIT = 2


class TerminalProgress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, state: dict) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(state["fraction"] * width)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {state['fraction']:6.1%}  {state['rows']:,} rows")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def derived_status(slug: str, *, changed: bool) -> dict:
    """What the delivery leaves to compute: carbon, forecasts and budget evaluations are derived by the Celery
    worker from the ingest's follow-ups, so after a command-line ingest they are pending until a worker runs
    them or these commands do."""
    queued = settings.FINOPS_INGEST_FOLLOWUPS
    if not changed:
        return {"pending": [], "queued": False, "note": "nothing changed", "refresh": {}}
    if not queued:
        note = "follow-ups are off (FINOPS_INGEST_FOLLOWUPS=0): nothing was queued"
    elif settings.REDIS_URL:
        note = "queued for the Celery workers"
    else:
        note = "queued on the embedded broker: computed when `celery -A finops worker` (make demo) runs"
    return {
        "pending": ["carbon", "forecasts", "budgets"],
        "queued": queued,
        "note": note,
        "refresh": {
            "carbon": f"manage.py carbon_report --org {slug} --refresh",
            "forecasts": f"manage.py refresh_forecasts --org {slug} --inline",
            "budgets": f"manage.py evaluate_budgets --org {slug}",
        },
    }


class Command(BaseCommand):
    help = "Ingest billing exports (FOCUS, AWS CUR, Azure) as one delivery replacing the billing slices they cover."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--org", required=True, help="organization slug (created if missing)")
        parser.add_argument("--format", default="auto", choices=["auto", *formats.FORMATS])
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--refresh-derived",
            action="store_true",
            help="compute carbon, forecasts and budget evaluations now, in this process (no worker needed)",
        )

    def handle(self, *args, **options) -> None:
        try:
            organization, created = organization_get_or_create(slug=options["org"])
        except ValueError as error:
            raise CommandError(str(error), returncode=BAD_INPUT_EXIT) from error
        if created and not options["json"]:
            self.stdout.write(f"Created organization {organization.slug}.")
        progress = TerminalProgress()
        try:
            job = ingest_job_create(organization=organization, paths=options["paths"], fmt=options["format"])
            job = ingest_job_run(job, progress=progress)
        except IngestError as error:
            progress.close()
            if created:  # a refused first delivery leaves no organization and no job behind
                organization.delete()
            raise CommandError(error.describe(), returncode=BAD_INPUT_EXIT) from error
        progress.close()
        result = {
            "rows": job.rows_read,
            "billing_periods": job.billing_periods,
            "totals": job.totals,
            "status": job.status,
            "job": job.pk,
            "organization": organization.slug,
            "organization_created": created,
            "format": job.format,
            "focus_version": job.focus_version,
            "rows_replaced": job.rows_replaced,
            "duplicate_of": job.duplicate_of_id,
            "duration_seconds": round(job.duration_seconds or 0.0, 3),
            "derived": derived_status(organization.slug, changed=job.status == IngestJob.Status.SUCCEEDED),
        }
        if options["refresh_derived"] and job.status == IngestJob.Status.SUCCEEDED:
            failed = ingest_followups_run_inline(organization_id=organization.pk, billing_periods=job.billing_periods)
            result["derived"] = {
                **result["derived"],
                "pending": [],
                "computed": ["carbon", "forecasts", "budgets"],
                "failed": failed,
                "note": "computed in this process" + (f"; failed: {'; '.join(failed)}" if failed else ""),
            }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        if job.status == IngestJob.Status.DUPLICATE:
            self.stdout.write(
                f"Duplicate: this delivery was already ingested as job {job.duplicate_of_id}; nothing changed."
            )
            return
        self.stdout.write(
            f"Ingested {job.rows_read:,} rows ({job.format}) into {organization.slug} as job {job.pk}, "
            f"billing periods {', '.join(job.billing_periods)}; replaced {job.rows_replaced:,} earlier rows."
        )
        for currency, totals in job.totals.items():
            self.stdout.write(
                f"  {currency}: billed {totals['billed_cost']}, effective {totals['effective_cost']}, "
                f"list {totals['list_cost']}"
            )
        derived = result["derived"]
        if not derived["pending"]:
            self.stdout.write(f"Derived data ({', '.join(derived.get('computed', []))}): {derived['note']}.")
            return
        self.stdout.write(f"Pending: {', '.join(derived['pending'])} ({derived['note']}). Refresh now with:")
        for command in derived["refresh"].values():
            self.stdout.write(f"  {command}")
        self.stdout.write("  (or ingest with --refresh-derived)")
