"""python manage.py refresh_forecasts [--org SLUG] [--inline]

Without --inline the refresh is planned and its chunks are enqueued for the Celery workers; the run ids are
printed. With --inline everything runs in this process and a table of the forecasts is printed.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandParser

from finops.accounts.models import Organization
from finops.forecasting.models import ForecastRun, SeriesProjection
from finops.forecasting.selectors import series_forecasts_for_run
from finops.forecasting.services import forecast_refresh_inline
from finops.forecasting.tasks import forecast_refresh_enqueue


class Command(BaseCommand):
    help = "Refresh cost forecasts and detect anomalies for one organization (--org) or all of them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (default: every organization)")
        parser.add_argument("--inline", action="store_true", help="run now in this process instead of on workers")

    def handle(self, *args, **options) -> None:
        if options["org"]:
            organization = Organization.objects.filter(slug=options["org"]).first()
            if organization is None:
                known = ", ".join(Organization.objects.values_list("slug", flat=True)) or "none"
                self.stderr.write(f"unknown organization {options['org']!r} (known: {known})")
                sys.exit(2)
            organizations = [organization]
        else:
            organizations = list(Organization.objects.order_by("slug"))
        for organization in organizations:
            if options["inline"]:
                run = forecast_refresh_inline(organization=organization, trigger=ForecastRun.Trigger.MANUAL)
                self._table(organization, run)
            else:
                run = forecast_refresh_enqueue(organization=organization, trigger=ForecastRun.Trigger.MANUAL)
                self.stdout.write(
                    f"{organization.slug}: run {run.pk} {run.status}, {run.series_total} series "
                    f"in {run.chunks_total} chunk(s) enqueued"
                )

    def _table(self, organization: Organization, run: ForecastRun) -> None:
        seconds = f"{run.duration_seconds:.1f} s" if run.duration_seconds is not None else "-"
        self.stdout.write(
            f"{organization.slug}: run {run.pk} {run.status}, data through {run.as_of}, "
            f"{run.series_done}/{run.series_total} series, {run.anomalies_found} new anomalies, {seconds}"
        )
        for failure in run.failures:
            self.stdout.write(f"  failed: {failure['series']}: {failure['error']}")
        rows = []
        for forecast in series_forecasts_for_run(run=run):
            month = next((p for p in forecast.projections.all() if p.period == SeriesProjection.Period.MONTH), None)
            series = "total" if forecast.dimension == "total" else f"{forecast.dimension}:{forecast.key or '(none)'}"
            mase = "-" if forecast.backtest_mase is None else f"{forecast.backtest_mase:.3f}"
            projection = "-"
            if month is not None:
                projection = f"{month.total:,.2f} [{month.lower_80:,.2f} - {month.upper_80:,.2f}]"
            rows.append((f"{series} ({forecast.metric}, {forecast.currency})", forecast.model, mase, projection))
        if not rows:
            return
        ends = f", {month.period_end}" if month else ""
        header = ("series", "model", "MASE", f"month-end projection [80% interval]{ends}")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            cells = [
                str(cell).rjust(width) if i >= 2 else str(cell).ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ]
            self.stdout.write("  " + "  ".join(cells).rstrip())
