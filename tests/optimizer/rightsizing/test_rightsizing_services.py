"""Metric imports (idempotent, transactional), recommendation runs and the commitment-chain hook, on a
tiny organization built through the real ingest (tests/optimizer/rightsizing/rightsizing_fixtures.py)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from finops.accounts.services import organization_get_or_create
from optimizer.rightsizing import services
from optimizer.rightsizing.fleet import FleetConstraints
from optimizer.rightsizing.metrics import MetricsError
from optimizer.rightsizing.models import (
    RightsizingRecommendation,
    RightsizingRun,
    UtilizationHour,
    UtilizationImport,
)
from optimizer.rightsizing.services import (
    RightsizingError,
    rightsizing_changes,
    rightsizing_recommend,
    utilization_import,
)
from tests.optimizer.rightsizing.rightsizing_fixtures import (
    PRICES,
    WINDOW_END,
    WINDOW_START,
    make_org,
    metric_samples,
    write_metrics,
)

pytestmark = pytest.mark.django_db


def hours_in_file(path) -> pd.DataFrame:
    """Hourly means/maxima of a metrics CSV, computed here with pandas directly from the file."""
    frame = pd.read_csv(path)
    frame["hour"] = pd.to_datetime(frame["timestamp"], utc=True).dt.floor("h")
    return frame.groupby(["resource_id", "hour"]).agg(
        cpu=("cpu_percent", "mean"), cpu_max=("cpu_percent", "max"), mem=("memory_percent", "mean")
    )


def stored() -> list[tuple]:
    return list(UtilizationHour.objects.order_by("resource_id", "hour").values_list("resource_id", "hour", "cpu_sum"))


@pytest.fixture
def org(tmp_path):
    return make_org(tmp_path)


def test_import_stores_hourly_aggregates_and_a_second_import_is_a_duplicate(org, tmp_path):
    path = write_metrics(tmp_path / "m.csv")
    expected = hours_in_file(path)
    record = utilization_import(organization=org, path=path)
    assert record.status == "succeeded"
    assert record.rows == 3 * 14 * 288
    assert record.hours_written == len(expected) == UtilizationHour.objects.count()
    assert record.resources == 3 and record.has_memory
    row = UtilizationHour.objects.get(resource_id="i-over", hour=WINDOW_START)
    assert row.cpu_sum / row.samples == pytest.approx(expected.loc[("i-over", pd.Timestamp(WINDOW_START))]["cpu"])
    before = stored()
    again = utilization_import(organization=org, path=path)
    assert again.status == "duplicate" and again.duplicate_of_id == record.pk
    assert stored() == before
    assert UtilizationImport.objects.filter(status="succeeded").count() == 1


def test_overlapping_import_replaces_only_its_hours(org, tmp_path):
    utilization_import(organization=org, path=write_metrics(tmp_path / "a.csv"))
    # A second export: i-over's first 2 hours again, with different numbers.
    cpu = np.full(24, 50.0)
    second = write_metrics(tmp_path / "b.csv", {"i-over": (cpu, None)})
    record = utilization_import(organization=org, path=second)
    assert record.hours_written == 2 and record.hours_replaced == 2
    assert UtilizationHour.objects.count() == 3 * 14 * 24
    first_hour = UtilizationHour.objects.get(resource_id="i-over", hour=WINDOW_START)
    assert (first_hour.cpu_sum, first_hour.samples, first_hour.mem_samples) == (600.0, 12, 0)
    third = UtilizationHour.objects.get(resource_id="i-over", hour=WINDOW_START + pd.Timedelta(hours=2))
    assert third.cpu_sum != 600.0  # untouched


def test_bad_file_writes_no_metrics_and_records_the_failure(org, tmp_path):
    utilization_import(organization=org, path=write_metrics(tmp_path / "good.csv"))
    before = stored()
    bad = tmp_path / "bad.csv"
    bad.write_text("resource_id,timestamp,cpu_percent\ni-over,2026-03-02T00:00:00Z,20\ni-over,2026-03-02,120\n")
    with pytest.raises(MetricsError, match=r"file bad.csv, row 2, field cpu_percent: out of range"):
        utilization_import(organization=org, path=bad)
    assert stored() == before
    failed = UtilizationImport.objects.get(file_name="bad.csv")
    assert failed.status == "failed" and "row 2" in failed.error
    with pytest.raises(MetricsError, match="no such file"):
        utilization_import(organization=org, path=tmp_path / "missing.csv")


def test_a_write_failure_rolls_everything_back(org, tmp_path, monkeypatch):
    utilization_import(organization=org, path=write_metrics(tmp_path / "a.csv"))
    before = stored()
    overlapping = write_metrics(tmp_path / "b.csv", {"i-over": (np.full(24, 50.0), None)})

    real_insert = services._insert_hours

    def insert_then_fail(**kwargs):
        real_insert(**kwargs)  # the old hours are deleted and the new ones written: all of it must roll back
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_insert_hours", insert_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        utilization_import(organization=org, path=overlapping)
    assert stored() == before  # the replaced hours' delete was rolled back too
    assert not UtilizationImport.objects.filter(file_name="b.csv").exists()


def test_recommendations_follow_the_policy_and_prices(org, tmp_path):
    path = write_metrics(tmp_path / "m.csv")
    utilization_import(organization=org, path=path)
    run = rightsizing_recommend(organization=org)
    assert run.status == "succeeded"
    assert (run.window_start, run.window_end) == (WINDOW_START, WINDOW_END)
    recs = {r.resource_id: r for r in RightsizingRecommendation.objects.filter(run=run)}
    # The commitment's Unused row is not a machine; the four resources are.
    assert set(recs) == {"i-over", "i-idle", "asg-busy", "i-nometrics"}
    hours = hours_in_file(path)
    over = recs["i-over"]
    assert over.action == "resize" and over.recommended_type == "m5.large"  # cheapest fit (0.096 < 0.1008)
    assert over.current_type == "m5.xlarge"  # the latest type, not the older m5.2xlarge
    assert over.p95_cpu == pytest.approx(np.percentile(hours.loc["i-over"]["cpu"], 95), abs=1e-3)
    assert over.max_cpu == pytest.approx(hours.loc["i-over"]["cpu_max"].max(), abs=1e-3)
    assert over.memory_evidence and over.hours_observed == 336
    assert over.current_monthly_cost == Decimal(PRICES["m5.xlarge"]) * 730
    assert over.new_monthly_cost == Decimal(PRICES["m5.large"]) * 730
    assert over.monthly_savings == Decimal("70.08")
    assert over.team.slug == "web" and over.region == "us-east-1"
    assert {r.account_id for r in recs.values()} == {"222222222222"}  # the fixture's SubAccountId
    idle = recs["i-idle"]
    assert idle.action == "stop" and idle.recommended_type is None and idle.monthly_savings == Decimal("140.16")
    assert not idle.memory_evidence and idle.p95_memory is None
    assert UtilizationHour.objects.filter(resource_id="i-idle", mem_max__isnull=True).count() == 336
    busy = recs["asg-busy"]
    assert busy.action == "keep" and busy.instances == 2.0
    assert busy.current_monthly_cost == Decimal(PRICES["m5.2xlarge"]) * 730 * 2
    assert recs["i-nometrics"].action == "keep" and "no utilisation metrics" in recs["i-nometrics"].reason
    assert run.total_monthly_savings == Decimal("210.24")
    assert rightsizing_changes(org) == {"i-idle": None, "i-over": "m5.large"}


def test_team_limit_keeps_the_bigger_saving_and_says_why(org, tmp_path):
    utilization_import(organization=org, path=write_metrics(tmp_path / "m.csv"))
    run = rightsizing_recommend(organization=org, constraints=FleetConstraints(max_changes_per_team=1))
    recs = {r.resource_id: r for r in RightsizingRecommendation.objects.filter(run=run)}
    assert recs["i-idle"].action == "stop"  # 140.16 beats i-over's 70.08 in team web
    assert recs["i-over"].action == "keep" and "at most 1 change(s) per team" in recs["i-over"].reason
    assert run.total_monthly_savings == Decimal("140.16")
    assert rightsizing_changes(org) == {"i-idle": None}  # the latest run wins


def test_no_usage_is_refused_and_nothing_is_written(tmp_path):
    empty, _ = organization_get_or_create(slug="empty")
    with pytest.raises(RightsizingError, match="no EC2 usage"):
        rightsizing_recommend(organization=empty)
    assert not RightsizingRun.objects.exists()
    assert rightsizing_changes(empty) == {}


def test_other_organizations_metrics_are_not_used(org, tmp_path):
    other, _ = organization_get_or_create(slug="other")
    utilization_import(organization=other, path=write_metrics(tmp_path / "m.csv", metric_samples()))
    run = rightsizing_recommend(organization=org)
    assert all(r.action == "keep" for r in run.recommendations.all())
