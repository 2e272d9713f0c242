"""The fleet model against brute force over every combination of options on small random fleets.

Pure: no database. Brute force enumerates itertools.product of all options (no pruning), filters the
constraints as written in the issue, and takes the minimum cost; the model must match it exactly.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from decimal import Decimal

import pytest

from optimizer.rightsizing.fleet import FleetConstraints, FleetResource, Option, fleet_resource, solve_fleet
from optimizer.rightsizing.policy import Resource, RightsizingPolicy, Shape, Utilization, recommend


def random_fleet(rng: random.Random, n: int) -> list[FleetResource]:
    fleet = []
    for i in range(n):
        keep_cost = Decimal(rng.randint(50, 500))
        options = [Option("keep", "a.x", keep_cost, rank=1)]
        for j in range(rng.randint(0, 3)):
            options.append(
                Option(
                    "resize",
                    f"{'a' if rng.random() < 0.5 else 'b'}.s{j}",
                    Decimal(rng.randint(10, int(keep_cost))),  # ties with keep and each other happen
                    rank=j + 2,
                    same_family=rng.random() < 0.5,
                )
            )
        if rng.random() < 0.2:
            options.append(Option("stop", None, Decimal(0), rank=0))
        fleet.append(FleetResource(f"r{i}", rng.choice(["a", "b", ""]), tuple(options)))
    return fleet


def brute_force(fleet: list[FleetResource], constraints: FleetConstraints) -> Decimal:
    best = None
    for combo in itertools.product(*(r.options for r in fleet)):
        changes = Counter(r.team for r, o in zip(fleet, combo, strict=True) if o.action != "keep")
        if constraints.max_changes_per_team is not None and any(
            c > constraints.max_changes_per_team for c in changes.values()
        ):
            continue
        if constraints.max_changes is not None and sum(changes.values()) > constraints.max_changes:
            continue
        if constraints.keep_within_family and any(o.action == "resize" and not o.same_family for o in combo):
            continue
        cost = sum((o.monthly_cost for o in combo), Decimal(0))
        best = cost if best is None else min(best, cost)
    return best


def check(result, fleet, constraints):
    chosen = [result.choices[r.resource_id] for r in fleet]
    changes = Counter(r.team for r, o in zip(fleet, chosen, strict=True) if o.is_change)
    if constraints.max_changes_per_team is not None:
        assert all(c <= constraints.max_changes_per_team for c in changes.values())
    if constraints.max_changes is not None:
        assert sum(changes.values()) <= constraints.max_changes
    if constraints.keep_within_family:
        assert all(o.same_family for o in chosen if o.action == "resize")
    for r, o in zip(fleet, chosen, strict=True):
        assert o in r.options
    assert result.total_monthly_cost == sum((o.monthly_cost for o in chosen), Decimal(0))


CONSTRAINTS = [
    FleetConstraints(),
    FleetConstraints(max_changes_per_team=1),
    FleetConstraints(max_changes_per_team=0),
    FleetConstraints(keep_within_family=True),
    FleetConstraints(max_changes_per_team=2, keep_within_family=True),
    FleetConstraints(max_changes=2),
    FleetConstraints(max_changes=3, max_changes_per_team=1, keep_within_family=True),
]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("constraints", CONSTRAINTS, ids=repr)
def test_fleet_model_matches_brute_force(seed, constraints):
    rng = random.Random(seed)
    fleet = random_fleet(rng, rng.randint(1, 6))
    result = solve_fleet(fleet, constraints)
    assert result.status == "optimal"
    check(result, fleet, constraints)
    assert result.total_monthly_cost == brute_force(fleet, constraints)


@pytest.mark.parametrize("seed", range(3))
def test_cbc_agrees_with_brute_force(seed):
    rng = random.Random(100 + seed)
    fleet = random_fleet(rng, 5)
    constraints = FleetConstraints(max_changes_per_team=1)
    result = solve_fleet(fleet, constraints, solver="cbc")
    check(result, fleet, constraints)
    assert result.total_monthly_cost == brute_force(fleet, constraints)


def test_team_limit_keeps_the_biggest_savings():
    def res(rid, team, keep, new):
        return FleetResource(
            rid, team, (Option("keep", "m.l", Decimal(keep), 1), Option("resize", "m.s", Decimal(new), 0))
        )

    fleet = [res("a", "t", 100, 90), res("b", "t", 100, 40), res("c", "t", 100, 70), res("d", "u", 100, 95)]
    result = solve_fleet(fleet, FleetConstraints(max_changes_per_team=1))
    assert {k: o.action for k, o in result.choices.items()} == {"a": "keep", "b": "resize", "c": "keep", "d": "resize"}
    assert result.total_monthly_cost == Decimal(100 + 40 + 100 + 95)


def test_equal_costs_resolve_to_the_policy_choice():
    # Two candidates at the same price: the policy's rank-0 choice wins; keep at equal cost beats a change.
    fleet = [
        FleetResource(
            "a",
            "t",
            (
                Option("keep", "m.l", Decimal(100), 1),
                Option("resize", "x.s", Decimal(60), 3),
                Option("resize", "y.s", Decimal(60), 0),
            ),
        ),
        FleetResource("b", "t", (Option("keep", "m.l", Decimal(50), 0), Option("resize", "z.s", Decimal(50), 2))),
    ]
    result = solve_fleet(fleet)
    assert result.choices["a"].instance_type == "y.s"
    assert result.choices["b"].action == "keep"


def test_unconstrained_fleet_reproduces_the_policy():
    catalog = {
        "m5.xlarge": Shape("m5.xlarge", "m5", 4, 16, "x86_64", True, Decimal("0.192")),
        "m5.large": Shape("m5.large", "m5", 2, 8, "x86_64", True, Decimal("0.096")),
        "c5.large": Shape("c5.large", "c5", 2, 4, "x86_64", True, Decimal("0.085")),
    }
    policy = RightsizingPolicy()
    decisions = [
        recommend(Resource("i-1", "m5.xlarge", "r"), Utilization(336, 20, 40, 20), catalog, policy),  # c5.large
        recommend(Resource("i-2", "m5.xlarge", "r"), Utilization(336, 20, 40, 40), catalog, policy),  # m5.large
        recommend(Resource("i-3", "m5.xlarge", "r"), Utilization(336, 1, 1.5, None), catalog, policy),  # stop
        recommend(Resource("i-4", "m5.xlarge", "r"), Utilization(336, 80, 95, 80), catalog, policy),  # keep
    ]
    result = solve_fleet([fleet_resource(d) for d in decisions])
    got = {k: (o.action, o.instance_type) for k, o in result.choices.items()}
    assert got == {
        "i-1": ("resize", "c5.large"),
        "i-2": ("resize", "m5.large"),
        "i-3": ("stop", None),
        "i-4": ("keep", "m5.xlarge"),
    }
    within = solve_fleet([fleet_resource(d) for d in decisions], FleetConstraints(keep_within_family=True))
    assert within.choices["i-1"].instance_type == "m5.large"


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="first option must be keep"):
        solve_fleet([FleetResource("a", "t", (Option("stop", None, Decimal(0), 0),))])
    keep = (Option("keep", "m.l", Decimal(1), 0),)
    with pytest.raises(ValueError, match="duplicate resource ids"):
        solve_fleet([FleetResource("a", "t", keep), FleetResource("a", "t", keep)])
    with pytest.raises(ValueError, match="max_changes_per_team must be >= 0"):
        FleetConstraints(max_changes_per_team=-1)
