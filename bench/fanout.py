#!/usr/bin/env python
"""Fan-out benchmark: one large delivery ingested in one task, then through Celery workers (in parts, one task
each, committed as one) with 1 and with 2 worker processes.

    python bench/fanout.py [--rows 5000000] [--rows-per-file 500000] [--workers 1,2] [--keep]

PostgreSQL and Redis only (DATABASE_URL, REDIS_URL: the bench takes DATABASE_URL's name + "_bench" and empties
REDIS_URL's database; give it one of its own). The delivery is bench/scale.py's month (FOCUS CSV at the real
sample prices, split into files of ``--rows-per-file`` rows). Each run gets a fresh, migrated database, so every
run ingests the same delivery into the same empty state. The delivery is split into FINOPS_INGEST_FANOUT_PARTS
parts (default 8) of about equal bytes. Measured per run: wall seconds from queuing the ingest
task to the job's success (the workers are started and ready before), rows/s, and the peak RSS of the largest
worker process. "in one task" is ``ingest_job_run`` in a process of its own, the path a delivery below
FINOPS_INGEST_FANOUT_MIN_BYTES takes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import bench_database_url, prepare_database, run_child  # noqa: E402
from scale import Plan, default_month, load_catalog, plan_month, write_month  # noqa: E402

ORG = "fanout"


def child_ingest(paths: list[str]) -> None:
    """The delivery in one task, in this process."""
    import django

    django.setup()
    from finops.accounts.services import organization_get_or_create
    from finops.usage.services import ingest_job_create, ingest_job_run

    organization, _ = organization_get_or_create(slug=ORG)
    started = time.perf_counter()
    job = ingest_job_run(ingest_job_create(organization=organization, paths=[Path(p) for p in paths], fmt="focus"))
    assert job.status == "succeeded", job.error
    print(f"RESULT {job.rows_written} {time.perf_counter() - started:.3f}")


def child_submit(paths: list[str]) -> None:
    """Queue the ingest task for the running workers and wait for the job to end."""
    import django

    django.setup()
    from finops.accounts.services import organization_get_or_create
    from finops.usage.models import IngestJob
    from finops.usage.services import ingest_job_create
    from finops.usage.tasks import ingest_job_run_task

    organization, _ = organization_get_or_create(slug=ORG)
    job = ingest_job_create(organization=organization, paths=[Path(p) for p in paths], fmt="focus", source="api")
    started = time.perf_counter()
    ingest_job_run_task.delay(job.pk)
    while True:
        job.refresh_from_db()
        if job.status not in (IngestJob.Status.PENDING, IngestJob.Status.RUNNING):
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    assert job.status == "succeeded", job.error
    assert job.fanned_out, "the delivery was not fanned out"
    print(f"RESULT {job.rows_written} {elapsed:.3f}")


def _worker_rss_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of the worker's largest process: its main process or a pool child."""
    peak = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def task_seconds(log: Path) -> dict[str, list[float]]:
    """Per task name, the run times the worker logged ("Task usage.x[id] succeeded in 1.23s")."""
    found: dict[str, list[float]] = {}
    for name, seconds in re.findall(r"Task (usage\.\w+)\[[^\]]+\] succeeded in ([\d.]+)s", log.read_text()):
        found.setdefault(name, []).append(float(seconds))
    return found


def run_workers(processes: int, paths: list[Path], env: dict) -> tuple[int, float, float, dict]:
    """(rows, seconds, peak worker RSS MB, task times) of the delivery through one worker of ``processes`` pool
    processes."""
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    command = [
        sys.executable, "-m", "celery", "-A", "finops", "worker", "-Q", "ingest", "--concurrency", str(processes),
        "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    ]  # fmt: skip
    log_path = Path(env["FINOPS_VAR_DIR"]) / f"worker-{processes}.log"
    log = open(log_path, "w", buffering=1)  # noqa: SIM115
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while " ready." not in log_path.read_text():  # celery logs "<name> ready." once its pool is up
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {log_path}")
            time.sleep(0.2)
        output = subprocess.run(
            [sys.executable, __file__, "--child-submit", *map(str, paths)],
            env=env, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
        ).stdout  # fmt: skip
        rows, seconds = next(line for line in output.splitlines() if line.startswith("RESULT ")).split()[1:3]
        rss = _worker_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
    return int(rows), float(seconds), rss, task_seconds(log_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rows-per-file", type=int, default=500_000)
    parser.add_argument("--workers", default="1,2", help="worker processes per run, comma-separated")
    parser.add_argument("--month", default=default_month(date.today()))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--child-ingest", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--child-submit", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.child_ingest:
        return child_ingest(args.child_ingest)
    if args.child_submit:
        return child_submit(args.child_submit)
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench/fanout.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench/fanout.py needs Redis for its workers: set REDIS_URL=redis://host:6379/<a database of its own>")

    var = Path(os.environ.get("FINOPS_VAR_DIR") or ROOT / "var") / "bench-fanout"
    out = var / "files" / str(args.rows)
    (var / "var").mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        DATABASE_URL=bench_database_url(),
        FINOPS_VAR_DIR=str(var / "var"),
        FINOPS_INGEST_FANOUT_MIN_BYTES="0",
        FINOPS_INGEST_FOLLOWUPS="0",
    )
    plan = Plan(rows=args.rows, month=args.month, rows_per_file=args.rows_per_file)
    started = time.perf_counter()
    paths = write_month(plan_month(plan, load_catalog()), out)
    size = sum(p.stat().st_size for p in paths)
    print(
        f"fan-out benchmark: {args.rows:,} rows in {len(paths)} files ({size / 1e9:.2f} GB, generated in "
        f"{time.perf_counter() - started:.0f} s); {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = []
    prepare_database(env)
    rows, seconds, rss = run_child(["--child-ingest", *map(str, paths)], env, __file__)
    results.append(("in one task (no worker)", rows, seconds, rss))
    print(f"  in one task: {seconds:.1f} s", flush=True)
    for processes in (int(n) for n in args.workers.split(",")):
        prepare_database(env)
        rows, seconds, rss, tasks = run_workers(processes, paths, env)
        label = f"{processes} worker process{'es' if processes > 1 else ''}, one task per part"
        results.append((label, rows, seconds, rss))
        times = "; ".join(
            f"{name.split('.')[1]} x{len(values)}: {sum(values):.1f} s (longest {max(values):.1f})"
            for name, values in sorted(tasks.items())
        )
        print(f"  {label}: {seconds:.1f} s ({times})", flush=True)
    prepare_database(env)
    if not args.keep:
        for path in paths:
            path.unlink()
    base = results[0][2]
    print(f"\n| ingest of {args.rows:,} rows ({len(paths)} files) | seconds | rows/s | x one task | peak RSS MB |")
    print("|---|---|---|---|---|")
    for label, rows, seconds, rss in results:
        print(f"| {label} | {seconds:,.1f} | {rows / seconds:,.0f} | {base / seconds:.2f} | {rss:,.0f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
