"""Backtest: buy on one window, pay for the *actual* following window; next to two console-style baselines.

Pure module: no Django. Strategies, all bought from the training window's net demand at the same prices:

- ``optimizer``: the proven-optimal mix (:func:`optimizer.solver.solve`).
- ``p10_reserved``: per SKU, the 10th percentile of hourly usage, covered with that SKU's cheapest
  reservation (lowest effective cost per instance-hour); units rounded down.
- ``console_savings_plan``: the one-product recommendation of a cloud console: a single Compute Savings
  Plan commitment ($/h) maximising savings over the lookback (found exactly: with one plan and no
  reservations the model is a linear program).

Each plan is then evaluated by the independent evaluator on the test window's demand, and compared with the
perfect-hindsight optimum of the test window: the plan solved on the test window itself (the purchases had you
known its demand), same offers and options, to a proven gap. ``regret`` = realised cost - hindsight cost; the
hindsight cost is within its gap of the true optimum, so the true regret lies in [``regret``, ``regret_max``].

:func:`backtest_lookbacks` runs the backtest for several training lengths (lookbacks) against one test window.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from optimizer.offers import OfferSet, build_problem, prune_dominated
from optimizer.plan import HOURS_PER_MONTH, bought, evaluate_plan
from optimizer.solver import Problem, Solution, evaluate_detail, solve
from optimizer.solver.problem import SavingsPlan

STRATEGIES = ("optimizer", "p10_reserved", "console_savings_plan")
BASELINES = ("p10_reserved", "console_savings_plan")


def solve_plan(problem: Problem, *, time_limit: float | None = None, gap: float = 0.001) -> Solution:
    """The optimal plan for ``problem``: dominated offers dropped first (exact, see
    :func:`optimizer.offers.prune_dominated`; with no reservation left the model is a plain LP), then solved to
    a proven relative gap (default 0.1%)."""
    reduced, dropped = prune_dominated(problem)
    solution = _solve_plan(reduced, time_limit=time_limit, gap=gap)
    if dropped:
        note = f"{len(dropped)} dominated offer(s) skipped (they cannot lower the cost): " + ", ".join(
            f"{k} by {v}" for k, v in sorted(dropped.items())
        )
        solution = replace(solution, notes=[note, *solution.notes])
    return solution


def _solve_plan(problem: Problem, *, time_limit: float | None, gap: float) -> Solution:
    """Solve with the solver's default formulation.

    Fallback when the solver does not prove optimality within the time limit: the LP relaxation. A
    reservation with continuous units is exactly a savings plan whose rate for SKU k is covers_k x
    hourly_cost, so the relaxation is the same problem with every reservation turned into such a plan, a
    pure LP. Its optimum is a lower bound on every plan's cost; its reservation commitments rounded down to
    whole units give a plan. The cheaper plan and the better bound are kept; "optimal" only when proven."""
    solution = _solve(problem, time_limit, gap)
    if solution.status == "optimal" or not problem.reservations:
        return solution
    relaxed = replace(
        problem,
        reservations=(),
        savings_plans=problem.savings_plans
        + tuple(
            SavingsPlan(f"relaxed:{r.id}", {k: a * r.hourly_cost for k, a in r.covers.items()})
            for r in problem.reservations
            if r.hourly_cost > 0
        ),
    )
    lp = _solve(relaxed, time_limit, gap)
    costs = {r.id: r.hourly_cost for r in problem.reservations}
    units = {
        rid: float(math.floor(lp.savings_plans.get(f"relaxed:{rid}", 0.0) / cost + 1e-9)) if cost > 0 else 0.0
        for rid, cost in costs.items()
    }
    budget = problem.upfront_budget
    if budget is not None:
        upfront = {r.id: r.upfront for r in problem.reservations}
        spent = sum(upfront[k] * v for k, v in units.items())
        if spent > budget:
            units = {k: float(math.floor(v * budget / spent)) for k, v in units.items()}
    plans = {s.id: lp.savings_plans.get(s.id, 0.0) for s in problem.savings_plans}
    rounded = evaluate_detail(problem, units, plans)
    lp_bound = lp.bound if lp.status == "optimal" else None  # an LP solved to optimality bounds the MIP
    notes = [*solution.notes, f"not proven optimal ({solution.status}): LP relaxation {lp.status}"]
    if rounded.cost < solution.objective:
        notes.append("kept the LP relaxation's plan rounded down to whole reservation units (cheaper)")
        return _combine(
            solution,
            cost=rounded.cost,
            reservations={k: int(v) for k, v in units.items()},
            plans=plans,
            detail=rounded,
            bounds=[lp_bound, solution.bound],
            gap=gap,
            notes=notes,
            status_if_unproven=solution.status,
        )
    return _combine(
        solution,
        cost=solution.objective,
        reservations=solution.reservations,
        plans=solution.savings_plans,
        detail=None,
        bounds=[lp_bound, solution.bound],
        gap=gap,
        notes=notes,
        status_if_unproven=solution.status,
    )


def _combine(
    base: Solution,
    *,
    cost: float,
    reservations: dict[str, int],
    plans: dict[str, float],
    detail,
    bounds: list[float | None],
    gap: float,
    notes: list[str],
    status_if_unproven: str | None = None,
) -> Solution:
    known = [b for b in bounds if b is not None]
    bound = min(max(known), cost) if known else None
    value = (cost - bound) / abs(cost) if bound is not None and cost else (0.0 if bound is not None else None)
    proven = value is not None and value <= gap + 1e-9
    return replace(
        base,
        status="optimal" if proven else (status_if_unproven or "not_proven"),
        objective=cost,
        bound=bound,
        gap=value,
        reservations=reservations,
        savings_plans=plans,
        breakdown=detail.breakdown if detail is not None else base.breakdown,
        utilization=detail.utilization if detail is not None else base.utilization,
        savings_pct=100.0 * (base.all_on_demand - cost) / base.all_on_demand if base.all_on_demand else 0.0,
        notes=notes,
    )


def _solve(problem: Problem, time_limit: float | None, gap: float) -> Solution:
    return solve(problem, time_limit=time_limit, gap=gap)


def p10_plan(problem: Problem, offers: OfferSet) -> dict[str, float]:
    """Reserve each SKU's p10 of hourly demand with its cheapest reservation (units rounded down)."""
    capacity: dict[str, float] = defaultdict(float)
    for sku, series in problem.demand.items():
        p10 = float(np.percentile(np.asarray(series, dtype=float), 10))
        candidates = [
            (r.hourly_cost * r.covers[sku], r.id, r.covers[sku]) for r in problem.reservations if sku in r.covers
        ]
        if p10 <= 0 or not candidates:
            continue
        _, offer_id, units_per_instance = min(candidates)
        capacity[offer_id] += p10 * units_per_instance
    units = {k: float(math.floor(v + 1e-9)) for k, v in capacity.items()}
    budget = problem.upfront_budget
    if budget is not None:
        upfront = {r.id: r.upfront for r in problem.reservations}
        spent = sum(upfront[k] * v for k, v in units.items())
        if spent > budget:  # scale down to fit the same budget the optimizer had
            scale = budget / spent
            units = {k: float(math.floor(v * scale)) for k, v in units.items()}
    return {k: v for k, v in units.items() if v > 0}


def console_plan(problem: Problem, *, time_limit: float | None = None) -> tuple[dict[str, float], str]:
    """The single Compute Savings Plan commitment that minimises cost over ``problem``'s window."""
    plans = [s for s in problem.savings_plans if s.id.startswith("sp:compute")]
    if not plans:
        return {}, "no Compute Savings Plan rate in the catalog for this term and payment option"
    solution = solve_plan(problem.restricted({plans[0].id}), time_limit=time_limit)
    return bought({}, solution.savings_plans), f"{plans[0].id} sized by LP ({solution.status})"


def realised(problem: Problem, offers: OfferSet, purchases: Mapping[str, float]) -> dict[str, Any]:
    """Cost, savings and utilisation of ``purchases`` on the window ``problem`` describes."""
    evaluation = evaluate_plan(problem, purchases, offers)
    nothing = evaluate_plan(problem, {}, offers)
    all_od = problem.all_on_demand_cost()
    commit = {k: offers.offers[k].hourly_cost * v for k, v in purchases.items()}
    utils = {
        k: evaluation.utilization["reservations" if offers.offers[k].kind == "reservation" else "savings_plans"].get(k)
        for k in purchases
    }
    total_commit = sum(commit.values())
    overall = sum((utils[k] or 0.0) * commit[k] for k in commit) / total_commit if total_commit > 0 else None
    hours = problem.hours
    return {
        "hours": hours,
        "cost": evaluation.cost,
        "all_on_demand": all_od,
        "no_commitment": nothing.cost,
        "savings": all_od - evaluation.cost,
        "savings_pct": 100.0 * (all_od - evaluation.cost) / all_od if all_od else 0.0,
        "savings_vs_no_commitment": nothing.cost - evaluation.cost,
        "monthly_savings": (all_od - evaluation.cost) * HOURS_PER_MONTH / hours,
        "breakdown": evaluation.breakdown,
        "utilization": overall,
        "utilization_by_offer": utils,
    }


def hindsight_result(test: Problem, offers: OfferSet, solution: Solution) -> dict[str, Any]:
    """The perfect-hindsight plan of the test window (``solution``, solved on ``test`` itself) in money: its
    cost by the same evaluator as the strategies, the proven lower bound and gap of that optimum."""
    purchases = bought(solution.reservations, solution.savings_plans)
    money = realised(test, offers, purchases)
    bound = None if solution.bound is None else min(solution.bound, money["cost"])
    return {
        "description": "optimal mix solved on the test window itself (perfect hindsight)",
        "status": solution.status,
        "purchases": purchases,
        "cost": money["cost"],
        "bound": bound,
        "gap": solution.gap,
        "all_on_demand": money["all_on_demand"],
        "savings": money["savings"],
        "savings_pct": money["savings_pct"],
        "utilization": money["utilization"],
    }


def regret(cost: float, hindsight: Mapping[str, Any]) -> dict[str, Any]:
    """Realised ``cost`` against the hindsight optimum: ``regret`` (>= 0 up to the hindsight gap), as % of the
    hindsight cost, and ``regret_max`` against the proven lower bound (the most the true regret can be)."""
    best = hindsight["cost"]
    value = cost - best
    return {
        "hindsight_cost": best,
        "hindsight_gap": hindsight["gap"],
        "regret": value,
        "regret_pct": 100.0 * value / best if best else 0.0,
        "regret_max": None if hindsight["bound"] is None else cost - hindsight["bound"],
    }


def backtest(
    train: Problem,
    test: Problem,
    offers: OfferSet,
    *,
    time_limit: float | None = None,
    optimizer_purchases: Mapping[str, float] | None = None,
    hindsight: Solution | None = None,
    gap: float = 0.001,
) -> dict[str, Any]:
    """Buy each strategy's plan on ``train``, evaluate it on ``test`` (same SKUs and offers), and state its regret
    against the hindsight optimum of ``test`` (``hindsight``: already solved on ``test``; solved here if None)."""
    if [s.id for s in train.skus] != [s.id for s in test.skus]:
        raise ValueError("train and test problems must list the same SKUs")
    if optimizer_purchases is None:
        solution = solve_plan(train, time_limit=time_limit, gap=gap)
        optimizer_purchases = bought(solution.reservations, solution.savings_plans)
        how = f"optimal mix ({solution.status}, gap {solution.gap})"
    else:
        how = "optimal mix (the recommendation)"
    console, console_how = console_plan(train, time_limit=time_limit)
    plans = {
        "optimizer": (dict(optimizer_purchases), how),
        "p10_reserved": (p10_plan(train, offers), "p10 of hourly usage per SKU, cheapest reservation"),
        "console_savings_plan": (console, console_how),
    }
    if hindsight is None:
        hindsight = solve_plan(test, time_limit=time_limit, gap=gap)
    best_in_hindsight = hindsight_result(test, offers, hindsight)
    rows = []
    for name in STRATEGIES:
        purchases, description = plans[name]
        upfront = sum(
            offers.offers[k].upfront * v for k, v in purchases.items() if offers.offers[k].kind == "reservation"
        )
        test_money = realised(test, offers, purchases)
        rows.append(
            {
                "strategy": name,
                "description": description,
                "purchases": purchases,
                "commitment_per_hour": sum(offers.offers[k].hourly_cost * v for k, v in purchases.items()),
                "upfront": upfront,
                "train": realised(train, offers, purchases),
                "test": test_money,
                **regret(test_money["cost"], best_in_hindsight),
            }
        )
    costs = {r["strategy"]: r["test"]["cost"] for r in rows}
    for row in rows:
        row["savings_vs"] = {b: costs[b] - row["test"]["cost"] for b in BASELINES if b != row["strategy"]}
    best = max(rows, key=lambda r: r["test"]["savings"])
    return {
        "train_hours": train.hours,
        "test_hours": test.hours,
        "rows": rows,
        "best": best["strategy"],
        "hindsight": best_in_hindsight,
    }


def backtest_lookbacks(
    net: pd.DataFrame,
    offers: OfferSet,
    lookback_hours: Sequence[int],
    *,
    test_hours: int,
    upfront_budget: float | None = None,
    time_limit: float | None = None,
    gap: float = 0.001,
) -> dict[str, Any]:
    """One test window, the last ``test_hours`` rows of the hourly demand ``net`` (index hours, columns SKUs);
    for each lookback, every strategy buys on the ``lookback`` hours just before it. The hindsight optimum is
    the test window's, solved once, so regrets compare across lookbacks. A lookback longer than the history
    before the test window gets an ``error`` entry instead of a table."""
    if test_hours <= 0 or test_hours >= len(net.index):
        raise ValueError(f"test window of {test_hours} hours needs a longer history than {len(net.index)} hours")
    if not lookback_hours or any(h <= 0 for h in lookback_hours):
        raise ValueError(f"lookbacks must be positive hour counts, got {list(lookback_hours)}")
    history = len(net.index) - test_hours
    test = build_problem(net.iloc[history:], offers, upfront_budget=upfront_budget)
    hindsight = solve_plan(test, time_limit=time_limit, gap=gap)
    tables = []
    for hours in lookback_hours:
        if hours > history:
            tables.append(
                {"lookback_hours": hours, "error": f"not enough history: {history} hours before the test window"}
            )
            continue
        train = build_problem(net.iloc[history - hours : history], offers, upfront_budget=upfront_budget)
        table = backtest(train, test, offers, time_limit=time_limit, hindsight=hindsight, gap=gap)
        tables.append({"lookback_hours": hours, **table})
    return {"test_hours": test_hours, "hindsight": hindsight_result(test, offers, hindsight), "lookbacks": tables}


def lookback_table(result: Mapping[str, Any], *, title: str = "") -> str:
    """:func:`backtest_lookbacks`'s result as a Markdown table: one row per (lookback, strategy)."""
    best = result["hindsight"]
    gap = "-" if best["gap"] is None else f"{100 * best['gap']:.3f}%"
    lines = [title] if title else []
    lines += [
        f"test window {result['test_hours'] / 24:g} days; hindsight optimum ${best['cost']:,.2f} "
        f"({best['status']}, proven gap {gap}), all on-demand ${best['all_on_demand']:,.2f}",
        "",
        "| lookback | strategy | test cost | savings vs all on-demand | regret | regret % | regret max "
        "| optimizer saves vs it |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for table in result["lookbacks"]:
        days = f"{table['lookback_hours'] / 24:g} d"
        if "error" in table:
            lines.append(f"| {days} | {table['error']} | | | | | | |")
            continue
        optimizer_cost = next(r["test"]["cost"] for r in table["rows"] if r["strategy"] == "optimizer")
        for row in table["rows"]:
            test = row["test"]
            upper = "-" if row["regret_max"] is None else f"{row['regret_max']:,.2f}"
            versus = "" if row["strategy"] == "optimizer" else f"{test['cost'] - optimizer_cost:,.2f}"
            lines.append(
                f"| {days} | {row['strategy']} | {test['cost']:,.2f} | {test['savings_pct']:.1f}% | "
                f"{row['regret']:,.2f} | {row['regret_pct']:.2f}% | {upper} | {versus} |"
            )
    return "\n".join(lines)
