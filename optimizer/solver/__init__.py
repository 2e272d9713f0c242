"""Pure commitment-mix optimizer (no Django): which reservations and savings-plan commitments to buy.

Use :func:`solve`; problems come from :func:`optimizer.solver.problem.parse_problem` / ``load_problem``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pulp

from finops.core.quiet import quiet_native_stdout
from optimizer.solver.decomposed import solve_decomposed
from optimizer.solver.evaluate import Evaluation, evaluate, evaluate_detail
from optimizer.solver.plain import build_plain
from optimizer.solver.problem import Problem, ProblemError, load_problem, parse_problem
from optimizer.solver.weighted import solve_weighted

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
FORMULATIONS = ("decomposed", "plain", "weighted")


@dataclass(frozen=True)
class Solution:
    """A purchase plan. ``objective`` is the evaluator's exact cost of these purchases; ``bound`` a proven
    lower bound on the optimum (None when the solver proved none); ``status`` is "optimal" only when
    ``gap`` = (objective - bound) / |objective| is within the requested tolerance; otherwise "time_limit" (a
    time limit was given and the bound does not prove the tolerance), "not_proven" (no time limit, yet no
    proof, e.g. a solver failure) or "infeasible" (never for a valid problem: buying nothing is feasible)."""

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
        with warnings.catch_warnings():  # PuLP 3 deprecates the bundled CBC; COIN_CMD needs a system cbc
            warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
            cbc = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)
        lp.solve(cbc)
        proven = lp.sol_status == pulp.LpSolutionOptimal
        bound = pulp.value(lp.objective) if proven else None
        has_values = lp.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        return pulp.LpSolution[lp.sol_status], bound, has_values
    raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")


def solve(
    problem: Problem,
    *,
    time_limit: float | None = None,
    solver: str | None = None,
    gap: float = 0.001,
    formulation: str = "decomposed",
) -> Solution:
    """Find the cheapest reservation units and savings-plan commitments for ``problem``.

    ``solver`` is "highs" (PuLP's highspy interface, the default when highspy imports) or "cbc".
    ``time_limit`` caps the solver in seconds; ``gap`` is the relative optimality tolerance.
    ``formulation`` "decomposed" (the default) runs Benders cutting planes on the purchases with every hour's
    cost computed in numpy (:mod:`optimizer.solver.decomposed`; any number of reservation pools, single-SKU or
    size-flexible, and at most two shared capacities, i.e. plans plus multi-SKU reservations that overlap another
    offer's SKUs: otherwise it falls back to "weighted", and with solver "cbc" to "plain", saying so in
    ``notes``); "plain" builds the PuLP model (one variable set per SKU-hour); "weighted" merges hours with
    identical demand vectors and passes numpy matrices straight to highspy (exactly equivalent, see
    :mod:`optimizer.solver.weighted`; HiGHS only).
    The returned ``objective`` is always the evaluator's exact cost of the returned purchases and never
    exceeds the no-commitment cost (if the solver's plan would, the empty plan is returned instead).
    """
    with quiet_native_stdout():  # the HiGHS banner would corrupt whatever the caller prints
        return _solve(problem, time_limit=time_limit, solver=solver, gap=gap, formulation=formulation)


def _solve(problem: Problem, *, time_limit: float | None, solver: str | None, gap: float, formulation: str) -> Solution:
    if not gap >= 0:
        raise ValueError(f"gap must be >= 0, got {gap!r}")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    solver = solver or default_solver()
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if formulation == "weighted" and solver != "highs":
        raise ValueError("the weighted formulation needs solver='highs'")
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
        decomposed = None
        if formulation == "decomposed" and solver == "highs":
            decomposed = solve_decomposed(problem, time_limit=time_limit, gap=gap)
            if decomposed is None:
                notes.append(
                    "decomposed: more than two shared capacities (plans, overlapping multi-SKU reservations); "
                    "used the weighted formulation"
                )
                formulation = "weighted"
        elif formulation == "decomposed":
            notes.append("decomposed needs highspy; used the plain model with CBC")
            formulation = "plain"
        if decomposed is not None:
            solver_status, bound = decomposed.solver_status, decomposed.bound
            build_seconds, solve_seconds = decomposed.build_seconds, decomposed.solve_seconds
            raw_x, raw_c = decomposed.reservations, decomposed.savings_plans
            notes.extend(decomposed.notes)
        elif formulation == "weighted":
            weighted = solve_weighted(problem, time_limit=time_limit, gap=gap)
            solver_status, bound = weighted.solver_status, weighted.bound
            build_seconds, solve_seconds = weighted.build_seconds, weighted.solve_seconds
            raw_x, raw_c = weighted.reservations, weighted.savings_plans
            notes.append(f"weighted formulation: {weighted.groups} distinct non-zero demand hours")
        else:
            start = time.perf_counter()
            model = build_plain(problem)
            build_seconds = time.perf_counter() - start
            start = time.perf_counter()
            solver_status, bound, usable = _run(model, solver, time_limit, gap)
            solve_seconds = time.perf_counter() - start
            raw_x = {rid: var.varValue or 0.0 for rid, var in model.x.items()} if usable else None
            raw_c = {sid: var.varValue or 0.0 for sid, var in model.c.items()} if usable else None
        has_values = raw_x is not None and raw_c is not None
        if has_values:
            reservations = {rid: max(0, round(value)) for rid, value in raw_x.items()}
            plans = {sid: (value if value > 1e-9 else 0.0) for sid, value in raw_c.items()}
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
        if bound > objective + 1e-6 * max(1.0, abs(objective)):
            notes.append(f"solver bound {bound!r} above the evaluated cost: solver and evaluator disagree")
        bound = min(bound, objective)  # a valid lower bound never exceeds a feasible cost; clips float noise
        gap_value = (objective - bound) / abs(objective) if objective else 0.0
    if gap_value is not None and gap_value <= gap + 1e-9:
        status = "optimal"
    elif "infeasible" in solver_status.lower():
        status = "infeasible"  # cannot happen for a valid problem: buying nothing is always feasible
    else:
        status = "time_limit" if time_limit is not None else "not_proven"
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
