"""python manage.py seed_demo [--end YYYY-MM-DD]: the demo organizations, users and 13 months of usage.

Deterministic for a given --end (default: today, UTC). Safe to run again: an unchanged delivery is a
duplicate and nothing changes.
"""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from finops.accounts.models import Organization, Role, Team
from finops.accounts.services import membership_set, organization_get_or_create
from finops.budgets.demo import seed_budgets_demo
from finops.budgets.services import budgets_evaluate
from finops.carbon.services import carbon_recompute
from finops.commitments.services import commitment_expiry_alerts, commitment_terms_import
from finops.commitments.terms import CommitmentTermsError
from finops.demo.commitment_exports import write_demo_commitment_exports
from finops.demo.generator import generate_demo_billing
from finops.demo.rightsizing import seed_rightsizing_demo
from finops.forecasting.conf import forecast_config
from finops.forecasting.models import AnomalySubscription, ForecastRun
from finops.forecasting.services import anomaly_subscription_create, forecast_refresh_inline
from finops.usage.formats.errors import IngestError
from finops.usage.services import ingest_job_create, ingest_job_run
from optimizer.models import OptimizationRun
from optimizer.rightsizing.services import rightsizing_recommend
from optimizer.services import optimization_run_create
from pricing.importers import PriceImportError
from pricing.services import catalog_import, derive_commitment_prices

FOCUS_SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "focus_sample.csv"
DEMO_SPOT_HISTORY = Path(__file__).resolve().parents[2] / "data" / "ec2_spot_linux_2022-05-31.tsv"
LIBCLOUD_PRICES = Path(__file__).resolve().parents[4] / "pricing" / "data" / "libcloud_pricing.json.gz"
ENGINEER_TEAMS = ("checkout", "search")
# Reserved example domain (RFC 2606): alert emails of the demo go to the mail folder, never to a real inbox.
DEMO_EMAIL = "%s@example.com"
# A refresh checks the days since the previous one for anomalies (FINOPS_ANOMALY_LOOKBACK_DAYS, 3). The demo
# gets one refresh, so it checks the last month, as a month of nightly refreshes would have (about 6 s more).
DEMO_ANOMALY_BACKFILL_DAYS = 30


class Command(BaseCommand):
    help = "Create the demo organizations (demo, focus-sample), their users and 13 months of usage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--end", help="last day (exclusive) of the demo data, YYYY-MM-DD; default today")
        parser.add_argument("--months", type=int, default=13)

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        end = date.fromisoformat(options["end"]) if options["end"] else timezone.now().date()
        password = os.environ.get("DEMO_PASSWORD", "demo")

        demo, _ = organization_get_or_create(slug="demo", name="Demo Corp")
        out_dir = Path(settings.VAR_DIR) / "demo" / f"{end.isoformat()}-{options['months']}m"
        paths = generate_demo_billing(out_dir, end=end, months=options["months"])
        self._ingest(demo, paths)
        self._commitment_terms(demo, out_dir=out_dir, end=end, months=options["months"])

        teams = {t.slug: t for t in Team.objects.filter(organization=demo)}
        missing = [slug for slug in ENGINEER_TEAMS if slug not in teams]
        if missing:
            raise CommandError(f"demo data has no team(s) {', '.join(missing)}: the generator changed?")
        membership_set(
            username="admin", organization=demo, role=Role.ADMIN, password=password, email=DEMO_EMAIL % "admin"
        )
        get_user_model().objects.filter(username="admin").update(is_staff=True, is_superuser=True)
        membership_set(
            username="finance", organization=demo, role=Role.FINANCE, password=password, email=DEMO_EMAIL % "finance"
        )
        membership_set(
            username="engineer",
            organization=demo,
            email=DEMO_EMAIL % "engineer",
            role=Role.ENGINEER,
            password=password,
            team_slugs=list(ENGINEER_TEAMS),
        )
        membership_set(
            username="viewer", organization=demo, role=Role.VIEWER, password=password, email=DEMO_EMAIL % "viewer"
        )

        self._prices()
        self._derived(demo, out_dir=out_dir, end=end)

        sample, _ = organization_get_or_create(slug="focus-sample", name="FOCUS sample (FinOps Foundation)")
        self._ingest(sample, [FOCUS_SAMPLE])
        self._carbon(sample)
        membership_set(
            username="analyst", organization=sample, role=Role.ADMIN, password=password, email=DEMO_EMAIL % "analyst"
        )

        self.stdout.write(f"Seeded in {time.monotonic() - started:.1f} s.")
        self.stdout.write("Logins (password: %s):" % ("$DEMO_PASSWORD" if "DEMO_PASSWORD" in os.environ else password))
        self.stdout.write("  finance   demo organization, finance role (sees everything)")
        self.stdout.write(f"  engineer  demo organization, engineer role, teams {', '.join(ENGINEER_TEAMS)}")
        self.stdout.write("  viewer    demo organization, read-only")
        self.stdout.write("  admin     demo organization admin and Django admin (/admin/)")
        self.stdout.write("  analyst   focus-sample organization (the FinOps Foundation FOCUS sample)")

    def _prices(self) -> None:
        """Real on-demand prices and specs for every EC2 type and region, real spot samples, and reserved /
        savings-plan rates derived (and marked so) from a published discount structure."""
        for path in (LIBCLOUD_PRICES, DEMO_SPOT_HISTORY):
            try:
                record, duplicate = catalog_import(paths=[path])
            except PriceImportError as error:
                raise CommandError(f"demo price import failed: {error}") from error
            state = "unchanged" if duplicate else f"{record.prices_added:,} prices, {record.spot_samples_added:,} spot"
            self.stdout.write(f"prices: {record.source}: {state}.")
        record, duplicate = derive_commitment_prices()
        self.stdout.write(
            f"prices: derived commitment rates: {'unchanged' if duplicate else f'{record.prices_added:,} prices'}."
        )

    def _derived(self, demo: Organization, *, out_dir: Path, end: date) -> None:
        """What the workers would compute after an ingest, done here so the demo opens complete: carbon,
        forecasts and anomalies, rightsizing from demo metrics, budgets in every state and their first alerts.
        A commitment recommendation with its backtest is queued for the worker (about a minute)."""
        self._carbon(demo)
        config = dataclasses.replace(forecast_config(), anomaly_lookback_days=DEMO_ANOMALY_BACKFILL_DAYS)
        run = forecast_refresh_inline(organization=demo, trigger=ForecastRun.Trigger.MANUAL, config=config)
        self.stdout.write(
            f"{demo.slug}: forecasts {run.status}, {run.series_done} series, {run.anomalies_found} anomalies "
            f"in the last {DEMO_ANOMALY_BACKFILL_DAYS} days."
        )
        finance = get_user_model().objects.get(username="finance")
        if not AnomalySubscription.objects.filter(organization=demo, user=finance).exists():
            anomaly_subscription_create(organization=demo, user=finance, mode=AnomalySubscription.Mode.DAILY_DIGEST)
        seed_rightsizing_demo(organization=demo, out_dir=out_dir / "metrics", stdout=self.stdout)
        rightsizing = rightsizing_recommend(organization=demo)
        self.stdout.write(f"{demo.slug}: rightsizing run {rightsizing.pk}.")
        seed_budgets_demo(organization=demo, stdout=self.stdout, today=end)
        results = budgets_evaluate(organization=demo, today=end)
        sent = sum(alert.status == "sent" for result in results for alert in result.alerts)
        emails = sum(any(alert.status == "sent" for alert in result.alerts) for result in results)
        states = ", ".join(f"{result.budget.name} {result.evaluation.status}" for result in results)
        self.stdout.write(f"{demo.slug}: budgets {states}; {emails} alert email(s) sent ({sent} thresholds).")
        expiry = commitment_expiry_alerts(organization=demo, today=end)
        self.stdout.write(f"{demo.slug}: {len(expiry)} commitment expiry alert email(s) sent.")
        # Queued like the ingest follow-ups, and off where they are (the test suite: no worker drains the queue).
        if settings.FINOPS_INGEST_FOLLOWUPS and not OptimizationRun.objects.filter(organization=demo).exists():
            optimization_run_create(organization=demo, parameters={"lookback_days": 30, "backtest": True})
            self.stdout.write(f"{demo.slug}: commitment recommendation queued for the worker.")

    def _commitment_terms(self, demo: Organization, *, out_dir: Path, end: date, months: int) -> None:
        """The demo's FOCUS bill carries no commitment dates: import them from its AWS inventory files."""
        paths = write_demo_commitment_exports(out_dir, end=end, months=months)
        try:
            result = commitment_terms_import(demo, *paths)
        except CommitmentTermsError as error:
            raise CommandError(f"demo commitment terms import failed: {error}") from error
        self.stdout.write(f"{demo.slug}: {len(result.terms)} commitment term(s) imported.")

    def _carbon(self, organization: Organization) -> None:
        result = carbon_recompute(organization=organization)
        if result is not None:
            self.stdout.write(
                f"{organization.slug}: carbon {result.rows_written:,} daily rows ({result.coefficients})."
            )

    def _ingest(self, organization, paths: list[Path]) -> None:
        try:
            # Follow-ups off: _derived computes them in this process, so the demo opens complete.
            job = ingest_job_create(organization=organization, paths=paths, source="demo")
            job = ingest_job_run(job, followups=False)
        except IngestError as error:
            raise CommandError(f"demo ingest failed: {error.describe()}") from error
        what = "unchanged (already ingested)" if job.status == "duplicate" else f"{job.rows_read:,} rows"
        self.stdout.write(f"{organization.slug}: {len(paths)} file(s), {what}.")
