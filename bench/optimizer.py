#!/usr/bin/env python
"""Commitment-mix solver benchmark on synthetic fleets (the optimizer issue's targets).

SKUs come in families of four sizes (on-demand 0.096 x 2^size x U(0.8, 1.2) $/h, spot 35% of it for at most
20% of each hour). Each SKU has 3 reservation offers (1y no upfront at 62% of on-demand, 1y all upfront at
58% with the year paid upfront, 3y partial upfront at 42% with half of it upfront), and there are 2 savings
plans: a compute plan covering every SKU at 72% of on-demand and an instance-family-style plan covering the
first eighth of the families at 66%. The upfront budget covers about 2.5 times one 3y unit per SKU. Demand is
whole instances: a per-SKU level with a daily cycle, a weekend dip and 5% noise.

``--flexible`` adds, beside each size, the size-flexible fleet (:func:`flexible_fleet`): families of 2-4 sizes
with AWS normalization factors, one pool of 3 reservation offers per family covering every size, the same two
plans, spot cap and a binding upfront budget.

Prints one row per (fleet, size, run), each solved in a child process: build and solve seconds as reported by
the solver, the wall time of the whole ``solve()`` call (it includes the exact evaluation of the returned plan),
the process CPU seconds of that call (the machine is shared, so wall time is inflated by other load), the
child's peak RSS, the proven gap and the verdict against the target (status optimal, gap <= 0.1%, wall <=
target); and the load average before and after.

    python bench/optimizer.py [--sizes 50x720,200x720,500x720,50x8760] [--runs decomposed,plain-highs]
        [--flexible] [--time-limit S]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer.solver import parse_problem, solve  # noqa: E402

TARGETS = {"50x720": 5.0, "200x720": 20.0, "500x720": 60.0, "50x8760": 60.0}  # seconds, each to a proven gap <= 0.1%
GAP = 0.001


def fleet(n_skus: int, hours: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    skus, demand, reservations = [], {}, []
    for k in range(n_skus):
        family, size = divmod(k, 4)
        on_demand = round(0.096 * (2**size) * rng.uniform(0.8, 1.2), 4)
        sku_id = f"f{family}.s{size}"
        skus.append({"id": sku_id, "on_demand": on_demand, "spot": round(on_demand * 0.35, 4), "spot_max_share": 0.2})
        base, swing, phase = rng.uniform(2, 30), rng.uniform(0.1, 0.5), rng.uniform(0, 24)
        weekend = rng.uniform(0.6, 1.0)
        demand[sku_id] = [
            max(
                0,
                round(
                    base
                    * (weekend if (h // 24) % 7 >= 5 else 1.0)
                    * (1 + swing * math.sin(2 * math.pi * (h + phase) / 24))
                    + rng.gauss(0, base * 0.05)
                ),
            )
            for h in range(hours)
        ]
        for term, factor, upfront_share, term_hours in (
            ("1y-nu", 0.62, 0.0, 8760),
            ("1y-au", 0.58, 1.0, 8760),
            ("3y-pu", 0.42, 0.5, 26280),
        ):
            hourly = round(on_demand * factor, 5)
            reservations.append(
                {"id": f"{sku_id}-{term}", "hourly_cost": hourly,
                 "upfront": round(hourly * upfront_share * term_hours, 2), "covers": {sku_id: 1}}
            )  # fmt: skip
    families = max(1, math.ceil(n_skus / 8))
    plans = [
        {"id": "compute-1y-nu", "rates": {s["id"]: round(s["on_demand"] * 0.72, 5) for s in skus}},
        {
            "id": "instance-1y-nu",
            "rates": {
                s["id"]: round(s["on_demand"] * 0.66, 5) for s in skus if int(s["id"][1:].split(".")[0]) < families
            },
        },
    ]
    budget = 2.5 * sum(r["upfront"] for r in reservations if r["id"].endswith("3y-pu"))
    return {"hours": hours, "skus": skus, "demand": demand, "reservations": reservations,
            "savings_plans": plans, "upfront_budget": round(budget, 2)}  # fmt: skip


NORMALIZATION = {"medium": 2, "large": 4, "xlarge": 8, "2xlarge": 16, "4xlarge": 32, "8xlarge": 64}  # AWS factors


def flexible_fleet(n_skus: int, hours: int, seed: int = 0) -> dict:
    """Families of 2-4 consecutive sizes priced by normalization factor (Linux on-demand is proportional to it
    within a family), one size-flexible pool per family: its 3 reservation offers are for the family's smallest
    size and cover every size by normalization factor. Demand is per family (level, daily cycle, weekend dip and
    a family-wide hourly shock of 5%) split over its sizes with 3% noise of their own."""
    rng = random.Random(seed)
    sizes = list(NORMALIZATION)
    skus, demand, reservations, families = [], {}, [], []
    while len(skus) < n_skus:
        f = len(families)
        count = min(rng.randint(2, 4), n_skus - len(skus))
        first = rng.randint(0, len(sizes) - count)
        members = sizes[first : first + count]
        unit_price = 0.024 * rng.uniform(0.8, 1.2)  # $ per normalized unit-hour (m5: 0.096 / 4)
        base, swing, phase = rng.uniform(8, 120), rng.uniform(0.1, 0.5), rng.uniform(0, 24)
        weekend = rng.uniform(0.6, 1.0)
        shares = [rng.uniform(0.5, 1.5) for _ in members]
        shock = [rng.gauss(0, 0.05) for _ in range(hours)]
        ids = []
        for size, part in zip(members, shares, strict=True):
            sku_id = f"f{f}.{size}"
            ids.append(sku_id)
            nf = NORMALIZATION[size]
            on_demand = round(unit_price * nf, 5)
            skus.append(
                {"id": sku_id, "on_demand": on_demand, "spot": round(on_demand * 0.35, 5), "spot_max_share": 0.2}
            )
            level = base * part / sum(shares) / nf * NORMALIZATION[members[0]]  # instances of this size
            demand[sku_id] = [
                max(
                    0,
                    round(
                        level
                        * (weekend if (h // 24) % 7 >= 5 else 1.0)
                        * (1 + swing * math.sin(2 * math.pi * (h + phase) / 24))
                        * (1 + shock[h])
                        + rng.gauss(0, level * 0.03)
                    ),
                )
                for h in range(hours)
            ]
        unit_nf = NORMALIZATION[members[0]]
        covers = {sku_id: NORMALIZATION[size] / unit_nf for sku_id, size in zip(ids, members, strict=True)}
        unit_od = unit_price * unit_nf
        for term, factor, upfront_share, term_hours in (
            ("1y-nu", 0.62, 0.0, 8760),
            ("1y-au", 0.58, 1.0, 8760),
            ("3y-pu", 0.42, 0.5, 26280),
        ):
            hourly = round(unit_od * factor, 5)
            reservations.append(
                {"id": f"f{f}-{term}", "hourly_cost": hourly,
                 "upfront": round(hourly * upfront_share * term_hours, 2), "covers": covers}
            )  # fmt: skip
        mean_units = sum(sum(demand[i]) * covers[i] for i in ids) / hours
        families.append((ids, reservations[-1]["upfront"] * mean_units))
    instance_families = max(1, math.ceil(len(families) / 8))
    plans = [
        {"id": "compute-1y-nu", "rates": {s["id"]: round(s["on_demand"] * 0.72, 5) for s in skus}},
        {
            "id": "instance-1y-nu",
            "rates": {
                s["id"]: round(s["on_demand"] * 0.66, 5)
                for ids, _ in families[:instance_families]
                for s in skus
                if s["id"] in ids
            },
        },
    ]
    budget = 0.25 * sum(cost for _, cost in families)  # a quarter of the mean load on 3y: binding
    return {"hours": hours, "skus": skus, "demand": demand, "reservations": reservations,
            "savings_plans": plans, "upfront_budget": round(budget, 2)}  # fmt: skip


FLEETS = {"single-sku": fleet, "flexible": flexible_fleet}

RUNS = {
    "decomposed": {"solver": "highs", "formulation": "decomposed"},
    "plain-highs": {"solver": "highs", "formulation": "plain"},
    "plain-cbc": {"solver": "cbc", "formulation": "plain"},
    "weighted": {"solver": "highs", "formulation": "weighted"},
}


def _case(fleet_name: str, size: str, run: str, time_limit: float, out) -> None:
    """One solve in a child process, so that its peak RSS is its own."""
    n_skus, hours = (int(v) for v in size.split("x"))
    problem = parse_problem(FLEETS[fleet_name](n_skus, hours))
    wall, cpu = time.perf_counter(), time.process_time()
    result = solve(problem, time_limit=time_limit, gap=GAP, **RUNS[run])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.send((result, wall, cpu, rss_mb))
    out.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(TARGETS), help="SKUSxHOURS,...")
    parser.add_argument("--time-limit", type=float, default=120.0, help="solver time limit per run (s)")
    parser.add_argument("--runs", default="decomposed", help=",".join(RUNS))
    parser.add_argument("--flexible", action="store_true", help="also the size-flexible fleet, beside each size")
    args = parser.parse_args()
    fleets = ["single-sku", "flexible"] if args.flexible else ["single-sku"]
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    header = (
        f"{'fleet':>10} {'size':>8} {'formulation':>11} {'build s':>8} {'solve s':>8} {'wall s':>7} {'cpu s':>7} "
        f"{'rss MB':>7} {'gap':>8} {'objective':>13} {'bound':>13} {'saved':>6} {'status':>10} {'target':>7} "
        f"{'met?':>5}"
    )
    print(header)
    context = multiprocessing.get_context("fork")
    for size in args.sizes.split(","):
        for fleet_name in fleets:
            for run in args.runs.split(","):
                receive, send = context.Pipe(duplex=False)
                child = context.Process(target=_case, args=(fleet_name, size, run, args.time_limit, send))
                child.start()
                send.close()
                result, wall, cpu, rss_mb = receive.recv()
                child.join()
                target = TARGETS.get(size)
                met = result.status == "optimal" and result.gap is not None and result.gap <= GAP
                met = met and target is not None and wall <= target
                bound = f"{result.bound:13.2f}" if result.bound is not None else f"{'-':>13}"
                gap = f"{result.gap:8.4%}" if result.gap is not None else f"{'-':>8}"
                print(
                    f"{fleet_name:>10} {size:>8} {run:>11} {result.build_seconds:8.2f} {result.solve_seconds:8.2f} "
                    f"{wall:7.2f} {cpu:7.2f} {rss_mb:7.0f} {gap} {result.objective:13.2f} {bound} "
                    f"{result.savings_pct:5.1f}% {result.status:>10} {(f'{target:.0f}s' if target else '-'):>7} "
                    f"{('-' if target is None else 'yes' if met else 'no'):>5}",
                    flush=True,
                )
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
