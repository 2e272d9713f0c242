"""Rightsize first, then commit, with the real rightsizing module: a hand-made organization of three
EC2 resources, steady usage, CloudWatch-shaped metrics making one oversized and one idle."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest

from finops.accounts.services import organization_get_or_create
from optimizer.rightsizing.services import rightsizing_changes, rightsizing_recommend, utilization_import
from optimizer.services import optimization_run_create, optimization_run_execute
from tests.optimizer.optruns_helpers import START, ingest_fixture, on_demand, seed_catalog, steady_rows

pytestmark = pytest.mark.django_db

DAYS = 14
REGION = "us-east-1"
# resource -> (instance type, running instances every hour, cpu %, memory %)
RESOURCES = {
    "asg/web": ("m5.large", 4, 60.0, 60.0),  # busy: m5.large is already the cheapest fit -> keep
    "i-big": ("m5.2xlarge", 1, 10.0, 10.0),  # oversized: needs 8*0.1*1.2 = 0.96 vCPU, 32*0.1*1.2 = 3.84 GiB
    "i-idle": ("c5.xlarge", 1, 1.0, 5.0),  # max CPU 1% < 2%: stop
}
CATALOG = [("m5.large", REGION), ("m5.2xlarge", REGION), ("c5.xlarge", REGION)]


def _rows() -> list[dict[str, str]]:
    resources = {r: (itype, REGION, count) for r, (itype, count, _, _) in RESOURCES.items()}
    return steady_rows(resources, {(t, REGION): float(on_demand(t, REGION)) for t, _, _, _ in RESOURCES.values()})


def _metrics(path) -> None:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["resource_id", "timestamp", "cpu_percent", "memory_percent"])
        for h in range(DAYS * 24):
            stamp = f"{START + timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ}"
            for resource, (_, _, cpu, memory) in RESOURCES.items():
                out.writerow([resource, stamp, cpu, memory])


@pytest.fixture
def chain_org(tmp_path):
    organization, _ = organization_get_or_create(slug="chain", name="Chain")
    ingest_fixture(organization, tmp_path, _rows())
    seed_catalog(CATALOG)
    _metrics(tmp_path / "metrics.csv")
    utilization_import(organization=organization, path=tmp_path / "metrics.csv")
    return organization


def _run(organization, rightsize: bool):
    run = optimization_run_create(
        organization=organization, parameters={"lookback_days": 7, "rightsize": rightsize}, enqueue=False
    )
    return optimization_run_execute(run)


def _family_commitment(results, family: str) -> float:
    """$/hour committed to the family's EC2 Instance savings plans plus its reservations' effective $/hour."""
    offers = {o["id"]: o for o in results["offers"]}
    total = 0.0
    for p in results["purchases"]:
        if p["family"] != family:
            continue
        if p["kind"] == "savings_plan":
            total += float(p["quantity"])
        else:
            total += float(p["quantity"]) * float(offers[p["offer_id"]]["hourly_cost"])
    return total


def _m5_large_plan_rate(results) -> float:
    return min(
        float(o["rates"]["m5.large@us-east-1"])
        for o in results["offers"]
        if o["kind"] == "savings_plan" and "m5.large@us-east-1" in o["rates"]
    )


def test_rightsized_demand_moves_to_new_type_and_stopped_demand_is_never_bought(chain_org):
    rightsizing_recommend(organization=chain_org)
    changes = rightsizing_changes(chain_org)
    # Hand check of the policy on this catalog: the cheapest type with >= 0.96 vCPU and >= 3.84 GiB in
    # us-east-1 among m5.large ($0.096, 2/8), c5.xlarge ($0.17, 4/8), m5.2xlarge ($0.384) is m5.large.
    assert changes == {"i-big": "m5.large", "i-idle": None}

    plain = _run(chain_org, rightsize=False)
    chained = _run(chain_org, rightsize=True)
    assert plain.status == chained.status == "succeeded", (plain.error, chained.error)
    hours = 7 * 24

    # Demand: every resource runs steadily, so the window's instance-hours are counts x hours.
    assert plain.results["skus"] == ["c5.xlarge@us-east-1", "m5.2xlarge@us-east-1", "m5.large@us-east-1"]
    assert float(plain.results["usage_instance_hours"]) == pytest.approx((4 + 1 + 1) * hours)
    # i-big now runs as m5.large (4 + 1 per hour); i-idle's hours are gone; m5.2xlarge and c5 have no demand.
    assert chained.results["skus"] == ["m5.large@us-east-1"]
    assert float(chained.results["usage_instance_hours"]) == pytest.approx((4 + 1) * hours)
    all_od = (4 + 1) * hours * float(on_demand("m5.large", REGION))
    assert float(chained.results["all_on_demand"]) == pytest.approx(all_od, abs=0.01)

    # The plan without rightsizing commits to the c5 and to more m5 than the 5 m5.large left after rightsizing
    # (steady 24/7 usage makes committing worth it)...
    rate = _m5_large_plan_rate(chained.results)
    rightsized_m5 = 5 * rate  # $/hour the whole rightsized demand costs at the cheapest m5 plan rate
    assert _family_commitment(plain.results, "c5") > 0
    assert _family_commitment(plain.results, "m5") > rightsized_m5 * 1.2
    # ...the chained plan buys nothing for the stopped c5 and never more m5 than the rightsized demand uses.
    purchased = chained.results["purchases"]
    assert purchased, "steady usage: some commitment must pay off"
    assert {p["family"] for p in purchased} <= {None, "m5"}
    assert not [p for p in purchased if p["family"] is None and p["kind"] == "reservation"]
    assert 0 < _family_commitment(chained.results, "m5") <= rightsized_m5 + 1e-6
    # Every purchase is fully used by the rightsized demand (nothing bought for removed capacity).
    assert all(p["expected_utilization"] == pytest.approx(1.0, abs=1e-6) for p in purchased)
