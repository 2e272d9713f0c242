"""Offers from a small catalog: size-flexible reservations, savings plans, term/payment filters, the problem dict."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from optimizer.offers import CatalogPrice, OfferError, SkuCatalog, build_offers, build_problem
from optimizer.solver import parse_problem

D = Decimal


def ri(years, option, cls, hourly, upfront="0"):
    return CatalogPrice("reservation", years, option, D(upfront), D(hourly), offering_class=cls, provenance="test")


def sp(years, plan, hourly):
    return CatalogPrice("savings_plan", years, "no_upfront", D(0), D(hourly), plan_type=plan, derived=True,
                        provenance=f"derived {plan}")  # fmt: skip


CATALOG = {
    "m5.large@us-east-1": SkuCatalog(
        "m5.large@us-east-1",
        D("0.096"),
        commitments=(
            ri(1, "no_upfront", "standard", "0.06"),
            ri(1, "no_upfront", "convertible", "0.07"),
            ri(1, "all_upfront", "standard", "0", upfront="500"),
            ri(3, "no_upfront", "standard", "0.04"),
            sp(1, "compute", "0.07"),
            sp(1, "ec2_instance", "0.06"),
        ),
    ),
    "m5.xlarge@us-east-1": SkuCatalog(
        "m5.xlarge@us-east-1",
        D("0.192"),
        commitments=(ri(1, "no_upfront", "standard", "0.12"), sp(1, "compute", "0.14")),
    ),
    "c5.large@us-west-2": SkuCatalog(
        "c5.large@us-west-2",
        D("0.085"),
        spot=0.03,
        commitments=(ri(1, "no_upfront", "standard", "0.05"), sp(1, "compute", "0.06")),
    ),
}


def test_no_upfront_one_year_offers():
    offers = build_offers(CATALOG, lease_years=1, purchase_option="no_upfront", spot_max_share=0.2)
    by_id = offers.offers
    assert sorted(by_id) == [
        "ri:c5@us-west-2:1y:standard:no_upfront",
        "ri:m5@us-east-1:1y:convertible:no_upfront",
        "ri:m5@us-east-1:1y:standard:no_upfront",
        "sp:compute:1y:no_upfront",
        "sp:ec2_instance:m5@us-east-1:1y:no_upfront",
    ]
    standard = by_id["ri:m5@us-east-1:1y:standard:no_upfront"]
    # Size flexibility: the unit is an m5.large (factor 4); an m5.xlarge (factor 8) consumes 2 units.
    assert standard.covers == {"m5.large@us-east-1": 1.0, "m5.xlarge@us-east-1": 2.0}
    assert standard.unit_sku == "m5.large@us-east-1"
    assert standard.hourly_cost == pytest.approx(0.06) and standard.upfront == 0.0
    assert by_id["ri:m5@us-east-1:1y:convertible:no_upfront"].hourly_cost == pytest.approx(0.07)
    compute = by_id["sp:compute:1y:no_upfront"]
    assert compute.rates == pytest.approx({"m5.large@us-east-1": 0.07, "m5.xlarge@us-east-1": 0.14,
                                           "c5.large@us-west-2": 0.06})  # fmt: skip
    assert compute.derived and compute.provenance == "derived compute"
    assert by_id["sp:ec2_instance:m5@us-east-1:1y:no_upfront"].rates == {"m5.large@us-east-1": 0.06}
    assert offers.notes == ()


def test_all_upfront_is_amortised_over_the_term():
    offers = build_offers(CATALOG, lease_years=1, purchase_option="all_upfront")
    (offer,) = offers.reservations
    assert offer.id == "ri:m5@us-east-1:1y:standard:all_upfront"
    assert offer.upfront == 500.0
    assert offer.hourly_cost == pytest.approx(500 / 8760)
    assert offers.savings_plans == ()
    assert any("no savings-plan rates for 1y all_upfront" in n for n in offers.notes)


def test_three_year_and_missing_payment():
    three = build_offers(CATALOG, lease_years=3, purchase_option="no_upfront")
    assert [o.id for o in three.reservations] == ["ri:m5@us-east-1:3y:standard:no_upfront"]
    partial = build_offers(CATALOG, lease_years=1, purchase_option="partial_upfront")
    assert not partial.reservations and not partial.savings_plans
    assert len(partial.notes) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lease_years": 2, "purchase_option": "no_upfront"}, "term"),
        ({"lease_years": 1, "purchase_option": "some"}, "payment"),
        ({"lease_years": 1, "purchase_option": "no_upfront", "spot_max_share": 1.5}, "spot share"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(OfferError, match=message):
        build_offers(CATALOG, **kwargs)


def test_problem_dict_follows_the_contract():
    offers = build_offers(CATALOG, lease_years=1, purchase_option="no_upfront", spot_max_share=0.25)
    net = pd.DataFrame({"m5.large@us-east-1": [1.0, 2.0, 0.0], "c5.large@us-west-2": [0.5, 0.5, 1.5]})
    problem = build_problem(net, offers, upfront_budget=100.0).to_dict()
    parsed = parse_problem(problem)  # the solver's own validation accepts it
    assert parsed.hours == 3
    assert problem["demand"] == {"m5.large@us-east-1": [1.0, 2.0, 0.0], "c5.large@us-west-2": [0.5, 0.5, 1.5]}
    skus = {s["id"]: s for s in problem["skus"]}
    assert skus["c5.large@us-west-2"] == {"id": "c5.large@us-west-2", "on_demand": 0.085, "spot": 0.03,
                                          "spot_max_share": 0.25}  # fmt: skip
    assert "spot" not in skus["m5.large@us-east-1"]  # no spot price in the catalog
    # Offers only name SKUs present in the demand; an offer left with none is dropped.
    ris = {r["id"]: r for r in problem["reservations"]}
    assert ris["ri:m5@us-east-1:1y:standard:no_upfront"]["covers"] == {"m5.large@us-east-1": 1.0}
    plans = {s["id"]: s["rates"] for s in problem["savings_plans"]}
    assert plans["sp:compute:1y:no_upfront"] == {"m5.large@us-east-1": 0.07, "c5.large@us-west-2": 0.06}
    assert problem["upfront_budget"] == 100.0
    no_spot = build_problem(net, build_offers(CATALOG, lease_years=1, purchase_option="no_upfront")).to_dict()
    assert all("spot" not in s for s in no_spot["skus"])


def test_demand_without_a_price_is_refused():
    offers = build_offers(CATALOG, lease_years=1, purchase_option="no_upfront")
    with pytest.raises(OfferError, match=r"no on-demand price for r5\.large@us-east-1"):
        build_problem(pd.DataFrame({"r5.large@us-east-1": [1.0]}), offers)


def _prune_case() -> dict:
    a, b = "m5.large@us-east-1", "m5.xlarge@us-east-1"
    return {
        "hours": 6,
        "skus": [{"id": a, "on_demand": 0.096}, {"id": b, "on_demand": 0.192}],
        "demand": {a: [3.0, 4.0, 5.0, 2.5, 3.5, 6.0], b: [1.0, 1.0, 2.0, 0.5, 1.5, 1.0]},
        "reservations": [
            {"id": "std", "hourly_cost": 0.06, "upfront": 0.0, "covers": {a: 1, b: 2}},
            {"id": "conv", "hourly_cost": 0.07, "upfront": 0.0, "covers": {a: 1, b: 2}},  # dominated by std
            {"id": "xl", "hourly_cost": 0.13, "upfront": 0.0, "covers": {b: 1}},  # dominated by plan ec2
            {"id": "paid", "hourly_cost": 0.05, "upfront": 100.0, "covers": {a: 1, b: 2}},  # cheaper, has upfront
        ],
        "savings_plans": [
            {"id": "ec2", "rates": {a: 0.062, b: 0.124}},
            {"id": "ec2-dear", "rates": {a: 0.065}},  # dominated by ec2
            {"id": "compute", "rates": {a: 0.07, b: 0.14}},  # dominated by ec2 (rates every SKU, each no higher)
        ],
        "upfront_budget": None,
    }


def _prune(problem: dict) -> tuple[dict, dict]:
    from optimizer.offers import prune_dominated

    smaller, dropped = prune_dominated(parse_problem(problem))
    return smaller.to_dict(), dropped


def test_prune_dominated_offers():
    problem = _prune_case()
    smaller, dropped = _prune(problem)
    assert dropped == {"conv": "std", "xl": "ec2", "ec2-dear": "ec2", "compute": "ec2"}
    assert [r["id"] for r in smaller["reservations"]] == ["std", "paid"]
    assert [s["id"] for s in smaller["savings_plans"]] == ["ec2"]
    # std (0.06/unit, covers b twice = 0.12 per b-hour) is not dominated by ec2 (0.062 > 0.06).
    problem["savings_plans"][0]["rates"] = {"m5.large@us-east-1": 0.06, "m5.xlarge@us-east-1": 0.12}
    _, dropped = _prune(problem)
    assert dropped["std"] == "ec2" and dropped["conv"] == "ec2"  # std was dropped first, so ec2 dominates conv


@pytest.mark.parametrize("budget", [None, 150.0])
def test_pruning_keeps_the_optimum(budget):
    problem = _prune_case() | {"upfront_budget": budget}
    smaller, _ = _prune(problem)
    full = solve_problem(problem)
    reduced = solve_problem(smaller)
    assert reduced.objective == pytest.approx(full.objective, rel=1e-9, abs=1e-9)


def solve_problem(problem):
    from optimizer.solver import solve

    solution = solve(parse_problem(problem), gap=0.0)
    assert solution.status == "optimal"
    return solution
