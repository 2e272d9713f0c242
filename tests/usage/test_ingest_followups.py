"""After a delivery lands, the organization's derived data is refreshed by workers: enqueued on commit, only
for a successful new delivery (never for a duplicate or a failure), covering the ingested billing periods."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from finops.accounts.services import organization_get_or_create
from finops.budgets import tasks as budgets_tasks
from finops.carbon import tasks as carbon_tasks
from finops.forecasting import tasks as forecasting_tasks
from finops.usage.followups import period_days
from finops.usage.formats.errors import IngestError
from finops.usage.models import IngestJob
from finops.usage.services import ingest_job_create, ingest_job_run
from finops.web import tasks as web_tasks
from finops.web.cache import dashboard_cache_version
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(carbon_tasks.refresh_org, "delay", lambda *a: calls.append(("carbon", *a)))
    monkeypatch.setattr(forecasting_tasks.refresh_org, "delay", lambda *a: calls.append(("forecast", *a)))
    monkeypatch.setattr(budgets_tasks.evaluate_org, "delay", lambda *a: calls.append(("budgets", *a)))
    monkeypatch.setattr(web_tasks.dashboard_refresh_task, "delay", lambda *a: calls.append(("dashboards", *a)))
    return calls


def run(org, path):
    job = ingest_job_create(organization=org, paths=[path])
    return ingest_job_run(job)


def test_period_days_covers_whole_months_including_leap_february():
    assert period_days(["2026-02-01", "2025-12-01"]) == ("2025-12-01", "2026-02-28")
    assert period_days(["2024-02-01"]) == ("2024-02-01", "2024-02-29")
    assert period_days([]) is None


@override_settings(FINOPS_INGEST_FOLLOWUPS=True)
def test_a_new_delivery_enqueues_carbon_and_forecasts_on_commit(enqueued, django_capture_on_commit_callbacks):
    org, _ = organization_get_or_create(slug="acme", name="Acme")
    periods = sorted({row["BillingPeriodStart"][:10] for row in read_rows(FOCUS_SAMPLE)})
    first = date.fromisoformat(periods[0])
    last = date.fromisoformat(periods[-1])
    month_after = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = run(org, FOCUS_SAMPLE)
    assert job.status == IngestJob.Status.SUCCEEDED
    assert enqueued == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert enqueued == [
        ("carbon", org.pk, first.isoformat(), (month_after - timedelta(days=1)).isoformat()),
        ("forecast", org.pk),
        ("budgets", org.pk),
        ("dashboards", org.pk),
    ]

    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        duplicate = run(org, FOCUS_SAMPLE)
    assert duplicate.status == IngestJob.Status.DUPLICATE
    assert enqueued == []


@override_settings(FINOPS_INGEST_FOLLOWUPS=True)
def test_a_failed_delivery_enqueues_nothing(enqueued, django_capture_on_commit_callbacks, tmp_path):
    org, _ = organization_get_or_create(slug="acme", name="Acme")
    rows = read_rows(FOCUS_SAMPLE)[:3]
    rows[1]["BilledCost"] = "not-a-number"
    bad = write_csv(tmp_path / "bad.csv", rows)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(IngestError):
        run(org, bad)
    assert enqueued == []


def test_followups_are_off_in_the_test_suite(enqueued, django_capture_on_commit_callbacks):
    org, _ = organization_get_or_create(slug="acme", name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        run(org, FOCUS_SAMPLE)
    assert enqueued == []


def test_rebuilt_rollups_invalidate_the_cached_dashboards():
    org, _ = organization_get_or_create(slug="acme", name="Acme")
    before = dashboard_cache_version(org.pk)
    call_command("rebuild_rollups", "--org", "acme", stdout=StringIO())
    assert dashboard_cache_version(org.pk) == before + 1


@override_settings(FINOPS_INGEST_FOLLOWUPS=True)
def test_one_app_failing_to_queue_its_refresh_does_not_stop_the_others(
    enqueued, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broker_down(*args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(carbon_tasks.refresh_org, "delay", broker_down)
    org, _ = organization_get_or_create(slug="acme", name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        assert run(org, FOCUS_SAMPLE).status == IngestJob.Status.SUCCEEDED
    assert [call[0] for call in enqueued] == ["forecast", "budgets", "dashboards"]
    failed = [r for r in caplog.records if r.name == "finops.usage" and r.levelname == "ERROR"]
    assert len(failed) == 1 and failed[0].exc_info[0] is ConnectionError
