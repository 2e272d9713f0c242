"""Pure commitment-mix optimizer (no Django): which reservations and savings-plan commitments to buy.

Use :func:`solve`; problems come from :func:`optimizer.solver.problem.parse_problem` / ``load_problem``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pulp

from optimizer.solver.evaluate import Evaluation, evaluate, evaluate_detail
from optimizer.solver.plain import build_plain
from optimizer.solver.problem import Problem, ProblemError, load_problem, parse_problem

__all__ = [
    "Evaluation",
    "Problem",
    "ProblemError",
    "Solution",
    "evaluate",
    "evaluate_detail",
    "load_problem",
    "parse_problem",
    "solve",
]

SOLVERS = ("highs", "cbc")


@dataclass(frozen=True)
class Solution:
    """A purchase plan. ``objective`` is the evaluator's exact cost of these purchases; ``bound`` a proven
    lower bound on the optimum (None when the solver proved none); ``status`` is "optimal" only when
    ``gap`` = (objective - bound) / |objective| is within the requested tolerance."""

    status: str
    objective: float
    bound: float | None
    gap: float | None
    reservations: dict[str, int]
    savings_plans: dict[str, float]
    breakdown: dict[str, float]
    all_on_demand: float
    no_commitment: float
    savings_pct: float
    utilization: dict[str, dict[str, float | None]]
    build_seconds: float
    solve_seconds: float
    solver: str
    solver_status: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "reservations": self.reservations,
            "savings_plans": self.savings_plans,
            "breakdown": self.breakdown,
            "all_on_demand": self.all_on_demand,
            "no_commitment": self.no_commitment,
            "savings_pct": self.savings_pct,
            "utilization": self.utilization,
            "build_seconds": self.build_seconds,
            "solve_seconds": self.solve_seconds,
            "solver": self.solver,
            "solver_status": self.solver_status,
            "notes": self.notes,
        }


def default_solver() -> str:
    return "highs" if pulp.HiGHS(msg=False).available() else "cbc"


def _run(model, solver: str, time_limit: float | None, gap: float) -> tuple[str, float | None, bool]:
    """Solve; return (solver status text, proven lower bound or None, whether variable values are usable)."""
    lp = model.lp
    if solver == "highs":
        import highspy

        lp.solve(pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=gap))
        highs = lp.solverModel
        status = highs.getModelStatus()
        info = highs.getInfo()
        has_integers = any(v.cat == pulp.LpInteger for v in lp.variables())
        if has_integers:
            bound = info.mip_dual_bound
        else:  # a pure LP: its optimal objective is its bound
            bound = info.objective_function_value if status == highspy.HighsModelStatus.kOptimal else None
        if bound is not None and not math.isfinite(bound):
            bound = None
        has_values = info.primal_solution_status == 2  # kSolutionStatusFeasible
        return highs.modelStatusToString(status), bound, has_values
    if solver == "cbc":
        # No gapRel: CBC then reports "Optimal" only at its default (near-zero) gap, and PuLP gives no bound
        # otherwise; "Stopped on time" maps to LpSolutionIntegerFeasible, never LpSolutionOptimal.
        lp.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
        proven = lp.sol_status == pulp.LpSolutionOptimal
        bound = pulp.value(lp.objective) if proven else None
        has_values = lp.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        return pulp.LpSolution[lp.sol_status], bound, has_values
    raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")


def solve(
    problem: Problem, *, time_limit: float | None = None, solver: str | None = None, gap: float = 0.001
) -> Solution:
    """Find the cheapest reservation units and savings-plan commitments for ``problem``.

    ``solver`` is "highs" (PuLP's highspy interface, the default when highspy imports) or "cbc".
    ``time_limit`` caps the solver in seconds; ``gap`` is the relative optimality tolerance.
    The returned ``objective`` is always the evaluator's exact cost of the returned purchases and never
    exceeds the no-commitment cost (if the solver's plan would, the empty plan is returned instead).
    """
    solver = solver or default_solver()
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    notes: list[str] = []
    nothing = evaluate_detail(problem, {}, {})
    trivial = not (problem.reservations or problem.savings_plans) or nothing.cost == 0.0

    reservations: dict[str, int] = {r.id: 0 for r in problem.reservations}
    plans: dict[str, float] = {s.id: 0.0 for s in problem.savings_plans}
    build_seconds = solve_seconds = 0.0
    if trivial:
        solver_status, bound, has_values = "trivial", nothing.cost, False
        notes.append("nothing to buy or no cost: the empty plan is optimal")
    else:
        start = time.perf_counter()
        model = build_plain(problem)
        build_seconds = time.perf_counter() - start
        start = time.perf_counter()
        solver_status, bound, has_values = _run(model, solver, time_limit, gap)
        solve_seconds = time.perf_counter() - start
        if has_values:
            for rid, var in model.x.items():
                reservations[rid] = max(0, round(var.varValue or 0.0))
            for sid, var in model.c.items():
                value = var.varValue or 0.0
                plans[sid] = value if value > 1e-9 else 0.0
            if problem.upfront_budget is not None:
                spent = sum(r.upfront * reservations[r.id] for r in problem.reservations)
                if spent > problem.upfront_budget + 1e-6:
                    notes.append("solver plan broke the upfront budget after rounding; using the empty plan")
                    has_values = False
        else:
            notes.append("solver returned no plan; using the empty plan")

    chosen = evaluate_detail(problem, reservations, plans) if has_values else nothing
    if chosen.cost > nothing.cost:
        notes.append("solver plan cost more than buying nothing; using the empty plan")
        chosen, has_values = nothing, False
    if not has_values:
        reservations = {r.id: 0 for r in problem.reservations}
        plans = {s.id: 0.0 for s in problem.savings_plans}

    objective = chosen.cost
    gap_value: float | None = None
    if bound is not None:
        bound = min(bound, objective)  # a valid lower bound never exceeds a feasible cost; clips float noise
        gap_value = (objective - bound) / abs(objective) if objective else 0.0
    if gap_value is not None and gap_value <= gap + 1e-9:
        status = "optimal"
    elif "Infeasible" in solver_status or "infeasible" in solver_status:
        status = "infeasible"  # cannot happen for a valid problem: buying nothing is always feasible
    elif bound is None or gap_value is None or gap_value > gap:
        status = "time_limit" if time_limit is not None else "not_proven"
    else:
        status = "optimal"
    all_od = problem.all_on_demand_cost()
    return Solution(
        status=status,
        objective=objective,
        bound=bound,
        gap=gap_value,
        reservations=reservations,
        savings_plans=plans,
        breakdown=chosen.breakdown,
        all_on_demand=all_od,
        no_commitment=nothing.cost,
        savings_pct=100.0 * (all_od - objective) / all_od if all_od else 0.0,
        utilization=chosen.utilization,
        build_seconds=build_seconds,
        solve_seconds=solve_seconds,
        solver=solver,
        solver_status=solver_status,
        notes=notes,
    )
