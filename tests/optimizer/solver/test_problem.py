"""PROBLEM.json validation: every bad input is rejected with a message naming the field."""

from __future__ import annotations

import copy
import json

import pytest

from optimizer.solver import ProblemError, load_problem, parse_problem

VALID = {
    "hours": 3,
    "skus": [
        {"id": "m5.large", "on_demand": 0.096, "spot": 0.036, "spot_max_share": 0.2},
        {"id": "m5.xlarge", "on_demand": 0.192},
    ],
    "demand": {"m5.large": [1, 2, 0], "m5.xlarge": [0.5, 0, 1]},
    "reservations": [
        {"id": "m5-1y-nu", "hourly_cost": 0.060, "upfront": 0.0, "covers": {"m5.large": 1, "m5.xlarge": 2}}
    ],
    "savings_plans": [{"id": "compute-1y-nu", "rates": {"m5.large": 0.068, "m5.xlarge": 0.136}}],
    "upfront_budget": None,
}


def test_valid_problem_parses():
    problem = parse_problem(VALID)
    assert problem.hours == 3
    assert problem.demand["m5.xlarge"] == (0.5, 0.0, 1.0)
    assert problem.sku("m5.large").spot_max_share == 0.2
    assert problem.sku("m5.xlarge").spot is None
    assert problem.reservations[0].covers == {"m5.large": 1.0, "m5.xlarge": 2.0}
    assert problem.all_on_demand_cost() == pytest.approx(0.096 * 3 + 0.192 * 1.5)


def test_missing_demand_is_zero():
    data = copy.deepcopy(VALID)
    del data["demand"]["m5.xlarge"]
    assert parse_problem(data).demand["m5.xlarge"] == (0.0, 0.0, 0.0)


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


BAD = [
    (_set(("hours",), 0), "hours", "positive integer"),
    (_set(("hours",), True), "hours", "positive integer"),
    (_set(("demand", "m5.large", 1), -1), "demand['m5.large'][1]", ">= 0"),
    (_set(("demand", "m5.large"), [1, 2]), "demand['m5.large']", "must have 3 values"),
    (_set(("demand", "c5.large"), [1, 1, 1]), "demand['c5.large']", "unknown SKU"),
    (_set(("demand", "m5.large", 0), "1"), "demand['m5.large'][0]", "must be a number"),
    (_set(("demand", "m5.large", 0), float("nan")), "demand['m5.large'][0]", "finite"),
    (_set(("reservations", 0, "covers", "c5.large"), 1), "reservations[0].covers['c5.large']", "unknown SKU"),
    (_set(("reservations", 0, "covers", "m5.large"), 0), "reservations[0].covers['m5.large']", "> 0"),
    (_set(("reservations", 0, "covers"), {}), "reservations[0].covers", "at least one SKU"),
    (_set(("reservations", 0, "hourly_cost"), -0.1), "reservations[0].hourly_cost", ">= 0"),
    (_set(("reservations", 0, "hourly_cost"), KeyError), "reservations[0].hourly_cost", "must be a number"),
    (_set(("reservations", 0, "upfront"), -5), "reservations[0].upfront", ">= 0"),
    (_set(("savings_plans", 0, "rates", "x1"), 0.1), "savings_plans[0].rates['x1']", "unknown SKU"),
    (_set(("savings_plans", 0, "id"), ""), "savings_plans[0].id", "non-empty string"),
    (_set(("skus", 1, "id"), "m5.large"), "skus[1].id", "duplicate id"),
    (_set(("skus", 0, "on_demand"), -1), "skus[0].on_demand", ">= 0"),
    (_set(("skus", 0, "spot_max_share"), 1.5), "skus[0].spot_max_share", "<= 1"),
    (_set(("skus", 0, "spot_max_share"), KeyError), "skus[0].spot_max_share", "required when spot is given"),
    (_set(("skus",), []), "skus", "at least one SKU"),
    (_set(("upfront_budget",), -1), "upfront_budget", ">= 0"),
    (_set(("demand",), []), "demand", "must be an object"),
    (_set(("budget",), 3), "budget", "unknown key"),
]


@pytest.mark.parametrize("change, field, message", BAD)
def test_invalid_problem_names_the_field(change, field, message):
    data = copy.deepcopy(VALID)
    change(data)
    with pytest.raises(ProblemError) as info:
        parse_problem(data)
    assert info.value.field == field
    assert message in str(info.value)
    assert str(info.value).startswith(field)


def test_invalid_json_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(ProblemError, match="invalid JSON"):
        load_problem(path)


def test_load_problem_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(VALID))
    assert load_problem(path) == parse_problem(VALID)
