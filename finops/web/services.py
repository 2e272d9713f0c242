"""Writes owned by the web app: business-metric uploads, billing uploads handed to the ingest."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.text import get_valid_filename

from finops.accounts.models import Organization, Team
from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob
from finops.usage.services import ingest_job_create
from finops.web.cache import dashboard_cache_bump
from finops.web.metrics_csv import parse_metric_csv
from finops.web.models import BusinessMetric


@transaction.atomic
def business_metrics_upload(
    *, organization: Organization, team: Team, data: bytes, name: str, user: AbstractBaseUser | None
) -> int:
    """Store a ``date,metric,value`` file for ``team``: a (metric, date) already stored is replaced.
    Bad input raises MetricFileError and writes nothing. Returns the number of rows stored."""
    if team.organization_id != organization.pk:
        raise ValueError("team belongs to another organization")
    rows = parse_metric_csv(data, name=name)
    uploader = user if user is not None and user.is_authenticated else None
    BusinessMetric.objects.bulk_create(
        [
            BusinessMetric(
                organization=organization, team=team, date=r.day, metric=r.metric, value=r.value, uploaded_by=uploader
            )
            for r in rows
        ],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["team", "metric", "date"],
        update_fields=["value", "uploaded_by", "uploaded_at"],
    )
    dashboard_cache_bump(organization.pk)
    return len(rows)


def _enqueue_ingest(job_id: int) -> None:
    from finops.usage.tasks import ingest_job_run_task

    ingest_job_run_task.delay(job_id)


@transaction.atomic
def billing_upload_create(
    *, organization: Organization, files: list[UploadedFile], user: AbstractBaseUser | None, fmt: str = "auto"
) -> IngestJob:
    """Save uploaded billing files under the ingest folder, create their job and enqueue it after commit.
    Refusals (no file, unknown format) raise IngestError before anything is queued."""
    folder = Path(settings.FINOPS_INGEST_DIR) / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        for upload in files:
            path = folder / (get_valid_filename(Path(upload.name).name) or "upload")
            with open(path, "wb") as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
            paths.append(path)
        job = ingest_job_create(organization=organization, paths=paths, fmt=fmt, source="upload", user=user)
    except IngestError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    transaction.on_commit(lambda: _enqueue_ingest(job.pk))
    return job
