#!/usr/bin/env python
"""Decision quality on held-back weeks: the optimizer backtest with regret against the perfect-hindsight optimum.

For each lookback (training window) every strategy (the optimizer, ``p10_reserved``, ``console_savings_plan``)
buys on the lookback's demand just before one held-back test window, and is charged for the test window's
actual demand; regret = its test cost - the optimum solved on the test window itself (proven gap printed).

``--data demo``: the demo organization as ``seed_demo`` seeds it, through the service the
``backtest_commitments`` command calls (``--seed`` first runs ``migrate`` and ``seed_demo --months 5 --end
2026-12-07`` in ``$FINOPS_VAR_DIR``'s database; the 90-day lookback plus a 30-day test window needs 4 months).

``--data flexible``: a synthetic size-flexible fleet priced like the demo. Families m5 (large, xlarge,
2xlarge), c5 (large, xlarge) and r5 (large .. 4xlarge) in us-east-1 at their real on-demand prices
(``pricing/data/libcloud_pricing.json.gz``); commitment rates derived as ``derive_commitment_prices`` does
(the published x2iedn.32xlarge us-east-1 discount ratios, ``pricing/data/ec2_reserved_discounts_x2iedn.json``),
so ``build_offers`` makes one standard and one convertible 1-year reservation per family covering its sizes by
normalization factor (nf(k) / nf(unit)), a Compute Savings Plan and one EC2 Instance Savings Plan per family.
Demand: each family's load in normalized units has a daily cycle, a weekend dip, a slow trend and noise; its
size mix drifts from the smaller to the larger sizes over the window, which only a size-flexible reservation
follows. Deterministic for a given ``--seed-value``.

    python bench/backtest.py [--data demo,flexible] [--lookbacks 7,30,90] [--test-days 30] [--seed] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer.backtest import backtest_lookbacks, lookback_table  # noqa: E402
from optimizer.offers import CatalogPrice, SkuCatalog, build_offers  # noqa: E402
from pricing.specs import normalization_factor  # noqa: E402

REGION = "us-east-1"
FAMILIES = {
    "m5": ("large", "xlarge", "2xlarge"),
    "c5": ("large", "xlarge"),
    "r5": ("large", "xlarge", "2xlarge", "4xlarge"),
}
LIBCLOUD_PRICES = ROOT / "pricing" / "data" / "libcloud_pricing.json.gz"
RESERVED_DISCOUNTS = ROOT / "pricing" / "data" / "ec2_reserved_discounts_x2iedn.json"
DEMO_END, DEMO_MONTHS = "2026-12-07", "5"


def flexible_catalog() -> dict[str, SkuCatalog]:
    """Real on-demand prices; 1-year no-upfront reservation and plan rates from the published discount ratios."""
    with gzip.open(LIBCLOUD_PRICES) as prices:
        on_demand = json.load(prices)["compute"]["ec2_linux"]
    region = json.loads(RESERVED_DISCOUNTS.read_text())["regions"][REGION]
    reference = Decimal(region["ondemand"])
    standard = Decimal(region["reserved"]["yrTerm1Standard.noUpfront"]) / reference
    convertible = Decimal(region["reserved"]["yrTerm1Convertible.noUpfront"]) / reference
    catalog = {}
    for family, sizes in FAMILIES.items():
        for size in sizes:
            sku = f"{family}.{size}@{REGION}"
            price = Decimal(str(on_demand[f"{family}.{size}"][REGION]))
            rates = (
                ("reservation", standard, {"offering_class": "standard"}),
                ("reservation", convertible, {"offering_class": "convertible"}),
                ("savings_plan", convertible, {"plan_type": "compute"}),
                ("savings_plan", standard, {"plan_type": "ec2_instance"}),
            )
            commitments = tuple(
                CatalogPrice(kind, 1, "no_upfront", Decimal(0), price * ratio, **label) for kind, ratio, label in rates
            )
            catalog[sku] = SkuCatalog(sku, price, commitments=commitments)
    return catalog


def flexible_demand(days: int, seed: int) -> pd.DataFrame:
    """Whole instances per hour and SKU; each family's normalized load shifts from its smaller to larger sizes."""
    rng = np.random.default_rng(seed)
    hours = np.arange(24 * days)
    progress = hours / len(hours)
    columns = {}
    for family, sizes in FAMILIES.items():
        level = rng.uniform(60, 200)  # normalized units (a large is 4)
        phase = rng.uniform(0, 24)
        daily = 1 + 0.3 * np.sin(2 * np.pi * (hours + phase) / 24)
        weekend = np.where((hours // 24) % 7 >= 5, rng.uniform(0.6, 0.9), 1.0)
        trend = 1 + rng.uniform(-0.15, 0.25) * progress
        load = level * daily * weekend * trend * (1 + rng.normal(0, 0.05, len(hours)))
        # Size mix: weight of size i moves from (n - i) to (i + 1) over the window.
        n = len(sizes)
        weights = np.array([(n - i) * (1 - progress) + (i + 1) * progress for i in range(n)])
        weights /= weights.sum(axis=0)
        for i, size in enumerate(sizes):
            factor = float(normalization_factor(f"{family}.{size}"))
            columns[f"{family}.{size}@{REGION}"] = np.maximum(np.round(load * weights[i] / factor), 0.0)
    return pd.DataFrame(columns, index=pd.date_range("2026-08-09", periods=len(hours), freq="h", tz="UTC"))


def run_flexible(args: argparse.Namespace) -> dict:
    offers = build_offers(flexible_catalog(), lease_years=1, purchase_option="no_upfront", spot_max_share=0.0)
    net = flexible_demand(max(args.lookbacks) + args.test_days, args.seed_value)
    result = backtest_lookbacks(
        net, offers, [24 * d for d in args.lookbacks], test_hours=24 * args.test_days, time_limit=args.time_limit
    )
    shared = sum(1 for r in offers.reservations if len(r.covers) > 1)
    title = (
        f"flexible fleet: {net.shape[1]} SKUs in {len(FAMILIES)} families, {shared} size-flexible reservations, "
        f"{len(offers.savings_plans)} savings plans, {len(net.index)} hours"
    )
    return {"title": title, **result}


def run_demo(args: argparse.Namespace) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command

    from finops.accounts.models import Organization
    from optimizer.services import commitment_backtest_lookbacks

    if args.seed:
        call_command("migrate", verbosity=0)
        call_command("seed_demo", "--end", DEMO_END, "--months", DEMO_MONTHS)
    organization = Organization.objects.get(slug="demo")
    parameters = {"term": "1y", "payment": "no_upfront", "time_limit": args.time_limit}
    result = commitment_backtest_lookbacks(
        organization, parameters, lookbacks=tuple(args.lookbacks), test_days=args.test_days
    )
    window = result["test_window"]
    return {"title": f"demo (seed_demo --end {DEMO_END}): test window {window['start']}..{window['end']}", **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="demo,flexible", help="demo, flexible or both (comma-separated)")
    parser.add_argument("--lookbacks", default="7,30,90", help="training windows in days")
    parser.add_argument("--test-days", type=int, default=30)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per solve")
    parser.add_argument("--seed", action="store_true", help="demo: migrate and seed_demo first")
    parser.add_argument("--seed-value", type=int, default=20261207, help="flexible: random seed")
    parser.add_argument("--json", action="store_true", help="also print each result as JSON")
    args = parser.parse_args()
    args.lookbacks = [int(v) for v in args.lookbacks.split(",")]
    for name in args.data.split(","):
        started, cpu = time.monotonic(), time.process_time()
        result = {"demo": run_demo, "flexible": run_flexible}[name](args)
        print(lookback_table(result, title=f"## {result['title']}"))
        print(
            f"\n{time.monotonic() - started:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
            f"load average {os.getloadavg()[0]:.1f}\n"
        )
        if args.json:
            from optimizer.services import stored_json

            print(json.dumps(stored_json(result), indent=2, default=str))


if __name__ == "__main__":
    main()
