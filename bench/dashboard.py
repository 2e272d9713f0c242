#!/usr/bin/env python
"""Dashboard benchmark: seed one large organization, then drive the pages with concurrent HTTP clients
on loopback against a real gunicorn server, and print per-page latency percentiles and errors.

    python bench/dashboard.py [--rows 10000000] [--clients 8] [--requests 100] [--workers 2] [--reuse]

- Database: the one DATABASE_URL names with "_dashboard" appended (SQLite: var/dashboard.sqlite3, or
  $FINOPS_VAR_DIR/dashboard.sqlite3 when that is set), dropped, re-created and migrated (``--reuse`` keeps an
  already seeded one with the same row count and SEED_VERSION).
- Line items take the fastest path: synthetic FOCUS line items generated with numpy/pyarrow in chunks and
  written with ``finops.core.bulk.TableLoader`` (COPY on PostgreSQL) together with their DailyCost and
  DailyTagCost rollups, with the ingest's own functions (``finops.usage.rollup`` and the helpers of
  ``finops.usage.services._files_load``). Shape: ~1,100 resources billed hourly over 13 months (10M rows),
  40 services, 12 accounts, 8 regions, 24 teams, reservations/savings plans (Used and Unused rows), tags with
  team and environment; the compute services' resources are EC2 instances of six common types, and
  INCIDENT_SERVICE costs 4x its rate for 3 days (an incident in the *input*, for the anomaly detector to find).
- Derived data (what the ingest's follow-ups compute, each step timed and printed): carbon recompute,
  forecasts and anomalies (``forecast_refresh_inline``, alerts off), four budgets (whole organization,
  a service, a team, the tag scope environment=prod; amounts from the organization's own forecast) created
  and evaluated by ``finops.budgets.services`` (their alerts go to a reserved .example address), the shipped
  Libcloud price table imported with derived commitment rates (timed apart: once per installation, not per
  ingest), a 30-day commitment recommendation executed inline by ``optimizer.services`` (whatever it
  produces: a FAILED run with its reason is shown as is), and a daily "orders" metric for the largest team
  uploaded with ``business_metrics_upload``. Nothing a service computes is written by the benchmark.
- Clients: threads with ``requests`` sessions, each logged in as a finance user, requesting the pages round
  robin. Latency is measured at the client on loopback (server time plus a fraction of a millisecond). The
  first request of each page (cold cache) is reported apart from the steady-state distribution.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import bench_database_url, prepare_database  # noqa: E402

TARGET_P95_MS = 200
USERNAME, PASSWORD = "bench-finance", "bench-password-1"
ORG = "bench"
HOURS_PER_CHUNK = 96
# What the seeded database holds; --reuse re-seeds a database whose marker records another version.
# 2: instance types, DailyTagCost, budgets, forecasts/anomalies, carbon, an optimizer run, a business metric.
# 3: the incident falls in the anomaly detector's window (the last FINOPS_ANOMALY_LOOKBACK_DAYS = 3 days).
SEED_VERSION = 3
# EC2 types of the compute services' resources, most common first; priced in the shipped Libcloud table.
INSTANCE_TYPES = ("m5.large", "c5.large", "m6i.large", "r5.large", "c5.xlarge", "m5.2xlarge")
LIBCLOUD_PRICES = ROOT / "pricing" / "data" / "libcloud_pricing.json.gz"
UNIT = "orders"  # the business metric of the unit-cost page
# A 3-day cost incident in the input (not in the anomalies table): the forecasting service finds what it finds.
# Its last 3 days: a refresh checks only the days since the previous daily refresh (FINOPS_ANOMALY_LOOKBACK_DAYS).
INCIDENT_SERVICE, INCIDENT_FACTOR, INCIDENT_DAYS_AGO = "Service 03", 4.0, 3


# --- Seeding (child process, Django set up) -------------------------------------------------


def _resources(count: int, seed: int = 11) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    services = [f"Service {i:02d}" for i in range(40)]
    categories = ["Compute", "Storage", "Databases", "Networking", "Analytics"]
    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1", "sa-east-1"]
    teams = [f"team-{i:02d}" for i in range(24)]
    envs = ["prod", "staging", "dev"]
    # Zipf-like weights: a few services and teams hold most of the spend, as in real bills.
    service = rng.choice(len(services), count, p=_zipf(len(services)))
    team = rng.choice(len(teams), count, p=_zipf(len(teams)))
    pricing = rng.choice(3, count, p=[0.70, 0.22, 0.08])  # Standard, Committed, Dynamic (spot)
    shapes = np.random.default_rng(seed + 1)  # its own stream: the costs stay those of earlier runs
    return {
        "service": np.array(services, dtype=object)[service],
        "service_category": np.array(categories, dtype=object)[service % len(categories)],
        "account": np.array([f"{100000000000 + i}" for i in range(12)], dtype=object)[rng.integers(0, 12, count)],
        "region": np.array([*regions, None], dtype=object)[rng.integers(0, len(regions) + 1, count)],
        "team": np.array(teams, dtype=object)[team],
        "pricing": np.array(["Standard", "Committed", "Dynamic"], dtype=object)[pricing],
        # 1 in 6 committed rows is the unused part of its commitment.
        "status": np.where(pricing == 1, np.where(rng.random(count) < 1 / 6, "Unused", "Used"), None),
        "tags": np.array(
            [json.dumps({"team": teams[t], "environment": envs[i % 3]}) for i, t in enumerate(team)], dtype=object
        ),
        # Compute services run EC2 instances of common types (catalog SKUs), billed by the hour; the other
        # services' rows carry no instance shape or unit, as storage/network charges of a FOCUS export don't.
        "instance_type": np.where(
            service % len(categories) == 0,
            np.array(INSTANCE_TYPES, dtype=object)[
                shapes.choice(len(INSTANCE_TYPES), count, p=_zipf(len(INSTANCE_TYPES)))
            ],
            None,
        ),
        "hourly": rng.lognormal(mean=-1.5, sigma=1.2, size=count),
        "id": np.array([f"r-{i:07d}" for i in range(count)], dtype=object),
    }


def _zipf(n: int):
    import numpy as np

    weights = 1 / np.arange(1, n + 1)
    return weights / weights.sum()


def _chunk(res: dict, start: datetime, hours: int, rng, incident: tuple[datetime, datetime] | None = None) -> object:
    """Canonical line items for ``hours`` consecutive hours of every resource. During ``incident`` (start, end),
    the resources of INCIDENT_SERVICE cost INCIDENT_FACTOR times their usual rate (a runaway deployment)."""
    import numpy as np
    import pyarrow as pa

    from finops.usage.formats.schema import CANONICAL_SCHEMA, DECIMAL

    n_res = len(res["id"])
    n = n_res * hours
    idx = np.tile(np.arange(n_res), hours)
    hour = np.repeat(np.arange(hours), n_res)
    starts = np.datetime64(start.replace(tzinfo=None), "us") + hour.astype("timedelta64[h]")
    list_cost = res["hourly"][idx] * rng.uniform(0.85, 1.15, n)
    if incident is not None:
        window = (starts >= np.datetime64(incident[0], "us")) & (starts < np.datetime64(incident[1], "us"))
        list_cost = np.where(window & (res["service"][idx] == INCIDENT_SERVICE), list_cost * INCIDENT_FACTOR, list_cost)
    pricing = res["pricing"][idx]
    status = res["status"][idx]
    effective = np.where(
        pricing == "Committed", list_cost * 0.62, np.where(pricing == "Dynamic", list_cost * 0.3, list_cost)
    )
    billed = np.where(pricing == "Committed", 0.0, effective)

    def money(values):
        return pa.array(np.char.mod("%.10f", values)).cast(DECIMAL)

    months = starts.astype("datetime64[M]")
    period, period_end = months.astype("datetime64[us]"), (months + 1).astype("datetime64[us]")
    ts = pa.timestamp("us", tz="UTC")
    columns = {
        "provider_name": pa.array(np.full(n, "AWS", dtype=object)),
        "billing_account_id": pa.array(res["account"][idx]),
        "sub_account_id": pa.array(res["account"][idx]),
        "billing_currency": pa.array(np.full(n, "USD", dtype=object)),
        "billing_period_start": pa.array(period).cast(ts),
        "billing_period_end": pa.array(period_end).cast(ts),
        "charge_period_start": pa.array(starts).cast(ts),
        "charge_period_end": pa.array(starts + np.timedelta64(1, "h")).cast(ts),
        "charge_category": pa.array(np.full(n, "Usage", dtype=object)),
        "billed_cost": money(billed),
        "effective_cost": money(effective),
        "list_cost": money(list_cost),
        "pricing_quantity": money(np.ones(n)),
        "pricing_category": pa.array(pricing),
        "service_name": pa.array(res["service"][idx]),
        "service_category": pa.array(res["service_category"][idx]),
        "region_id": pa.array(res["region"][idx]),
        "resource_id": pa.array(res["id"][idx]),
        "commitment_discount_status": pa.array(status),
        "instance_type": pa.array(res["instance_type"][idx]),
        "pricing_unit": pa.array(np.where(res["instance_type"][idx] != None, "Hours", None)),  # noqa: E711
        "tags": pa.array(res["tags"][idx]),
    }
    arrays = [columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in CANONICAL_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA)


def child_seed(rows: int) -> None:
    """Seed the line items and their rollups as the ingest writes them, then the derived data the ingest's
    follow-ups compute; print one ``RESULT {json}`` line (counts, seconds per step, ids of the driven pages)."""
    import django

    django.setup()
    import numpy as np
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from finops.accounts.services import membership_set, organization_get_or_create
    from finops.core.bulk import bulk_insert
    from finops.usage.models import DailyCost, DailyTagCost, IngestFile, IngestJob
    from finops.usage.rollup import (
        TAG_ROLLUP_DIMENSIONS,
        RollupAccumulator,
        rollup_chunk,
        tag_rollup_chunk,
        team_values,
    )
    from finops.usage.services import LINE_ITEM_COLUMNS, _line_item_table, _rollup_table, _team_ids
    from finops.usage.storage import LineItemWriter, leaves_attach

    started = time.perf_counter()
    hours_total = 395 * 24  # 13 months
    n_res = max(1, math.ceil(rows / hours_total))
    res = _resources(n_res)
    end = datetime.combine(date.today(), datetime.min.time())
    first = end - timedelta(hours=hours_total)
    incident = (end - timedelta(days=INCIDENT_DAYS_AGO), end - timedelta(days=INCIDENT_DAYS_AGO - 3))
    rng = np.random.default_rng(5)
    organization, _ = organization_get_or_create(slug=ORG, name="Benchmark Inc.")
    membership_set(username=USERNAME, organization=organization, role="finance", password=PASSWORD)
    written = 0
    counts: dict[str, int] = {}
    with transaction.atomic():
        job = IngestJob.objects.create(organization=organization, source="bench", delivery_sha256="bench" * 8)
        source = IngestFile.objects.create(job=job, name="generated", path="generated", sha256="0" * 64, size_bytes=0)
        # The ingest's writer and rollup accumulators (finops.usage.services._files_load): one leaf per month.
        rollups, tag_rollups = RollupAccumulator(), RollupAccumulator(TAG_ROLLUP_DIMENSIONS)
        loader = LineItemWriter(job_id=job.pk, columns=LINE_ITEM_COLUMNS)
        hour = 0
        while written < rows:
            hours = min(HOURS_PER_CHUNK, hours_total - hour)
            chunk = _chunk(res, first + timedelta(hours=hour), hours, rng, incident)
            take = min(chunk.num_rows, rows - written)
            chunk = chunk.slice(0, take)
            values = team_values(chunk["tags"], settings.FINOPS_TEAM_TAG_KEYS)
            loader.load(loader.prepare(_line_item_table(chunk, organization.pk, job.pk, source.pk, values)))
            rollups.add(rollup_chunk(chunk, values))
            tag_rollups.add(tag_rollup_chunk(chunk, values))
            written += take
            hour += hours
            print(f"  {written:,} line items ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        loader.finish()
        leaves_attach(job.pk, [(month, None) for month in loader.months])
        team_cache: dict[str, int | None] = {}
        for model, merged in ((DailyCost, rollups.result()), (DailyTagCost, tag_rollups.result())):
            team_ids = _team_ids(organization, merged["team_value"], team_cache)
            bulk_insert(model, _rollup_table(merged, organization.pk, job.pk, team_ids))
            counts[model.__name__] = merged.num_rows
        job.status = IngestJob.Status.SUCCEEDED
        job.rows_read = job.rows_written = written
        job.finished_at = timezone.now()
        job.save()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seconds = {"line items and rollups": time.perf_counter() - started}
    derived = _derived(organization, seconds)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    from django.core.cache import cache

    cache.clear()  # ids repeat across benchmark databases
    result = {"rows": written, "daily_cost": counts["DailyCost"], "daily_tag_cost": counts["DailyTagCost"]}
    print("RESULT " + json.dumps({**result, **derived, "seconds": seconds}))


def _timed(seconds: dict[str, float], step: str, call):
    t0 = time.perf_counter()
    value = call()
    seconds[step] = time.perf_counter() - t0
    print(f"  {step}: {seconds[step]:.1f} s", file=sys.stderr, flush=True)
    return value


def _derived(organization, seconds: dict[str, float]) -> dict:
    """What the ingest's follow-ups (finops.usage.followups) compute, with the project's services: carbon,
    forecasts and anomalies (alerts off), budgets and their evaluation; then a commitment recommendation
    (the catalog import it needs timed apart: once per installation, not per ingest) and a team's business
    metric. Returns the counts and the ids of the pages to drive."""
    from decimal import Decimal

    import numpy as np
    from django.db.models import Count
    from django.utils import timezone

    from finops.accounts.models import Team
    from finops.budgets.models import Budget, BudgetAlert
    from finops.budgets.services import budget_create, budget_state, budgets_evaluate
    from finops.carbon.models import CarbonDaily
    from finops.carbon.services import carbon_recompute
    from finops.forecasting.models import Anomaly, ForecastRun
    from finops.forecasting.services import forecast_refresh_inline
    from finops.usage.models import DailyCost
    from finops.web.services import business_metrics_upload
    from optimizer.services import OptimizationError, optimization_run_create, optimization_run_execute
    from pricing.services import catalog_import, derive_commitment_prices

    out: dict = {}
    carbon = _timed(seconds, "carbon recompute", lambda: carbon_recompute(organization=organization))
    out["carbon_rows"] = CarbonDaily.objects.filter(organization=organization).count()
    out["carbon_methods"] = dict(
        CarbonDaily.objects.filter(organization=organization)
        .values("method")
        .annotate(n=Count("id"))
        .values_list("method", "n")
    )
    out["carbon_groups"] = carbon.groups if carbon is not None else 0

    run = _timed(
        seconds,
        "forecasts and anomalies",
        lambda: forecast_refresh_inline(
            organization=organization, trigger=ForecastRun.Trigger.INGEST, send_alerts=False
        ),
    )
    out["forecast"] = f"{run.status}, {run.series_done}/{run.series_total} series"
    out["anomalies"] = Anomaly.objects.filter(organization=organization).count()

    team = Team.objects.filter(organization=organization).order_by("slug").first()  # team-00, the largest
    service = (
        DailyCost.objects.filter(organization=organization, service_category="Compute")
        .values_list("service_name", flat=True)
        .order_by("service_name")
        .first()
    )
    today = timezone.now().date()
    thresholds = [{"percent": "80", "kind": "actual"}, {"percent": "100", "kind": "forecast"}]
    # Amounts from the organization's own forecast (as finops.budgets.demo does), so the states differ
    # whatever day the benchmark seeds: comfortably under, tight, and over on the forecast.
    specs = [
        ("Cloud total", "monthly", {}, Decimal("1.5")),
        (f"{service}", "monthly", {"service_name": [service]}, Decimal("1.02")),
        (f"Team {team.name}", "quarterly", {"team": [team.slug]}, Decimal("1.2")),
        ("Production", "monthly", {"tags": {"environment": ["prod"]}}, Decimal("0.9")),
    ]

    def create_budgets() -> list:
        budgets = []
        for name, period, scope, factor in specs:
            probe = Budget(organization=organization, amount=Decimal(1), thresholds=[], period=period, scope=scope)
            evaluation, _ = budget_state(budget=probe, today=today)
            amount = max((evaluation.forecast * factor).quantize(Decimal("0.01")), Decimal("0.01"))
            data = {
                "name": name,
                "period": period,
                "scope": scope,
                "amount": str(amount),
                "thresholds": thresholds,
                # Reserved domain (RFC 2606): the alerts go to the mail folder or nowhere, never to a person.
                "recipient_emails": ["finance@bench.example"],
            }
            budgets.append(budget_create(organization=organization, data=data))
        return budgets

    budgets = _timed(seconds, "budgets create", create_budgets)
    results = _timed(seconds, "budgets evaluate", lambda: budgets_evaluate(organization=organization, today=today))
    out["budgets"] = ", ".join(f"{r.budget.name} {r.evaluation.status}" for r in results)
    out["budget_alerts"] = BudgetAlert.objects.filter(organization=organization).count()
    out["budget"] = budgets[-1].pk  # the tag-scoped one

    def prices() -> str:
        record, duplicate = catalog_import(paths=[LIBCLOUD_PRICES])
        derived, _ = derive_commitment_prices()
        return f"{record.prices_added:,} prices, {derived.prices_added:,} derived commitment rates" + (
            " (already imported)" if duplicate else ""
        )

    out["catalog"] = _timed(seconds, "price catalog import (once)", prices)
    optimization = optimization_run_create(
        organization=organization, parameters={"lookback_days": 30, "time_limit": 60.0}, enqueue=False
    )

    def optimize() -> None:
        # Bad data makes the run FAILED with its reason, which the run page shows as the service left it.
        with contextlib.suppress(OptimizationError):
            optimization_run_execute(optimization)

    _timed(seconds, "commitment optimizer run", optimize)
    optimization.refresh_from_db()
    out["optimizer_run"] = optimization.pk
    out["optimizer"] = (
        f"{optimization.status}, {optimization.recommendations.count()} purchase(s), "
        f"solver {optimization.solver_status or '-'}" + (f", error: {optimization.error}" if optimization.error else "")
    )

    # One order count per day of data for the team, uploaded as the team page's CSV form does.
    days = sorted(set(DailyCost.objects.filter(organization=organization).values_list("day", flat=True)))
    orders = np.random.default_rng(3).poisson(900, len(days))
    lines = ["date,metric,value", *(f"{d.isoformat()},{UNIT},{n}" for d, n in zip(days, orders, strict=True))]
    out["metric_rows"] = _timed(
        seconds,
        "business metric upload",
        lambda: business_metrics_upload(
            organization=organization, team=team, data="\n".join(lines).encode(), name="orders.csv", user=None
        ),
    )
    out.update({"team": team.slug, "unit": UNIT, "service": service})
    return out


# --- Load generation ------------------------------------------------------------------------


def production_env(env: dict) -> dict:
    """``env`` with production settings, but plain http on loopback: no HTTPS redirect, cookies sent over http."""
    return dict(
        env,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-secret",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SESSION_COOKIE_SECURE="0",
        DJANGO_CSRF_COOKIE_SECURE="0",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session(base: str, username: str = USERNAME, password: str = PASSWORD):
    """A requests session logged in to the web pages."""
    import requests

    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=60)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/"},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=60,
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise SystemExit(f"login of {username} failed: HTTP {response.status_code}")
    return session


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def _server_times(log: Path, offset: int) -> dict[str, list[float]]:
    """Server time per page (ms) from gunicorn's access log written after ``offset``: "path?query status micros"."""
    times: dict[str, list[float]] = {}
    with open(log, encoding="utf-8") as handle:
        handle.seek(offset)
        for line in handle:
            path, query, status, micros = line.rsplit(" ", 3)[0], *line.rsplit(" ", 3)[1:]
            key = f"{path}?{query}" if query not in ("", "-") else path
            if status == "200":
                times.setdefault(key, []).append(int(micros) / 1000)
    return times


def drive(base: str, pages: list[str], clients: int, requests_per_page: int, log: Path) -> None:
    sessions = [_session(base) for _ in range(clients)]
    cold: dict[str, float] = {}
    for path in pages:  # first hit of each page: cold cache
        t0 = time.perf_counter()
        response = sessions[0].get(base + path, timeout=300)
        cold[path] = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    time.sleep(1)  # let gunicorn flush the cold requests' log lines
    offset = log.stat().st_size
    timings: dict[str, list[float]] = {p: [] for p in pages}
    errors: dict[str, int] = {p: 0 for p in pages}
    lock = threading.Lock()
    work = [p for _ in range(requests_per_page) for p in pages]

    def client(index: int) -> None:
        session = sessions[index]
        for path in work[index::clients]:
            t0 = time.perf_counter()
            try:
                ok = session.get(base + path, timeout=60).status_code == 200
            except OSError:
                ok = False
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                timings[path].append(elapsed)
                errors[path] += 0 if ok else 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - started
    total = sum(len(v) for v in timings.values())
    time.sleep(1)
    server = _server_times(log, offset)
    total = sum(len(v) for v in timings.values())
    print(f"\n{total:,} requests by {clients} clients in {wall:.1f} s ({total / wall:,.0f} req/s)")
    print("server = time inside gunicorn (access log %(D)s); client = round trip on loopback, incl. queueing\n")
    print(
        "| page | cold ms | requests | errors | server p50 | server p95 | server p99 | client p50 | client p95 "
        "| server p95 <= 200 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in pages:
        values, times = timings[path], server.get(path, [])
        p95 = _percentile(times, 95) if times else float("nan")
        print(
            f"| `{path}` | {cold[path]:,.0f} | {len(values)} | {errors[path]} | {statistics.median(times):,.0f} | "
            f"{p95:,.0f} | {_percentile(times, 99):,.0f} | {statistics.median(values):,.0f} | "
            f"{_percentile(values, 95):,.0f} | {'met' if p95 <= TARGET_P95_MS else 'missed'} |"
        )


def _print_seed(seeded: dict) -> None:
    print(
        f"  seeded {seeded['rows']:,} line items, {seeded['daily_cost']:,} daily rollups and "
        f"{seeded['daily_tag_cost']:,} daily tag rollups in {seeded['seed_seconds']:,.0f} s (incl. migrate):"
    )
    for step, seconds in seeded["seconds"].items():
        print(f"  | {step} | {seconds:,.1f} s |")
    print(
        f"  carbon: {seeded['carbon_rows']:,} daily rows from {seeded['carbon_groups']:,} line-item groups "
        f"(by method: {seeded['carbon_methods']})\n"
        f"  forecasts: {seeded['forecast']}; {seeded['anomalies']:,} anomalies\n"
        f"  budgets: {seeded['budgets']}; {seeded['budget_alerts']} alert(s)\n"
        f"  prices: {seeded['catalog']}\n"
        f"  optimizer run {seeded['optimizer_run']}: {seeded['optimizer']}\n"
        f"  business metric: {seeded['metric_rows']:,} days of {seeded['unit']} for {seeded['team']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="line items to seed (default 10,000,000)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100, help="steady-state requests per page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database if it has --rows line items")
    parser.add_argument("--child-seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-clear-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.child_seed:
        return child_seed(args.child_seed)
    if args.child_clear_cache:
        import django

        django.setup()
        from django.core.cache import cache

        return cache.clear()

    env = dict(os.environ, DATABASE_URL=bench_database_url("_dashboard"))
    if env["DATABASE_URL"].startswith("sqlite:///") and os.environ.get("FINOPS_VAR_DIR"):
        env["DATABASE_URL"] = f"sqlite:///{Path(os.environ['FINOPS_VAR_DIR']) / 'dashboard.sqlite3'}"
    env.setdefault("FINOPS_VAR_DIR", str(ROOT / "var" / "bench-dashboard"))
    vendor = "PostgreSQL" if "postgres" in env["DATABASE_URL"] else "SQLite"
    print(f"dashboard benchmark: {args.rows:,} line items on {vendor} ({env['DATABASE_URL']})")
    marker = Path(env["FINOPS_VAR_DIR"]) / "dashboard-seed.json"
    seeded = json.loads(marker.read_text()) if args.reuse and marker.exists() else None
    wanted = {"version": SEED_VERSION, "rows": args.rows, "database": env["DATABASE_URL"]}
    if not seeded or any(seeded.get(key) != value for key, value in wanted.items()):
        prepare_database(env)
        started = time.perf_counter()
        # Progress and errors go to stderr (shown); the result is the child's one RESULT line on stdout.
        output = subprocess.run(
            [sys.executable, __file__, "--child-seed", str(args.rows)],
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
        seeded = {**result, **wanted, "seed_seconds": round(time.perf_counter() - started, 1)}
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(seeded))
    _print_seed(seeded)
    # Cold numbers are cold: nothing cached from an earlier run.
    subprocess.run([sys.executable, __file__, "--child-clear-cache"], env=env, check=True)
    port = _free_port()
    log = Path(env["FINOPS_VAR_DIR"]) / "dashboard-access.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    server_env = production_env(env)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "finops.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--timeout",
            "300",
            "--log-level",
            "warning",
            "--access-logfile",
            str(log),
            "--access-logformat",
            "%(U)s %(q)s %(s)s %(D)s",
        ],
        env=server_env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        team, service = seeded["team"], quote(seeded["service"])
        pages = [
            "/",
            "/?metric=effective",
            "/?stack=team",
            "/explore/",
            "/explore/?group=team&granularity=week",
            "/explore/?group=region&granularity=month&metric=list",
            "/explore/?group=tag:environment&granularity=month",
            f"/explore/?group=tag:environment&granularity=week&service={service}",
            "/teams/",
            f"/teams/{team}/",
            f"/teams/{team}/?unit={quote(seeded['unit'])}",
            "/budgets/",
            f"/budgets/{seeded['budget']}/",
            "/anomalies/",
            "/optimizer/",
            f"/optimizer/runs/{seeded['optimizer_run']}/",
            "/carbon/",
            "/data/",
        ]
        drive(base, pages, args.clients, args.requests, log)
        print(
            f"\ntarget: p95 <= {TARGET_P95_MS} ms per page on 10,000,000 line items (this run: {seeded['rows']:,}); "
            f"gunicorn {args.workers} workers x {args.threads} threads; "
            f"cache: {'Redis' if env.get('REDIS_URL') else 'file'}"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
