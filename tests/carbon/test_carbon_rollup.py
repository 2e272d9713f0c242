"""Carbon rollup, report, versioning, region moves and the methodology page, on a small ingested demo bill.

The fixture is two days of the demo organization's FOCUS export (real prices, hourly EC2 rows), ingested
through the real ingest path. Expected numbers are computed here from the CSV rows (csv module) and the CCF
coefficient files, independently of the estimator.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Membership, Organization, Team
from finops.carbon.calc import Coefficients, load_shipped
from finops.carbon.models import CarbonDaily, CoefficientSet
from finops.carbon.services import CarbonError, carbon_rollup_refresh, coefficient_set_register
from finops.carbon.tasks import refresh_org
from finops.core.money import MoneySum
from finops.demo.generator import generate_demo_billing
from tests.conftest import ROOT
from tests.usage.helpers import team_of

pytestmark = pytest.mark.django_db

CCF = ROOT / "finops" / "carbon" / "data"
LIBCLOUD = ROOT / "pricing" / "data" / "libcloud_pricing.json.gz"
AWS_PUE = 1.135  # CCF methodology page
HDD_WH_PER_TBH = 0.65
EC2 = "Amazon Elastic Compute Cloud"
DAY1, DAY2 = date(2026, 2, 1), date(2026, 2, 2)
REPORT_KEYS = {
    "group",
    "vcpu_hours",
    "compute_kwh",
    "memory_kwh",
    "storage_kwh",
    "network_kwh",
    "kwh",
    "operational_kgco2e",
    "embodied_kgco2e",
    "method",
}


def ccf_rows(name: str) -> list[dict[str, str]]:
    with (CCF / name).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> list[Path]:
    return generate_demo_billing(tmp_path_factory.mktemp("carbon-demo"), end=date(2026, 2, 3), months=1)


@pytest.fixture(scope="module")
def demo_rows(demo_files) -> list[dict[str, str]]:
    out = []
    for path in demo_files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            out.extend(csv.DictReader(handle))
    return out


def usage_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["ChargeCategory"] == "Usage" and r["CommitmentDiscountStatus"] != "Unused"]


@pytest.fixture
def demo_org(demo_files) -> Organization:
    call_command("ingest_usage", *map(str, demo_files), "--org", "carbon-demo", "--json", stdout=StringIO())
    return Organization.objects.get(slug="carbon-demo")


def report(*args: str) -> dict:
    out = StringIO()
    call_command("carbon_report", "--org", "carbon-demo", "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def skylake_watts_per_vcpu() -> float:
    row = next(r for r in ccf_rows("coefficients-aws-use.csv") if r["Architecture"] == "Skylake")
    return float(row["Min Watts"]) + 0.5 * (float(row["Max Watts"]) - float(row["Min Watts"]))


def test_rollup_matches_an_independent_computation(demo_org, demo_rows):
    result = carbon_rollup_refresh(organization=demo_org, start=DAY1, end=DAY2)
    assert result.coefficients == load_shipped().version and result.rows_written > 0
    rows = usage_rows(demo_rows)
    stored = CarbonDaily.objects.filter(organization=demo_org)
    assert sum(stored.values_list("row_count", flat=True)) == len(rows)
    assert stored.aggregate(t=MoneySum("effective_cost"))["t"] == pytest.approx(
        sum(Decimal(r["EffectiveCost"]) for r in rows), abs=Decimal("0.000001")
    )

    # EC2 instance-hours -> vCPU-hours and compute kWh. Every demo type runs on a Skylake CPU (checked).
    specs = {r["Instance type"]: r for r in ccf_rows("aws-instances.csv")}
    skylake = set((CCF / "intel-skylake.csv").read_text().split())
    vcpu_hours: dict[str, float] = defaultdict(float)
    for r in rows:
        if r["ServiceName"] == EC2 and r["PricingUnit"] == "Hours" and r["x_InstanceType"] not in ("", "NULL"):
            spec = specs[r["x_InstanceType"]]
            assert spec["Platform CPU Name"].split()[-1] in skylake
            vcpu_hours[r["RegionId"]] += float(r["ConsumedQuantity"]) * float(spec["Instance vCPU"])
    ec2 = stored.filter(service_name=EC2, method="coefficient").exclude(instance_type="")
    for region, expected in vcpu_hours.items():
        got = ec2.filter(region_id=region).aggregate(v=MoneySum("vcpu_hours"), k=MoneySum("compute_kwh"))
        assert float(got["v"]) == pytest.approx(expected, rel=1e-9)
        assert float(got["k"]) == pytest.approx(expected * skylake_watts_per_vcpu() * AWS_PUE / 1000, rel=1e-9)

    # S3 storage: HDD, replication 3, GB-months of February (28 days = 672 hours).
    gb_months = sum(
        float(r["ConsumedQuantity"])
        for r in rows
        if r["ServiceName"] == "Amazon Simple Storage Service" and r["PricingUnit"] in ("GB-Months", "GB-Mo")
    )
    s3 = stored.filter(service_name="Amazon Simple Storage Service", method="coefficient")
    expected_s3 = gb_months * 672 / 1000 * HDD_WH_PER_TBH / 1000 * AWS_PUE * 3
    assert float(s3.aggregate(k=MoneySum("storage_kwh"))["k"]) == pytest.approx(expected_s3, rel=1e-9)

    # Operational = kWh x the region's factor; "global" has none: provider average, flagged.
    factors = {r["Region"]: float(r["CO2e (metric ton/kWh)"]) for r in ccf_rows("grid-emissions-factors-aws.csv")}
    for row in stored.exclude(region_id="global").exclude(kwh=0)[:50]:
        assert float(row.operational_kgco2e) == pytest.approx(float(row.kwh) * factors[row.region_id] * 1000, rel=1e-6)
    assert set(stored.filter(grid_estimated=True).values_list("region_id", flat=True)) == {"global"}

    # Teams: the team tag's rows, summed independently.
    keys = settings.FINOPS_TEAM_TAG_KEYS
    by_team: dict[str, float] = defaultdict(float)
    for r in rows:
        if r["ServiceName"] == EC2 and r["PricingUnit"] == "Hours" and r["x_InstanceType"] not in ("", "NULL"):
            by_team[team_of(r, keys)] += float(r["ConsumedQuantity"]) * float(
                specs[r["x_InstanceType"]]["Instance vCPU"]
            )
    checkout = Team.objects.get(organization=demo_org, tag_value="checkout")
    got = ec2.filter(team=checkout).aggregate(v=MoneySum("vcpu_hours"))["v"]
    assert float(got) == pytest.approx(by_team["checkout"], rel=1e-9)

    # Methods in use: shaped usage by coefficient, managed services by cost ratio.
    assert set(stored.values_list("method", flat=True)) <= {"coefficient", "cost-ratio", "unknown", "measured"}
    assert stored.filter(service_name="AWS Lambda", method="cost-ratio").exists()


def test_refresh_replaces_only_its_range_and_the_task_calls_it(demo_org):
    carbon_rollup_refresh(organization=demo_org, start=DAY1, end=DAY2)
    day1 = list(CarbonDaily.objects.filter(day=DAY1).values_list("id", flat=True))
    count = CarbonDaily.objects.count()
    result = refresh_org(demo_org.pk, DAY2.isoformat(), DAY2.isoformat())
    assert result["rows_written"] == CarbonDaily.objects.filter(day=DAY2).count()
    assert CarbonDaily.objects.count() == count
    assert list(CarbonDaily.objects.filter(day=DAY1).values_list("id", flat=True)) == day1  # untouched


def test_a_newer_coefficient_set_does_not_rewrite_history(demo_org):
    carbon_rollup_refresh(organization=demo_org, start=DAY1, end=DAY2)
    shipped = load_shipped()
    before = {r.pk: (r.kwh, r.operational_kgco2e) for r in CarbonDaily.objects.filter(day=DAY1)}
    data = shipped.to_dict()
    data["version"], data["published"] = "ccf-test-newer", "2026-10-01"
    data["constants"] = {**data["constants"], "providers": {**data["constants"]["providers"]}}
    data["constants"]["providers"]["aws"] = {**data["constants"]["providers"]["aws"], "pue": 1.2}
    newer = coefficient_set_register(coefficients=Coefficients.from_dict(data))

    def day2_kwh(provider: str) -> Decimal:
        return CarbonDaily.objects.filter(day=DAY2, provider_name=provider).aggregate(k=MoneySum("kwh"))["k"]

    day2_before, day2_azure_before = day2_kwh("AWS"), day2_kwh("Microsoft")
    assert day2_azure_before > 0  # the demo's Azure subscription
    # Registering changes nothing stored; only an explicit recompute of a range uses the new set.
    assert {r.pk: (r.kwh, r.operational_kgco2e) for r in CarbonDaily.objects.filter(day=DAY1)} == before
    call_command(
        "carbon_recompute", "--org", "carbon-demo", "--start", "2026-02-02", "--end", "2026-02-02", stdout=StringIO()
    )
    versions = dict(CarbonDaily.objects.values_list("day", "coefficient_set__version").distinct())
    assert versions == {DAY1: shipped.version, DAY2: newer.version}
    assert report()["coefficients"] == f"{shipped.version},{newer.version}"
    # AWS's PUE 1.2 instead of 1.135 scales every AWS kWh of day 2 (cost-ratio kWh follow their known usage);
    # Azure's kWh and day 1 are kept.
    assert float(day2_kwh("AWS")) == pytest.approx(float(day2_before) * 1.2 / 1.135, rel=1e-8)
    assert day2_kwh("Microsoft") == day2_azure_before
    old = CarbonDaily.objects.filter(day=DAY1).aggregate(k=MoneySum("kwh"))["k"]
    assert old == sum(k for k, _ in before.values())

    # The same version with other numbers is refused, and nothing is written.
    data["constants"]["providers"]["aws"]["pue"] = 1.3
    with pytest.raises(CarbonError, match="new version"):
        coefficient_set_register(coefficients=Coefficients.from_dict(data))
    assert CoefficientSet.objects.get(version="ccf-test-newer").data["constants"]["providers"]["aws"]["pue"] == 1.2
    with pytest.raises(CommandError, match="no coefficient set 'nope'"):
        call_command("carbon_recompute", "--org", "carbon-demo", "--coefficients", "nope", stdout=StringIO())


def test_report_json_contract_and_sums(demo_org):
    payload = report("--refresh", "--group-by", "service")
    assert set(payload) >= {"rows", "coefficients"} and payload["coefficients"] == load_shipped().version
    for row in payload["rows"]:
        assert set(row) >= REPORT_KEYS
        for key in REPORT_KEYS - {"group", "method"}:
            assert isinstance(row[key], str)
            Decimal(row[key])  # a decimal string
        assert row["method"] in {"coefficient", "cost-ratio", "unknown", "measured", "mixed"}
    total = sum(Decimal(r["kwh"]) for r in payload["rows"])
    stored = CarbonDaily.objects.filter(organization=demo_org).aggregate(k=MoneySum("kwh"))["k"]
    assert total == pytest.approx(stored, abs=Decimal("0.00001"))
    ec2 = next(r for r in payload["rows"] if r["group"] == EC2)
    stored_ec2 = CarbonDaily.objects.filter(service_name=EC2).aggregate(v=MoneySum("vcpu_hours"))["v"]
    assert Decimal(ec2["vcpu_hours"]) == stored_ec2.quantize(Decimal("0.000001"))

    # Inclusive dates: one day is that day's rows only.
    one = report("--start", "2026-02-02", "--end", "2026-02-02", "--group-by", "region")
    day2 = CarbonDaily.objects.filter(day=DAY2).aggregate(k=MoneySum("kwh"))["k"]
    assert sum(Decimal(r["kwh"]) for r in one["rows"]) == pytest.approx(day2, abs=Decimal("0.00001"))
    for group_by in ("region", "account", "team", "instance_type", "month"):
        assert report("--group-by", group_by)["rows"]
    out = StringIO()
    call_command("carbon_report", "--org", "carbon-demo", "--format", "csv", stdout=out)
    assert out.getvalue().splitlines()[0].startswith("group,vcpu_hours,compute_kwh")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nope"], "no organization 'nope'"),
        (["--org", "carbon-demo", "--start", "2026-13-01"], "not a date"),
        (["--org", "carbon-demo", "--start", "2026-02-02", "--end", "2026-02-01"], "after"),
        (["--org", "carbon-demo", "--group-by", "colour"], "unknown --group-by 'colour'"),
    ],
)
def test_report_bad_input_exits_2_and_writes_nothing(demo_org, args, message):
    with pytest.raises(CommandError, match=message) as raised:
        call_command("carbon_report", *args, "--refresh", stdout=StringIO())
    assert raised.value.returncode == 2
    assert not CarbonDaily.objects.exists()


def import_real_prices(tmp_path: Path, types: set[str], regions: set[str]) -> dict[tuple[str, str], Decimal]:
    """A subset of the shipped libcloud table (values unchanged), imported through import_prices."""
    with gzip.open(LIBCLOUD, "rt", encoding="utf-8") as handle:
        full = json.load(handle)
    linux = {
        t: {r: p for r, p in full["compute"]["ec2_linux"][t].items() if r in regions and p > 0}
        for t in types
        if t in full["compute"]["ec2_linux"]
    }
    path = tmp_path / "libcloud-subset.json"
    path.write_text(json.dumps({"compute": {"ec2_linux": linux}, "updated": full["updated"]}))
    call_command("import_prices", str(path), "--format", "libcloud", "--json", stdout=StringIO())
    return {(t, r): Decimal(str(p)) for t, by_region in linux.items() for r, p in by_region.items()}


def test_region_moves_with_real_prices_and_ccf_carbon(demo_org, demo_rows, tmp_path, client, django_user_model):
    carbon_rollup_refresh(organization=demo_org, start=DAY1, end=DAY2)
    regions = {"us-east-1", "us-west-2", "eu-west-1", "eu-north-1", "ca-central-1"}
    types = {r["x_InstanceType"] for r in usage_rows(demo_rows) if r["x_InstanceType"] not in ("", "NULL")}
    prices = import_real_prices(tmp_path, types, regions)
    out = StringIO()
    call_command(
        "carbon_regions",
        "--org",
        "carbon-demo",
        "--regions",
        ",".join(sorted(regions)),
        "--pareto",
        "6",
        "--at",
        "2026-02-02",
        "--format",
        "json",
        "--top",
        "10",
        stdout=out,
    )
    payload = json.loads(out.getvalue())
    workload = next(
        w
        for w in payload["workloads"]
        if w["region"] == "us-east-1" and w["instance_type"] == "m5.large" and w["sub_account"] == "204938571623"
    )
    hours = sum(
        float(r["ConsumedQuantity"])
        for r in usage_rows(demo_rows)
        if r["ServiceName"] == EC2
        and r["x_InstanceType"] == "m5.large"
        and r["RegionId"] == "us-east-1"
        and r["SubAccountId"] == "204938571623"
        and r["PricingUnit"] == "Hours"
    )
    assert float(workload["instance_hours"]) == pytest.approx(hours, rel=1e-9)
    assert Decimal(workload["cost"]) == (prices[("m5.large", "us-east-1")] * Decimal(str(hours))).quantize(
        Decimal("0.01")
    )
    factors = {r["Region"]: float(r["CO2e (metric ton/kWh)"]) for r in ccf_rows("grid-emissions-factors-aws.csv")}
    # Energy per instance-hour is the same everywhere (same PUE): the carbon delta is kWh x factor difference.
    spec = next(r for r in ccf_rows("aws-instances.csv") if r["Instance type"] == "m5.large")
    gb_chip = float(next(r for r in ccf_rows("coefficients-aws-use.csv") if r["Architecture"] == "Skylake")["GB/Chip"])
    extra_gb = (float(spec["Platform Memory (in GB)"]) - gb_chip * 2) * 2 / 96
    kwh = hours * (2 * skylake_watts_per_vcpu() / 1000 + extra_gb * 0.000392) * AWS_PUE
    for alt in workload["alternatives"]:
        assert Decimal(alt["cost"]) == (prices[("m5.large", alt["region"])] * Decimal(str(hours))).quantize(
            Decimal("0.01")
        )
        assert Decimal(alt["cost_delta"]) == Decimal(alt["cost"]) - Decimal(workload["cost"])
        expected = kwh * (factors[alt["region"]] - factors["us-east-1"]) * 1000
        assert float(alt["carbon_delta"]) == pytest.approx(expected, rel=1e-5, abs=1e-5)
    # At least one move cuts carbon (eu-north-1's grid factor is far below us-east-1's).
    assert workload["lowest_carbon"]["region"] == "eu-north-1"
    assert float(workload["lowest_carbon"]["carbon_delta"]) < 0
    front = payload["pareto"]
    assert len(front) >= 2
    for a, b in itertools.pairwise(front):
        assert Decimal(b["cost"]) > Decimal(a["cost"]) and float(b["kgco2e"]) < float(a["kgco2e"])

    # The product page shows the organization's carbon by service, region and month, and the moves.
    member = django_user_model.objects.create_user("member", password="pw")
    Membership.objects.create(user=member, organization=demo_org, role="viewer")
    client.force_login(member)
    html = client.get("/carbon/").content.decode()
    for marker in ("carbon-by-service", "carbon-by-region", "carbon-by-month", "carbon-moves", "2026-02", EC2):
        assert marker in html, marker
    assert "eu-north-1" in html
    # Another organization's member sees none of it.
    other = Organization.objects.create(slug="other-org", name="Other")
    outsider = django_user_model.objects.create_user("outsider", password="pw")
    Membership.objects.create(user=outsider, organization=other, role="admin")
    client.force_login(outsider)
    html = client.get("/carbon/").content.decode()
    assert EC2 not in html and "No carbon estimates yet" in html


def test_methodology_page_lists_coefficients_with_sources(client, django_user_model):
    response = client.get("/carbon/methodology/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    user = django_user_model.objects.create_user("reader", password="pw")
    client.force_login(user)
    response = client.get("/carbon/methodology/")
    assert response.status_code == 200
    html = response.content.decode()
    shipped = load_shipped()
    assert shipped.version in html
    for text in (
        "1.135",
        "1.185",
        "0.000392",
        "0.65",
        "1.2",
        "0.001",
        "35040",
        "Cascade Lake",
        "us-east-1",
        "0.000415755",
        "M = TE",
        "cloud-carbon-footprint",
        "Apache-2.0",
    ):
        assert text in html, text
