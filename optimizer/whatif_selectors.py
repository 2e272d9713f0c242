"""What-if on a run: price a user's purchase list against the problem the run optimised, next to the run's
optimal plan and the two baselines. The command (``recommend_commitments --what-if``), the API
(``POST /api/v1/optimizer/runs/{id}/what-if/``) and the run page's form all call :func:`optimization_run_what_if`
(or :func:`run_what_if` for a run the caller already holds).

A what-if writes nothing: whoever may read the run may ask one (``optimizer.selectors.optimization_runs``).
The computation is :mod:`optimizer.whatif` with the run's problem rebuilt by
:func:`optimizer.services.optimization_run_problem`.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from finops.accounts.access import AccessPolicy
from optimizer.backtest import console_plan, p10_plan
from optimizer.demand import DemandError
from optimizer.models import OptimizationRun
from optimizer.offers import OfferError
from optimizer.result import Purchase, amount, amounts, rate, rates
from optimizer.selectors import optimization_run_get
from optimizer.services import OptimizationError, RunParameters, optimization_run_problem, stored_json
from optimizer.whatif import WhatIfError, parse_what_if, what_if_report

TOTALS = (
    "cost",
    "all_on_demand",
    "no_commitment",
    "savings",
    "savings_vs_no_commitment",
    "monthly_cost",
    "monthly_savings",
    "upfront",
)
PER_HOUR = ("commitment_per_hour", "recurring_per_hour")


class WhatIfUnavailable(RuntimeError):
    """The run cannot answer a what-if (not succeeded, or its problem cannot be built again): the request may be
    fine, the run is not."""


def optimization_run_what_if(*, policy: AccessPolicy, run_id: int, document: Any) -> dict[str, Any]:
    """A caller's what-if on a run they may read (404 for another organization's, ``PermissionDenied`` for a
    caller limited to teams). Raises :class:`WhatIfError` (bad document) or :class:`WhatIfUnavailable`."""
    return run_what_if(optimization_run_get(policy, run_id), document)


def run_what_if(run: OptimizationRun, document: Any) -> dict[str, Any]:
    """The what-if JSON (money as decimal strings): ``what_if`` (figures and per-purchase rows), ``rows`` (the
    what-if, ``optimizer``, ``p10_reserved``, ``console_savings_plan``: cost, coverage, utilization, savings,
    break-even), ``differences`` (what-if minus each), ``consistent_with_run`` and ``notes``."""
    started = time.perf_counter()
    if run.status != OptimizationRun.Status.SUCCEEDED:
        raise WhatIfUnavailable(f"run {run.pk} is {run.status}: a what-if needs a succeeded run")
    params = RunParameters(**run.parameters)
    listed = {o["id"]: o["kind"] for o in run.results.get("offers", [])}
    where = f"{params.term} {params.payment} offers for the run's {len(run.results.get('skus', []))} SKUs"
    what_if = parse_what_if(document, listed, where=where)  # refuse a bad file before the heavy part

    try:
        built = optimization_run_problem(run)
    except (OptimizationError, DemandError, OfferError) as error:
        raise WhatIfUnavailable(f"run {run.pk}'s problem cannot be built again: {error}") from error
    problem, offers = built.problem, built.offers
    present = problem.offer_ids()
    gone = {
        f"{name}[{i}].offer": f"offer {item['offer']!r} no longer applies to the run's usage (it changed since the run)"
        for name in ("reservations", "savings_plans")
        for i, item in enumerate(document.get(name) or [])
        if item["offer"] not in present
    }
    if gone:
        raise WhatIfError(gone)
    notes: list[str] = []
    optimal = {p["offer_id"]: float(p["quantity"]) for p in run.results.get("purchases", [])}
    missing = sorted(set(optimal) - present)
    if missing:
        notes.append(f"the run's purchases {', '.join(missing)} no longer apply to its usage: left out")
        optimal = {k: v for k, v in optimal.items() if k in present}
    console, console_how = console_plan(problem, time_limit=params.time_limit)
    strategies = {
        "optimizer": (optimal, f"the run's recommendation (optimal mix, {run.results.get('status')})"),
        "p10_reserved": (p10_plan(problem, offers), "p10 of hourly usage per SKU, cheapest reservation"),
        "console_savings_plan": (console, console_how),
    }
    report = what_if_report(problem, offers, what_if, strategies=strategies)

    rows = [_row_money(row) for row in report["rows"]]
    optimizer_row = next(r for r in rows if r["strategy"] == "optimizer")
    consistent = (
        rows[0]["all_on_demand"] == Decimal(run.results["all_on_demand"])
        and optimizer_row["cost"] == Decimal(run.results["objective"])
        and not missing
    )
    if not consistent:
        notes.append(
            f"usage, existing commitments or rightsizing changed since run {run.pk}: every figure here is on the "
            f"current data (its optimal plan costs ${optimizer_row['cost']:,} here, "
            f"${Decimal(run.results['objective']):,} at the run)"
        )
    if built.budget is not None and rows[0]["upfront"] > Decimal(str(built.budget)):
        notes.append(
            f"the what-if's upfront ${rows[0]['upfront']:,} exceeds the run's upfront budget ${built.budget:,.2f}"
        )
    mine = report["what_if"]
    what_if_doc = {
        **rows[0],
        "purchases": [
            Purchase.from_report(row, offers.offers[row["offer_id"]]).document() for row in mine["purchase_rows"]
        ],
    }
    return stored_json(
        {
            "run": run.pk,
            "organization": run.organization.slug,
            "window": run.results["window"],
            "prices_at": run.results["prices_at"],
            "term": params.term,
            "payment": params.payment,
            "what_if": what_if_doc,
            "rows": rows,
            "best": min(rows, key=lambda r: (r["cost"], r["strategy"] != "what_if"))["strategy"],
            "differences": {k: amounts(v) for k, v in report["differences"].items()},
            "consistent_with_run": consistent,
            "notes": [*built.notes, *notes],
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


def _row_money(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        **{k: amount(row[k]) for k in TOTALS},
        **{k: rate(row[k]) for k in PER_HOUR},
        "purchases": rates(row["purchases"]),
        "breakdown": amounts(row["breakdown"]),
    }
