"""Demo utilisation metrics: generate them for the demo organization's EC2 resources and import them
(``seed_demo`` runs this after the billing ingest)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

from django.db.models import Max

from finops.accounts.models import Organization
from finops.demo.metrics import generate_demo_metrics
from finops.usage.models import LineItem
from optimizer.rightsizing.models import UtilizationImport
from optimizer.rightsizing.services import utilization_import

DEMO_METRIC_DAYS = 15  # the 14-day policy window plus a day of margin


def demo_metrics_end(organization: Organization) -> datetime | None:
    """The end of the last hour of EC2 usage ingested: the metrics cover the same days as the billing."""
    return LineItem.objects.filter(
        organization=organization, charge_category="Usage", instance_type__isnull=False
    ).aggregate(end=Max("charge_period_end"))["end"]


def seed_rightsizing_demo(*, organization: Organization, out_dir: Path, stdout: TextIO) -> UtilizationImport | None:
    """Write the demo metrics CSV next to the demo billing and import it (a rerun is a duplicate)."""
    end = demo_metrics_end(organization)
    if end is None:
        stdout.write(f"{organization.slug}: no EC2 usage ingested, no demo metrics.\n")
        return None
    path = Path(out_dir) / f"metrics_{end:%Y%m%dT%H}.csv.gz"
    generate_demo_metrics(path, end=end, days=DEMO_METRIC_DAYS)
    record = utilization_import(organization=organization, path=path)
    if record.status == UtilizationImport.Status.DUPLICATE:
        stdout.write(f"{organization.slug}: utilisation metrics unchanged (already imported).\n")
    else:
        stdout.write(
            f"{organization.slug}: utilisation metrics, {record.rows:,} samples for {record.resources} resources.\n"
        )
    return record
