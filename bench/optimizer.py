#!/usr/bin/env python
"""Commitment-mix solver benchmark on synthetic fleets: plain PuLP model (HiGHS and CBC) vs the weighted-hours
highspy formulation. SKUs come in families of two sizes; each SKU has a 1-year reservation, its family a
size-flexible reservation, a 3-year reservation with upfront under a shared upfront budget, one compute
savings plan and a 20% spot cap. Demand is whole instances with a daily cycle. Prints one row per run.

    python bench/optimizer.py [--sizes 5x168,10x720] [--time-limit 60] [--runs plain-highs,plain-cbc,weighted]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer.solver import evaluate, parse_problem, solve  # noqa: E402


def fleet(n_skus: int, hours: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    skus, demand, reservations = [], {}, []
    for k in range(n_skus):
        family, size = divmod(k, 2)
        on_demand = round(0.096 * (2**size) * rng.uniform(0.8, 1.2), 4)
        sku_id = f"f{family}.s{size}"
        skus.append({"id": sku_id, "on_demand": on_demand, "spot": round(on_demand * 0.35, 4), "spot_max_share": 0.2})
        base, swing, phase = rng.uniform(2, 30), rng.uniform(0.1, 0.5), rng.uniform(0, 24)
        demand[sku_id] = [
            max(0, round(base * (1 + swing * math.sin(2 * math.pi * (h + phase) / 24)) + rng.gauss(0, base * 0.05)))
            for h in range(hours)
        ]
        reservations.append({"id": f"{sku_id}-1y", "hourly_cost": round(on_demand * 0.62, 5), "covers": {sku_id: 1}})
        reservations.append(
            {"id": f"{sku_id}-3y", "hourly_cost": round(on_demand * 0.40, 5), "upfront": 100 * on_demand,
             "covers": {sku_id: 1}}
        )  # fmt: skip
    for family in range(math.ceil(n_skus / 2)):
        covers = {s["id"]: 2 ** int(s["id"][-1]) for s in skus if s["id"].startswith(f"f{family}.")}
        small = min(s["on_demand"] for s in skus if s["id"] in covers) / (2 ** min(covers.values()) / 1)
        reservations.append({"id": f"f{family}-flex-1y", "hourly_cost": round(small * 0.66, 5), "covers": covers})
    plan = {"id": "compute-1y", "rates": {s["id"]: round(s["on_demand"] * 0.72, 5) for s in skus}}
    budget = sum(r.get("upfront", 0.0) for r in reservations) * 3
    return {"hours": hours, "skus": skus, "demand": demand, "reservations": reservations,
            "savings_plans": [plan], "upfront_budget": round(budget, 2)}  # fmt: skip


RUNS = {
    "plain-highs": {"solver": "highs", "formulation": "plain"},
    "plain-cbc": {"solver": "cbc", "formulation": "plain"},
    "weighted": {"solver": "highs", "formulation": "weighted"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5x168,10x720", help="SKUSxHOURS,...")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--runs", default="plain-highs,plain-cbc,weighted")
    args = parser.parse_args()
    header = f"{'size':>9} {'run':>12} {'status':>10} {'objective':>12} {'bound':>12} {'gap':>8} "
    header += f"{'saved':>6} {'build s':>8} {'solve s':>8} {'eval s':>7}"
    print(header)
    for size in args.sizes.split(","):
        n_skus, hours = (int(v) for v in size.split("x"))
        problem = parse_problem(fleet(n_skus, hours))
        for run in args.runs.split(","):
            result = solve(problem, time_limit=args.time_limit, **RUNS[run])
            start = time.perf_counter()
            evaluate(problem, result.reservations, result.savings_plans)
            eval_s = time.perf_counter() - start
            bound = f"{result.bound:12.2f}" if result.bound is not None else f"{'-':>12}"
            gap = f"{result.gap:8.3%}" if result.gap is not None else f"{'-':>8}"
            print(
                f"{size:>9} {run:>12} {result.status:>10} {result.objective:12.2f} {bound} {gap} "
                f"{result.savings_pct:5.1f}% {result.build_seconds:8.2f} {result.solve_seconds:8.2f} {eval_s:7.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
