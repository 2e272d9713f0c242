#!/usr/bin/env python
"""Ingest benchmark: end-to-end ingest (parse + map + line items + rollups) of generated CUR- and
FOCUS-shaped files of N rows into the configured database, next to a raw load of the same file
(COPY on PostgreSQL, executemany on SQLite) as the reference line. Prints a table.

    python bench/ingest.py [--rows 1000000] [--formats focus,aws-cur] [--keep]

The database is the one DATABASE_URL names, with "_bench" appended to its name (SQLite: var/bench.sqlite3),
migrated fresh, so a benchmark never touches real data. Each measurement runs in its own process so peak
RSS is that run's own. Rows are sampled from the real FOCUS and CUR samples in ../shared/data (or the
copies the project ships) with dates spread over a month and costs varied, so values look like real bills.
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
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
FOCUS_SOURCE = ROOT / "finops" / "demo" / "samples" / "focus_sample.csv"
CUR_SOURCE = SHARED / "aws_cur" / "sample-anonymous-aws-export-dataset.csv"
TARGET_ROWS_PER_S = 100_000
TARGET_RSS_MB = 1024


def bench_database_url(suffix: str = "_bench") -> str:
    """The configured database's name + ``suffix`` (SQLite: var/<suffix>.sqlite3): never real data."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        base, _, name = url.rpartition("/")
        return f"{base}/{name.split('?')[0] or 'finops'}{suffix}"
    return f"sqlite:///{ROOT / 'var' / (suffix.strip('_') + '.sqlite3')}"


def generate(kind: str, rows: int, out: Path) -> Path:
    """A file of ``rows`` rows sampled from a real export, dates spread over one month, costs varied."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    path = out / f"{kind}-{rows}.csv"
    if path.exists():
        return path
    source = FOCUS_SOURCE if kind == "focus" else CUR_SOURCE
    with open(source, encoding="utf-8-sig") as handle:
        names = next(csv.reader(handle))
    table = pacsv.read_csv(
        source,
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False),
    )
    if kind == "focus":  # one billing period, like a real monthly file
        table = table.filter(pc.equal(table["BillingPeriodStart"], "2024-09-01 00:00:00"))
    rng = np.random.default_rng(7)
    start_col, end_col, cost_cols = (
        ("ChargePeriodStart", "ChargePeriodEnd", ["BilledCost", "EffectiveCost", "ListCost"])
        if kind == "focus"
        else (
            "lineItem/UsageStartDate",
            "lineItem/UsageEndDate",
            ["lineItem/UnblendedCost", "lineItem/BlendedCost"],
        )
    )
    fmt = "%Y-%m-%d %H:%M:%S" if kind == "focus" else "%Y-%m-%dT%H:%M:%S.000Z"
    month = np.datetime64("2024-09-01T00:00:00" if kind == "focus" else "2023-11-01T00:00:00", "s")
    with pacsv.CSVWriter(path, table.schema) as writer:
        done = 0
        while done < rows:
            n = min(250_000, rows - done)
            batch = table.take(pa.array(rng.integers(0, table.num_rows, n)))
            hours = rng.integers(0, 30 * 24, n).astype("timedelta64[h]")
            starts = pa.array(month + hours).cast(pa.timestamp("s"))
            ends = pa.array(month + hours + np.timedelta64(1, "h")).cast(pa.timestamp("s"))
            columns = {name: batch[name] for name in batch.column_names}
            columns[start_col] = pc.strftime(starts, format=fmt)
            columns[end_col] = pc.strftime(ends, format=fmt)
            factor = rng.random(n) * 2
            for name in cost_cols:
                values = pc.cast(pc.if_else(pc.equal(batch[name], ""), "0", batch[name]), pa.float64())
                varied = pc.multiply(values, pa.array(factor))
                columns[name] = pa.array([f"{v:.10f}" for v in varied.to_numpy(zero_copy_only=False)])
            writer.write_table(pa.table(columns))
            done += n
    return path


def _backend_cpu_seconds() -> float | None:
    """CPU seconds the connection's PostgreSQL backend has used, when the server runs on this machine
    (/proc readable): with the machine shared, CPU time is steadier than elapsed time."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _result(rows: int, seconds: float, server_before: float | None) -> str:
    server_after = _backend_cpu_seconds() if server_before is not None else None
    server = f"{server_after - server_before:.3f}" if server_after is not None else "-"
    return f"RESULT {rows} {seconds:.3f} {server}"


def child_ingest(path: str, fmt: str) -> None:
    import django

    django.setup()
    from finops.accounts.services import organization_get_or_create
    from finops.usage.services import ingest_job_create, ingest_job_run

    org, _ = organization_get_or_create(slug=f"bench-{fmt}-{os.getpid()}")
    server_before = _backend_cpu_seconds()
    started = time.perf_counter()
    job = ingest_job_run(ingest_job_create(organization=org, paths=[Path(path)], fmt=fmt))
    elapsed = time.perf_counter() - started
    assert job.status == "succeeded", job.error
    print(_result(job.rows_written, elapsed, server_before))


def child_raw(path: str) -> None:
    """The reference: the raw file's rows into an all-text table, the plainest fast load there is."""
    import django

    django.setup()
    from django.db import connection, transaction

    with open(path, encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    columns = ", ".join(f"c{i} text" for i in range(len(header)))
    server_before = _backend_cpu_seconds()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw")
        cursor.execute(f"CREATE TABLE bench_raw ({columns})")
        if connection.vendor == "postgresql":
            with (
                open(path, "rb") as handle,
                cursor.cursor.copy("COPY bench_raw FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                while block := handle.read(1 << 20):
                    copy.write(block)
        else:
            with open(path, encoding="utf-8", newline="") as handle:
                reader = csv.reader(handle)
                next(reader)
                marks = ", ".join(["?"] * len(header))
                cursor.connection.executemany(f"INSERT INTO bench_raw VALUES ({marks})", reader)
        cursor.execute("SELECT count(*) FROM bench_raw")
        rows = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_raw")
    print(_result(rows, time.perf_counter() - started, server_before))


def prepare_database(env: dict) -> dict:
    """A fresh, migrated benchmark database (dropped and re-created); returns ``env``."""
    if env["DATABASE_URL"].startswith("sqlite:///"):
        Path(env["DATABASE_URL"][len("sqlite:///") :]).unlink(missing_ok=True)
    else:
        import psycopg

        base, _, name = env["DATABASE_URL"].rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    return env


def run_child(args: list[str], env: dict, script: str = __file__) -> tuple[int, float, float]:
    """Run ``script`` as a child; return (rows, seconds, peak RSS MB) of that child alone."""
    return run_child_measured(args, env, script)[:3]


def run_child_measured(
    args: list[str], env: dict, script: str = __file__
) -> tuple[int, float, float, float, float | None]:
    """``run_child`` plus the child's CPU seconds (Django's start-up included) and its database backend's
    (None when the child does not report it)."""
    proc = subprocess.Popen([sys.executable, script, *args], env=env, stdout=subprocess.PIPE, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"benchmark child failed ({args}):\n{output}")
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    _, rows, seconds, *server = line.split()
    server_cpu = float(server[0]) if server and server[0] != "-" else None
    return int(rows), float(seconds), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, server_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="focus,aws-cur")
    parser.add_argument("--child-ingest", nargs=2, metavar=("PATH", "FORMAT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-raw", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.child_ingest:
        return child_ingest(*args.child_ingest)
    if args.child_raw:
        return child_raw(args.child_raw)

    env = prepare_database(dict(os.environ, DATABASE_URL=bench_database_url()))
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    vendor = "PostgreSQL" if "postgres" in env["DATABASE_URL"] else "SQLite"
    print(f"ingest benchmark: {args.rows:,} rows per file into {vendor} ({env['DATABASE_URL']})")
    results = []
    for kind in args.formats.split(","):
        started = time.perf_counter()
        path = generate(kind, args.rows, out)
        print(f"  generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
        raw_rows, raw_s, _raw_rss, _raw_cpu, raw_server = run_child_measured(["--child-raw", str(path)], env)
        rows, seconds, rss, cpu, server = run_child_measured(["--child-ingest", str(path), kind], env)
        assert rows == raw_rows == args.rows, (rows, raw_rows)
        results.append((kind, rows, seconds, rss, raw_s, cpu, server, raw_server))
    print()
    raw_method = "COPY" if vendor == "PostgreSQL" else "executemany"
    print(
        f"| file | rows | ingest s | ingest rows/s | peak RSS MB | raw load s ({raw_method}) "
        "| raw rows/s | ingest / raw | ingest CPU s (client + server) | raw server CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")

    def seconds_text(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    for kind, rows, seconds, rss, raw_s, cpu, server, raw_server in results:
        print(
            f"| {kind} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | {rss:,.0f} | {raw_s:.1f} | "
            f"{rows / raw_s:,.0f} | {seconds / raw_s:.2f}x | {cpu:.1f} + {seconds_text(server)} | "
            f"{seconds_text(raw_server)} |"
        )
    print(
        f"\ntargets (PostgreSQL): >= {TARGET_ROWS_PER_S:,} rows/s or >= 0.67x the raw COPY's rows/s, "
        f"peak RSS < {TARGET_RSS_MB} MB at 5,000,000 rows"
    )


if __name__ == "__main__":
    main()
