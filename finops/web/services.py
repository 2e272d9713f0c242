"""Writes owned by the web app: business-metric uploads (billing uploads: finops.usage.services)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from finops.accounts.models import Organization, Team
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
