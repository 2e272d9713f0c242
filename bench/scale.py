#!/usr/bin/env python
"""Scale simulation: one billing month of one large organization at N line items, generated to disk, ingested
through the product's ingest service, then measured; one table row per size and a fitted cost curve.

    python bench/scale.py [--rows 1000000,5000000,20000000] [--rows-per-file 1000000] [--requests 20] [--keep]

- Database: DATABASE_URL's name + "_bench" (SQLite: var/bench.sqlite3), dropped, re-created and migrated
  before each size (``--keep`` keeps the last size's data and the generated files).
- Delivery: FOCUS 1.0 CSV (the 43 columns of the FOCUS sample but its provider ``Id``), plain (not gzipped: the
  ingest reads it fastest, and a FOCUS export may be delivered so), split into files of ``--rows-per-file`` rows
  as a large export is. Generated block by block with numpy/pyarrow (never whole in memory), timed apart from
  the ingest. Shape: ~N/20,000 accounts; resources billed hourly that run the whole month or part of it; each
  resource is a line of the real FOCUS sample (service, SKU, region, unit, list unit price, hourly quantity;
  ``finops/demo/samples/focus_sample.csv``) with its quantity varied; EC2 instance hours on-demand, committed
  (effective cost at the real 1-year no-upfront reserved/on-demand ratio of
  ``pricing/data/ec2_reserved_discounts_x2iedn.json``, billed 0) or spot (the real spot/on-demand ratio of
  ../shared/data/aws_pricing/ec2instances_x2iedn.32xlarge.json when present); tags: 15% untagged, team
  (business_unit names of the sample), environment, application (the sample's), an owner on 10% (2,000
  values) and a per-resource PVC name on 3% (high cardinality); per account, tax rows at the real Tax/Usage
  ratio of the AWS CUR sample, a reserved-instance purchase on the 1st for one account in ten (1-year all
  upfront, real rate), and the sample's promotional credit for one account in five.
- Measured per size: generator rows/s; ingest (``ingest_job_create`` + ``ingest_job_run``, follow-ups off:
  forecasts and budgets are not part of the load) seconds, rows/s and peak RSS of its own process;
  database size (line items with indexes, daily rollups, tag rollups; SQLite: the file); ``rollups_rebuild``
  of the organization (rereads every line item), in its own process; dashboard and API latency against
  gunicorn (bench/load.py's server, 2 workers x 4 threads, production settings): per endpoint, ``--requests``
  requests with the cache emptied before each (every answer computed from the database: the figure the
  p95 <= 200 ms target is about) and as many with a warm cache. Latency is the client's round trip on
  loopback, one request at a time.
- Then the cost curve: least squares of ingest seconds, rebuild seconds and database bytes on rows (linear
  a + b*N, with R^2), extrapolated to 100M and 1B rows (printed as extrapolations).
- Disk: before each size, the free space of the output folder (and of PostgreSQL's data directory when it is
  local) must hold the files and the database, estimated from the previous size's bytes per row.
- REDIS_URL, when set, is the cache gunicorn uses; its database is flushed between requests: give the bench
  a database of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dashboard import _free_port, _percentile, _session, production_env  # noqa: E402
from ingest import bench_database_url, prepare_database, run_child  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
FOCUS_SAMPLE = ROOT / "finops" / "demo" / "samples" / "focus_sample.csv"
RESERVED = ROOT / "pricing" / "data" / "ec2_reserved_discounts_x2iedn.json"
EC2_RECORD = SHARED / "aws_pricing" / "ec2instances_x2iedn.32xlarge.json"
CUR_SAMPLE = SHARED / "aws_cur" / "sample-anonymous-aws-export-dataset.csv"
ORG = "scale"
USERNAME, PASSWORD = "scale-finance", "scale-bench-password-1"
ROWS_PER_ACCOUNT = 20_000
TAX_SERVICES = 5  # tax rows per account: its share of the catalog's five largest services
BLOCK_ROWS = 131_072
TARGET_P95_MS = 200
EXTRAPOLATE = (100_000_000, 1_000_000_000)
# First-size guesses of bytes per row (CSV file, database) for the disk check; later sizes use the measured ones.
GUESS_FILE_BYTES, GUESS_DB_BYTES = 600, 1_500
COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedQuantity",
    "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
    "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
)  # fmt: skip
ISSUER = "Amazon Web Services, Inc."
# The endpoints measured: overview, Explore, and the cost API (summary and timeseries).
PAGES = ("/", "/explore/", "/explore/?group=team&granularity=week", "/explore/?group=tag:application&granularity=day")
API = (
    "/api/v1/costs/summary?group_by=service",
    "/api/v1/costs/summary?group_by=tag:application",
    "/api/v1/costs/timeseries?granularity=day&group_by=team",
)


# --- Real prices and shapes (pure) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """What the generator draws from, all read from real data: the FOCUS sample's AWS usage lines (one per
    SKU line: ``templates``, a dict of numpy arrays), its account names and tag values, the committed and
    spot price ratios of EC2, the Tax/Usage ratio of the CUR sample, the 1-year all-upfront reserved rate per
    region for the purchases, and the sample's credit line."""

    templates: dict
    account_names: tuple[str, ...]
    teams: tuple[str, ...]
    applications: tuple[str, ...]
    committed_ratio: float
    spot_ratio: float | None
    tax_ratio: float
    upfront_hourly: dict[str, float]
    credit: dict


def load_catalog() -> Catalog:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        FOCUS_SAMPLE, convert_options=pacsv.ConvertOptions(null_values=["", "NULL"], strings_can_be_null=True)
    )
    table = table.filter(pc.equal(table["ProviderName"], "AWS"))
    usage = table.filter(
        pc.and_(
            pc.equal(table["ChargeCategory"], "Usage"),
            pc.and_(pc.is_valid(table["ListUnitPrice"]), pc.is_valid(table["PricingQuantity"])),
        )
    )
    text = ("ServiceName", "ServiceCategory", "SkuId", "SkuPriceId", "PricingUnit", "ConsumedUnit",
            "ChargeDescription", "ResourceType", "RegionId", "RegionName")  # fmt: skip
    templates = {name: np.array(usage[name].cast(pa.string()).to_pylist(), dtype=object) for name in text}
    templates["ListUnitPrice"] = usage["ListUnitPrice"].cast(pa.float64()).to_numpy(zero_copy_only=False)
    templates["PricingQuantity"] = usage["PricingQuantity"].cast(pa.float64()).to_numpy(zero_copy_only=False)
    templates["instance"] = np.array(
        [
            (t or "") == "instance" and (u or "") == "Hours"
            for t, u in zip(templates["ResourceType"], templates["PricingUnit"], strict=True)
        ]
    )
    tags = [json.loads(t) for t in table["Tags"].to_pylist() if t]
    reserved = json.loads(RESERVED.read_text())["regions"]
    us_east = reserved["us-east-1"]
    committed = float(us_east["reserved"]["yrTerm1Standard.noUpfront"]) / float(us_east["ondemand"])
    spot = None
    if EC2_RECORD.exists():
        linux = json.loads(EC2_RECORD.read_text())["pricing"]["us-east-1"]["linux"]
        spot = float(linux["spot_avg"]) / float(linux["ondemand"])
    tax_ratio = _cur_tax_ratio()
    credit_row = table.filter(pc.equal(table["ChargeCategory"], "Credit")).to_pylist()[0]
    return Catalog(
        templates=templates,
        account_names=tuple(sorted(set(table["SubAccountName"].drop_null().to_pylist()))),
        teams=tuple(sorted({t["business_unit"] for t in tags if "business_unit" in t})),
        applications=tuple(sorted({t["application"] for t in tags if "application" in t})),
        committed_ratio=committed,
        spot_ratio=spot,
        tax_ratio=tax_ratio,
        upfront_hourly={r: float(v["reserved"]["yrTerm1Standard.allUpfront"]) for r, v in reserved.items()},
        credit={
            k: credit_row[k] for k in ("ChargeDescription", "SkuId", "BilledCost", "ServiceName", "ServiceCategory")
        },
    )


def _cur_tax_ratio() -> float:
    """Tax / Usage of the anonymized real CUR (about 5%); 0 (no tax rows) without ../shared."""
    if not CUR_SAMPLE.exists():
        return 0.0
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    cur = pacsv.read_csv(
        CUR_SAMPLE,
        convert_options=pacsv.ConvertOptions(include_columns=["lineItem/LineItemType", "lineItem/UnblendedCost"]),
    )
    kinds, costs = cur["lineItem/LineItemType"], cur["lineItem/UnblendedCost"]
    tax = pc.sum(pc.filter(costs, pc.equal(kinds, "Tax"))).as_py()
    usage = pc.sum(pc.filter(costs, pc.equal(kinds, "Usage"))).as_py()
    return tax / usage


# --- The month (pure) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One organization's month of ``rows`` line items: sizes derived from ``rows`` and ``seed`` only."""

    rows: int
    month: str  # YYYY-MM
    seed: int = 19
    rows_per_file: int = 250_000
    block_rows: int = BLOCK_ROWS

    @property
    def accounts(self) -> int:
        return max(3, round(self.rows / ROWS_PER_ACCOUNT))

    @property
    def hours(self) -> int:
        import numpy as np

        start = np.datetime64(self.month, "M")
        return int(((start + 1).astype("datetime64[h]") - start.astype("datetime64[h]")).astype(int))

    @property
    def special_rows(self) -> int:
        """Tax, purchase and credit rows (the rest is hourly usage)."""
        return self.accounts * TAX_SERVICES + math.ceil(self.accounts / 10) + math.ceil(self.accounts / 5)

    @property
    def usage_rows(self) -> int:
        return self.rows - self.special_rows

    def file_ranges(self) -> list[tuple[int, int]]:
        """Row ranges of the delivery's files, each a whole number of blocks but the last."""
        per_file = max(self.block_rows, math.ceil(self.rows_per_file / self.block_rows) * self.block_rows)
        return [(lo, min(lo + per_file, self.rows)) for lo in range(0, self.rows, per_file)]


@dataclass
class Month:
    """The resources of a plan (arrays of one entry per resource) and its non-usage rows (a pyarrow table)."""

    plan: Plan
    catalog: Catalog
    template: object  # resource -> catalog template index
    account: object
    start_hour: object  # first hour billed
    ends: object  # cumulative row count at the end of each resource (searchsorted by row index)
    pricing: object  # 0 on-demand, 1 committed, 2 spot
    jitter_sigma: float = 0.25
    strings: dict = field(default_factory=dict)
    special: object = None


def plan_month(plan: Plan, catalog: Catalog) -> Month:
    """Draw the resources (how long each runs, its SKU line, account, pricing and tags) until they fill the
    plan's usage rows, then the tax, purchase and credit rows."""
    import numpy as np
    import pyarrow as pa

    if plan.usage_rows < plan.hours:
        raise ValueError(f"{plan.rows:,} rows is too few for a month of {plan.accounts} accounts")
    rng = np.random.default_rng([plan.seed, 0])
    hours = plan.hours
    lengths, total = [], 0
    while total < plan.usage_rows:  # 70% run the whole month, the rest from one day to all of it
        n = max(1024, (plan.usage_rows - total) // 400)
        full = rng.random(n) < 0.7
        part = rng.integers(24, hours, n)
        drawn = np.where(full, hours, part)
        lengths.append(drawn)
        total += int(drawn.sum())
    length = np.concatenate(lengths)
    ends = np.cumsum(length)
    count = int(np.searchsorted(ends, plan.usage_rows)) + 1
    length, ends = length[:count].copy(), ends[:count].copy()
    length[-1] -= int(ends[-1] - plan.usage_rows)  # the last resource ends where the plan does
    ends[-1] = plan.usage_rows
    start_hour = (rng.random(count) * (hours - length + 1)).astype(np.int64)
    templates = catalog.templates
    template = rng.integers(0, len(templates["SkuId"]), count)
    weights = rng.lognormal(0, 1, plan.accounts)  # a few large accounts, many small ones
    account = rng.choice(plan.accounts, count, p=weights / weights.sum())
    instance = templates["instance"][template]
    spot_share = 0.07 if catalog.spot_ratio is not None else 0.0
    pricing = np.where(instance, rng.choice(3, count, p=[0.75 - spot_share, 0.25, spot_share]), 0)

    names = catalog.account_names
    account_ids = [f"{310000000000 + 7919 * i:012d}" for i in range(plan.accounts)]
    account_names = [f"{names[i % len(names)]} {i // len(names) + 1:02d}" for i in range(plan.accounts)]
    payer = f"{290000000000 + plan.seed:012d}"
    resource_ids = _resource_ids(templates, template, account, account_ids, rng)
    tags = _tags(catalog, count, rng)
    month = Month(plan, catalog, template, account, start_hour, ends, pricing)
    month.strings = {
        "account_id": pa.array(account_ids),
        "account_name": pa.array(account_names),
        "resource_id": pa.array(resource_ids),
        "tags": pa.array(tags, pa.string()),
        "payer": payer,
        "commitment_id": pa.array(
            [f"arn:aws:ec2:us-east-1:{payer}:reserved-instances/{plan.seed:04d}{i:08x}" for i in range(plan.accounts)]
        ),
    }
    month.special = _special_rows(month)
    return month


def _resource_ids(templates: dict, template, account, account_ids: list[str], rng) -> list[str]:
    kinds = templates["ResourceType"][template]
    regions = templates["RegionId"][template]
    services = templates["ServiceName"][template]
    suffix = rng.integers(0, 1 << 60, len(template))
    prefix = {"instance": "i-", "volume": "vol-"}
    ids = []
    for i in range(len(template)):
        kind = kinds[i]
        if kind in prefix:
            ids.append(f"{prefix[kind]}{suffix[i]:017x}")
        else:
            service = (services[i] or "service").split()[-1].lower()
            where = f"{regions[i] or 'global'}:{account_ids[account[i]]}"
            ids.append(f"arn:aws:{service}:{where}:{kind or 'resource'}/{suffix[i]:015x}")
    return ids


def _tags(catalog: Catalog, count: int, rng) -> list[str | None]:
    """Per resource: 15% untagged; else team (Zipf over the sample's business units), environment and
    application, an owner on 10% (2,000 values) and a PVC name on 3% (one value per resource)."""
    import numpy as np

    teams, apps = catalog.teams, catalog.applications
    weights = 1 / np.arange(1, len(teams) + 1)
    team = rng.choice(len(teams), count, p=weights / weights.sum())
    env = rng.choice(3, count, p=[0.5, 0.2, 0.3])
    app = rng.integers(0, len(apps), count)
    roll = rng.random((3, count))
    owner = rng.integers(0, 2000, count)
    envs = ("prod", "staging", "dev")
    out: list[str | None] = []
    for i in range(count):
        if roll[0, i] < 0.15:
            out.append(None)
            continue
        tags = {"team": teams[team[i]], "environment": envs[env[i]], "application": apps[app[i]]}
        if roll[1, i] < 0.10:
            tags["owner"] = f"user{owner[i]:04d}@example.com"
        if roll[2, i] < 0.03:
            tags["kubernetes.io/created-for/pvc/name"] = f"data-{i:08x}"
        out.append(json.dumps(tags, separators=(",", ":")))
    return out


def _timestamps(month: str, hours: int):
    """The hour starts of the month and the one after, as the CSV writes them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    starts = np.datetime64(month, "M").astype("datetime64[s]") + np.arange(hours + 1).astype("timedelta64[h]")
    return pc.strftime(pa.array(starts), format="%Y-%m-%d %H:%M:%S")


def _money(values) -> object:
    """Amounts as text, rounded to 10 places (shortest form; scientific notation when that is shorter)."""
    import numpy as np
    import pyarrow as pa

    return pa.array(np.round(values, 10)).cast(pa.string())


def _special_rows(month: Month):
    """Per account: tax on its share of the five largest services, then purchases on the 1st and credits."""
    import numpy as np
    import pyarrow as pa

    plan, catalog, t = month.plan, month.catalog, month.catalog.templates
    accounts = plan.accounts
    length = np.diff(month.ends, prepend=0)
    # Expected list cost per resource (the usage rows vary it by a lognormal of mean 1 in quantity).
    hourly = t["ListUnitPrice"][month.template] * np.where(
        t["instance"][month.template], 1.0, t["PricingQuantity"][month.template]
    )
    services = t["ServiceName"]
    unique, service_of = np.unique(services[month.template].astype(str), return_inverse=True)
    spend = np.bincount(service_of, weights=hourly * length, minlength=len(unique))
    top = np.argsort(-spend)[:TAX_SERVICES]
    rows: list[dict] = []
    first, last = _timestamps(plan.month, plan.hours)[0].as_py(), _timestamps(plan.month, plan.hours)[-1].as_py()
    for a in range(accounts):
        for s in range(TAX_SERVICES):
            mask = (month.account == a) & (service_of == top[s]) if s < len(top) else np.zeros(len(length), bool)
            amount = float((hourly * length)[mask].sum()) * catalog.tax_ratio
            name = str(unique[top[s]]) if s < len(top) else str(unique[0])
            rows.append(_row(month, a, "Tax", name, f"Tax for product {name}", amount, "Recurring", first, last))
    regions = sorted(catalog.upfront_hourly)
    for a in range(0, accounts, 10):
        region = "us-east-1" if "us-east-1" in catalog.upfront_hourly else regions[0]
        amount = catalog.upfront_hourly[region] * 8760
        row = _row(
            month,
            a,
            "Purchase",
            "Amazon Elastic Compute Cloud",
            f"Sign up charge for subscription: x2iedn.32xlarge 1 yr all upfront, {region}",
            amount,
            "One-Time",
            first,
            _hour_end(first),
        )
        row.update(
            CommitmentDiscountCategory="Usage",
            CommitmentDiscountType="Reserved Instance",
            CommitmentDiscountId=month.strings["commitment_id"][a].as_py(),
            RegionId=region,
            PricingCategory="Committed",
        )
        rows.append(row)
    credit = catalog.credit
    for a in range(0, accounts, 5):
        at = _timestamps(plan.month, plan.hours)[(a * 37) % plan.hours].as_py()
        row = _row(
            month,
            a,
            "Credit",
            credit["ServiceName"],
            credit["ChargeDescription"],
            float(credit["BilledCost"]),
            "One-Time",
            at,
            _hour_end(at),
        )
        row.update(SkuId=credit["SkuId"], ServiceCategory=credit["ServiceCategory"], PricingCategory="Other")
        rows.append(row)
    assert len(rows) == plan.special_rows, (len(rows), plan.special_rows)
    return pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in COLUMNS]))


def _hour_end(text: str) -> str:
    import numpy as np

    return str(np.datetime64(text.replace(" ", "T")) + np.timedelta64(1, "h")).replace("T", " ")


def _row(
    month: Month,
    account: int,
    category: str,
    service: str,
    description: str,
    amount: float,
    frequency: str,
    start: str,
    end: str,
) -> dict:
    import numpy as np

    plan = month.plan
    text = str(np.round(amount, 10))
    period_start = f"{plan.month}-01 00:00:00"
    period_end = str((np.datetime64(plan.month, "M") + 1).astype("datetime64[s]")).replace("T", " ")
    return {
        "BilledCost": text, "EffectiveCost": text, "ListCost": text, "ContractedCost": text,
        "BillingAccountId": month.strings["payer"], "BillingAccountName": "Scale Simulation Payer",
        "BillingCurrency": "USD", "BillingPeriodStart": period_start, "BillingPeriodEnd": period_end,
        "ChargeCategory": category, "ChargeDescription": description, "ChargeFrequency": frequency,
        "ChargePeriodStart": start, "ChargePeriodEnd": end, "InvoiceIssuerName": ISSUER, "ProviderName": "AWS",
        "PublisherName": ISSUER, "PricingQuantity": "0", "PricingUnit": "Hours", "ServiceName": service,
        "ServiceCategory": "Compute" if "Compute" in service else "Other", "PricingCategory": "Standard",
        "SubAccountId": month.strings["account_id"][account].as_py(),
        "SubAccountName": month.strings["account_name"][account].as_py(),
    }  # fmt: skip


def usage_block(month: Month, lo: int, hi: int):
    """Usage rows [lo, hi) as a pyarrow table of text columns. Each block draws from its own random stream
    (seeded by the plan's seed and the block's index), so a row's values do not depend on the file split."""
    import numpy as np
    import pyarrow as pa

    plan, t = month.plan, month.catalog.templates
    n = hi - lo
    rng = np.random.default_rng([plan.seed, 1, lo // plan.block_rows, lo % plan.block_rows])
    index = np.arange(lo, hi)
    resource = np.searchsorted(month.ends, index, side="right")
    begin = month.ends[resource] - np.diff(month.ends, prepend=0)[resource]
    hour = month.start_hour[resource] + (index - begin)
    tpl = month.template[resource]
    instance = t["instance"][tpl]
    quantity = np.where(instance, 1.0, t["PricingQuantity"][tpl] * rng.lognormal(-0.03125, 0.25, n))
    unit_price = t["ListUnitPrice"][tpl]
    list_cost = unit_price * quantity
    pricing = month.pricing[resource]
    ratio = np.select(
        [pricing == 1, pricing == 2], [month.catalog.committed_ratio, month.catalog.spot_ratio or 1.0], 1.0
    )
    effective = list_cost * ratio
    billed = np.where(pricing == 1, 0.0, effective)
    stamps = month.strings.setdefault("stamps", _timestamps(plan.month, plan.hours))
    account = pa.array(month.account[resource])
    committed = pa.array(pricing == 1)
    null = pa.nulls(n, pa.string())

    def take(values, idx):
        return values.take(pa.array(idx))

    def tpl_text(name):
        return take(pa.array(t[name], pa.string()), tpl)

    def when(mask, value):
        return pa.compute.if_else(mask, pa.scalar(value), null)

    columns = {
        "AvailabilityZone": null,
        "BilledCost": _money(billed),
        "BillingAccountId": pa.repeat(pa.scalar(month.strings["payer"]), n),
        "BillingAccountName": pa.repeat(pa.scalar("Scale Simulation Payer"), n),
        "BillingCurrency": pa.repeat(pa.scalar("USD"), n),
        "BillingPeriodEnd": pa.repeat(stamps[plan.hours], n),
        "BillingPeriodStart": pa.repeat(stamps[0], n),
        "ChargeCategory": pa.repeat(pa.scalar("Usage"), n),
        "ChargeClass": null,
        "ChargeDescription": tpl_text("ChargeDescription"),
        "ChargeFrequency": pa.repeat(pa.scalar("Usage-Based"), n),
        "ChargePeriodEnd": take(stamps, hour + 1),
        "ChargePeriodStart": take(stamps, hour),
        "CommitmentDiscountCategory": when(committed, "Usage"),
        "CommitmentDiscountId": pa.compute.if_else(
            committed, take(month.strings["commitment_id"], month.account[resource]), null
        ),
        "CommitmentDiscountName": null,
        "CommitmentDiscountStatus": when(committed, "Used"),
        "CommitmentDiscountType": when(committed, "Reserved Instance"),
        "ConsumedQuantity": _money(quantity),
        "ConsumedUnit": tpl_text("ConsumedUnit"),
        "ContractedCost": _money(list_cost),
        "ContractedUnitPrice": _money(unit_price),
        "EffectiveCost": _money(effective),
        "InvoiceIssuerName": pa.repeat(pa.scalar(ISSUER), n),
        "ListCost": _money(list_cost),
        "ListUnitPrice": _money(unit_price),
        "PricingCategory": take(pa.array(["Standard", "Committed", "Dynamic"]), pricing),
        "PricingQuantity": _money(quantity),
        "PricingUnit": tpl_text("PricingUnit"),
        "ProviderName": pa.repeat(pa.scalar("AWS"), n),
        "PublisherName": pa.repeat(pa.scalar(ISSUER), n),
        "RegionId": tpl_text("RegionId"),
        "RegionName": tpl_text("RegionName"),
        "ResourceId": take(month.strings["resource_id"], resource),
        "ResourceName": null,
        "ResourceType": tpl_text("ResourceType"),
        "ServiceCategory": tpl_text("ServiceCategory"),
        "ServiceName": tpl_text("ServiceName"),
        "SkuId": tpl_text("SkuId"),
        "SkuPriceId": tpl_text("SkuPriceId"),
        "SubAccountId": take(month.strings["account_id"], account),
        "SubAccountName": take(month.strings["account_name"], account),
        "Tags": take(month.strings["tags"], resource),
    }
    return pa.table({c: columns[c].cast(pa.string()) for c in COLUMNS})


def write_month(month: Month, out: Path) -> list[Path]:
    """The delivery's CSV files (``scale-<rows>-<k>.csv``), block by block: at most one block in memory."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    plan = month.plan
    out.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    paths = []
    for k, (lo, hi) in enumerate(plan.file_ranges()):
        path = out / f"scale-{plan.rows}-{k:03d}.csv"
        tmp = path.with_suffix(".tmp")
        with pacsv.CSVWriter(tmp, schema) as writer:
            for start in range(lo, hi, plan.block_rows):
                end = min(start + plan.block_rows, hi)
                usage_end = min(end, plan.usage_rows)
                if start < usage_end:
                    writer.write_table(usage_block(month, start, usage_end))
                if end > plan.usage_rows:
                    first = max(start, plan.usage_rows) - plan.usage_rows
                    writer.write_table(month.special.slice(first, end - max(start, plan.usage_rows)))
        tmp.rename(path)
        paths.append(path)
    return paths


# --- The cost curve (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """y = a + b * x by least squares; ``r2`` its coefficient of determination (1.0 with two points)."""

    a: float
    b: float
    r2: float

    def __call__(self, x: float) -> float:
        return self.a + self.b * x


def fit_linear(xs: list[float], ys: list[float]) -> Fit:
    if len(xs) != len(ys) or len(xs) < 2 or len(set(xs)) < 2:
        raise ValueError("a line needs at least two points with different x")
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    total = sum((y - my) ** 2 for y in ys)
    residual = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return Fit(a, b, 1.0 - residual / total if total else 1.0)


def disk_needed(rows: int, file_bytes_per_row: float, db_bytes_per_row: float) -> int:
    """Bytes a size needs at its peak: its files and its database side by side, with 10% headroom (what earlier
    sizes left behind is already out of the free space)."""
    return int(rows * (file_bytes_per_row + db_bytes_per_row) * 1.1)


def default_month(today: date) -> str:
    """The last whole month before ``today``: the dashboards' default ranges end today."""
    first = today.replace(day=1)
    previous = date(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1, 1)
    return f"{previous:%Y-%m}"


# --- Children (Django set up) -------------------------------------------------------------------------


def child_ingest(paths: list[str]) -> None:
    import django

    django.setup()
    from finops.accounts.services import organization_get_or_create
    from finops.usage.services import ingest_job_create, ingest_job_run

    organization, _ = organization_get_or_create(slug=ORG, name="Scale Simulation Inc.")
    started = time.perf_counter()
    job = ingest_job_create(organization=organization, paths=[Path(p) for p in paths], fmt="focus")
    job = ingest_job_run(job, followups=False)
    elapsed = time.perf_counter() - started
    assert job.status == "succeeded", job.error
    print(f"RESULT {job.rows_written} {elapsed:.3f}")


def child_rebuild() -> None:
    import django

    django.setup()
    from finops.accounts.models import Organization
    from finops.usage.rebuild import rollups_rebuild

    organization = Organization.objects.get(slug=ORG)
    started = time.perf_counter()
    written = rollups_rebuild(organization_id=organization.pk)
    print(f"RESULT {written['DailyCost'] + written['DailyTagCost']} {time.perf_counter() - started:.3f}")


def child_facts() -> None:
    """Sizes (bytes) and row counts of the facts, a finance user and an API token; one RESULT json line."""
    import django

    django.setup()
    from django.db import connection

    from finops.accounts.models import Organization
    from finops.accounts.services import membership_set
    from finops.api.services import token_create
    from finops.usage.models import DailyCost, DailyTagCost, LineItem

    organization = Organization.objects.get(slug=ORG)
    membership, _ = membership_set(username=USERNAME, organization=organization, role="finance", password=PASSWORD)
    token = token_create(user=membership.user, organization=organization, name="scale").key
    out: dict = {"token": token}
    models = {"line_items": LineItem, "daily": DailyCost, "tag_daily": DailyTagCost}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
            for key, model in models.items():
                # A partitioned table keeps its rows in its partitions (pg_partition_tree lists them; it lists
                # nothing for a plain table, hence the table itself too).
                cursor.execute(
                    "SELECT coalesce(sum(pg_total_relation_size(relid)), 0), coalesce(sum(pg_indexes_size(relid)), 0) "
                    "FROM (SELECT relid FROM pg_partition_tree(%s::regclass) UNION SELECT %s::regclass) AS tree",
                    [model._meta.db_table, model._meta.db_table],
                )
                total, indexes = cursor.fetchone()
                out[f"{key}_bytes"], out[f"{key}_index_bytes"] = int(total), int(indexes)
            cursor.execute("SELECT pg_database_size(current_database())")
            out["database_bytes"] = int(cursor.fetchone()[0])
            cursor.execute("SHOW data_directory")
            out["data_directory"] = cursor.fetchone()[0]
        else:
            out["database_bytes"] = Path(connection.settings_dict["NAME"]).stat().st_size
    for key, model in models.items():
        out[f"{key}_rows"] = model.objects.filter(organization=organization).count()
    print("RESULT " + json.dumps(out))


def child_clear_cache() -> None:
    import django

    django.setup()
    from django.core.cache import caches

    caches["default"].clear()


def _json_child(args: list[str], env: dict) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, *args], env=env, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT
    ).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])


# --- Latency ------------------------------------------------------------------------------------------------


def measure_latency(env: dict, var: Path, token: str, requests_per_endpoint: int) -> dict[str, dict]:
    """Per endpoint: cold (the first request, cache emptied) and p50/p95 with the cache emptied before each
    request and with a warm cache. One request at a time; client round trip on loopback."""
    import requests
    from load import Servers

    port = _free_port()
    server_env = production_env(env)
    servers = Servers(server_env, var, port)
    base = f"http://127.0.0.1:{port}"
    flush = _cache_flusher(env)
    results: dict[str, dict] = {}
    try:
        servers.start_web()
        session = _session(base, USERNAME, PASSWORD)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        for path in (*PAGES, *API):
            client = api if path.startswith("/api/") else session
            timings: dict[str, list[float]] = {"uncached": [], "cached": []}
            errors = 0
            for mode in ("uncached", "cached"):
                for _ in range(requests_per_endpoint):
                    if mode == "uncached":
                        flush()
                    t0 = time.perf_counter()
                    status = client.get(base + path, timeout=300).status_code
                    timings[mode].append((time.perf_counter() - t0) * 1000)
                    errors += status != 200
            results[path] = {
                "cold": timings["uncached"][0],
                "uncached_p50": _percentile(timings["uncached"], 50),
                "uncached_p95": _percentile(timings["uncached"], 95),
                "cached_p95": _percentile(timings["cached"], 95),
                "requests": sum(len(v) for v in timings.values()),
                "errors": errors,
            }
            print(f"    {path}: uncached p95 {results[path]['uncached_p95']:,.0f} ms", flush=True)
    finally:
        servers.stop()
    return results


def _cache_flusher(env: dict):
    """Empties the dashboards' cache: REDIS_URL's database (sessions survive in the database: cached_db), or
    the file cache under FINOPS_VAR_DIR."""
    if env.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(env["REDIS_URL"])
        return client.flushdb
    folder = Path(env["FINOPS_VAR_DIR"]) / "cache"
    return lambda: shutil.rmtree(folder, ignore_errors=True)


# --- Main ------------------------------------------------------------------------------------------------


@dataclass
class Result:
    rows: int
    files: int
    file_bytes: int
    generate_s: float
    ingest_s: float
    ingest_rss_mb: float
    rebuild_s: float
    rebuild_rss_mb: float
    facts: dict
    latency: dict[str, dict]
    load: str


def run_size(rows: int, args, env: dict, out: Path, var: Path, previous: Result | None) -> Result | None:
    file_bpr = previous.file_bytes / previous.rows if previous else GUESS_FILE_BYTES
    db_bpr = previous.facts["database_bytes"] / previous.rows if previous else GUESS_DB_BYTES
    needed = disk_needed(rows, file_bpr, db_bpr)
    places = {out: shutil.disk_usage(out).free}
    data_dir = previous.facts.get("data_directory") if previous else None
    if data_dir and Path(data_dir).exists():
        with contextlib.suppress(OSError):
            places[Path(data_dir)] = shutil.disk_usage(data_dir).free
    free = min(places.values())
    if free < needed:
        print(
            f"\nrefusing {rows:,} rows: needs about {needed / 1e9:,.1f} GB ({file_bpr:,.0f} B/row of files + "
            f"{db_bpr:,.0f} B/row of database, +10%), {free / 1e9:,.1f} GB free on "
            f"{', '.join(str(p) for p in places)}"
        )
        return None
    print(f"\n{rows:,} rows: {free / 1e9:,.0f} GB free, about {needed / 1e9:,.1f} GB needed; load {_load()}")
    if args.keep:  # each size keeps its own database
        env = dict(env, DATABASE_URL=bench_database_url(f"_bench_{rows}"))
    prepare_database(env)
    catalog = load_catalog()
    started = time.perf_counter()
    plan = Plan(
        rows=rows, month=args.month, rows_per_file=args.rows_per_file, block_rows=min(BLOCK_ROWS, args.rows_per_file)
    )
    month = plan_month(plan, catalog)
    paths = write_month(month, out)
    generate_s = time.perf_counter() - started
    file_bytes = sum(p.stat().st_size for p in paths)
    print(
        f"  generated {len(paths)} files, {file_bytes / 1e9:,.2f} GB, {plan.accounts:,} accounts, "
        f"{len(month.ends):,} resources in {generate_s:,.1f} s ({rows / generate_s:,.0f} rows/s)",
        flush=True,
    )
    load_before = _load()
    written, ingest_s, ingest_rss = run_child(["--child-ingest", *map(str, paths)], env, script=__file__)
    assert written == rows, (written, rows)
    print(f"  ingest {ingest_s:,.1f} s ({rows / ingest_s:,.0f} rows/s), peak RSS {ingest_rss:,.0f} MB", flush=True)
    _, rebuild_s, rebuild_rss = run_child(["--child-rebuild"], env, script=__file__)
    print(f"  rollups_rebuild {rebuild_s:,.1f} s, peak RSS {rebuild_rss:,.0f} MB", flush=True)
    facts = _json_child(["--child-facts"], env)
    if not args.keep:
        for path in paths:
            path.unlink()
    subprocess.run([sys.executable, __file__, "--child-clear-cache"], env=env, check=True, cwd=ROOT)
    latency = measure_latency(env, var, facts["token"], args.requests)
    return Result(
        rows, len(paths), file_bytes, generate_s, ingest_s, ingest_rss, rebuild_s, rebuild_rss, facts, latency,
        f"{load_before} -> {_load()}",
    )  # fmt: skip


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(results: list[Result], vendor: str) -> None:
    mb = 1e6
    print(f"\n{vendor}; load = 1/5/15-min load average before and after the ingest (2 cores)\n")
    print(
        "| rows | files | generate rows/s | ingest s | ingest rows/s | ingest peak RSS MB | rollups_rebuild s | "
        "line items MB (indexes) | daily rollups MB | tag rollups MB | database MB | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        f = r.facts
        part = (
            f"{f['line_items_bytes'] / mb:,.0f} ({f['line_items_index_bytes'] / mb:,.0f}) | "
            f"{f['daily_bytes'] / mb:,.1f} | {f['tag_daily_bytes'] / mb:,.1f}"
            if "line_items_bytes" in f
            else "- | - | -"
        )
        print(
            f"| {r.rows:,} | {r.files} | {r.rows / r.generate_s:,.0f} | {r.ingest_s:,.1f} | "
            f"{r.rows / r.ingest_s:,.0f} | {r.ingest_rss_mb:,.0f} | {r.rebuild_s:,.1f} | {part} | "
            f"{f['database_bytes'] / mb:,.0f} | {r.load} |"
        )
    for r in results:
        f = r.facts
        print(
            f"\n{r.rows:,} rows: {f['daily_rows']:,} daily rollup rows, {f['tag_daily_rows']:,} tag rollup rows; "
            f"latency ms (one request at a time, client round trip; uncached = cache emptied before each request)\n"
        )
        print("| endpoint | cold | uncached p50 | uncached p95 | cached p95 | requests | errors | p95 <= 200 ms |")
        print("|---|---|---|---|---|---|---|---|")
        for path, m in r.latency.items():
            print(
                f"| `{path}` | {m['cold']:,.0f} | {m['uncached_p50']:,.0f} | {m['uncached_p95']:,.0f} | "
                f"{m['cached_p95']:,.0f} | {m['requests']} | {m['errors']} | "
                f"{'met' if m['uncached_p95'] <= TARGET_P95_MS else 'missed'} |"
            )
    if len({r.rows for r in results}) < 2:
        print("\ncost curve: needs two sizes or more")
        return
    xs = [float(r.rows) for r in results]
    curves = {
        "ingest s": [r.ingest_s for r in results],
        "rollups_rebuild s": [r.rebuild_s for r in results],
        "ingest peak RSS GB": [r.ingest_rss_mb / 1e3 for r in results],
        "database GB": [r.facts["database_bytes"] / 1e9 for r in results],
        "files GB": [r.file_bytes / 1e9 for r in results],
    }
    print("\ncost curve: least squares y = a + b * N on the measured points; EXTRAPOLATED beyond them\n")
    print("| quantity | a | b (per million rows) | R^2 | points | 100M (extrapolated) | 1B (extrapolated) |")
    print("|---|---|---|---|---|---|---|")
    for name, ys in curves.items():
        fit = fit_linear(xs, ys)
        print(
            f"| {name} | {fit.a:,.2f} | {fit.b * 1e6:,.3f} | {fit.r2:.4f} | {len(xs)} | "
            f"{fit(EXTRAPOLATE[0]):,.0f} | {fit(EXTRAPOLATE[1]):,.0f} |"
        )
    largest = results[-1]
    worst = max(largest.latency.items(), key=lambda item: item[1]["uncached_p95"])
    print(
        f"\nlargest measured size {largest.rows:,}: slowest uncached p95 {worst[1]['uncached_p95']:,.0f} ms "
        f"(`{worst[0]}`): target p95 <= {TARGET_P95_MS} ms "
        f"{'met' if worst[1]['uncached_p95'] <= TARGET_P95_MS else 'missed'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,5000000,20000000", help="sizes, comma-separated")
    parser.add_argument("--rows-per-file", type=int, default=250_000, help="rows per delivered file")
    parser.add_argument("--requests", type=int, default=20, help="requests per endpoint and cache mode (>= 20)")
    parser.add_argument("--month", default=default_month(date.today()), help="billing month YYYY-MM")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and the last database")
    parser.add_argument("--child-ingest", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--child-rebuild", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-facts", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-clear-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.child_ingest:
        return child_ingest(args.child_ingest)
    if args.child_rebuild:
        return child_rebuild()
    if args.child_facts:
        return child_facts()
    if args.child_clear_cache:
        return child_clear_cache()

    sizes = sorted(int(s.replace("_", "")) for s in args.rows.split(","))
    var = (
        Path(os.environ["FINOPS_VAR_DIR"]) / "scale"
        if os.environ.get("FINOPS_VAR_DIR")
        else ROOT / "var" / "bench-scale"
    )
    out = var / "files"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DATABASE_URL=bench_database_url(), FINOPS_VAR_DIR=str(var / "var"))
    vendor = "PostgreSQL" if "postgres" in env["DATABASE_URL"] else "SQLite"
    listed = ", ".join(f"{s:,}" for s in sizes)
    print(f"scale benchmark: {listed} rows on {vendor} ({env['DATABASE_URL']}); {os.cpu_count()} CPUs")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results: list[Result] = []
    for rows in sizes:
        result = run_size(rows, args, env, out, var, results[-1] if results else None)
        if result is None:
            break
        results.append(result)
    if results:
        report(results, vendor)
    if not args.keep and results:
        prepare_database(env)  # the data of the last size goes too


if __name__ == "__main__":
    main()
