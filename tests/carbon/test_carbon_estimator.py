"""The CCF estimator against hand calculations from the coefficient files (read here with the csv module).

No database. Every expected number is computed in the test from the shipped CCF CSVs and the CCF formulas;
published constants (PUE, W/TB-hour, kWh/GB, lifespan) are written as CCF's methodology page states them.
"""

from __future__ import annotations

import csv
import statistics
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finops.carbon.calc import Coefficients, estimate, estimate_hours, load_shipped
from tests.conftest import ROOT, SHARED_DATA

CCF = ROOT / "finops" / "carbon" / "data"
# Published by CCF (methodology page / AwsFootprintEstimationConstants.ts), quoted, not read from our code.
AWS_PUE = 1.135
MEMORY_KWH_PER_GB_HOUR = 0.000392
SSD_WH_PER_TBH, HDD_WH_PER_TBH = 1.2, 0.65
NETWORK_KWH_PER_GB = 0.001
LIFESPAN_HOURS = 4 * 365 * 24
AWS_AVG_MIN_W, AWS_AVG_MAX_W = 0.74, 3.5


def rows(name: str) -> list[dict[str, str]]:
    with (CCF / name).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def use_row(arch: str) -> dict[str, float]:
    row = next(r for r in rows("coefficients-aws-use.csv") if r["Architecture"] == arch)
    return {"min": float(row["Min Watts"]), "max": float(row["Max Watts"]), "gb_chip": float(row["GB/Chip"])}


def instance_row(itype: str) -> dict[str, str]:
    return next(r for r in rows("aws-instances.csv") if r["Instance type"] == itype)


def sockets(cpu: str) -> int:
    return int(
        next(r for r in rows("aws-instances-cpus.csv") if r["CPU Name"] == cpu)["Platform Number of CPU Socket(s)"]
    )


def embodied_total(itype: str) -> float:
    return float(next(r for r in rows("coefficients-aws-embodied.csv") if r["type"] == itype)["total"])


def grid(region: str) -> float:
    return float(
        next(r for r in rows("grid-emissions-factors-aws.csv") if r["Region"] == region)["CO2e (metric ton/kWh)"]
    )


def frame(**overrides) -> pd.DataFrame:
    base = {
        "day": date(2026, 4, 10),
        "provider": "AWS",
        "region": "us-east-1",
        "service": "Amazon Elastic Compute Cloud",
        "description": "",
        "instance_type": None,
        "unit": "Hours",
        "quantity": 1.0,
        "cost": 0.0,
    }
    records = overrides.pop("records", None) or [{}]
    return pd.DataFrame([{**base, **overrides, **r} for r in records])


@pytest.fixture(scope="module")
def ccf() -> Coefficients:
    return load_shipped()


def memory_extra_gb(itype: str, arch: str) -> float:
    spec = instance_row(itype)
    excess = float(spec["Platform Memory (in GB)"]) - use_row(arch)["gb_chip"] * sockets(spec["Platform CPU Name"])
    return max(excess, 0.0) * float(spec["Instance vCPU"]) / float(spec["Platform Total Number of vCPU"])


def test_cascade_lake_1000_vcpu_hours_us_east_1_at_50_percent(ccf):
    # m5n.large runs on a Xeon Platinum 8259CL, which CCF's intel-cascadelake.csv lists.
    spec = instance_row("m5n.large")
    assert spec["Platform CPU Name"] == "Xeon Platinum 8259CL"
    assert "8259CL" in (CCF / "intel-cascadelake.csv").read_text().split()
    vcpus = float(spec["Instance vCPU"])
    hours = 1000 / vcpus  # 1,000 vCPU-hours
    w = use_row("Cascade Lake")
    compute = (w["min"] + 0.5 * (w["max"] - w["min"])) * 1000 * AWS_PUE / 1000
    memory = memory_extra_gb("m5n.large", "Cascade Lake") * hours * MEMORY_KWH_PER_GB_HOUR * AWS_PUE
    embodied = (
        embodied_total("m5n.large") * hours / LIFESPAN_HOURS * vcpus / float(spec["Platform Total Number of vCPU"])
    )

    out = estimate(frame(instance_type="m5n.large", quantity=hours, cost=50.0), ccf).iloc[0]
    assert out["vcpu_hours"] == pytest.approx(1000)
    assert out["compute_kwh"] == pytest.approx(compute, rel=1e-12)
    assert out["memory_kwh"] == pytest.approx(memory, rel=1e-12)
    assert out["kwh"] == pytest.approx(compute + memory, rel=1e-12)
    assert out["operational_kgco2e"] == pytest.approx((compute + memory) * grid("us-east-1") * 1000, rel=1e-12)
    assert out["embodied_kgco2e"] == pytest.approx(embodied, rel=1e-12)
    assert out["method"] == "coefficient" and not out["grid_estimated"] and not out["watts_estimated"]
    # The numbers themselves, for the record (1,000 vCPU-hours: about 2.69 kWh of compute).
    assert 2.5 < compute < 2.8


def test_one_m5_large_hour_skylake(ccf):
    spec = instance_row("m5.large")
    assert "8175M" in (CCF / "intel-skylake.csv").read_text().split()
    w = use_row("Skylake")
    compute = (w["min"] + 0.5 * (w["max"] - w["min"])) * 2 * AWS_PUE / 1000
    memory = memory_extra_gb("m5.large", "Skylake") * 1 * MEMORY_KWH_PER_GB_HOUR * AWS_PUE
    result = estimate_hours(ccf, provider="AWS", region="us-east-1", instance_type="m5.large", hours=1)
    assert float(spec["Instance vCPU"]) == 2 and result["vcpu_hours"] == 2
    assert result["compute_kwh"] == pytest.approx(compute, rel=1e-12)
    assert result["memory_kwh"] == pytest.approx(memory, rel=1e-12)
    assert result["embodied_kgco2e"] == pytest.approx(embodied_total("m5.large") / LIFESPAN_HOURS * 2 / 96, rel=1e-12)


def test_measured_utilisation_replaces_the_default(ccf):
    w = use_row("Skylake")
    out = estimate(frame(instance_type="c5.xlarge", quantity=10.0, utilization=0.2), ccf).iloc[0]
    vcpu_hours = 10 * float(instance_row("c5.xlarge")["Instance vCPU"])
    assert out["compute_kwh"] == pytest.approx((w["min"] + 0.2 * (w["max"] - w["min"])) * vcpu_hours * AWS_PUE / 1000)
    assert out["method"] == "measured"


def test_burstable_instances_get_no_memory_term(ccf):
    out = estimate(frame(instance_type="t3.medium", quantity=5.0), ccf).iloc[0]
    assert out["memory_kwh"] == 0 and out["compute_kwh"] > 0


def test_unknown_region_uses_the_provider_average_and_is_flagged(ccf):
    factors = [float(r["CO2e (metric ton/kWh)"]) for r in rows("grid-emissions-factors-aws.csv")]
    out = estimate(frame(instance_type="m5.large", quantity=3.0, region="mars-north-1"), ccf).iloc[0]
    assert out["grid_estimated"]
    assert out["grid_factor"] == pytest.approx(statistics.fmean(factors), rel=1e-12)
    assert out["operational_kgco2e"] == pytest.approx(out["kwh"] * statistics.fmean(factors) * 1000, rel=1e-12)
    missing = estimate(frame(instance_type="m5.large", quantity=3.0, region=None), ccf).iloc[0]
    assert missing["grid_estimated"]


def test_unknown_microarchitecture_uses_the_published_provider_average(ccf):
    # a1 instances run on the first Graviton, which has no row in coefficients-aws-use.csv.
    assert instance_row("a1.large")["Platform CPU Name"] == "Graviton"
    assert "Graviton" not in {r["Architecture"] for r in rows("coefficients-aws-use.csv")}
    out = estimate(frame(instance_type="a1.large", quantity=4.0), ccf).iloc[0]
    expected = (AWS_AVG_MIN_W + 0.5 * (AWS_AVG_MAX_W - AWS_AVG_MIN_W)) * 8 * AWS_PUE / 1000
    assert out["compute_kwh"] == pytest.approx(expected, rel=1e-12)
    assert out["watts_estimated"]


def test_gpu_instance_adds_gpu_watts(ccf):
    spec = instance_row("g4dn.xlarge")
    assert spec["Platform GPU Name"] == "T4" and spec["Instance Number of GPU"] == "1"
    w = use_row("Cascade Lake")
    cpu = (w["min"] + 0.5 * (w["max"] - w["min"])) * 4 * 10 * AWS_PUE / 1000
    gpu = (8 + 0.5 * (71 - 8)) * 1 * 10 * AWS_PUE / 1000  # CCF appendix III: T4 8 W idle, 71 W at 100%
    out = estimate(frame(instance_type="g4dn.xlarge", quantity=10.0), ccf).iloc[0]
    assert out["gpu_kwh"] == pytest.approx(gpu, rel=1e-12)
    assert out["compute_kwh"] == pytest.approx(cpu + gpu, rel=1e-12)


def test_storage_ssd_and_hdd_with_replication(ccf):
    records = [
        {  # EBS gp3 volume: SSD, replication 2 (CCF EC2_EBS_VOLUME)
            "description": "$0.08 per GB-month of General Purpose (gp3) provisioned storage",
            "unit": "GB-Months",
            "quantity": 100.0,
        },
        {  # S3 standard: HDD, replication 3 (CCF S3)
            "service": "Amazon Simple Storage Service",
            "description": "$0.023 per GB - first 50 TB / month of storage used",
            "unit": "GB-Months",
            "quantity": 1000.0,
        },
        {  # EBS snapshot: HDD, replication 3 (CCF EC2_EBS_SNAPSHOT)
            "description": "$0.05 per GB-Month of snapshot data stored",
            "unit": "GB-Months",
            "quantity": 10.0,
        },
    ]
    out = estimate(frame(records=records), ccf)  # April: 30 days = 720 hours
    assert list(out["usage_class"]) == ["storage-ssd", "storage-hdd", "storage-hdd"]
    assert out["storage_kwh"].tolist() == pytest.approx(
        [
            100 * 720 / 1000 * SSD_WH_PER_TBH / 1000 * AWS_PUE * 2,
            1000 * 720 / 1000 * HDD_WH_PER_TBH / 1000 * AWS_PUE * 3,
            10 * 720 / 1000 * HDD_WH_PER_TBH / 1000 * AWS_PUE * 3,
        ],
        rel=1e-12,
    )
    assert (out["embodied_kgco2e"] == 0).all() and (out["method"] == "coefficient").all()


def test_networking_counts_inter_region_transfer_only(ccf):
    records = [
        {
            "service": "AWS Data Transfer",
            "description": "$0.02 per GB - US East (Northern Virginia) data transfer to EU (Ireland)",
            "unit": "GB",
            "quantity": 50.0,
        },
        {
            "service": "AWS Data Transfer",
            "description": "$0.090 per GB - first 10 TB / month data transfer out beyond the global free tier",
            "unit": "GB",
            "quantity": 70.0,
        },
    ]
    out = estimate(frame(records=records), ccf)
    assert out["network_kwh"].tolist() == pytest.approx([50 * NETWORK_KWH_PER_GB * AWS_PUE, 0.0], rel=1e-12)
    assert out["usage_class"].tolist() == ["network", "network-out-of-scope"]


def test_rds_multi_az_instance_is_compute_with_its_standby(ccf):
    description = "$1.00 per RDS db.r5.xlarge Multi-AZ instance hour (or partial hour) running PostgreSQL"
    out = estimate(
        frame(service="Amazon Relational Database Service", description=description, quantity=2.0), ccf
    ).iloc[0]
    single = estimate_hours(ccf, provider="AWS", region="us-east-1", instance_type="r5.xlarge", hours=2.0)
    assert out["instance_shape"] == "r5.xlarge" and out["usage_class"] == "compute"
    assert out["compute_kwh"] == pytest.approx(2 * single["compute_kwh"], rel=1e-12)  # CCF RDS_MULTI_AZ = 2


def test_cost_ratio_for_usage_without_a_shape(ccf):
    day = date(2026, 4, 10)
    records = [
        {"instance_type": "m5.large", "quantity": 10.0, "cost": 0.96},  # known: EC2 hours
        {"description": "$0.045 per NAT Gateway Hour", "quantity": 24.0, "cost": 1.08},  # EC2 hours, no shape
        {"service": "AWS Lambda", "unit": "Requests", "quantity": 1e6, "cost": 0.2},  # no same service/unit
        {"service": "AWS Lambda", "unit": "Requests", "quantity": 1e6, "cost": 0.3, "day": date(2026, 4, 11)},
    ]
    out = estimate(frame(day=day, records=records), ccf)
    known_kwh = out.loc[0, "kwh"]
    per_dollar = known_kwh / 0.96
    assert out.loc[1, "method"] == "cost-ratio"
    assert out.loc[1, "compute_kwh"] == pytest.approx(1.08 * per_dollar, rel=1e-12)
    # Falls back to the day's provider-wide ratio: the only known usage that day is the m5.large.
    assert out.loc[2, "method"] == "cost-ratio"
    assert out.loc[2, "kwh"] == pytest.approx(0.2 * per_dollar, rel=1e-12)
    # Another day with no known usage at all: nothing to compare, so unknown and 0 kWh.
    assert out.loc[3, "method"] == "unknown" and out.loc[3, "kwh"] == 0
    assert out.loc[1:3, "embodied_kgco2e"].eq(0).all()


def test_vectorised_over_many_rows_matches_row_by_row(ccf):
    rng = np.random.default_rng(7)
    types = ["m5.large", "c5.2xlarge", "r5.xlarge", "t3.small", "m5n.large"]
    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-north-1", "nowhere-1"]
    records = [
        {"instance_type": types[i % 5], "region": regions[(i * 3) % 5], "quantity": float(rng.uniform(1, 50))}
        for i in range(12)
    ]
    together = estimate(frame(records=records), ccf)
    for i, r in enumerate(records):
        one = estimate_hours(
            ccf, provider="AWS", region=r["region"], instance_type=r["instance_type"], hours=r["quantity"]
        )
        assert together.loc[i, "kwh"] == pytest.approx(one["kwh"], rel=1e-12)
        assert together.loc[i, "operational_kgco2e"] == pytest.approx(one["operational_kgco2e"], rel=1e-12)


def test_coefficient_set_is_versioned_dated_and_round_trips(ccf):
    assert ccf.version.startswith("ccf-") and ccf.published == "2026-03-09"
    assert ccf.provider("aws")["pue"] == 1.135 and ccf.provider("gcp")["pue"] == 1.1
    assert ccf.provider("azure")["pue"] == 1.185
    again = Coefficients.from_dict(ccf.to_dict())
    sample = frame(instance_type="m5.large", quantity=7.0)
    assert estimate(sample, again)["kwh"].tolist() == estimate(sample, ccf)["kwh"].tolist()
    # The upstream Azure file has two factors without their "0."; they are refused, not guessed.
    assert any("Finland Central" in note for note in ccf.skipped)
    assert "Finland Central" not in ccf.grid["azure"]
    assert ccf.grid_factor("azure", "eastus") == (0.000415755, False)


def test_bad_input_names_the_missing_columns(ccf):
    with pytest.raises(ValueError, match="quantity"):
        estimate(pd.DataFrame([{"day": date(2026, 1, 1), "provider": "AWS"}]), ccf)


def test_shipped_files_are_verbatim_copies_of_the_shared_data(shared_data: Path):
    for path in sorted(CCF.glob("*.csv")):
        source = (
            shared_data / "carbon" / "ccf" / ("output" if path.name.startswith("coefficients-") else "data") / path.name
        )
        assert path.read_bytes() == source.read_bytes(), path.name
    assert SHARED_DATA.is_dir()
