"""Carbon in the optimizer: the cost-vs-carbon front of a run's demand, a carbon price, a carbon cap.

Steady usage of four SKUs, real on-demand prices from the shipped libcloud table for six regions (imported
through import_prices), commitment rates derived from them. Expected costs are computed here from the
libcloud file; carbon per region comes from ``carbon_regions`` (the carbon app's own command) on the same
data; placements are checked against brute force over every region assignment.
"""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.accounts.services import organization_get_or_create
from finops.carbon.calc import estimate_hours, load_shipped
from finops.carbon.models import CoefficientSet
from finops.carbon.services import carbon_rollup_refresh
from optimizer.carbon import tradeoff_workloads
from optimizer.models import OptimizationRun
from optimizer.services import ParametersError, optimization_run_create, optimization_run_execute
from pricing.services import derive_commitment_prices
from tests import factories
from tests.conftest import ROOT
from tests.optimizer.optruns_helpers import START, ingest_fixture, steady_rows

pytestmark = pytest.mark.django_db

LIBCLOUD = ROOT / "pricing" / "data" / "libcloud_pricing.json.gz"
REGIONS = ["ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "us-east-1", "us-west-2"]
# resource -> (instance type, region, instances every hour)
RESOURCES = {
    "asg/api": ("m5.large", "us-east-1", 5),
    "asg/ci": ("c5.xlarge", "us-east-1", 2),
    "i-db": ("m5.2xlarge", "us-west-2", 1),
    "asg/eu": ("c5.xlarge", "eu-west-1", 3),
}
HOURS = 7 * 24  # the run's lookback window
WINDOW_END = START + timedelta(days=14)  # the fixture's last hour ends here
FIRST_DAY, LAST_DAY = date(2026, 3, 8), date(2026, 3, 14)  # the window as inclusive days


def _libcloud() -> dict[tuple[str, str], Decimal]:
    with gzip.open(LIBCLOUD, "rt", encoding="utf-8") as handle:
        table = json.load(handle)["compute"]["ec2_linux"]
    types = {t for t, _, _ in RESOURCES.values()}
    return {(t, r): Decimal(str(table[t][r])) for t in types for r in REGIONS if table[t].get(r)}


@pytest.fixture(scope="module")
def carbon_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The usage, the prices and the carbon rollup, written once for the module and committed (each test's own
    writes roll back with its transaction), deleted after its last test."""
    folder = tmp_path_factory.mktemp("carbon")
    prices = _libcloud()
    with django_db_blocker.unblock():
        organization, _ = organization_get_or_create(slug="green", name="Green")
        ingest_fixture(organization, folder, steady_rows(RESOURCES, {k: float(v) for k, v in prices.items()}))
        with gzip.open(LIBCLOUD, "rt", encoding="utf-8") as handle:
            full = json.load(handle)
        subset = {
            "compute": {"ec2_linux": {t: {r: float(p) for (tt, r), p in prices.items() if tt == t} for t, _ in prices}},
            "updated": full["updated"],
        }
        path = folder / "libcloud-subset.json"
        path.write_text(json.dumps(subset))  # the shipped values, unchanged
        call_command("import_prices", str(path), "--format", "libcloud", "--json", stdout=StringIO())
        derive_commitment_prices()
        carbon_rollup_refresh(organization=organization, start=FIRST_DAY, end=LAST_DAY)
    yield organization.pk, prices
    with django_db_blocker.unblock():
        factories.delete_organizations([organization])  # its carbon rollups with it
        factories.delete_catalog()
        CoefficientSet.objects.all().delete()  # the shipped set, registered by the rollup


@pytest.fixture
def carbon_org(carbon_world):
    pk, prices = carbon_world
    organization = Organization.objects.get(pk=pk)
    organization.prices = prices
    return organization


def _run(organization, **options):
    params = {"lookback_days": 7, "carbon_regions": REGIONS, **options}
    run = optimization_run_execute(optimization_run_create(organization=organization, parameters=params, enqueue=False))
    assert run.status == "succeeded", run.error
    return run


def _carbon_regions(points: int) -> dict:
    out = StringIO()
    call_command(
        "carbon_regions", "--org", "green", "--regions", ",".join(REGIONS), "--start", str(FIRST_DAY),
        "--end", str(LAST_DAY), "--at", datetime.now(UTC).date().isoformat(), "--pareto", str(points),
        "--top", "10", "--format", "json", stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue())


def _sku_options(prices, payload) -> dict[str, dict[str, tuple[Decimal, float]]]:
    """SKU -> region -> (window cost at the libcloud price, kgCO2e from carbon_regions)."""
    out: dict[str, dict[str, tuple[Decimal, float]]] = {}
    for w in payload["workloads"]:
        sku = f"{w['instance_type']}@{w['region']}"
        hours = Decimal(w["instance_hours"])
        by_region = {w["region"]: float(w["kgco2e"])} | {a["region"]: float(a["kgco2e"]) for a in w["alternatives"]}
        out[sku] = {r: (prices[(w["instance_type"], r)] * hours, kg) for r, kg in by_region.items()}
    return out


def _all_placements(options):
    skus = sorted(options)
    for regions in itertools.product(*(sorted(options[s]) for s in skus)):
        cost = sum(options[s][r][0] for s, r in zip(skus, regions, strict=True))
        kg = sum(options[s][r][1] for s, r in zip(skus, regions, strict=True))
        yield dict(zip(skus, regions, strict=True)), cost, kg


def _moves_by_sku(payload_moves: dict[str, str]) -> dict[str, str]:
    """carbon_regions names workloads "sub/region/type": map to the optimizer's "type@region"."""
    return {f"{name.split('/')[2]}@{name.split('/')[1]}": region for name, region in payload_moves.items()}


def test_front_is_monotone_non_dominated_and_matches_carbon_regions(carbon_org):
    run = _run(carbon_org, carbon=True)
    results, prices = run.results, carbon_org.prices
    front = results["carbon_front"]
    assert len(front) >= 5
    meta = results["carbon"]
    assert meta["regions"] == REGIONS and sorted(meta["skus"]) == sorted(f"{t}@{r}" for t, r, _ in RESOURCES.values())
    assert meta["instance_hours"] == pytest.approx(sum(c for _, _, c in RESOURCES.values()) * HOURS)
    assert "do not change carbon" in meta["note"] and any("Carbon:" in line for line in results["explanation"])

    # Monotone: more cost always buys less carbon.
    for a, b in itertools.pairwise(front):
        assert Decimal(b["cost"]) > Decimal(a["cost"]) and b["kgco2e"] < a["kgco2e"]
    # Each point's cost from the libcloud prices (independent), its percentages and its sentence.
    base_cost, base_kg = Decimal(front[0]["cost"]), front[0]["kgco2e"]
    assert front[0]["summary"] == "cost-optimal placement"
    for point in front:
        placed = {f"{t}@{r}": r for t, r, _ in RESOURCES.values()} | point["moves"]
        counts = {f"{t}@{r}": c for t, r, c in RESOURCES.values()}
        expected = sum(prices[(sku.split("@")[0], region)] * counts[sku] * HOURS for sku, region in placed.items())
        assert Decimal(point["cost"]) == expected.quantize(Decimal("0.01"))
        more = float((Decimal(point["cost"]) - base_cost) / base_cost * 100)
        less = (base_kg - point["kgco2e"]) / base_kg * 100
        assert point["cost_pct_vs_cost_optimal"] == pytest.approx(more, abs=1e-3)
        assert point["carbon_pct_vs_cost_optimal"] == pytest.approx(-less, abs=1e-4)
        if point is not front[0]:
            sentence = (
                f"{-point['carbon_pct_vs_cost_optimal']:.1f}% less carbon for "
                f"{point['cost_pct_vs_cost_optimal']:.1f}% more cost"
            )
            assert point["summary"] == sentence

    # Consistent with the carbon app's own front on the same data (same caps).
    payload = _carbon_regions(9)
    theirs = payload["pareto"]
    assert len(theirs) == len(front)
    for ours, other in zip(front, theirs, strict=True):
        assert ours["cost"] == other["cost"]
        assert ours["kgco2e"] == pytest.approx(float(other["kgco2e"]), rel=1e-6)
        assert ours["moves"] == _moves_by_sku(other["moves"])

    # Non-dominated: no region assignment (brute force over all 6^4) beats any point on both axes.
    options = _sku_options(prices, payload)
    placements = list(_all_placements(options))
    for point in front:
        cost, kg = Decimal(point["cost"]), point["kgco2e"]
        assert not any(c < cost - Decimal("0.005") and k < kg - 1e-6 for _, c, k in placements), point
    # The ends are the brute-force cheapest and greenest.
    assert base_cost == min(c for _, c, _ in placements).quantize(Decimal("0.01"))
    assert front[-1]["kgco2e"] == pytest.approx(min(k for _, _, k in placements), abs=2e-6)  # 6-place JSON


def test_carbon_price_and_cap_choose_the_brute_force_placement(carbon_org):
    payload = _carbon_regions(9)
    placements = list(_all_placements(_sku_options(carbon_org.prices, payload)))

    # Here 1 kgCO2e less costs ~$2.5 at the margin: a price of $3/kg must move something greener than the
    # cost-optimal placement (at a realistic $0.05/kg it would not).
    price = 3.0  # USD per kgCO2e
    results = _run(carbon_org, carbon_price=price).results
    chosen = results["carbon_placement"]
    best = min(placements, key=lambda p: float(p[1]) + price * p[2])
    assert chosen["carbon_price"] == "3" and chosen["carbon_cap"] is None  # money: a decimal string
    objective = float(chosen["cost"]) + price * chosen["kgco2e"]
    assert objective == pytest.approx(float(best[1]) + price * best[2], abs=0.006)  # cost is rounded to cents
    assert chosen["kgco2e"] < results["carbon_front"][0]["kgco2e"] and chosen["carbon_pct_vs_cost_optimal"] < 0
    assert chosen["summary"].endswith("more cost")
    # The commitment mix re-solved where the chosen placement runs the usage.
    plan = chosen["plan"]
    placed = {f"{t}@{r}": r for t, r, _ in RESOURCES.values()} | chosen["moves"]
    assert sorted(plan["skus"]) == sorted({f"{sku.split('@')[0]}@{region}" for sku, region in placed.items()})
    assert abs(Decimal(plan["all_on_demand"]) - Decimal(chosen["cost"])) <= Decimal("0.01")
    assert Decimal(plan["objective"]) < Decimal(plan["all_on_demand"]) and plan["status"] == "optimal"
    assert abs(Decimal(plan["savings"]) - (Decimal(plan["all_on_demand"]) - Decimal(plan["objective"]))) <= Decimal(
        "0.01"
    )

    kgs = sorted(k for _, _, k in placements)
    cap = (kgs[0] + kgs[-1]) / 2
    capped = _run(carbon_org, carbon_cap=cap)
    chosen = capped.results["carbon_placement"]
    assert capped.parameters["carbon"] is True  # a cap implies the trade-off
    assert chosen["kgco2e"] <= cap + 1e-6
    cheapest = min(float(c) for _, c, k in placements if k <= cap)
    assert float(chosen["cost"]) == pytest.approx(cheapest, abs=0.005)

    impossible = _run(carbon_org, carbon_cap=kgs[0] / 2).results["carbon_placement"]
    assert "no placement meets the carbon cap" in impossible["error"]


def test_commitment_plan_is_the_same_with_and_without_carbon(carbon_org):
    # Commitments do not depend on the carbon options: the trade-off is reported beside the plan.
    plain, green = _run(carbon_org), _run(carbon_org, carbon=True)
    assert "carbon_front" not in plain.results
    assert green.results["objective"] == plain.results["objective"]
    assert green.results["purchases"] == plain.results["purchases"]


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"carbon_price": -1}, "carbon_price", "non-negative amount"),
        ({"carbon_price": "cheap"}, "carbon_price", "non-negative amount"),
        ({"carbon_cap": 0}, "carbon_cap", "positive number"),
        ({"carbon_price": 0.1, "carbon_cap": 10.0}, "carbon_cap", "not both"),
        ({"carbon": "yes"}, "carbon", "true or false"),
        ({"carbon_points": 3}, "carbon_points", "5..50"),
        ({"carbon_regions": ["us-east-1", "mars-1"]}, "carbon_regions", "no grid emission factor for mars-1"),
    ],
)
def test_bad_carbon_options_name_the_field_and_write_nothing(carbon_org, options, field, message):
    with pytest.raises(ParametersError) as info:
        optimization_run_create(organization=carbon_org, parameters=options, enqueue=False)
    assert message in info.value.errors[field]
    assert not OptimizationRun.objects.exists()


def test_recommend_commitments_carbon_flags(carbon_org):
    out = StringIO()
    call_command(
        "recommend_commitments", "--org", "green", "--lookback-days", "7", "--carbon-price", "0.05",
        "--carbon-regions", ",".join(REGIONS), "--json", stdout=out,
    )  # fmt: skip
    detail = json.loads(out.getvalue())  # one JSON document, no solver banner
    results = detail["results"]
    assert detail["parameters"]["carbon"] is True and detail["parameters"]["carbon_price"] == "0.05"
    assert len(results["carbon_front"]) >= 5 and results["carbon_placement"]["moves"]
    assert isinstance(results["carbon_front"][0]["cost"], str)

    table = StringIO()
    call_command(
        "recommend_commitments", "--org", "green", "--lookback-days", "7", "--carbon",
        "--carbon-regions", ",".join(REGIONS), stdout=table,
    )  # fmt: skip
    assert "cost-vs-carbon front" in table.getvalue() and "less carbon for" in table.getvalue()
    with pytest.raises(CommandError, match="carbon_price"):
        call_command("recommend_commitments", "--org", "green", "--carbon-price", "-2", stdout=StringIO())


def test_tradeoff_workloads_skip_reasons_and_options_without_database():
    coefficients = load_shipped()
    hourly = pd.DataFrame(
        {"m5.large@us-east-1": [2.0, 3.0], "c5.xlarge@us-east-1": [0.0, 0.0], "x9.huge@us-east-1": [1.0, 1.0]}
    )
    prices = {("m5.large", "us-east-1"): 0.096, ("m5.large", "eu-north-1"): 0.102, ("m5.large", "us-west-2"): None}
    workloads, skipped = tradeoff_workloads(
        hourly, prices=prices, coefficients=coefficients, candidates=["eu-north-1", "us-east-1", "us-west-2"]
    )
    assert skipped == {
        "c5.xlarge@us-east-1": "no demand left to serve (existing commitments cover it)",
        "x9.huge@us-east-1": "no on-demand price for x9.huge in us-east-1",
    }
    (only,) = workloads
    assert only.name == "m5.large@us-east-1" and only.current_region == "us-east-1" and only.hours == 5.0
    assert [o.region for o in only.options] == ["us-east-1", "eu-north-1"]  # us-west-2 has no price
    for option in only.options:
        one = estimate_hours(coefficients, provider="aws", region=option.region, instance_type="m5.large", hours=5.0)
        assert option.kg_per_hour == pytest.approx((one["operational_kgco2e"] + one["embodied_kgco2e"]) / 5.0)
    assert only.options[1].hourly_cost == 0.102
