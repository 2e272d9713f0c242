"""Carbon estimates of Azure and Google Cloud billing rows, against hand calculations from the CCF files.

The expected kWh are computed here from the shipped CCF CSVs (read with the csv module) and CCF's published
constants (PUE, provider average watts, Wh per TB-hour), never from the estimator's own tables. The database
tests ingest the real Azure and Google Cloud samples through the ingest service.
"""

from __future__ import annotations

import calendar
import csv
import statistics
from datetime import date

import pandas as pd
import pytest

from finops.carbon.calc import estimate, load_shipped
from tests import factories
from tests.conftest import ROOT

CCF = ROOT / "finops" / "carbon" / "data"
# CCF methodology page: PUE per provider, provider average min/max watts per vCPU, HDD Wh per TB-hour.
AZURE_PUE, GCP_PUE = 1.185, 1.1
GCP_AVG_MIN_W, GCP_AVG_MAX_W = 0.71, 4.26
HDD_WH_PER_TBH = 0.65


def rows(name: str) -> list[dict[str, str]]:
    with (CCF / name).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def azure_vcpu_watts(virtual_machine: str) -> tuple[int, float, float]:
    """vCPUs and CCF's mean min/max watts over the microarchitectures azure-instances.csv lists for a VM size."""
    listed = [r for r in rows("azure-instances.csv") if r["Virtual Machine"] == virtual_machine]
    archs = {r["Microarchitecture"] for r in listed}
    use = {r["Architecture"]: r for r in rows("coefficients-azure-use.csv") if r["Architecture"] in archs}
    assert use, virtual_machine
    minimum = statistics.fmean(float(r["Min Watts"]) for r in use.values())
    maximum = statistics.fmean(float(r["Max Watts"]) for r in use.values())
    return int(listed[0]["Instance vCPUs"]), minimum, maximum


def grid(provider: str, region: str) -> float:
    row = next(r for r in rows(f"grid-emissions-factors-{provider}.csv") if r["Region"] == region)
    return float(row["CO2e (metric ton/kWh)"])


def frame(**columns) -> pd.DataFrame:
    base = {"day": date(2026, 11, 2), "region": "", "service": "", "description": "", "instance_type": None}
    return pd.DataFrame([base | columns])


@pytest.fixture(scope="module")
def ccf():
    return load_shipped()


def test_azure_vm_hours_in_eastus(ccf) -> None:
    out = estimate(
        frame(
            provider="Microsoft",
            region="eastus",
            service="Virtual Machines",
            instance_type="Standard_D2s_v3",
            unit="1 Hour",
            quantity=24.0,
            cost=2.3,
        ),
        ccf,
    ).iloc[0]
    vcpus, low, high = azure_vcpu_watts("D2s v3")
    expected = 24 * vcpus * (low + 0.5 * (high - low)) * AZURE_PUE / 1000
    assert out["usage_class"] == "compute" and out["method"] == "coefficient"
    assert out["vcpu_hours"] == 24 * vcpus
    assert out["compute_kwh"] == pytest.approx(expected, rel=1e-12)
    assert out["grid_factor"] == grid("azure", "East US") and not out["grid_estimated"]
    assert out["operational_kgco2e"] == pytest.approx(out["kwh"] * grid("azure", "East US") * 1000, rel=1e-12)


def test_azure_block_units_count_every_hour(ccf) -> None:
    """Azure's "10 Hours" meter: a quantity of 2.4 is 24 hours, the same energy as 24 x "1 Hour"."""
    one = frame(
        provider="Microsoft", region="eastus", instance_type="Standard_D2s_v3", unit="1 Hour", quantity=24.0, cost=1.0
    )
    ten = frame(
        provider="Microsoft", region="eastus", instance_type="Standard_D2s_v3", unit="10 Hours", quantity=2.4, cost=1.0
    )
    assert estimate(ten, ccf).iloc[0]["kwh"] == pytest.approx(estimate(one, ccf).iloc[0]["kwh"], rel=1e-12)


def test_gcp_vcpu_sku_hours_use_gcp_average_watts(ccf) -> None:
    out = estimate(
        frame(
            provider="Google Cloud",
            region="us-east1",
            service="Compute Engine",
            description="N1 Predefined Instance Core running in Americas",
            unit="hour",
            quantity=48.0,
            cost=1.52,
        ),
        ccf,
    ).iloc[0]
    expected = 48 * (GCP_AVG_MIN_W + 0.5 * (GCP_AVG_MAX_W - GCP_AVG_MIN_W)) * GCP_PUE / 1000
    assert out["usage_class"] == "compute" and out["watts_estimated"]
    assert out["vcpu_hours"] == 48 and out["usage_hours"] == 0  # vCPU-hours, not instance-hours
    assert out["compute_kwh"] == pytest.approx(expected, rel=1e-12)
    assert out["memory_kwh"] == 0 and out["embodied_kgco2e"] == 0
    assert out["grid_factor"] == grid("gcp", "us-east1")


def test_gcp_ram_and_gpu_skus_are_not_vcpus(ccf) -> None:
    for description in ("N1 Predefined Instance Ram running in Americas", "Nvidia Tesla T4 GPU running in Americas"):
        out = estimate(
            frame(
                provider="Google Cloud",
                region="us-east1",
                service="Compute Engine",
                description=description,
                unit="hour",
                quantity=48.0,
                cost=0.0,
            ),
            ccf,
        ).iloc[0]
        assert out["usage_class"] != "compute" and out["compute_kwh"] == 0, description


@pytest.mark.django_db
def test_ingested_gcp_storage_uses_pricing_quantity(shared_data) -> None:
    """The GCP export counts BigQuery storage in byte-seconds but prices it in gibibyte-months: the estimate
    reads the gibibyte-months (before, the byte-seconds were taken as GB-months: ~10^9 kWh for a few cents)."""
    from finops.carbon.selectors import line_item_groups

    path = shared_data / "gcp" / "koku_gcp_billing_export_202011.csv"
    organization = factories.organization("gcp-carbon")
    assert factories.ingest_files(organization, [path]).status == "succeeded"
    raw = pd.read_csv(path)
    storage = raw[raw["usage.pricing_unit"] == "gibibyte month"]
    assert len(storage) == 3
    days = pd.to_datetime(storage["usage_start_time"], utc=True)
    hours = [calendar.monthrange(d.year, d.month)[1] * 24 for d in days]
    expected = sum(
        gib_month * h / 1000 * HDD_WH_PER_TBH / 1000 * GCP_PUE
        for gib_month, h in zip(storage["usage.amount_in_pricing_units"], hours, strict=True)
    )
    out = estimate(
        line_item_groups(organization=organization, start=date(2020, 10, 1), end=date(2020, 12, 31)), load_shipped()
    )
    big_query = out[(out["service"] == "BigQuery") & (out["unit"] == "gibibyte month")]
    assert set(big_query["usage_class"]) == {"storage-hdd"}
    assert big_query["storage_kwh"].sum() == pytest.approx(expected, rel=1e-9)
    assert out["kwh"].sum() < 1e-3  # a few cents of usage


@pytest.mark.django_db
def test_ingested_azure_vm_gets_an_estimate(shared_data) -> None:
    from finops.carbon.selectors import line_item_groups

    path = shared_data / "azure" / "EA_ActualCost_Small.csv"
    organization = factories.organization("azure-carbon")
    assert factories.ingest_files(organization, [path]).status == "succeeded"
    raw = pd.read_csv(path)
    vm = raw[raw["AdditionalInfo"].fillna("").str.contains('"ServiceType":"Standard_D2s_v3"')]
    assert len(vm) == 1 and vm.iloc[0]["UnitOfMeasure"] == "1 Hour"
    out = estimate(
        line_item_groups(organization=organization, start=date(2000, 1, 1), end=date(2100, 1, 1)), load_shipped()
    )
    row = out[out["instance_type"] == "Standard_D2s_v3"]
    assert len(row) == 1 and row.iloc[0]["usage_class"] == "compute"
    vcpus, low, high = azure_vcpu_watts("D2s v3")
    expected = float(vm.iloc[0]["Quantity"]) * vcpus * (low + 0.5 * (high - low)) * AZURE_PUE / 1000
    assert row.iloc[0]["compute_kwh"] == pytest.approx(expected, rel=1e-12)
    assert row.iloc[0]["grid_factor"] == grid("azure", "South Central US")


def gcp_machine(machine_type: str) -> tuple[int, float, float]:
    """vCPUs and CCF's mean min/max watts over the microarchitectures gcp-instances.csv lists for a machine type."""
    listed = [r for r in rows("gcp-instances.csv") if r["Machine type"] == machine_type]
    archs = {a.strip() for r in listed for a in r["Microarchitecture"].split(",")}
    use = [r for r in rows("coefficients-gcp-use.csv") if r["Architecture"] in archs]
    assert listed and use, machine_type
    minimum = statistics.fmean(float(r["Min Watts"]) for r in use)
    maximum = statistics.fmean(float(r["Max Watts"]) for r in use)
    return int(listed[0]["Instance vCPUs"]), minimum, maximum


def test_gcp_vcpu_sku_of_a_known_machine_type_counts_vcpu_hours_once(ccf) -> None:
    """The export labels a VM's rows with its machine type: the core SKU's 48 hours are 48 vCPU-hours (not 48
    instance-hours times the vCPUs), at the machine type's microarchitecture watts; its RAM SKU is no compute."""
    vcpus, low, high = gcp_machine("n2-standard-4")
    cores = frame(
        provider="Google Cloud",
        region="us-east1",
        service="Compute Engine",
        instance_type="n2-standard-4",
        description="N2 Instance Core running in Americas",
        unit="hour",
        quantity=48.0,
        cost=1.5,
    )
    out = estimate(cores, ccf).iloc[0]
    assert out["usage_class"] == "compute" and not out["watts_estimated"]
    assert out["vcpu_hours"] == pytest.approx(48) and out["usage_hours"] == pytest.approx(48 / vcpus)
    assert out["compute_kwh"] == pytest.approx(48 * (low + 0.5 * (high - low)) * GCP_PUE / 1000, rel=1e-12)
    ram = frame(
        provider="Google Cloud",
        region="us-east1",
        service="Compute Engine",
        instance_type="n2-standard-4",
        description="N2 Instance Ram running in Americas",
        unit="gibibyte hour",
        quantity=768.0,
        cost=0.3,
    )
    assert estimate(ram, ccf).iloc[0]["usage_class"] != "compute"
