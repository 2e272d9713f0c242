"""Writes for the commitment optimizer: start a run (validated options, under the access policy), execute it once.

The web form and the API start runs with :func:`optimization_run_start`; ``recommend_commitments`` creates one
(:func:`optimization_run_create`) and runs it inline or queues it; the task runs :func:`optimization_run_execute`.
The computation is pure (optimizer.demand / offers / plan / backtest / result / solver); this module reads the
organization's usage and the price catalog, and stores the outcome (a :class:`CommitmentPlan`) in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Organization, Team
from finops.carbon.calc import Coefficients
from finops.carbon.services import coefficient_set_current
from finops.carbon.tradeoff import carbon_tradeoff
from finops.commitments.selectors import commitment_expiries
from finops.core.money import money_str
from finops.core.tasks import enqueue_on_commit, queue_check
from optimizer.backtest import backtest as run_backtest
from optimizer.backtest import backtest_lookbacks, solve_plan
from optimizer.carbon import NOTE as CARBON_NOTE
from optimizer.carbon import candidate_regions, price_pairs, tradeoff_workloads
from optimizer.demand import Demand, DemandError, build_demand, plan_expiries, split_sku
from optimizer.models import OptimizationRun, Recommendation
from optimizer.offers import OfferError, OfferSet, SkuCatalog, build_offers, build_problem, prune_dominated
from optimizer.plan import HOURS_PER_MONTH, bought, plan_report
from optimizer.result import (
    CommitmentPlan,
    Purchase,
    SpotPrice,
    amount,
    amount_or_none,
    amounts,
    rate,
    rates,
)
from optimizer.rightsizing.selectors import rightsizing_changes
from optimizer.selectors import (
    Scope,
    commitment_catalog,
    compute_line_items,
    compute_usage_span,
    on_demand_prices,
    other_provider_compute,
)
from optimizer.solver import Problem, Solution
from optimizer.solver.allocation import coverage_series, hourly_allocation
from pricing.selectors import spot_max_age

EXECUTE_TASK = "optimizer.run_execute"
LOOKBACK_DAYS = (7, 30, 60, 90)
TERMS = {"1y": 1, "3y": 3}
PAYMENTS = {"no": "no_upfront", "partial": "partial_upfront", "all": "all_upfront"}


class ParametersError(ValueError):
    """Invalid run options; ``errors`` maps each bad field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class OptimizationError(RuntimeError):
    """The run cannot produce a recommendation from this data (no usage, no prices...): permanent."""


@dataclass(frozen=True)
class RunParameters:
    lookback_days: int = 30
    term: str = "1y"
    payment: str = "no_upfront"
    max_spot_share: float = 0.2
    upfront_budget: str | None = None  # USD, decimal string
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    backtest: bool = False
    rightsize: bool = False
    allow_stale_spot: bool = False  # plan spot even from samples older than FINOPS_SPOT_MAX_AGE_DAYS
    time_limit: float = 120.0  # seconds per solve
    carbon: bool = False  # also trace the cost-vs-carbon front of the run's demand (implied by price/cap)
    carbon_price: str | None = None  # USD per kgCO2e (decimal string): the placement minimising cost + price x kg
    carbon_cap: float | None = None  # kgCO2e over the window: choose the cheapest placement within it
    carbon_regions: list[str] = field(default_factory=list)  # candidate regions (default: all with a grid factor)
    carbon_points: int = 9  # caps tried along the front (>= 5)


def _string_list(value: Any, name: str, errors: dict[str, str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        errors[name] = "must be a list of non-empty strings"
        return []
    return sorted(set(value))


def validate_parameters(organization: Organization, raw: Mapping[str, Any]) -> RunParameters:
    """Options -> :class:`RunParameters`; every bad field is reported at once in :class:`ParametersError`."""
    errors: dict[str, str] = {}
    known = set(RunParameters.__dataclass_fields__)
    for name in sorted(set(raw) - known):
        errors[name] = "unknown option"
    values = {k: v for k, v in raw.items() if v is not None}
    out: dict[str, Any] = {}

    lookback = values.get("lookback_days", 30)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback not in LOOKBACK_DAYS:
        errors["lookback_days"] = f"must be one of {', '.join(map(str, LOOKBACK_DAYS))}, got {lookback!r}"
    out["lookback_days"] = lookback

    term = values.get("term", "1y")
    if term not in TERMS:
        errors["term"] = f"must be 1y or 3y, got {term!r}"
    out["term"] = term

    payment = values.get("payment", "no_upfront")
    payment = PAYMENTS.get(payment, payment)
    if payment not in PAYMENTS.values():
        errors["payment"] = f"must be no, partial or all (upfront), got {values.get('payment')!r}"
    out["payment"] = payment

    share = values.get("max_spot_share", 0.2)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
        errors["max_spot_share"] = f"must be a number within 0..1, got {share!r}"
    out["max_spot_share"] = float(share) if not errors.get("max_spot_share") else 0.0

    budget = values.get("upfront_budget")
    if budget is not None:
        try:
            amount = Decimal(str(budget))
            if not amount.is_finite() or amount < 0:
                raise InvalidOperation
            out["upfront_budget"] = str(amount)
        except (InvalidOperation, ValueError):
            errors["upfront_budget"] = f"must be a non-negative amount in USD, got {budget!r}"

    for name in ("accounts", "regions", "teams"):
        out[name] = _string_list(values.get(name), name, errors)
    if out["teams"]:
        found = set(
            Team.objects.filter(organization=organization, slug__in=out["teams"]).values_list("slug", flat=True)
        )
        unknown = [t for t in out["teams"] if t not in found]
        if unknown:
            errors["teams"] = f"unknown team(s) in {organization.slug}: {', '.join(unknown)}"

    for name in ("backtest", "rightsize", "carbon", "allow_stale_spot"):
        flag = values.get(name, False)
        if not isinstance(flag, bool):
            errors[name] = f"must be true or false, got {flag!r}"
        out[name] = bool(flag)

    _validate_carbon(values, out, errors)
    if out["carbon_regions"]:
        grid = Coefficients.from_dict(coefficient_set_current().data).grid.get("aws", {})
        unknown = [r for r in out["carbon_regions"] if r not in grid]
        if unknown:
            errors["carbon_regions"] = f"no grid emission factor for {', '.join(unknown)}"
    if "carbon_price" in out or "carbon_cap" in out:
        out["carbon"] = True  # a price or cap is meaningless without the trade-off

    limit = values.get("time_limit", 120.0)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= 3600:
        errors["time_limit"] = f"must be seconds within (0, 3600], got {limit!r}"
    out["time_limit"] = float(limit) if "time_limit" not in errors else 120.0

    if errors:
        raise ParametersError(errors)
    return RunParameters(**out)


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def _validate_carbon(values: Mapping[str, Any], out: dict[str, Any], errors: dict[str, str]) -> None:
    price, cap = values.get("carbon_price"), values.get("carbon_cap")
    if price is not None:
        try:
            amount = Decimal(str(price))
            if isinstance(price, bool) or not amount.is_finite() or amount < 0:
                raise InvalidOperation
            out["carbon_price"] = str(amount)
        except (InvalidOperation, ValueError):
            errors["carbon_price"] = f"must be a non-negative amount of USD per kgCO2e, got {price!r}"
    if cap is not None:
        if not _number(cap) or not 0 < cap < float("inf"):
            errors["carbon_cap"] = f"must be a positive number of kgCO2e, got {cap!r}"
        else:
            out["carbon_cap"] = float(cap)
    if price is not None and cap is not None:
        errors["carbon_cap"] = "give carbon_price or carbon_cap, not both"
    out["carbon_regions"] = _string_list(values.get("carbon_regions"), "carbon_regions", errors)
    points = values.get("carbon_points", 9)
    if isinstance(points, bool) or not isinstance(points, int) or not 5 <= points <= 50:
        errors["carbon_points"] = f"must be a whole number within 5..50, got {points!r}"
    out["carbon_points"] = points if "carbon_points" not in errors else 9


def optimization_run_start(*, policy: AccessPolicy, parameters: Mapping[str, Any]) -> OptimizationRun:
    """A caller starts a run (the web form, the API): the policy must manage billing, since a run prices the
    whole organization's usage. Raises ``PermissionDenied``, or :class:`ParametersError` for bad options."""
    if not policy.can_manage_billing:
        raise PermissionDenied("Optimizer runs are started by finance and admins.")
    return optimization_run_create(organization=policy.organization, parameters=parameters)


@transaction.atomic
def optimization_run_create(
    *, organization: Organization, parameters: Mapping[str, Any], enqueue: bool = True
) -> OptimizationRun:
    """Validate the options and record a pending run; queue its execution (the task ``EXECUTE_TASK``, which
    calls :func:`optimization_run_execute`) once the transaction commits. ``enqueue=False``: the caller runs
    it inline (the command's default). A task queue out of reach raises QueueUnavailable and leaves no run
    behind (checked first, and again when the run is queued): a pending run nobody will execute is never shown."""
    params = validate_parameters(organization, parameters)
    if enqueue:
        queue_check()
    run = OptimizationRun.objects.create(organization=organization, parameters=asdict(params))
    if enqueue:
        enqueue_on_commit(
            EXECUTE_TASK, run.pk, on_unavailable=lambda: OptimizationRun.objects.filter(pk=run.pk).delete()
        )
    return run


def optimization_run_execute(run: OptimizationRun) -> OptimizationRun:
    """Compute and store the recommendation. A finished run is returned as is (reruns are safe). Bad data
    marks the run FAILED with the reason and raises :class:`OptimizationError`; nothing partial is stored."""
    run.refresh_from_db()
    if run.finished:
        return run
    run.status = OptimizationRun.Status.RUNNING
    run.started_at = timezone.now()
    run.error = ""
    run.save(update_fields=["status", "started_at", "error"])
    try:
        outcome = _compute(run)  # the solvers silence the HiGHS banner themselves (a command's --json stays clean)
        with transaction.atomic():
            _store(run, outcome)
    except (OptimizationError, DemandError, OfferError) as error:
        _mark_failed(run, str(error))
        raise OptimizationError(str(error)) from error
    except Exception as error:
        _mark_failed(run, f"internal error: {type(error).__name__}: {error}")
        raise
    return run


def _mark_failed(run: OptimizationRun, message: str) -> None:
    with transaction.atomic():
        Recommendation.objects.filter(run=run).delete()
        OptimizationRun.objects.filter(pk=run.pk).update(
            status=OptimizationRun.Status.FAILED, error=message, finished_at=timezone.now()
        )
    run.refresh_from_db()


# --------------------------------------------------------------------------------------------
# Computation


@dataclass(frozen=True)
class _Outcome:
    solution: Solution
    plan: CommitmentPlan
    backtest: Mapping[str, Any] | None  # the backtest table, money as Decimal


def _resize_map(run: OptimizationRun, params: RunParameters) -> dict[str, str | None] | None:
    if not params.rightsize:
        return None
    return dict(rightsizing_changes(run.organization))


def _demand(run, scope, start, end, resize, expiries=None) -> Demand:
    lines = compute_line_items(run.organization, start=start, end=end, scope=scope)
    return build_demand(lines, start=start, end=end, resize=resize, expiries=expiries)


def _expiring(
    ends: Mapping[str, datetime], shifted: Mapping[str, pd.Timestamp], demand: Demand, start: pd.Timestamp
) -> list[dict[str, Any]]:
    """The commitments ending before the plan window ends: their end, the demand-window hour from which their
    coverage is no longer sunk, and the instance-hours of usage they leave to serve after it."""
    return [
        {
            "id": commitment,
            "end": pd.Timestamp(ends[commitment]).tz_convert("UTC").to_pydatetime(),
            "sunk_until": shifted[commitment].to_pydatetime(),
            "sunk_hours": int((shifted[commitment] - start) / pd.Timedelta(hours=1)),
            "released_instance_hours": demand.released_by_commitment.get(commitment, 0.0),
        }
        for commitment in sorted(shifted, key=lambda c: (shifted[c], c))
    ]


@dataclass(frozen=True)
class RunProblem:
    """The problem a run optimises and what it is built from: the window's demand, the catalog at ``at``, the
    offers of the run's term and payment, the priced SKUs and the upfront budget."""

    problem: Problem
    offers: OfferSet
    demand: Demand
    catalog: Mapping[str, SkuCatalog]
    priced: list[str]
    budget: float | None
    notes: list[str]
    at: datetime


def _run_problem(
    run: OptimizationRun,
    params: RunParameters,
    scope: Scope,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    at: datetime,
    resize: dict[str, str | None] | None,
    shifted: Mapping[str, pd.Timestamp],
) -> RunProblem:
    demand = _demand(run, scope, start, end, resize, shifted)
    if demand.total.empty or float(demand.total.to_numpy().sum()) <= 0:
        raise OptimizationError(
            f"no compute usage in the window {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} UTC "
            f"(scope {_scope_text(params)})"
        )
    catalog, unpriced = commitment_catalog(demand.skus, at=at, allow_stale_spot=params.allow_stale_spot)
    if not catalog:
        raise OptimizationError(f"no prices in the catalog for the SKUs {', '.join(unpriced)}; import a catalog first")
    notes = []
    if unpriced:
        notes.append(f"no on-demand price for {', '.join(unpriced)}: left out of the optimisation")
    lease_years = TERMS[params.term]
    offers = build_offers(
        catalog, lease_years=lease_years, purchase_option=params.payment, spot_max_share=params.max_spot_share
    )
    notes.extend(offers.notes)
    if not offers.reservations and not offers.savings_plans:
        raise OptimizationError(
            f"no reserved or savings-plan prices for {params.term} {params.payment} for the SKUs "
            f"{', '.join(sorted(catalog))}"
        )
    priced = [s for s in demand.skus if s in catalog]
    budget = float(params.upfront_budget) if params.upfront_budget is not None else None
    problem = build_problem(demand.net[priced], offers, upfront_budget=budget)
    return RunProblem(problem, offers, demand, catalog, priced, budget, notes, at)


def optimization_run_problem(run: OptimizationRun) -> RunProblem:
    """The problem a succeeded run optimised, built again the way the run built it: its window, its options, the
    catalog as of its ``prices_at``. It equals the run's own unless usage, existing commitments or the latest
    rightsizing changed since (a what-if compares its figures with the run's to say so)."""
    if run.status != OptimizationRun.Status.SUCCEEDED:
        raise OptimizationError(f"run {run.pk} is {run.status}: only a succeeded run has a problem to reuse")
    if not {"window", "prices_at"} <= set(run.results or {}):
        raise OptimizationError(f"run {run.pk} stored no window or prices_at: run a new recommendation")
    params = RunParameters(**run.parameters)
    scope = Scope(accounts=params.accounts, regions=params.regions, teams=params.teams)
    window = run.results["window"]
    start, end = pd.Timestamp(window["start"]).tz_convert("UTC"), pd.Timestamp(window["end"]).tz_convert("UTC")
    shifted = plan_expiries(commitment_expiries(organization=run.organization), window_start=start, window_end=end)
    at = datetime.fromisoformat(run.results["prices_at"])
    return _run_problem(
        run, params, scope, start=start, end=end, at=at, resize=_resize_map(run, params), shifted=shifted
    )


def _elsewhere_text(elsewhere: Mapping[str, int]) -> str:
    """Names the compute usage of providers the catalog has no offers for (empty when there is none)."""
    if not elsewhere:
        return ""
    counts = ", ".join(f"{provider} ({rows} compute rows)" for provider, rows in elsewhere.items())
    return f": {counts} stays on its current pricing; the catalog has AWS offers only"


def _compute(run: OptimizationRun) -> _Outcome:
    params = RunParameters(**run.parameters)
    scope = Scope(accounts=params.accounts, regions=params.regions, teams=params.teams)
    first, last = compute_usage_span(run.organization, scope)
    elsewhere = other_provider_compute(run.organization, scope)
    if last is None:
        raise OptimizationError(
            f"no compute usage for {run.organization.slug} in scope {_scope_text(params)}{_elsewhere_text(elsewhere)}"
        )
    end = pd.Timestamp(last).tz_convert("UTC").floor("h")
    lookback = timedelta(days=params.lookback_days)
    start = end - lookback
    resize = _resize_map(run, params)
    # A renewal plan: the window's usage stands for the plan window that follows it; coverage of a commitment
    # ending before that window ends is sunk only until its end.
    ends = commitment_expiries(organization=run.organization)
    shifted = plan_expiries(ends, window_start=start, window_end=end)
    built = _run_problem(run, params, scope, start=start, end=end, at=timezone.now(), resize=resize, shifted=shifted)
    demand, catalog, offers, priced, budget = built.demand, built.catalog, built.offers, built.priced, built.budget
    problem, notes, at = built.problem, built.notes, built.at
    if elsewhere:
        notes = [f"left out{_elsewhere_text(elsewhere)}", *notes]
    net = demand.net[priced]
    solution = solve_plan(problem, time_limit=params.time_limit)
    purchases = bought(solution.reservations, solution.savings_plans)
    report = plan_report(problem, offers, purchases)

    backtest = None
    if params.backtest:
        backtest = _backtest(run, params, scope, offers, first, start, end, resize, budget)

    _, dominated = prune_dominated(problem)  # for the explanation: the solve pruned its own copy
    explanation = _explanation(params, demand, priced, problem, solution, report, dominated, start, end)
    price_age = _price_age(params, {s: catalog[s] for s in priced}, at)
    explanation.insert(1, _price_age_line(price_age))
    carbon = None
    if params.carbon:
        carbon, lines = _carbon(params, net, offers.catalog, budget, at, plan_cost=report.cost)
        explanation.extend(lines)
    plan = _commitment_plan(
        demand, priced, problem, solution, report, offers, dominated, start, end, at, notes, explanation, carbon
    )
    expiring = _expiring(ends, shifted, demand, start)
    if expiring:
        released = sum(e["released_instance_hours"] for e in expiring)
        explanation = [
            *plan.explanation,
            f"Renewal: {len(expiring)} existing commitment(s) end before the plan window "
            f"{end:%Y-%m-%d %H:%M}..{end + lookback:%Y-%m-%d %H:%M} UTC ends (expiring_commitments); the usage they "
            f"covered after their end, {released:,.1f} instance-hours (post_expiry_instance_hours), is not sunk but "
            "demand this plan serves. Commitments without an end date in the data stay sunk.",
        ]
        plan = replace(plan, explanation=tuple(explanation))
    plan = replace(
        plan,
        price_age=price_age,
        plan_window={"start": end.to_pydatetime(), "end": (end + lookback).to_pydatetime()},
        expiring_commitments=tuple(expiring),
    )
    return _Outcome(solution, plan, backtest)


def _backtest(run, params, scope, offers, first, start, end, resize, budget) -> dict[str, Any]:
    """Train on the lookback window before the latest one, test on the latest one (its actual usage)."""
    lookback = timedelta(days=params.lookback_days)
    train_start, train_end = start - lookback, start
    if first is None or pd.Timestamp(first) > train_start:
        return {
            "error": f"not enough history: the backtest trains on {train_start:%Y-%m-%d}..{train_end:%Y-%m-%d} "
            f"but compute usage starts {pd.Timestamp(first):%Y-%m-%d}"
        }
    train = _demand(run, scope, train_start, train_end, resize)
    test = _demand(run, scope, start, end, resize)
    skus = sorted(set(train.skus) | set(test.skus))
    catalog = dict(offers.catalog)
    missing = [s for s in skus if s not in catalog]
    if missing:
        extra, _unpriced = commitment_catalog(missing, at=timezone.now(), allow_stale_spot=params.allow_stale_spot)
        catalog.update(extra)
    priced = [s for s in skus if s in catalog]
    bt_offers = build_offers(
        catalog,
        lease_years=TERMS[params.term],
        purchase_option=params.payment,
        spot_max_share=params.max_spot_share,
    )
    train_net = train.net.reindex(columns=priced, fill_value=0.0)
    test_net = test.net.reindex(columns=priced, fill_value=0.0)
    table = run_backtest(
        build_problem(train_net, bt_offers, upfront_budget=budget),
        build_problem(test_net, bt_offers, upfront_budget=budget),
        bt_offers,
        time_limit=params.time_limit,
    )
    return {
        **_backtest_money(table),
        "train_window": {"start": train_start.isoformat(), "end": train_end.isoformat()},
        "test_window": {"start": start.isoformat(), "end": end.isoformat()},
        "explanation": _backtest_explanation(table),
    }


def _backtest_money(table: Mapping[str, Any]) -> dict[str, Any]:
    """A backtest table with its money as Decimal (totals to the cent, rates to 6 places)."""
    rows = [
        {
            **row,
            "purchases": rates(row["purchases"]),
            "commitment_per_hour": rate(row["commitment_per_hour"]),
            "upfront": amount(row["upfront"]),
            "train": _realised_money(row["train"]),
            "test": _realised_money(row["test"]),
            **{k: amount_or_none(row[k]) for k in ("hindsight_cost", "regret", "regret_max")},
            "savings_vs": amounts(row["savings_vs"]),
        }
        for row in table["rows"]
    ]
    return {**table, "rows": rows, "hindsight": _hindsight_money(table["hindsight"])}


def _hindsight_money(hindsight: Mapping[str, Any]) -> dict[str, Any]:
    money = ("cost", "bound", "all_on_demand", "savings")
    return {**hindsight, **{k: amount_or_none(hindsight[k]) for k in money}, "purchases": rates(hindsight["purchases"])}


def _realised_money(realised: Mapping[str, Any]) -> dict[str, Any]:
    totals = ("cost", "all_on_demand", "no_commitment", "savings", "savings_vs_no_commitment", "monthly_savings")
    return {**realised, **{k: amount(realised[k]) for k in totals}, "breakdown": amounts(realised["breakdown"])}


def _carbon(
    params: RunParameters,
    net: pd.DataFrame,
    catalog: Mapping[str, SkuCatalog],
    budget: float | None,
    at: datetime,
    *,
    plan_cost: float,
) -> tuple[dict[str, Any], list[str]]:
    """The cost-vs-carbon front of the demand the plan optimises (see :mod:`optimizer.carbon`): the results'
    ``carbon``, ``carbon_front`` and ``carbon_placement`` (money as Decimal), and the explanation's lines."""
    coefficient_set = coefficient_set_current()
    coefficients = Coefficients.from_dict(coefficient_set.data)
    candidates = candidate_regions(coefficients, params.carbon_regions)
    prices = on_demand_prices(price_pairs(list(net.columns), candidates), at=at)
    workloads, skipped = tradeoff_workloads(net, prices=prices, coefficients=coefficients, candidates=candidates)
    meta: dict[str, Any] = {
        "coefficients": coefficient_set.version,
        "regions": candidates,
        "skus": [w.name for w in workloads],
        "skipped_skus": skipped,
        "instance_hours": sum(w.hours for w in workloads),
        "pricing": "on-demand list prices per region at prices_at",
        "note": CARBON_NOTE,
    }
    if not workloads:
        meta["error"] = "no priced compute demand to place"
        return {"carbon": meta, "carbon_front": [], "carbon_placement": None}, [f"Carbon: {meta['error']}."]
    trade = carbon_tradeoff(
        workloads,
        points=params.carbon_points,
        carbon_price=float(params.carbon_price) if params.carbon_price is not None else None,
        carbon_cap=params.carbon_cap,
        time_limit=params.time_limit,
    )
    meta["current"] = trade["current"]
    placement = trade["placement"]
    if placement and placement.get("moves"):
        placement = {**placement, "plan": _placement_plan(params, net, placement["moves"], catalog, budget, at)}
    lines = _carbon_explanation(trade["front"], meta, placement, plan_cost)
    section = {
        "carbon": {**meta, "current": {**meta["current"], "cost": amount(meta["current"]["cost"])}},
        "carbon_front": [{**point, "cost": amount(point["cost"])} for point in trade["front"]],
        "carbon_placement": _placement_money(placement),
    }
    return section, lines


def _placement_money(placement: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if placement is None:
        return None
    price = placement["carbon_price"]
    out = {**placement, "carbon_price": rate(price) if price is not None else None}
    if "cost" in out:
        out["cost"] = amount(out["cost"])
    return out


def _placement_plan(
    params: RunParameters,
    net: pd.DataFrame,
    moves: dict[str, str],
    catalog: Mapping[str, SkuCatalog],
    budget: float | None,
    at: datetime,
) -> dict[str, Any]:
    """The commitment mix re-solved on the demand as the chosen placement moves it: the committed cost of
    the greener placement, to compare with the run's plan (commitments are bought where the usage runs)."""
    renamed = {sku: f"{split_sku(sku)[0]}@{moves[sku]}" if sku in moves else sku for sku in net.columns}
    moved = net.T.groupby(pd.Index([renamed[c] for c in net.columns])).sum().T
    catalog = dict(catalog)
    missing = [s for s in moved.columns if s not in catalog]
    if missing:
        extra, _unpriced = commitment_catalog(missing, at=at, allow_stale_spot=params.allow_stale_spot)
        catalog.update(extra)
    priced = [s for s in moved.columns if s in catalog]
    offers = build_offers(
        {s: catalog[s] for s in priced},
        lease_years=TERMS[params.term],
        purchase_option=params.payment,
        spot_max_share=params.max_spot_share,
    )
    problem = build_problem(moved[priced], offers, upfront_budget=budget)
    solution = solve_plan(problem, time_limit=params.time_limit)
    report = plan_report(problem, offers, bought(solution.reservations, solution.savings_plans))
    return {
        "skus": priced,
        "all_on_demand": amount(report.all_on_demand),
        "objective": amount(report.cost),
        "savings": amount(report.all_on_demand - report.cost),
        "status": solution.status,
        "gap": solution.gap,
        "breakdown": amounts(report.breakdown),
        "purchases": [{"offer_id": p["offer_id"], "quantity": rate(p["quantity"])} for p in report.purchases],
    }


def _carbon_explanation(
    front: list[dict[str, Any]], meta: Mapping[str, Any], placement: Mapping[str, Any] | None, plan_cost: float
) -> list[str]:
    base, green = front[0], front[-1]
    lines = [
        f"Carbon: {meta['note']}",
        f"The front has {len(front)} non-dominated placements of {meta['instance_hours']:,.1f} instance-hours "
        f"({len(meta['skus'])} SKUs, {len(meta['regions'])} candidate regions): the cost-optimal one costs "
        f"${base['cost']:,.2f} on demand for {base['kgco2e']:,.1f} kgCO2e (where it runs now: "
        f"${meta['current']['cost']:,.2f}, {meta['current']['kgco2e']:,.1f} kgCO2e); the greenest: "
        f"{green['summary']} ({green['kgco2e']:,.1f} kgCO2e).",
    ]
    if placement:
        rule = (
            f"carbon price ${round(placement['carbon_price'], 6)}/kgCO2e"
            if placement["carbon_price"] is not None
            else f"carbon cap {placement['carbon_cap']:,.1f} kgCO2e"
        )
        if "error" in placement:
            lines.append(f"Chosen placement ({rule}): {placement['error']}.")
        else:
            lines.append(
                f"Chosen placement ({rule}): {placement['summary']}, ${placement['cost']:,.2f} on demand for "
                f"{placement['kgco2e']:,.1f} kgCO2e, moving {len(placement['moves'])} SKU(s)."
            )
            if "plan" in placement:
                lines.append(
                    f"With commitments re-solved where the placement runs the usage, that placement costs "
                    f"${placement['plan']['objective']:,.2f} over the window (this run's plan: ${plan_cost:,.2f})."
                )
    return lines


def _price_age(params: RunParameters, catalog: Mapping[str, SkuCatalog], at: datetime) -> dict[str, Any]:
    """How old the run's prices are at ``prices_at``, and which SKUs' spot was stale (and whether it was used)."""
    catalog_ages = [c.catalog_age_days for c in catalog.values() if c.catalog_age_days is not None]
    spot_ages = [c.spot_age_days for c in catalog.values() if c.spot_age_days is not None]
    stale = sorted(s for s, c in catalog.items() if c.spot_stale)
    return {
        "prices_at": at,
        "catalog_days": max(catalog_ages, default=None),
        "spot_days_newest": min(spot_ages, default=None),
        "spot_days_oldest": max(spot_ages, default=None),
        "spot_max_age_days": spot_max_age().days,
        "allow_stale_spot": params.allow_stale_spot,
        "stale_spot_skus": stale,
        "stale_spot_used": bool(stale) and params.allow_stale_spot,
    }


def _price_age_line(age: Mapping[str, Any]) -> str:
    catalog = (
        f"catalog prices (on-demand and commitments) up to {age['catalog_days']:,.1f} days old"
        if age["catalog_days"] is not None
        else "no catalog price dates"
    )
    if age["spot_days_oldest"] is None:
        spot = "no spot samples for these SKUs"
    elif age["spot_days_newest"] == age["spot_days_oldest"]:
        spot = f"spot samples {age['spot_days_oldest']:,.1f} days old"
    else:
        spot = f"spot samples {age['spot_days_newest']:,.1f} to {age['spot_days_oldest']:,.1f} days old"
    line = f"Prices as of {age['prices_at']:%Y-%m-%d %H:%M} UTC: {catalog}; {spot}."
    stale = age["stale_spot_skus"]
    if stale:
        limit = age["spot_max_age_days"]
        if age["stale_spot_used"]:
            line += (
                f" Spot prices of {len(stale)} SKU(s) are older than {limit} days and were used because the run "
                "opted in (allow_stale_spot): the spot part of the plan may not hold."
            )
        else:
            line += (
                f" Spot prices of {len(stale)} SKU(s) are older than {limit} days and were not used to plan spot "
                "(their usage is planned without spot; opt in with allow_stale_spot / --allow-stale-spot)."
            )
    return line


def _scope_text(params: RunParameters) -> str:
    parts = [f"{k}={','.join(getattr(params, k))}" for k in ("accounts", "regions", "teams") if getattr(params, k)]
    return " ".join(parts) or "all"


def _explanation(params, demand, priced, problem, solution, report, dominated, start, end) -> list[str]:
    hours = problem.hours
    per_month = HOURS_PER_MONTH / hours
    all_od = report.all_on_demand
    savings = all_od - report.cost
    sunk_total = float(demand.sunk[priced].to_numpy().sum())
    total = float(demand.total[priced].to_numpy().sum())
    gap_text = f"{100 * solution.gap:.3f}%" if solution.gap is not None else "unknown"
    bound_text = f"${solution.bound:,.2f}" if solution.bound is not None else "none"
    explanation = [
        f"Window {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} UTC ({hours} hours, {len(priced)} SKUs): "
        f"{total:,.1f} instance-hours of compute usage, of which {sunk_total:,.1f} were covered by existing "
        f"commitments (sunk: already paid) and are left out; {total - sunk_total:,.1f} remain to serve.",
        f"Serving them all on demand costs ${all_od:,.2f} (${all_od * per_month:,.2f}/month); buying nothing new, "
        f"with spot for up to {100 * params.max_spot_share:.0f}% of each SKU's hourly usage where the catalog has a "
        f"spot price, costs ${report.no_commitment:,.2f}.",
        f"The recommended plan costs ${report.cost:,.2f} over the window: reservations "
        f"${report.breakdown['reservations']:,.2f} + savings plans ${report.breakdown['savings_plans']:,.2f} + spot "
        f"${report.breakdown['spot']:,.2f} + on-demand ${report.breakdown['on_demand']:,.2f} (independent evaluator).",
        f"Savings against all on-demand: ${savings:,.2f} ({100 * savings / all_od if all_od else 0:.1f}%), "
        f"${savings * per_month:,.2f}/month; against buying nothing: ${report.no_commitment - report.cost:,.2f}.",
        f"Optimality: the solver ({solution.solver}) proved no plan can cost less than {bound_text}; the plan is "
        f"within {gap_text} of that bound (status {solution.status}).",
        "Monthly figures use 730 hours. Per-purchase savings are incremental (deepest discount first) and add up "
        "to the savings against buying nothing. Utilization is the share of the bought capacity the window's "
        "usage would have used.",
    ]
    if params.rightsize:
        stranded = sum(demand.stranded_by_commitment.values())
        explanation.append(
            "Rightsizing applied first: stopped resources' usage is removed and resized resources' usage moves to "
            "their new type. Existing commitments stay sunk until their end: a savings plan keeps covering a "
            "resized resource (a Compute plan any type, an EC2 Instance plan its family), a reservation its own "
            "family, and capacity freed by a stop or a move covers other usage of the same SKU. "
            + (
                f"{stranded:,.1f} instance-hours of existing commitments would be left unused by the rightsizing "
                f"({len(demand.stranded_by_commitment)} commitment(s), stranded_by_commitment); they are not "
                "counted as demand to buy for."
                if stranded > 0
                else "No existing commitment capacity is left unused by it."
            )
        )
    if dominated:
        explanation.append(
            f"{len(dominated)} of {len(problem.offer_ids())} offers were set aside "
            "as dominated: another offer serves the same usage at no higher cost and no more upfront cash (e.g. a "
            "convertible RI next to the standard one, an RI next to a savings plan at the same rate), so dropping "
            "them provably leaves the optimum unchanged (offers_dominated lists each with what dominates it)."
        )
    derived = [p["offer_id"] for p in report.purchases if p["derived"]]
    if derived:
        explanation.append(
            f"{len(derived)} of {len(report.purchases)} purchases are priced with derived rates (estimated from a "
            "published discount structure, not a published rate); each purchase's provenance says how."
        )
    return explanation


def _commitment_plan(
    demand, priced, problem, solution, report, offers, dominated, start, end, at, notes, explanation, carbon
) -> CommitmentPlan:
    per_month = HOURS_PER_MONTH / problem.hours
    all_od = report.all_on_demand
    savings = all_od - report.cost
    return CommitmentPlan(
        window_start=start,
        window_end=end,
        hours=problem.hours,
        prices_at=at,
        skus=tuple(priced),
        usage_instance_hours=float(demand.total[priced].to_numpy().sum()),
        sunk_instance_hours=float(demand.sunk[priced].to_numpy().sum()),
        sunk_by_commitment=demand.sunk_by_commitment,
        stranded_by_commitment=demand.stranded_by_commitment,
        all_on_demand=amount(all_od),
        no_commitment=amount(report.no_commitment),
        objective=amount(report.cost),
        bound=amount_or_none(solution.bound),
        gap=solution.gap,
        status=solution.status,
        savings=amount(savings),
        savings_pct=100 * savings / all_od if all_od else 0.0,
        monthly=amounts(
            {"all_on_demand": all_od * per_month, "cost": report.cost * per_month, "savings": savings * per_month}
        ),
        breakdown=amounts(report.breakdown),
        utilization=report.utilization,
        overall_utilization=report.overall_utilization,
        upfront_total=amount(sum(p["upfront_total"] for p in report.purchases)),
        purchases=tuple(Purchase.from_report(p, offers.offers[p["offer_id"]]) for p in report.purchases),
        offers_considered=len(problem.offer_ids()),
        offers_dominated=dominated,
        offers=tuple(o for o in offers.offers.values() if o.id in problem.offer_ids()),
        spot_prices={
            s: SpotPrice(
                rate(offers.catalog[s].spot),
                offers.catalog[s].spot_source,
                offers.catalog[s].spot_age_days,
                offers.catalog[s].spot_stale,
            )
            for s in priced
            if offers.catalog[s].spot is not None
        },
        solver_notes=tuple(solution.notes),
        notes=tuple(notes),
        explanation=tuple(explanation),
        hourly=_hourly(problem, solution, demand.net.index[0]),
        carbon=carbon,
    )


def _hourly(problem: Problem, solution: Solution, first_hour: pd.Timestamp) -> dict[str, Any]:
    """The coverage chart's layers: the evaluator's allocation of the plan, hour by hour from the window's first
    hour, in instances; windows over 90 days are summed per day (see ``coverage_series``)."""
    allocation = hourly_allocation(problem, solution.reservations, solution.savings_plans)
    note = "Demand is the usage left to serve: usage already covered by existing commitments (sunk) is left out."
    return {**coverage_series(allocation, first_hour), "note": note}


def _backtest_explanation(table: dict[str, Any]) -> list[str]:
    lines = [
        "Each strategy buys on the training window's usage (net of existing commitments) at today's catalog "
        "prices and is charged for the test window's actual usage by the independent evaluator."
    ]
    for row in table["rows"]:
        test = row["test"]
        util = "n/a" if test["utilization"] is None else f"{100 * test['utilization']:.1f}%"
        lines.append(
            f"{row['strategy']}: commits ${row['commitment_per_hour']:,.2f}/h; test cost ${test['cost']:,.2f} vs "
            f"${test['all_on_demand']:,.2f} all on-demand: saves ${test['savings']:,.2f} ({test['savings_pct']:.1f}%), "
            f"commitment utilization {util}."
        )
    best = table["hindsight"]
    gap = "unproven" if best["gap"] is None else f"proven gap {100 * best['gap']:.3f}%"
    lines.append(
        f"Regret: each strategy's test cost minus the perfect-hindsight optimum of the test window (the plan solved "
        f"on its actual usage, same offers): ${best['cost']:,.2f} ({gap}); "
        + "; ".join(f"{row['strategy']} ${row['regret']:,.2f} ({row['regret_pct']:.1f}%)" for row in table["rows"])
        + "."
    )
    return lines


def stored_json(value: Any) -> Any:
    """The one conversion of a run's results to its stored JSON: Decimal money as decimal strings, other floats to
    6 places (NaN as null), datetimes in ISO 8601, mapping keys as strings."""
    if isinstance(value, Mapping):
        return {str(k): stored_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stored_json(v) for v in value]
    if isinstance(value, Decimal):
        return money_str(value)
    if isinstance(value, float):
        return round(value, 6) if not math.isnan(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _store(run: OptimizationRun, outcome: _Outcome) -> None:
    solution = outcome.solution
    Recommendation.objects.filter(run=run).delete()
    rows = []
    for position, p in enumerate(outcome.plan.purchases):
        offer = p.offer
        rows.append(
            Recommendation(
                run=run,
                organization_id=run.organization_id,
                offer_id=offer.id,
                kind=offer.kind,
                sku=offer.unit_sku or "",
                family=offer.family or "",
                region=offer.region or "",
                term=f"{offer.lease_years}y",
                payment=offer.purchase_option,
                offering_class=offer.offering_class or "",
                plan_type=offer.plan_type or "",
                quantity=p.quantity,
                upfront=p.upfront_total,
                monthly_cost=p.monthly_cost,
                monthly_savings=p.monthly_savings,
                break_even_month=p.break_even_month,
                expected_utilization=p.expected_utilization,
                coverage=p.coverage,
                derived_price=offer.derived,
                provenance=offer.provenance,
                position=position,
            )
        )
    Recommendation.objects.bulk_create(rows)
    run.status = OptimizationRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.solver_status = solution.status
    run.objective = rate(solution.objective)
    run.bound = rate(solution.bound) if solution.bound is not None else None
    run.gap = solution.gap
    run.build_seconds = solution.build_seconds
    run.solve_seconds = solution.solve_seconds
    run.solver = solution.solver
    run.results = stored_json(outcome.plan.document())
    run.backtest = stored_json(outcome.backtest) if outcome.backtest is not None else None
    run.save()


def commitment_backtest_lookbacks(
    organization: Organization,
    parameters: Mapping[str, Any],
    *,
    lookbacks: tuple[int, ...] = (7, 30, 90),
    test_days: int = 30,
) -> dict[str, Any]:
    """The backtest for several lookbacks against one test window, the last ``test_days`` of compute usage; reads
    only. ``parameters`` are run options (term, payment, spot share, budget, scope, rightsize; ``lookback_days``
    is ignored); regret is against the test window's perfect-hindsight optimum (:func:`backtest_lookbacks`).
    Money as Decimal, like a run's backtest."""
    bad = [d for d in lookbacks if d not in LOOKBACK_DAYS]
    errors = {}
    if bad or not lookbacks:
        errors["lookbacks"] = f"each must be one of {', '.join(map(str, LOOKBACK_DAYS))}, got {list(lookbacks)}"
    if isinstance(test_days, bool) or not isinstance(test_days, int) or not 1 <= test_days <= max(LOOKBACK_DAYS):
        errors["test_days"] = f"must be a whole number of days 1..{max(LOOKBACK_DAYS)}, got {test_days!r}"
    if errors:
        raise ParametersError(errors)
    params = validate_parameters(organization, {**parameters, "lookback_days": 30})
    scope = Scope(accounts=params.accounts, regions=params.regions, teams=params.teams)
    first, last = compute_usage_span(organization, scope)
    if last is None:
        raise OptimizationError(f"no compute usage for {organization.slug} in scope {_scope_text(params)}")
    end = pd.Timestamp(last).tz_convert("UTC").floor("h")
    test_start = end - timedelta(days=test_days)
    start = max(test_start - timedelta(days=max(lookbacks)), pd.Timestamp(first).tz_convert("UTC").ceil("h"))
    if start >= test_start:
        raise OptimizationError(f"no compute usage before the test window {test_start:%Y-%m-%d %H:%M} UTC")
    resize = dict(rightsizing_changes(organization)) if params.rightsize else None
    lines = compute_line_items(organization, start=start, end=end, scope=scope)
    demand = build_demand(lines, start=start, end=end, resize=resize)
    catalog, unpriced = commitment_catalog(demand.skus, at=timezone.now(), allow_stale_spot=params.allow_stale_spot)
    if not catalog:
        raise OptimizationError(f"no prices in the catalog for the SKUs {', '.join(unpriced)}; import a catalog first")
    offers = build_offers(
        catalog, lease_years=TERMS[params.term], purchase_option=params.payment, spot_max_share=params.max_spot_share
    )
    priced = [s for s in demand.skus if s in catalog]
    result = backtest_lookbacks(
        demand.net[priced],
        offers,
        [24 * d for d in lookbacks],
        test_hours=24 * test_days,
        upfront_budget=float(params.upfront_budget) if params.upfront_budget is not None else None,
        time_limit=params.time_limit,
    )
    return {
        **result,
        "hindsight": _hindsight_money(result["hindsight"]),
        "lookbacks": [t if "error" in t else _backtest_money(t) for t in result["lookbacks"]],
        "organization": organization.slug,
        "parameters": asdict(params),
        "test_window": {"start": test_start.isoformat(), "end": end.isoformat()},
        "unpriced_skus": unpriced,
    }
