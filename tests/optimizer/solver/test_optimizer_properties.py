"""Hypothesis properties of the optimum: cheaper offers never hurt, more demand never helps."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimizer_cases import random_problem

from optimizer.solver import solve

GAP = 1e-7
SLACK = 1e-6  # both solves are proven within GAP of their optimum


def _optimum(problem) -> float:
    result = solve(problem, solver="highs", gap=GAP)
    assert result.status == "optimal"
    return result.objective


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), factor=st.floats(0.3, 1.0), which=st.integers(0, 3))
def test_cheaper_offer_never_worse(seed, factor, which):
    problem = random_problem(seed, hours=5, budget=seed % 2 == 0)
    if which < len(problem.reservations):
        res = problem.reservations[which]
        changed = dataclasses.replace(res, hourly_cost=res.hourly_cost * factor)
        reservations = tuple(changed if r is res else r for r in problem.reservations)
        cheaper = dataclasses.replace(problem, reservations=reservations)
    elif problem.savings_plans:
        plan = problem.savings_plans[0]
        rates = {k: v * factor for k, v in plan.rates.items()}
        cheaper = dataclasses.replace(problem, savings_plans=(dataclasses.replace(plan, rates=rates),))
    else:
        skus = tuple(dataclasses.replace(s, on_demand=s.on_demand * factor) for s in problem.skus)
        cheaper = dataclasses.replace(problem, skus=skus)
    before, after = _optimum(problem), _optimum(cheaper)
    assert after <= before * (1 + SLACK) + 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), hour=st.integers(0, 4), extra=st.floats(0.1, 3.0))
def test_more_demand_never_cheaper(seed, hour, extra):
    problem = random_problem(seed, hours=5, budget=seed % 2 == 1)
    sku = problem.skus[seed % len(problem.skus)].id
    series = list(problem.demand[sku])
    series[hour] += extra
    grown = dataclasses.replace(problem, demand={**problem.demand, sku: tuple(series)})
    before, after = _optimum(problem), _optimum(grown)
    assert after >= before * (1 - SLACK) - 1e-9
