#!/usr/bin/env python
"""Load and fault benchmark: concurrent dashboard and API clients against gunicorn on PostgreSQL + Redis while
a large delivery is ingested by a real Celery worker, once undisturbed and once with the worker SIGKILLed in
the middle of the load and restarted. Loopback only, bounded; prints a latency table and a verdict.

    python bench/load.py [--rows 1000000] [--clients 50] [--seconds 60] [--reuse]
    python bench/load.py --rows 100000 --seconds 15          # smoke run

- Needs DATABASE_URL (PostgreSQL) and REDIS_URL. The bench's database is DATABASE_URL's name + "_load",
  re-created for every run from a seeded template (DATABASE_URL + "_load_seed"; ``--reuse`` keeps that
  template when it was seeded with the same settings). REDIS_URL's database holds the bench's broker queue,
  cache and sessions: it is flushed at the start and at the end, so give the bench a database of its own.
  Files and logs go to $FINOPS_VAR_DIR/load (default var/bench-load).
- Seed: an organization with six monthly FOCUS deliveries (March-August 2024, ``--seed-rows`` each) ingested
  by the product's ingest service, one finance user and one read token per client, a write token for the
  uploads.
- Servers: gunicorn (2 workers x 4 threads, as the Procfile) and a Celery worker (prefork, concurrency 2, as
  the Procfile), production settings over plain http, started as subprocesses and stopped at the end, on
  failure and on Ctrl-C.
- Clients: ``--clients`` threads, each logged in (session) and holding its own read token (the API throttles
  per token and per user), requesting dashboard pages and API GETs round robin, closed loop, from
  different starting points. Latency is the client's round trip on loopback.
- Phase "no ingest": the clients for ``--seconds`` alone, the reference for what the ingest costs them.
- Phase "ingest": a ``--rows`` FOCUS file (bench/ingest.py's generator, billing period 2024-09, gzipped) is
  uploaded through ``POST /api/v1/ingest-jobs/`` as the load starts. The load lasts until the job has ended
  (at most ``--timeout`` s) and at least ``--seconds``, so the whole upload and ingest run under it. Then the
  period's line items and daily rollups (count and the three cost totals) are checked against the file's,
  summed exactly from the file by the bench.
- Phase "worker killed": the same file moved to 2024-10 is uploaded; once the job's progress shows a quarter
  of the rows loaded, the worker's whole process group (main process and pool) is SIGKILLed and a new worker
  started. The period's data must afterwards be the whole delivery or exactly what it was before (absent),
  never anything in between, and agree with the job's status.
- Exit status 1 on any 5xx (clients or gunicorn's access log) or a partial/incorrect delivery.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dashboard import _free_port, _percentile, _session, production_env  # noqa: E402
from ingest import bench_database_url, generate, prepare_database  # noqa: E402

ORG = "load"
PASSWORD = "load-bench-password-1"
UPLOADER = "load-uploader"
# Bump when the seeded database changes: --reuse re-seeds a template seeded by another version.
SEED_VERSION = 1
SEED_MONTHS = ("2024-03", "2024-04", "2024-05", "2024-06", "2024-07", "2024-08")
SOURCE_MONTH = "2024-09"  # bench/ingest.py's FOCUS files bill September 2024
PHASE_MONTHS = {"ingest": "2024-09", "worker killed": "2024-10"}
KILL_AT = 0.25  # fraction of the rows loaded (job progress) when the worker is killed
COSTS = ("BilledCost", "EffectiveCost", "ListCost")
PAGES = [
    "/",
    "/explore/",
    "/explore/?group=team&granularity=week",
    "/teams/",
    "/data/",
    "/budgets/",
    "/anomalies/",
    "/carbon/",
]
API = [
    "/api/v1/costs/summary?group_by=service",
    "/api/v1/costs/timeseries?granularity=month&group_by=team",
    "/api/v1/line-items/?service=Amazon%20Simple%20Storage%20Service",
    "/api/v1/ingest-jobs/",
    "/api/v1/teams/",
]


# --- Files: generated once, checked independently of the product ---------------------------------------


def month_file(source: Path, month: str, out: Path) -> Path:
    """``source`` (a FOCUS file of bench/ingest.py, billing period September 2024) moved to ``month``: billing
    period columns set to the month, charge periods shifted by the same offset (September's 30 days fit into
    any month but February). Everything else is unchanged; the new file has its own content hash."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    path = out / f"{source.stem}-{month}.csv"
    if path.exists():
        return path
    fmt = "%Y-%m-%d %H:%M:%S"
    start = np.datetime64(f"{month}-01T00:00:00", "s")
    end = (np.datetime64(month, "M") + 1).astype("datetime64[s]")
    offset = pa.scalar(int((start - np.datetime64(f"{SOURCE_MONTH}-01T00:00:00", "s")).astype(int)), pa.int64())
    with open(source, encoding="utf-8") as handle:
        names = next(csv.reader(handle))
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=64 << 20),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False),
    )
    tmp = path.with_suffix(".tmp")
    with pacsv.CSVWriter(tmp, reader.schema) as writer:
        for batch in reader:
            columns = {name: batch.column(name) for name in batch.schema.names}
            n = batch.num_rows
            columns["BillingPeriodStart"] = pa.array([str(start).replace("T", " ")] * n)
            columns["BillingPeriodEnd"] = pa.array([str(end).replace("T", " ")] * n)
            for name in ("ChargePeriodStart", "ChargePeriodEnd"):
                seconds = pc.cast(pc.strptime(columns[name], format=fmt, unit="s"), pa.int64())
                moved = pc.cast(pc.cast(pc.add(seconds, offset), pa.timestamp("s")), pa.timestamp("s"))
                columns[name] = pc.strftime(moved, format=fmt)
            writer.write_table(pa.table(columns, schema=reader.schema))
    tmp.rename(path)
    return path


@dataclass(frozen=True)
class Totals:
    """Row count and exact cost sums of one billing period."""

    rows: int
    billed: Decimal
    effective: Decimal
    listed: Decimal

    def text(self) -> str:
        return (
            f"{self.rows:,} rows, billed {self.billed:,.2f}, effective {self.effective:,.2f}, list {self.listed:,.2f}"
        )


def file_totals(path: Path) -> Totals:
    """Rows and exact sums of the cost columns, read from the CSV with pyarrow's decimal arithmetic (not the
    product's parser). Cached next to the file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    cache = path.with_suffix(".totals.json")
    if cache.exists() and cache.stat().st_mtime >= path.stat().st_mtime:
        data = json.loads(cache.read_text())
        return Totals(data["rows"], *(Decimal(data[c]) for c in COSTS))
    decimal = pa.decimal128(38, 16)
    sums = dict.fromkeys(COSTS, Decimal(0))
    rows = 0
    reader = pacsv.open_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=list(COSTS), column_types=dict.fromkeys(COSTS, pa.string()), strings_can_be_null=False
        ),
    )
    for batch in reader:
        rows += batch.num_rows
        for name in COSTS:
            values = pc.if_else(pc.equal(batch.column(name), ""), "0", batch.column(name))
            sums[name] += pc.sum(pc.cast(values, decimal)).as_py() or Decimal(0)
    cache.write_text(json.dumps({"rows": rows, **{c: str(v) for c, v in sums.items()}}))
    return Totals(rows, *sums.values())


def gzipped(path: Path) -> Path:
    """The upload: the CSV gzipped (level 1), as exports are delivered; cached."""
    target = path.with_suffix(".csv.gz")
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        with open(path, "rb") as source, gzip.open(tmp, "wb", compresslevel=1) as sink:
            shutil.copyfileobj(source, sink, 4 << 20)
        tmp.rename(target)
    return target


def delivery_state(before: Totals, after: Totals, delivery: Totals) -> str:
    """What a delivery left in its billing period: "complete" (the period holds exactly the delivery),
    "absent" (the period is exactly as before) or "partial" (anything else)."""
    if after == delivery:
        return "complete"
    if after == before:
        return "absent"
    return "partial"


# --- Seeding (child process, Django set up) ---------------------------------------------------------------


def child_seed(files: list[str], clients: int) -> None:
    import django

    django.setup()
    from finops.accounts.services import membership_set, organization_get_or_create
    from finops.api.services import token_create
    from finops.usage.services import ingest_job_create, ingest_job_run

    organization, _ = organization_get_or_create(slug=ORG, name="Load Benchmark Inc.")
    for path in files:
        started = time.perf_counter()
        job = ingest_job_run(ingest_job_create(organization=organization, paths=[Path(path)]), followups=False)
        print(f"  seeded {Path(path).name}: {job.rows_written:,} rows in {time.perf_counter() - started:.1f} s")
    users = []
    for i in range(clients):
        membership, _ = membership_set(
            username=f"load-{i:03d}", organization=organization, role="finance", password=PASSWORD
        )
        key = token_create(user=membership.user, organization=organization, name="load").key
        users.append({"username": membership.user.username, "token": key})
    uploader, _ = membership_set(username=UPLOADER, organization=organization, role="admin", password=PASSWORD)
    write = token_create(user=uploader.user, organization=organization, name="upload", scope="write").key
    print("RESULT " + json.dumps({"organization": organization.pk, "users": users, "upload_token": write}))


# --- Servers ----------------------------------------------------------------------------------------------


class Servers:
    """gunicorn and a Celery worker as subprocesses, each in its own process group."""

    def __init__(self, env: dict, var: Path, port: int) -> None:
        self.env, self.var, self.port = env, var, port
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.access_log = var / "access.log"
        self.worker_starts = 0

    def start_web(self) -> None:
        self.access_log.unlink(missing_ok=True)
        self.web = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "finops.wsgi:application",
                *("--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4", "--timeout", "120"),
                *("--log-level", "warning", "--access-logfile", str(self.access_log)),
                *("--access-logformat", "%(m)s %(U)s %(s)s %(D)s"),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=open(self.var / "gunicorn.log", "ab"),  # noqa: SIM115 (the child owns it)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            if self.web.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.web.returncode}; see {self.var / 'gunicorn.log'}")
            time.sleep(0.3)
        raise SystemExit("gunicorn did not start listening within 60 s")

    def start_worker(self) -> None:
        self.worker_starts += 1
        self.worker = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                *("-A", "finops", "worker", "--loglevel=INFO", "--concurrency", "2"),
                *("--hostname", f"load{self.worker_starts}@%h"),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=open(self.var / "worker.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_worker(self) -> None:
        """SIGKILL to the worker's whole process group: the main process and its pool, as an OOM kill or a lost
        machine would leave them, with no chance to requeue anything."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    def stop(self) -> None:
        for proc in (self.worker, self.web):
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.worker, self.web):
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def server_errors(self) -> list[str]:
        """Access-log lines with a 5xx status (every request, the bench's own uploads and polls included)."""
        if not self.access_log.exists():
            return []
        return [line.strip() for line in self.access_log.read_text().splitlines() if line.split(" ")[2:3] >= ["5"]]


# --- Clients ----------------------------------------------------------------------------------------------


@dataclass
class Samples:
    """Per endpoint: latencies (ms) of answered requests, 5xx count, other errors (non-200, exceptions)."""

    ms: dict[str, list[float]] = field(default_factory=dict)
    server_errors: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, ms: float, status: int | None, detail: str = "") -> None:
        with self.lock:
            self.ms.setdefault(path, []).append(ms)
            self.server_errors.setdefault(path, 0)
            self.errors.setdefault(path, 0)
            if status is not None and status >= 500:
                self.server_errors[path] += 1
            elif status != 200:
                self.errors[path] += 1
            if status != 200 and len(self.examples) < 10:
                self.examples.append(f"{path}: {status or detail}")


def hammer(base: str, sessions: list, tokens: list[str], stop: threading.Event, samples: Samples) -> None:
    """Each client requests pages (its session) and API GETs (its token) round robin until ``stop`` is set."""
    import requests

    endpoints = [("page", p) for p in PAGES] + [("api", p) for p in API]

    def client(index: int) -> None:
        session, token = sessions[index], tokens[index]
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        i = index
        while not stop.is_set():
            kind, path = endpoints[i % len(endpoints)]
            i += 1
            t0 = time.perf_counter()
            try:
                status, detail = (session if kind == "page" else api).get(base + path, timeout=60).status_code, ""
            except requests.RequestException as error:
                status, detail = None, f"{type(error).__name__}: {error}"[:300]
            samples.add(path, (time.perf_counter() - t0) * 1000, status, detail)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class _MultipartBody:
    """A one-file multipart/form-data body streamed from disk (requests would build it in memory)."""

    def __init__(self, path: Path, boundary: str) -> None:
        self.head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\nfocus\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/gzip\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = path.stat().st_size
        self.handle = open(path, "rb")  # noqa: SIM115 (closed when the tail is read)
        self.part = 0

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def read(self, size: int = -1) -> bytes:
        if self.part == 0:
            self.part = 1
            return self.head
        if self.part == 1:
            block = self.handle.read(size if size > 0 else 1 << 20)
            if block:
                return block
            self.handle.close()
            self.part = 2
            return self.tail
        return b""


def upload(base: str, token: str, path: Path) -> dict:
    import requests

    boundary = "loadbench" + os.urandom(8).hex()
    response = requests.post(
        f"{base}/api/v1/ingest-jobs/",
        data=_MultipartBody(path, boundary),
        headers={"Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=600,
    )
    if response.status_code != 202:
        raise SystemExit(f"upload of {path.name}: HTTP {response.status_code} {response.text[:500]}")
    return response.json()


def job_get(base: str, token: str, job_id: int) -> dict:
    import requests

    return requests.get(
        f"{base}/api/v1/ingest-jobs/{job_id}/", headers={"Authorization": f"Token {token}"}, timeout=60
    ).json()


# --- Database checks (psycopg, independent of the product's code) ----------------------------------------


def period_totals(url: str, organization: int, month: str) -> tuple[Totals, Totals]:
    """(line items, daily rollups) of the organization's billing period ``month``."""
    import psycopg

    period = f"{month}-01 00:00:00+00"
    with psycopg.connect(url) as conn:
        items = conn.execute(
            "SELECT count(*), coalesce(sum(billed_cost), 0), coalesce(sum(effective_cost), 0), "
            "coalesce(sum(list_cost), 0) FROM usage_lineitem WHERE organization_id = %s AND billing_period_start = %s",
            (organization, period),
        ).fetchone()
        daily = conn.execute(
            "SELECT coalesce(sum(row_count), 0), coalesce(sum(billed_cost), 0), coalesce(sum(effective_cost), 0), "
            "coalesce(sum(list_cost), 0) FROM usage_dailycost WHERE organization_id = %s "
            "AND billing_period_start = %s",
            (organization, period),
        ).fetchone()
    return Totals(items[0], *(Decimal(v) for v in items[1:])), Totals(int(daily[0]), *(Decimal(v) for v in daily[1:]))


# --- Phases -----------------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    samples: Samples
    seconds: float
    job: dict | None
    state: str
    rollup_state: str
    notes: list[str]


def run_phase(
    name: str, base: str, servers: Servers, seeded: dict, sessions: list, args, path: Path, delivery: Totals, url: str
) -> PhaseResult:
    month = PHASE_MONTHS[name]
    before, before_daily = period_totals(url, seeded["organization"], month)
    notes = [f"period {month} before: {before.text()}"]
    samples = Samples()
    tokens = [u["token"] for u in seeded["users"]][: len(sessions)]
    stop = threading.Event()
    load = threading.Thread(target=hammer, args=(base, sessions, tokens, stop, samples), daemon=True)
    started = time.monotonic()
    load.start()
    job = upload(base, seeded["upload_token"], gzipped(path))
    notes.append(
        f"upload of {gzipped(path).stat().st_size / 1e6:,.0f} MB answered 202 in {time.monotonic() - started:.1f} s"
    )
    killed = False
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        job = job_get(base, seeded["upload_token"], job["id"])
        if job["status"] not in ("pending", "running"):
            break
        rows = (job.get("progress") or {}).get("rows") or 0
        if name == "worker killed" and not killed and rows >= KILL_AT * delivery.rows:
            servers.kill_worker()
            notes.append(f"worker SIGKILLed at {time.monotonic() - started:.1f} s, {rows:,} rows loaded")
            time.sleep(1)
            servers.start_worker()
            notes.append(f"new worker started at {time.monotonic() - started:.1f} s")
            killed = True
        time.sleep(0.5)
    ended = time.monotonic() - started
    # The load lasts the whole ingest, and at least --seconds.
    time.sleep(max(0.0, started + args.seconds - time.monotonic()))
    stop.set()
    load.join()
    window = time.monotonic() - started
    if job["status"] in ("pending", "running"):
        notes.append(f"job {job['id']} still {job['status']} after {args.timeout:.0f} s (--timeout)")
    else:
        notes.append(
            f"job {job['id']} {job['status']} {ended:.1f} s after the upload started"
            + (f": {job['error']}" if job.get("error") else "")
        )
    if name == "worker killed" and not killed:
        notes.append("the job ended before the kill point: nothing was killed")
    after, after_daily = period_totals(url, seeded["organization"], month)
    state = delivery_state(before, after, delivery)
    rollup_state = delivery_state(before_daily, after_daily, delivery)
    notes.append(f"period {month} after: {after.text()} -> {state}; daily rollups -> {rollup_state}")
    notes.append(f"load window {window:.0f} s ({len(sessions)} clients)")
    return PhaseResult(name, samples, window, job, state, rollup_state, notes)


def baseline(base: str, seeded: dict, sessions: list, args) -> PhaseResult:
    """The same clients for --seconds with no ingest: what the machine serves without one."""
    samples, stop = Samples(), threading.Event()
    tokens = [u["token"] for u in seeded["users"]][: len(sessions)]
    load = threading.Thread(target=hammer, args=(base, sessions, tokens, stop, samples), daemon=True)
    started = time.monotonic()
    load.start()
    time.sleep(args.seconds)
    stop.set()
    load.join()
    window = time.monotonic() - started
    return PhaseResult("no ingest", samples, window, None, "-", "-", [f"load window {window:.0f} s"])


def phase_ok(result: PhaseResult) -> bool:
    """The job ended (succeeded or failed, not left running) and its data agrees with itself and with the job:
    complete if it succeeded, else absent."""
    if result.job is None:  # the baseline: no delivery
        return True
    if result.state == "partial" or result.state != result.rollup_state:
        return False
    if result.job["status"] in ("pending", "running"):
        return False
    if result.job["status"] == "succeeded":
        return result.state == "complete"
    return result.state == "absent"


def report(results: list[PhaseResult], servers: Servers, clients: int) -> bool:
    print(f"\n{clients} clients; latency = client round trip on loopback, ms\n")
    print("| phase | endpoint | requests | req/s | p50 | p95 | p99 | 5xx | other errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    fives = 0
    for result in results:
        s = result.samples
        groups = [("all pages", PAGES), ("all API", API)]
        rows = [(f"`{p}`", [p]) for p in PAGES + API] + [(f"**{g}**", paths) for g, paths in groups]
        for label, paths in rows:
            ms = [v for p in paths for v in s.ms.get(p, [])]
            if not ms:
                continue
            bad = sum(s.server_errors.get(p, 0) for p in paths)
            other = sum(s.errors.get(p, 0) for p in paths)
            print(
                f"| {result.name} | {label} | {len(ms):,} | {len(ms) / result.seconds:,.1f} | "
                f"{_percentile(ms, 50):,.0f} | {_percentile(ms, 95):,.0f} | {_percentile(ms, 99):,.0f} | "
                f"{bad} | {other} |"
            )
        fives += sum(s.server_errors.values())
    ok = True
    for result in results:
        print(f"\n{result.name}:")
        for note in result.notes:
            print(f"  {note}")
        for example in result.samples.examples:
            print(f"  error: {example}")
        ok &= phase_ok(result)
    logged = servers.server_errors()
    for line in logged[:10]:
        print(f"  5xx in the access log: {line}")
    verdict = ok and fives == 0 and not logged
    states = ", ".join(f"{r.name}: {r.state} ({r.job['status']})" for r in results if r.job)
    print(
        f"\nverdict: {'PASS' if verdict else 'FAIL'}: {fives} 5xx answers to clients, {len(logged)} 5xx in the "
        f"access log; deliveries {states} (pass: no 5xx, each job ended, its data complete or absent as its status)"
    )
    return verdict


# --- Main -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the ingested file (default 1,000,000)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="shortest load per phase (it lasts the ingest)")
    parser.add_argument("--seed-rows", type=int, default=50_000, help="rows of each seeded month")
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for a job, per phase")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded template database")
    parser.add_argument("--child-seed", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.child_seed:
        return child_seed(args.child_seed, args.clients)

    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/load.py needs DATABASE_URL=postgres://... (PostgreSQL; the bench uses <name>_load)")
    if not os.environ.get("REDIS_URL", "").startswith("redis://"):
        raise SystemExit("bench/load.py needs REDIS_URL=redis://host:port/N (a database the bench may flush)")
    signal.signal(signal.SIGTERM, _interrupted)  # a stopped bench stops its servers too
    var = (
        Path(os.environ["FINOPS_VAR_DIR"]) / "load" if os.environ.get("FINOPS_VAR_DIR") else ROOT / "var" / "bench-load"
    )
    var.mkdir(parents=True, exist_ok=True)
    url, template = bench_database_url("_load"), bench_database_url("_load_seed")
    env = dict(os.environ, DATABASE_URL=url, FINOPS_VAR_DIR=str(var / "var"))
    print(f"load benchmark: {args.clients} clients x {args.seconds:.0f} s, {args.rows:,}-row ingest ({url})")

    started = time.perf_counter()
    source = generate("focus", args.rows, var)
    files = {name: month_file(source, month, var) for name, month in PHASE_MONTHS.items()}
    deliveries = {name: file_totals(path) for name, path in files.items()}
    for name, path in files.items():
        gzipped(path)
        print(f"  {name}: {path.name}: {deliveries[name].text()}")
    seed_source = generate("focus", args.seed_rows, var)
    seed_files = [month_file(seed_source, month, var) for month in SEED_MONTHS]
    print(f"  files ready in {time.perf_counter() - started:.0f} s")

    seeded = seed(args, env, template, var, seed_files)
    _flush_redis()
    _clone(template, url)
    port = _free_port()
    server_env = production_env(env)
    servers = Servers(server_env, var, port)
    base = f"http://127.0.0.1:{port}"
    ok = False
    try:
        servers.start_web()
        servers.start_worker()
        sessions = [_session(base, u["username"], PASSWORD) for u in seeded["users"][: args.clients]]
        for path in PAGES:  # warm each page once, so the first phase does not measure cold caches only
            sessions[0].get(base + path, timeout=120)
        results = [baseline(base, seeded, sessions, args)] + [
            run_phase(name, base, servers, seeded, sessions, args, files[name], deliveries[name], url)
            for name in PHASE_MONTHS
        ]
        ok = report(results, servers, args.clients)
    finally:
        servers.stop()
        _flush_redis()
    sys.exit(0 if ok else 1)


def seed(args, env: dict, template: str, var: Path, seed_files: list[Path]) -> dict:
    marker = var / "seed.json"
    wanted = {"version": SEED_VERSION, "seed_rows": args.seed_rows, "clients": args.clients, "database": template}
    seeded = json.loads(marker.read_text()) if args.reuse and marker.exists() else None
    if seeded and all(seeded.get(k) == v for k, v in wanted.items()) and _exists(template):
        print("  seed: reusing the template database")
        return seeded
    started = time.perf_counter()
    seed_env = prepare_database(dict(env, DATABASE_URL=template))
    output = subprocess.run(
        [sys.executable, __file__, "--clients", str(args.clients), "--child-seed", *map(str, seed_files)],
        env=seed_env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    for line in output.splitlines():
        if not line.startswith("RESULT "):
            print(line)
    seeded = {**json.loads(next(x for x in output.splitlines() if x.startswith("RESULT "))[7:]), **wanted}
    marker.write_text(json.dumps(seeded))
    print(f"  seeded in {time.perf_counter() - started:.0f} s")
    return seeded


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _admin():
    import psycopg

    base = os.environ["DATABASE_URL"].rpartition("/")[0]
    return psycopg.connect(f"{base}/postgres", autocommit=True)


def _exists(url: str) -> bool:
    with _admin() as admin:
        return (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.rpartition("/")[2],)).fetchone()
            is not None
        )


def _clone(template: str, url: str) -> None:
    """A fresh copy of the seeded template: each run starts from the same state."""
    with _admin() as admin:
        name, source = url.rpartition("/")[2], template.rpartition("/")[2]
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


if __name__ == "__main__":
    main()
