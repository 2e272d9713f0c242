"""The nightly task plans every organization; runs stuck without progress are marked failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from finops.accounts.models import Organization
from finops.celery import app
from finops.forecasting.models import ForecastRun
from finops.forecasting.services import forecast_run_start, forecast_runs_fail_stale
from finops.forecasting.tasks import refresh_all, refresh_org
from tests.forecasting.fc_fixtures import LAST_DAY, load, usage_frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings):
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_refresh_all_runs_every_organization_and_fails_stale_runs(eager, django_capture_on_commit_callbacks):
    acme = Organization.objects.create(slug="acme", name="Acme")
    empty = Organization.objects.create(slug="empty", name="Empty")
    load(acme, usage_frame())
    stuck = forecast_run_start(organization=acme)  # planned, then its worker vanished
    ForecastRun.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(hours=7))
    assert forecast_runs_fail_stale() == 1
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "no progress for 6 hours" in stuck.error

    with django_capture_on_commit_callbacks(execute=True):
        result = refresh_all()
    assert result["stale_failed"] == 0 and len(result["runs"]) == 2
    runs = {r.organization.slug: r for r in ForecastRun.objects.filter(pk__in=result["runs"])}
    # The stuck run's day is redone in place (attempt 2), now to completion.
    assert runs["acme"].pk == stuck.pk and runs["acme"].attempt == 2
    assert runs["acme"].status == "succeeded" and runs["acme"].trigger == "nightly" and runs["acme"].as_of == LAST_DAY
    assert runs["empty"].status == "succeeded" and runs["empty"].series_total == 0 and runs["empty"].as_of is None
    assert empty.forecast_runs.count() == 1


def test_refresh_org_after_an_ingest(eager, django_capture_on_commit_callbacks):
    acme = Organization.objects.create(slug="acme", name="Acme")
    load(acme, usage_frame())
    with django_capture_on_commit_callbacks(execute=True):
        result = refresh_org(acme.pk)
    run = ForecastRun.objects.get(pk=result["run"])
    assert run.trigger == "ingest" and run.status == "succeeded" and run.series_done == result["series"] > 0
    with pytest.raises(Organization.DoesNotExist):
        refresh_org(10**9)
