"""What-if on tiny problems, worked out by hand: the evaluator's cost, coverage, utilization, break-even of a
purchase list; a list equal to the optimal plan costs the optimum; every bad field of a document is named."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest

from optimizer.backtest import realised, solve_plan
from optimizer.offers import CatalogPrice, SkuCatalog, build_offers, build_problem
from optimizer.plan import bought
from optimizer.whatif import WhatIf, WhatIfError, load_what_if, parse_what_if, scenario, what_if_report

SKU = "m5.large@us-east-1"
# One SKU at $1/h on demand; a reservation at $0.60/h; a compute savings plan at $0.70 per instance-hour.
CATALOG = {
    SKU: SkuCatalog(
        SKU,
        Decimal("1.0"),
        commitments=(
            CatalogPrice("reservation", 1, "no_upfront", Decimal(0), Decimal("0.6"), offering_class="standard"),
            CatalogPrice("savings_plan", 1, "no_upfront", Decimal(0), Decimal("0.7"), plan_type="compute"),
            # Partial upfront: $2,628 per unit at purchase + $0.30/h, i.e. 0.30 + 2628 / 8760 = $0.60/h effective.
            CatalogPrice("reservation", 1, "partial_upfront", Decimal(2628), Decimal("0.3"), offering_class="standard"),
        ),
    )
}
RI, SP = "ri:m5@us-east-1:1y:standard:no_upfront", "sp:compute:1y:no_upfront"
RI_PARTIAL = "ri:m5@us-east-1:1y:standard:partial_upfront"
OFFERS = build_offers(CATALOG, lease_years=1, purchase_option="no_upfront")
PARTIAL = build_offers(CATALOG, lease_years=1, purchase_option="partial_upfront")
DEMAND = [2.0, 2.0, 4.0, 4.0]
PROBLEM = build_problem(pd.DataFrame({SKU: DEMAND}), OFFERS)
KINDS = {RI: "reservation", SP: "savings_plan"}


def _scenario(purchases, problem=PROBLEM, offers=OFFERS):
    nothing = realised(problem, offers, {})["cost"]
    return scenario(problem, offers, purchases, no_commitment=nothing)


def test_reservations_only_by_hand():
    # 3 units: hours serve min(d, 3) = 2, 2, 3, 3 on the reservation, the rest (0, 0, 1, 1) on demand.
    row = _scenario({RI: 3.0})
    assert row["cost"] == pytest.approx(4 * 3 * 0.6 + 2 * 1.0)  # 9.20
    assert row["breakdown"] == pytest.approx({"reservations": 7.2, "savings_plans": 0.0, "spot": 0.0, "on_demand": 2.0})
    assert row["all_on_demand"] == pytest.approx(12.0) and row["no_commitment"] == pytest.approx(12.0)
    assert row["savings"] == pytest.approx(2.8) and row["savings_pct"] == pytest.approx(100 * 2.8 / 12)
    assert row["utilization"] == pytest.approx(10 / 12) and row["utilization_by_offer"][RI] == pytest.approx(10 / 12)
    assert row["coverage"] == pytest.approx(10 / 12) and row["coverage_on_demand_equivalent"] == pytest.approx(10 / 12)
    assert row["commitment_per_hour"] == pytest.approx(1.8) and row["upfront"] == 0.0
    assert row["monthly_cost"] == pytest.approx(9.2 * 730 / 4)
    # No upfront and it saves every hour against buying nothing: even from the first hour / month.
    assert row["break_even_hours"] == 1 and row["break_even_month"] == 1


def test_reservation_and_savings_plan_by_hand():
    # 2 units + $1.40/h of plan (2 instances at $0.70): hours 2, 2 use the units only; hours 4, 4 use all.
    row = _scenario({RI: 2.0, SP: 1.4})
    assert row["cost"] == pytest.approx(4 * (2 * 0.6 + 1.4))  # 10.40: nothing left on demand
    assert row["breakdown"]["on_demand"] == pytest.approx(0.0)
    assert row["utilization_by_offer"][SP] == pytest.approx((0 + 0 + 1.4 + 1.4) / (4 * 1.4))
    assert row["utilization"] == pytest.approx((1.0 * 1.2 + 0.5 * 1.4) / 2.6)
    assert row["coverage"] == pytest.approx(1.0)
    assert row["savings"] == pytest.approx(12 - 10.4)


def test_break_even_of_an_upfront_purchase_by_hand():
    problem = build_problem(pd.DataFrame({SKU: [3.0] * 4}), PARTIAL)
    row = _scenario({RI_PARTIAL: 3.0}, problem, PARTIAL)
    assert row["upfront"] == pytest.approx(3 * 2628) and row["recurring_per_hour"] == pytest.approx(0.9)
    assert row["cost"] == pytest.approx(4 * 3 * (0.3 + 2628 / 8760))
    # Cash: $3/h of on-demand avoided, $0.90/h paid: $2.10/h net recovers $7,884 after ceil(3754.3) hours;
    # per 730-hour month $1,533 net: month ceil(5.14) = 6.
    assert row["break_even_hours"] == math.ceil(7884 / 2.1) == 3755
    assert row["break_even_month"] == 6
    # Never, when the purchase saves nothing: 3 units serve no demand at all.
    idle = build_problem(pd.DataFrame({SKU: [0.0] * 4}), PARTIAL)
    assert _scenario({RI_PARTIAL: 3.0}, idle, PARTIAL)["break_even_hours"] is None


def test_a_what_if_equal_to_the_optimal_plan_costs_the_optimum():
    solution = solve_plan(PROBLEM)
    optimal = bought(solution.reservations, solution.savings_plans)
    document = {
        "reservations": [{"offer": k, "count": int(v)} for k, v in optimal.items() if k == RI],
        "savings_plans": [{"offer": k, "hourly_commitment": repr(v)} for k, v in optimal.items() if k == SP],
    }
    report = what_if_report(
        PROBLEM, OFFERS, parse_what_if(document, KINDS), strategies={"optimizer": (optimal, "optimal")}
    )
    mine, best = report["rows"]
    assert mine["cost"] == pytest.approx(solution.objective, abs=1e-9) and best["cost"] == mine["cost"]
    assert report["differences"]["optimizer"]["cost"] == pytest.approx(0.0, abs=1e-9)
    # Brute force over whole reservation units with the plan sized 0..4 instances: nothing beats it.
    brute = min(
        _scenario({k: v for k, v in {RI: float(u), SP: 0.7 * s}.items() if v > 0})["cost"]
        for u in range(5)
        for s in range(5)
    )
    assert mine["cost"] <= brute + 1e-9


def test_report_rows_per_purchase_match_the_plan_report_convention():
    report = what_if_report(PROBLEM, OFFERS, WhatIf({RI: 3}, {}), strategies={})
    (row,) = report["what_if"]["purchase_rows"]
    assert row["offer_id"] == RI and row["quantity"] == 3.0
    assert row["monthly_savings"] == pytest.approx(2.8 * 730 / 4)  # the only purchase: all the savings
    assert row["expected_utilization"] == pytest.approx(10 / 12)


def test_buying_nothing_is_a_valid_what_if():
    assert parse_what_if({}, KINDS) == WhatIf({}, {})
    row = _scenario({})
    assert row["cost"] == pytest.approx(12.0) and row["coverage"] == 0.0 and row["utilization"] is None
    assert row["break_even_hours"] is None and row["break_even_month"] is None


def test_valid_amounts_are_read_exactly():
    parsed = parse_what_if(
        {"reservations": [{"offer": RI, "count": 3}], "savings_plans": [{"offer": SP, "hourly_commitment": "12.5"}]},
        KINDS,
    )
    assert parsed.reservations == {RI: 3} and parsed.savings_plans == {SP: Decimal("12.5")}
    assert parse_what_if({"savings_plans": [{"offer": SP, "hourly_commitment": 0.125}]}, KINDS).savings_plans == {
        SP: Decimal("0.125")
    }
    assert parse_what_if({"reservations": [{"offer": RI, "count": 4.0}]}, KINDS).reservations == {RI: 4}
    # Trailing zeros are not decimal places (catalog rates are stored with 16).
    assert parse_what_if({"savings_plans": [{"offer": SP, "hourly_commitment": "0.0709630000000000"}]}, KINDS) == (
        WhatIf({}, {SP: Decimal("0.070963")})
    )


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ([], "what_if", "must be a JSON object"),
        ({"reservation": []}, "reservation", "unknown key"),
        ({"reservations": {}}, "reservations", "must be a list"),
        ({"reservations": ["x"]}, "reservations[0]", "must be an object"),
        ({"reservations": [{"offer": RI}]}, "reservations[0].count", "required"),
        ({"reservations": [{"count": 1}]}, "reservations[0].offer", "required"),
        ({"reservations": [{"offer": RI, "count": 1, "units": 2}]}, "reservations[0].units", "unknown key"),
        ({"reservations": [{"offer": RI, "count": -1}]}, "reservations[0].count", "must not be negative"),
        ({"reservations": [{"offer": RI, "count": 2.5}]}, "reservations[0].count", "no fractions"),
        ({"reservations": [{"offer": RI, "count": "3"}]}, "reservations[0].count", "whole number"),
        ({"reservations": [{"offer": RI, "count": True}]}, "reservations[0].count", "whole number"),
        ({"reservations": [{"offer": RI, "count": 10**7}]}, "reservations[0].count", "at most"),
        ({"reservations": [{"offer": "m5.large", "count": 1}]}, "reservations[0].offer", "unknown offer 'm5.large'"),
        ({"reservations": [{"offer": "", "count": 1}]}, "reservations[0].offer", "non-empty string"),
        (
            {"reservations": [{"offer": "ri:m5@us-east-1:3y:standard:all_upfront", "count": 1}]},
            "reservations[0].offer",
            "is not one of this run's offers",
        ),
        ({"reservations": [{"offer": SP, "count": 1}]}, "reservations[0].offer", "list it under savings_plans"),
        ({"savings_plans": [{"offer": RI, "hourly_commitment": 1}]}, "savings_plans[0].offer", "under reservations"),
        (
            {"reservations": [{"offer": RI, "count": 1}, {"offer": RI, "count": 2}]},
            "reservations[1].offer",
            "already bought at reservations[0]",
        ),
        ({"savings_plans": [{"offer": SP, "hourly_commitment": "lots"}]}, "savings_plans[0].hourly_commitment", "USD"),
        ({"savings_plans": [{"offer": SP, "hourly_commitment": "NaN"}]}, "savings_plans[0].hourly_commitment", "USD"),
        ({"savings_plans": [{"offer": SP, "hourly_commitment": None}]}, "savings_plans[0].hourly_commitment", "USD"),
        (
            {"savings_plans": [{"offer": SP, "hourly_commitment": "-2"}]},
            "savings_plans[0].hourly_commitment",
            "negative",
        ),
        (
            {"savings_plans": [{"offer": SP, "hourly_commitment": "1.0000001"}]},
            "savings_plans[0].hourly_commitment",
            "at most 6 decimal places",
        ),
    ],
)
def test_bad_documents_name_the_field(document, field, message):
    with pytest.raises(WhatIfError) as info:
        parse_what_if(document, KINDS, where="1y no_upfront offers")
    assert field in info.value.errors, info.value.errors
    assert message in info.value.errors[field]


def test_every_bad_field_is_reported_at_once():
    document = {
        "reservations": [{"offer": "bogus", "count": -1}, {"offer": RI, "count": 1.5}],
        "savings_plans": [{"offer": SP, "hourly_commitment": "x"}],
        "extra": 1,
    }
    with pytest.raises(WhatIfError) as info:
        parse_what_if(document, KINDS)
    assert set(info.value.errors) == {
        "extra",
        "reservations[0].offer",
        "reservations[0].count",
        "reservations[1].count",
        "savings_plans[0].hourly_commitment",
    }


def test_shape_only_check_before_a_run_exists_and_invalid_json():
    # Without the run's offers (None), any offer id passes; amounts are still checked.
    assert parse_what_if({"reservations": [{"offer": "anything", "count": 1}]}, None).reservations == {"anything": 1}
    with pytest.raises(WhatIfError, match=r"reservations\[0\]\.count"):
        parse_what_if({"reservations": [{"offer": "anything", "count": 0.5}]}, None)
    with pytest.raises(WhatIfError) as info:
        load_what_if('{"reservations": [')
    assert "invalid JSON" in info.value.errors["what_if"]
