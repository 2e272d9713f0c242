"""Fleet-level rightsizing: one choice per resource under constraints that cross resources.

Pure module: no Django imports.

Each resource has options {keep, resize to candidate 1..n, stop (idle only)}, each with a monthly
cost. Choose exactly one per resource, minimising the fleet's total monthly cost, subject to:

- ``max_changes_per_team``: at most N resources of a team change (resize or stop); untagged
  resources form their own team "";
- ``max_changes``: at most N changes in the whole fleet;
- ``keep_within_family``: a resize stays in the resource's current instance family.

Model (binary ``x_ro`` = resource r takes option o):
    min sum_ro cost_ro x_ro
    s.t. sum_o x_ro = 1                                  for every r
         sum_{r in team t} sum_{o != keep} x_ro <= N_t   for every team t (when limited)
         sum_r sum_{o != keep} x_ro <= N                 (when limited)
         x_ro = 0 for resizes leaving the family         (when keep_within_family)

Costs are integer cents, so "optimal" is exact. Ties are broken by a second solve that fixes the
total cost at its optimum and minimises the options' ranks (the policy's preference: its own choice
first, then keep, then the other candidates cheapest / closest first), so equal-cost fleets resolve
the same way every time and the same way the policy alone would. Options that cannot matter are
pruned first: within one resource, constraints only see "is it a change" and "does it stay in the
family", so per (action, same family) class only the best (cost, rank) option can be chosen.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pulp

from finops.core.quiet import quiet_native_stdout
from optimizer.rightsizing.policy import KEEP, RESIZE, STOP, Decision
from pricing.specs import split_instance_type


@dataclass(frozen=True)
class Option:
    action: str  # keep | resize | stop
    instance_type: str | None  # None for stop
    monthly_cost: Decimal
    rank: int  # preference among equal costs: lower wins
    same_family: bool = True
    migration_effort: bool = False

    @property
    def is_change(self) -> bool:
        return self.action != KEEP


@dataclass(frozen=True)
class FleetResource:
    resource_id: str
    team: str
    options: tuple[Option, ...]  # options[0] is keep


@dataclass(frozen=True)
class FleetConstraints:
    max_changes_per_team: int | None = None
    max_changes: int | None = None
    keep_within_family: bool = False

    def __post_init__(self) -> None:
        for name in ("max_changes_per_team", "max_changes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")

    def allows(self, option: Option) -> bool:
        return not (self.keep_within_family and option.action == RESIZE and not option.same_family)


@dataclass(frozen=True)
class FleetResult:
    choices: dict[str, Option]  # resource_id -> chosen option
    total_monthly_cost: Decimal
    status: str  # "optimal"
    solver: str
    solve_seconds: float
    variables: int
    stats: dict = field(default_factory=dict)


def fleet_resource(decision: Decision) -> FleetResource:
    """The options of one policy decision. Unknown current cost counts as 0 (nothing to save, nothing lost)."""
    resource = decision.resource
    current_cost = decision.current_monthly_cost if decision.current_monthly_cost is not None else Decimal(0)
    family = split_instance_type(resource.instance_type)[0]
    keep = Option(KEEP, resource.instance_type, current_cost, rank=1)
    options: list[Option] = [keep]
    if decision.action == STOP:
        options.append(Option(STOP, None, Decimal("0.00"), rank=0))
    elif decision.action == RESIZE:
        for i, candidate in enumerate(decision.candidates):
            shape = candidate.shape
            options.append(
                Option(
                    RESIZE,
                    shape.instance_type,
                    candidate.monthly_cost,
                    rank=0 if shape.instance_type == decision.recommended_type else i + 2,
                    same_family=shape.family == family,
                    migration_effort=candidate.migration_effort,
                )
            )
    else:
        options[0] = Option(KEEP, resource.instance_type, current_cost, rank=0)
    return FleetResource(resource.resource_id, resource.team, tuple(options))


def _prune(resource: FleetResource, constraints: FleetConstraints) -> list[Option]:
    best: dict[tuple[str, bool], Option] = {}
    for option in resource.options:
        if not constraints.allows(option):
            continue
        key = (option.action, option.same_family)
        held = best.get(key)
        if held is None or (option.monthly_cost, option.rank) < (held.monthly_cost, held.rank):
            best[key] = option
    return sorted(best.values(), key=lambda o: (o.rank, o.monthly_cost))


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _solve(problem: pulp.LpProblem, solver: str) -> str:
    if solver == "highs":
        with quiet_native_stdout():
            problem.solve(pulp.HiGHS(msg=False, gapRel=0.0))
    else:
        with warnings.catch_warnings():  # PuLP 3 deprecates its bundled CBC
            warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
            problem.solve(pulp.PULP_CBC_CMD(msg=False, gapRel=0.0))
    return pulp.LpStatus[problem.status]


def default_solver() -> str:
    return "highs" if pulp.HiGHS(msg=False).available() else "cbc"


def solve_fleet(
    resources: Sequence[FleetResource],
    constraints: FleetConstraints = FleetConstraints(),
    *,
    solver: str | None = None,
) -> FleetResult:
    """The cheapest choice of one option per resource under ``constraints`` (proven optimal, ties by rank)."""
    started = time.perf_counter()
    solver = solver or default_solver()
    if solver not in ("highs", "cbc"):
        raise ValueError(f"solver must be highs or cbc, got {solver!r}")
    ids = [r.resource_id for r in resources]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate resource ids in the fleet")
    for r in resources:
        if not r.options or r.options[0].action != KEEP:
            raise ValueError(f"{r.resource_id}: the first option must be keep")
    pruned = {r.resource_id: _prune(r, constraints) for r in resources}
    problem = pulp.LpProblem("rightsizing_fleet", pulp.LpMinimize)
    x: dict[tuple[str, int], pulp.LpVariable] = {}
    for r_index, r in enumerate(resources):
        for o_index, _ in enumerate(pruned[r.resource_id]):
            x[r.resource_id, o_index] = problem.add_variable(f"x_{r_index}_{o_index}", cat=pulp.LpBinary)
    cost = pulp.lpSum(
        _cents(o.monthly_cost) * x[r.resource_id, i] for r in resources for i, o in enumerate(pruned[r.resource_id])
    )
    problem += cost
    for r_index, r in enumerate(resources):
        problem += pulp.lpSum(x[r.resource_id, i] for i in range(len(pruned[r.resource_id]))) == 1, f"one_{r_index}"

    def changes(members: Iterable[FleetResource]):
        return pulp.lpSum(
            x[r.resource_id, i] for r in members for i, o in enumerate(pruned[r.resource_id]) if o.is_change
        )

    if constraints.max_changes_per_team is not None:
        teams: dict[str, list[FleetResource]] = defaultdict(list)
        for r in resources:
            teams[r.team].append(r)
        for t_index, team in enumerate(sorted(teams)):
            problem += changes(teams[team]) <= constraints.max_changes_per_team, f"team_{t_index}"
    if constraints.max_changes is not None:
        problem += changes(resources) <= constraints.max_changes, "fleet_changes"

    status = _solve(problem, solver) if x else "Optimal"
    if status != "Optimal":
        raise RuntimeError(f"fleet model not solved to optimality: {status}")
    if x:
        # Second pass: keep the optimal cost, prefer the policy's ranking among equal-cost choices.
        best_cents = round(pulp.value(problem.objective) or 0)
        problem += cost <= best_cents, "cost_at_optimum"
        problem.setObjective(
            pulp.lpSum(o.rank * x[r.resource_id, i] for r in resources for i, o in enumerate(pruned[r.resource_id]))
        )
        status = _solve(problem, solver)
        if status != "Optimal":
            raise RuntimeError(f"fleet tie-break not solved to optimality: {status}")
    choices = {}
    for r in resources:
        options = pruned[r.resource_id]
        chosen = [o for i, o in enumerate(options) if (x[r.resource_id, i].value() or 0) > 0.5]
        if len(chosen) != 1:
            raise RuntimeError(f"{r.resource_id}: the solver returned {len(chosen)} choices")
        choices[r.resource_id] = chosen[0]
    total = sum((o.monthly_cost for o in choices.values()), Decimal("0.00"))
    return FleetResult(
        choices=choices,
        total_monthly_cost=total,
        status="optimal",
        solver=solver,
        solve_seconds=time.perf_counter() - started,
        variables=len(x),
        stats={"resources": len(resources), "options_before_pruning": sum(len(r.options) for r in resources)},
    )
