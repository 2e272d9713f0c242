#!/usr/bin/env python
"""Slice-replacement benchmark: what restating a billing period of N line items costs beyond loading it.

    python bench/replace.py [--rows 1000000] [--before-code PATH] [--attached] [--no-after]

For each code version, in a fresh database (DATABASE_URL's name + "_bench"; PostgreSQL is the point of it), one
organization ingests a generated FOCUS file of N rows (one billing period), then a restatement of the same period
(the same rows, one cost changed), which replaces all N rows. Printed per run: both ingest times, the seconds
spent in the statements that remove the old rows (DELETE on usage_lineitem, DROP of a leaf) and in indexing and
attaching the new leaves (CREATE INDEX on each loaded leaf, ATTACH PARTITION), and the replacement's share of the
restatement.
``--before-code`` names a checkout of the code before partitioning (e.g. main: row-by-row DELETE) to run
beside this one; ``--attached`` adds a run that loads into a leaf attached (with its indexes) before the COPY.
Each run is its own process.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def restated(path: Path) -> Path:
    """``path`` with the first data row's first cost changed: a new delivery of the same slices."""
    out = path.with_name(path.stem + "-restated.csv")
    if out.exists():
        return out
    with open(path, encoding="utf-8", newline="") as source, open(out, "w", encoding="utf-8", newline="") as target:
        header_line, first_line = source.readline(), source.readline()
        header, first = next(csv.reader([header_line])), next(csv.reader([first_line]))
        column = header.index("BilledCost")
        first[column] = repr(float(first[column]) + 1)
        target.write(header_line)
        csv.writer(target, lineterminator="\n").writerow(first)
        while block := source.read(1 << 20):
            target.write(block)
    return out


def child(paths: list[str], attached: bool) -> None:
    import django

    django.setup()
    from django.db import connection

    from finops.accounts.services import organization_get_or_create
    from finops.usage import services
    from finops.usage.services import ingest_job_create, ingest_job_run

    if attached:
        from finops.usage import storage

        def leaf_attached(month, job_id, part):  # the leaf as a partition, indexed, before the COPY
            storage.month_partition_ensure(month)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE {storage.leaf_table(month, job_id)} PARTITION OF {storage.month_table(month)} "
                    f"FOR VALUES IN ({int(job_id)})"
                )

        storage._leaf_create = leaf_attached
        storage.LineItemWriter.finish = storage.LineItemWriter._close
        services.leaves_attach = lambda job_id, leaves: None

    spent = {"remove": 0.0, "attach": 0.0}

    def timer(execute, sql, params, many, context):
        kind = (
            "remove"
            if sql.startswith(('DELETE FROM "usage_lineitem"', "DROP TABLE usage_lineitem_y"))
            else "attach"
            if "ATTACH PARTITION" in sql or sql.startswith("CREATE INDEX")
            else None
        )
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if kind:
                spent[kind] += time.perf_counter() - started

    org, _ = organization_get_or_create(slug=f"bench-replace-{os.getpid()}")
    for path in paths:
        spent.update(remove=0.0, attach=0.0)
        started = time.perf_counter()
        with connection.execute_wrapper(timer):
            job = ingest_job_run(ingest_job_create(organization=org, paths=[Path(path)], fmt="focus"))
        elapsed = time.perf_counter() - started
        assert job.status == "succeeded", job.error
        times = f"{elapsed:.3f} {spent['remove']:.3f} {spent['attach']:.3f}"
        print(f"RESULT {job.rows_written} {job.rows_replaced} {times}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--before-code", type=Path, help="a checkout of the code before partitioning")
    parser.add_argument("--attached", action="store_true", help="also load into a leaf attached before the COPY")
    parser.add_argument("--no-after", action="store_true", help="skip the run of this checkout's default path")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--child-attached", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.child:
        return child(args.child, args.child_attached)

    sys.path.insert(0, str(ROOT))
    from bench.ingest import bench_database_url, generate

    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    first = generate("focus", args.rows, out)
    second = restated(first)
    runs = [] if args.no_after else [("after: leaf drop", ROOT, False)]
    if args.attached:
        runs.append(("after, leaf attached before COPY", ROOT, True))
    if args.before_code:
        runs.insert(0, ("before: row DELETE", args.before_code.resolve(), False))
    print(f"slice replacement: {args.rows:,} rows of one billing period, then its restatement (load: {_load()})")
    print("| code | first ingest s | restatement s | rows replaced | remove s | attach s | remove / restatement |")
    print("|---|---|---|---|---|---|---|")
    if not bench_database_url().startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database: the benchmark uses its name + _bench")
    for label, code, attached in runs:
        env = dict(os.environ, DATABASE_URL=bench_database_url(), PYTHONPATH=str(code))
        prepare_database_at(code, env)
        script = [sys.executable, str(Path(__file__).resolve()), "--child", str(first), str(second)]
        output = subprocess.run(
            [*script, *(["--child-attached"] if attached else [])],
            env=env,
            cwd=code,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (_, _, _, t1, _, _), (_, _, replaced, t2, removed, a2) = (
            line.split() for line in output.splitlines() if line.startswith("RESULT ")
        )
        print(
            f"| {label} | {float(t1):.1f} | {float(t2):.1f} | {int(replaced):,} | {float(removed):.2f} "
            f"| {float(a2):.2f} | {float(removed) / float(t2):.1%} |"
        )


def prepare_database_at(code: Path, env: dict) -> None:
    """A fresh database (dropped and re-created), migrated by ``code``'s migrations."""
    import psycopg

    base, _, name = env["DATABASE_URL"].rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, str(code / "manage.py"), "migrate", "-v0"], env=env, check=True, cwd=code)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
