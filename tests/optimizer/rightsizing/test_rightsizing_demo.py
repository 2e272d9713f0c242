"""Demo utilisation metrics: deterministic, keyed by the billing export's ResourceIds, with the stated
idle and busy resources; and seed_rightsizing_demo imports them once."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from io import StringIO

import pandas as pd
import pytest

from finops.accounts.services import organization_get_or_create
from finops.demo import org
from finops.demo.generator import generate_demo_billing
from finops.demo.metrics import PROFILES, generate_demo_metrics
from finops.demo.rightsizing import seed_rightsizing_demo
from finops.usage.services import ingest_job_create, ingest_job_run
from optimizer.rightsizing.models import RightsizingRecommendation, UtilizationImport
from optimizer.rightsizing.services import rightsizing_recommend

END = datetime(2026, 2, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def billing(tmp_path_factory):
    out = tmp_path_factory.mktemp("bill")
    return generate_demo_billing(out, end=END.date(), months=1)


@pytest.fixture(scope="module")
def metrics_file(tmp_path_factory):
    return generate_demo_metrics(tmp_path_factory.mktemp("m") / "m.csv.gz", end=END, days=3)


def test_metrics_are_deterministic(metrics_file, tmp_path):
    again = generate_demo_metrics(tmp_path / "again.csv.gz", end=END, days=3)
    assert again.read_bytes() == metrics_file.read_bytes()
    other = generate_demo_metrics(tmp_path / "other.csv.gz", end=END, days=3, seed=7)
    assert other.read_bytes() != metrics_file.read_bytes()


def test_metric_ids_are_the_billing_resource_ids(billing, metrics_file):
    bill = pd.concat(pd.read_csv(p, usecols=["ResourceId", "ChargeCategory", "x_InstanceType"]) for p in billing)
    compute = bill[(bill["ChargeCategory"] == "Usage") & bill["ResourceId"].str.contains("autoScalingGroup|:i-|^i-")]
    metrics = pd.read_csv(metrics_file)
    # Every machine of the bill has metrics; the one extra is the fleet that starts in month 3 (not billed yet).
    extra = set(metrics["resource_id"]) - set(compute["ResourceId"])
    assert set(compute["ResourceId"]) <= set(metrics["resource_id"])
    assert {rid.rsplit("/", 1)[-1] for rid in extra} == {g.name for g in org.COMPUTE_GROUPS if g.start_month > 0}
    assert len(PROFILES) == len(org.COMPUTE_GROUPS)


def test_shape_of_the_metrics(metrics_file):
    with gzip.open(metrics_file, "rt") as handle:
        assert handle.readline() == "resource_id,timestamp,cpu_percent,memory_percent\n"
    frame = pd.read_csv(metrics_file)
    assert len(frame) == len(org.COMPUTE_GROUPS) * 3 * 288
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    assert stamps.min() == pd.Timestamp("2026-01-30T00:00Z") and stamps.max() == pd.Timestamp("2026-02-01T23:55Z")
    assert frame["cpu_percent"].between(0, 100).all()
    names = {g.name: g for g in org.COMPUTE_GROUPS}
    by_name = frame.assign(name=frame["resource_id"].str.extract(r"autoScalingGroupName/(.+)$")[0])
    maxima = by_name.groupby("resource_id")["cpu_percent"].max()
    idle_ids = {rid for rid in maxima.index if maxima[rid] < 2}
    assert len(idle_ids) == sum(p.idle for p in PROFILES.values()) == 1
    no_memory = frame.groupby("resource_id")["memory_percent"].apply(lambda s: s.isna().all())
    assert no_memory.sum() == sum(PROFILES[n].memory is None for n in names)


@pytest.mark.django_db
def test_seed_rightsizing_demo_imports_once_and_finds_the_idle_box(billing, tmp_path):
    demo, _ = organization_get_or_create(slug="demo")
    job = ingest_job_run(ingest_job_create(organization=demo, paths=billing))
    assert job.status == "succeeded"
    out = StringIO()
    record = seed_rightsizing_demo(organization=demo, out_dir=tmp_path, stdout=out)
    assert record.status == "succeeded" and record.resources == len(org.COMPUTE_GROUPS)
    assert seed_rightsizing_demo(organization=demo, out_dir=tmp_path, stdout=out).status == "duplicate"
    assert "unchanged" in out.getvalue()
    assert UtilizationImport.objects.filter(status="succeeded").count() == 1
    # No price catalog here: every type's price is unknown, so only the idle box (stop needs no price) changes.
    run = rightsizing_recommend(organization=demo)
    changes = RightsizingRecommendation.objects.filter(run=run).exclude(action="keep")
    assert [(r.resource_name, r.action) for r in changes] == [("adhoc-analysis", "stop")]
    empty, _ = organization_get_or_create(slug="nothing")
    assert seed_rightsizing_demo(organization=empty, out_dir=tmp_path, stdout=out) is None
    assert date(2026, 2, 1) <= record.last_hour.date() < END.date()
