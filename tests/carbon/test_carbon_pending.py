"""Derived data after a command-line ingest with no worker: reported as pending with how to refresh, never a
silently empty result. Expected days come from the FOCUS sample's CSV rows, apart from the rollups."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from finops.forecasting.models import ForecastRun
from finops.usage.management.commands.ingest_usage import derived_status
from finops.usage.models import DailyCost
from tests import factories
from tests.conftest import FOCUS_SAMPLE


def _report(*args: str) -> str:
    out = StringIO()
    call_command("carbon_report", "--org", "acme", *args, stdout=out)
    return out.getvalue()


def _usage_days() -> list[date]:
    rows = pd.read_csv(FOCUS_SAMPLE, low_memory=False)
    usage = rows[(rows["ChargeCategory"] == "Usage") & (rows["CommitmentDiscountStatus"] != "Unused")]
    return sorted(set(pd.to_datetime(usage["ChargePeriodStart"], utc=True).dt.date))


@pytest.mark.django_db
def test_carbon_after_a_command_line_ingest_is_pending_until_refreshed():
    ingested = json.loads(factories.ingest_command("acme", FOCUS_SAMPLE))
    assert ingested["derived"]["pending"] == ["carbon", "forecasts", "budgets"]
    assert ingested["derived"]["refresh"]["carbon"] == "manage.py carbon_report --org acme --refresh"
    assert ingested["derived"]["queued"] is False  # the test settings queue no follow-ups: nothing else will

    days = _usage_days()
    report = json.loads(_report("--format", "json"))
    assert report["rows"] == [] and report["as_of"] is None
    assert report["pending"] == {
        "days": len(days),
        "first": days[0].isoformat(),
        "last": days[-1].isoformat(),
        "refresh": "manage.py carbon_report --org acme --refresh (or a running Celery worker)",
    }
    table = _report()
    assert f"Pending: {len(days):,} day(s) of ingested usage ({days[0]}..{days[-1]})" in table
    # A range holds only its own days.
    one = json.loads(_report("--format", "json", "--start", days[-1].isoformat(), "--end", days[-1].isoformat()))
    assert one["pending"]["days"] == 1

    refreshed = json.loads(_report("--format", "json", "--refresh"))
    assert refreshed["pending"] is None and refreshed["rows"]
    assert refreshed["as_of"] == days[-1].isoformat()
    assert "estimates as of " + days[-1].isoformat() in _report()


@pytest.mark.django_db
def test_a_range_without_usage_says_so_and_bad_ranges_still_exit_2():
    factories.ingest_command("acme", FOCUS_SAMPLE)
    assert "No usage in that range" in _report("--start", "1999-01-01", "--end", "1999-01-31")
    assert json.loads(_report("--format", "json", "--start", "1999-01-01", "--end", "1999-01-31"))["pending"] is None
    with pytest.raises(CommandError) as caught:
        _report("--start", "2024-02-01", "--end", "2024-01-01")
    assert caught.value.returncode == 2


def test_derived_status_names_the_worker_or_the_commands(settings):
    settings.FINOPS_INGEST_FOLLOWUPS = True
    settings.REDIS_URL = ""
    status = derived_status("acme", changed=True)
    assert status["queued"] is True and "celery -A finops worker" in status["note"]
    assert set(status["refresh"]) == {"carbon", "forecasts", "budgets"}
    settings.REDIS_URL = "redis://127.0.0.1:6379/6"
    assert derived_status("acme", changed=True)["note"] == "queued for the Celery workers"
    assert derived_status("acme", changed=False)["pending"] == []


@pytest.mark.django_db
def test_ingest_with_refresh_derived_computes_carbon_forecasts_and_budgets_inline():
    out = StringIO()
    call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "acme", "--refresh-derived", "--json", stdout=out)
    derived = json.loads(out.getvalue())["derived"]
    assert derived["pending"] == [] and derived["computed"] == ["carbon", "forecasts", "budgets"]
    assert derived["failed"] == []
    days = _usage_days()
    report = json.loads(_report("--format", "json"))
    assert report["pending"] is None and report["rows"] and report["as_of"] == days[-1].isoformat()
    run = ForecastRun.objects.get(organization__slug="acme")
    assert run.status == "succeeded" and run.trigger == "ingest"
    assert run.as_of == max(DailyCost.objects.filter(organization__slug="acme").values_list("day", flat=True))
