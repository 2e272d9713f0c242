#!/usr/bin/env python
"""Price-catalog import benchmark: a generated AWS-bulk-format EC2 offer CSV of N rows (default
2,000,000; see bench/pricing_parse.py for its shape) imported end to end (parse, stage, merge into SKUs
and dated prices) into the configured database, with "_bench_pricing" appended to its name (SQLite:
var/bench_pricing.sqlite3), migrated fresh. Prints rows/s and peak RSS of the import process.

    python bench/pricing.py [--rows 2000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import bench_database_url, prepare_database, run_child  # noqa: E402
from pricing_parse import generate  # noqa: E402

TARGET_ROWS_PER_S = 100_000
TARGET_RSS_MB = 1024


def child_import(path: str) -> None:
    import django

    django.setup()
    from pricing.services import catalog_import

    started = time.perf_counter()
    record, duplicate = catalog_import(paths=[Path(path)], fmt="aws-offer-csv")
    assert not duplicate and record.status == "succeeded", record.error
    print(f"RESULT {record.rows_read} {time.perf_counter() - started:.3f}")
    print(f"PRICES {record.prices_added} SKUS {record.skus_added}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--child-import", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.child_import:
        return child_import(args.child_import)
    env = prepare_database(dict(os.environ, DATABASE_URL=bench_database_url("_bench_pricing")))
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = generate(args.rows, out)
    print(f"generated/reused {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    rows, seconds, rss = run_child(["--child-import", str(path)], env, script=__file__)
    vendor = "PostgreSQL" if "postgres" in env["DATABASE_URL"] else "SQLite"
    print()
    print("| database | rows | import s | rows/s | peak RSS MB |")
    print("|---|---|---|---|---|")
    print(f"| {vendor} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | {rss:,.0f} |")
    print(f"\ntargets: >= {TARGET_ROWS_PER_S:,} rows/s, peak RSS < {TARGET_RSS_MB} MB")


if __name__ == "__main__":
    main()
