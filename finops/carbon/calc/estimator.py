"""Cloud Carbon Footprint estimates for groups of billing line items, vectorised with pandas.

Pure module: no Django. ``estimate(frame, coefficients)`` takes one row per line-item group and returns
the same rows with energy and emissions columns added. Input columns:

=================  ==========================================================================================
``day``            date of the usage (month length converts GB-months of storage to TB-hours)
``provider``       FOCUS ProviderName ("AWS", "Microsoft", "Google" ...)
``region``         RegionId ("" / None when the charge has none)
``service``        ServiceName
``description``    ChargeDescription (stands in for the CUR usage type that FOCUS does not carry)
``instance_type``  x_InstanceType / product/instanceType (None when the usage has no instance shape)
``unit``           PricingUnit ("Hours", "GB-Months", "GB" ...)
``quantity``       the usage in ``unit`` (a block unit such as Azure's "10 Hours" counts 10 hours per 1)
``cost``           EffectiveCost (amortised; only used by the cost-ratio method)
``currency``       optional: the cost's currency (kWh per unit of cost is never taken across currencies)
``utilization``    optional, 0..1: measured average CPU utilisation; missing/NaN -> the 50% default
=================  ==========================================================================================

Output columns: ``usage_class``, ``instance_shape`` (the instance type, or one read from the description),
``usage_hours`` (instance-hours of compute rows; 0 for a Google Cloud vCPU SKU naming no machine type),
``vcpu_hours``,
``compute_kwh`` (CPU + GPU), ``gpu_kwh``, ``memory_kwh``, ``storage_kwh``, ``network_kwh``, ``kwh``,
``grid_factor`` (tCO2e/kWh), ``grid_estimated`` (unknown region: provider average), ``watts_estimated``
(unknown microarchitecture: provider average watts), ``operational_kgco2e``, ``embodied_kgco2e``,
``method`` (measured | coefficient | cost-ratio | unknown).
"""

from __future__ import annotations

import calendar
import re
from datetime import date

import numpy as np
import pandas as pd

from finops.carbon.calc.coefficients import Coefficients, instance_key, provider_key

INPUT_COLUMNS = ("day", "provider", "region", "service", "description", "instance_type", "unit", "quantity", "cost")
ENERGY_COLUMNS = ("vcpu_hours", "compute_kwh", "gpu_kwh", "memory_kwh", "storage_kwh", "network_kwh", "kwh")
OUTPUT_COLUMNS = (
    "usage_class",
    "instance_shape",
    "usage_hours",
    *ENERGY_COLUMNS,
    "grid_factor",
    "grid_estimated",
    "watts_estimated",
    "operational_kgco2e",
    "embodied_kgco2e",
    "method",
)
METHODS = ("measured", "coefficient", "cost-ratio", "unknown")

HOUR_UNITS = {"hours", "hour", "hrs", "hr", "1 hour", "instance-hours"}
GB_MONTH_UNITS = {"gb-months", "gb-month", "gb-mo", "gb-mos", "gibibyte month", "gib-month", "gb/month", "gb months"}
GB_UNITS = {"gb", "gigabytes", "gib", "gibibyte"}

# An instance shape written in a description, e.g. RDS "db.r5.xlarge" (FOCUS has no instance column there).
_SHAPE = re.compile(
    r"\b(?:db|cache)\.([a-z][a-z0-9-]*\d[a-z0-9-]*\.(?:nano|micro|small|medium|large|\d*xlarge|metal))\b"
)
# CCF networking scope: only traffic between data centres (regions).
_INTER_REGION = re.compile(r"inter-?region|region to region|data transfer to |datatransfer-regional|aws-out-bytes")
_TRANSFER = re.compile(r"data ?transfer|bytes|egress")
_SSD = re.compile(r"\bgp2\b|\bgp3\b|\bio1\b|\bio2\b|provisioned iops|piops|\bssd\b|aurora|rds:gp|general purpose")


# Azure counts some meters in blocks: "10 Hours", "100 GB/Month" (a quantity of 3 is 30 hours).
_UNIT_BLOCK = re.compile(r"^(\d+)\s+(.+)$")


def _unit_parts(unit: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(the unit without its block size, lower case; the block size, 1 without one)."""
    text = unit.fillna("").astype(str).str.strip().str.lower()
    parts = text.str.extract(_UNIT_BLOCK)
    size = pd.to_numeric(parts[0], errors="coerce")
    has_block = size.notna() & (size > 0) & parts[1].isin(HOUR_UNITS | GB_MONTH_UNITS | GB_UNITS)
    return text.where(~has_block, parts[1]), size.where(has_block, 1.0).astype(float)


def unit_class(unit: pd.Series) -> pd.Series:
    text, _ = _unit_parts(unit)
    out = pd.Series("other", index=unit.index, dtype=object)
    out[text.isin(HOUR_UNITS)] = "hours"
    out[text.isin(GB_MONTH_UNITS)] = "gb-month"
    out[text.isin(GB_UNITS)] = "gb"
    return out


def unit_block_size(unit: pd.Series) -> pd.Series:
    """How many of the unit one quantity counts ("10 Hours" -> 10; "Hours", "1 Hour" -> 1)."""
    return _unit_parts(unit)[1]


# Google Cloud bills vCPUs, not instances: a compute SKU names its cores (CCF's GCP COMPUTE_STRING_FORMATS,
# matched case-sensitively as CCF does); GPU SKUs are outside CCF's GCP compute estimate.
_GCP_VCPU = re.compile(r"Core|CORE|VCPU|vCPU|CPU")
_GCP_NOT_VCPU = re.compile(r"GPU|RAM|Ram|Memory")


def _contains(text: pd.Series, pattern: str | re.Pattern[str]) -> pd.Series:
    return text.str.contains(pattern, regex=True, na=False)


def _storage_replication(service: pd.Series, text: pd.Series, rf: dict[str, float]) -> pd.Series:
    """CCF's AWS replication factors (ReplicationFactors.ts), matched on FOCUS service and description."""
    out = pd.Series(float(rf["default"]), index=service.index)
    s3 = _contains(service, "simple storage service|amazons3|^s3$")
    out[s3] = rf["s3"]
    out[s3 & _contains(text, "one zone|reduced redundancy|zia|rrs")] = rf["s3_one_zone_reduced_redundancy"]
    ec2 = _contains(service, "elastic compute cloud|amazonec2|^ec2$")
    out[ec2] = rf["ec2_ebs_volume"]
    out[ec2 & _contains(text, "snapshot")] = rf["ec2_ebs_snapshot"]
    efs = _contains(service, "elastic file system|amazonefs")
    out[efs] = rf["efs"]
    out[efs & _contains(text, "one zone|zia")] = rf["efs_one_zone"]
    rds = _contains(service, "relational database|amazonrds")
    out[rds & _contains(text, "multi-az")] = rf["rds_multi_az"]
    out[rds & _contains(text, "aurora")] = rf["rds_aurora"]
    out[rds & _contains(text, "backup")] = rf["rds_backup"]
    docdb = _contains(service, "documentdb|amazondocdb")
    out[docdb] = rf["document_db_storage"]
    out[docdb & _contains(text, "backup")] = rf["document_db_backup"]
    out[_contains(service, "dynamodb")] = rf["dynamo_db"]
    out[_contains(service, "container registry|amazonecr|\\(ecr\\)")] = rf["ecr_storage"]
    out[_contains(service, "elasticache") & _contains(text, "backup")] = rf["elasticache_backup"]
    out[_contains(service, "simpledb")] = rf["simple_db"]
    return out


def _hours_in_month(day: pd.Series) -> pd.Series:
    def hours(value: object) -> float:
        d = pd.Timestamp(value) if not isinstance(value, date) else value
        return calendar.monthrange(d.year, d.month)[1] * 24.0

    cache = {v: hours(v) for v in pd.unique(day)}
    return day.map(cache).astype(float)


def _instance_table(coefficients: Coefficients, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per distinct (provider, shape): vCPUs, watts, extra memory, GPUs, embodied; NaN vCPUs when unknown."""
    constants = coefficients.constants
    columns = [
        "provider_key",
        "shape",
        "vcpus",
        "host_share",
        "min_w",
        "max_w",
        "watts_estimated",
        "extra_memory_gb",
        "embodied_total_kg",
        "gpus",
        "gpu_min_w",
        "gpu_max_w",
    ]
    records = []
    for provider, shape in pairs.itertuples(index=False):
        spec = coefficients.instance(provider, shape) if provider else None
        if spec is None or not spec.get("vcpus"):
            records.append((provider, shape, np.nan, np.nan, 0.0, 0.0, True, 0.0, 0.0, 0, 0.0, 0.0))
            continue
        archs = list(spec.get("archs") or [])
        min_w, max_w, known = coefficients.watts(provider, archs)
        extra_gb = 0.0
        chips, gb_chip = spec.get("chips") or 0, coefficients.gb_per_chip(provider, archs)
        # CCF memory: only the platform memory above the SPECpower GB/chip baseline, shared by vCPU share;
        # AWS/Azure only (GCP bills memory separately), never for burstable families.
        if provider in ("aws", "azure") and not spec.get("burstable") and chips and gb_chip:
            excess = spec["platform_memory_gb"] - gb_chip * chips
            if excess > 0 and spec["platform_vcpus"]:
                extra_gb = excess * spec["vcpus"] / spec["platform_vcpus"]
        gpu_name = spec.get("gpu_name") or ""
        gpu_min, gpu_max = constants["gpu_watts"].get(gpu_name, (0.0, 0.0))
        gpus = (spec.get("gpus") or 0) if gpu_name in constants["gpu_watts"] else 0
        embodied = spec.get("embodied_kg") or 0.0
        share = spec["vcpus"] / spec["platform_vcpus"] if spec.get("platform_vcpus") else 0.0
        records.append(
            (provider, shape, spec["vcpus"], share, min_w, max_w, not known, extra_gb, embodied, gpus, gpu_min, gpu_max)
        )
    return pd.DataFrame(records, columns=columns)


def estimate(frame: pd.DataFrame, coefficients: Coefficients) -> pd.DataFrame:
    """CCF energy and emissions per row of ``frame`` (see the module docstring for the columns)."""
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"estimate: input is missing column(s) {', '.join(missing)}")
    out = frame.copy()
    n = len(out)
    constants = coefficients.constants
    if n == 0:
        for column in OUTPUT_COLUMNS:
            out[column] = pd.Series(dtype=object if column in ("usage_class", "method") else float)
        return out

    provider = out["provider"].map(lambda p: provider_key(p) or "").astype(object)
    service = out["service"].fillna("").astype(str).str.lower()
    text = (out["description"].fillna("").astype(str) + " ").str.lower()
    units = unit_class(out["unit"])
    quantity = pd.to_numeric(out["quantity"], errors="coerce").fillna(0.0).astype(float) * unit_block_size(out["unit"])
    cost = pd.to_numeric(out["cost"], errors="coerce").fillna(0.0).astype(float)
    util_given = (
        pd.to_numeric(out["utilization"], errors="coerce")
        if "utilization" in out.columns
        else pd.Series(np.nan, index=out.index)
    )
    utilization = util_given.fillna(constants["default_utilization"]).clip(0.0, 1.0)

    # Instance shape: the instance-type column, else one named in the description (RDS/ElastiCache).
    shape = out["instance_type"].fillna("").astype(str).str.strip()
    from_text = text.str.extract(_SHAPE, expand=False).fillna("")
    shape = shape.where(shape != "", from_text)
    shape_key = pd.Series(
        [instance_key(p, s) if p and s else "" for p, s in zip(provider, shape, strict=True)], index=out.index
    )
    pairs = pd.DataFrame({"provider_key": provider, "shape": shape_key}).drop_duplicates()
    table = _instance_table(coefficients, pairs)
    spec = pd.DataFrame({"provider_key": provider, "shape": shape_key}).merge(
        table, on=["provider_key", "shape"], how="left"
    )
    spec.index = out.index
    # Google Cloud bills a VM's vCPUs and memory as SKUs of their own: a vCPU SKU's hours are vCPU-hours (CCF:
    # vCpuHours = usage seconds / 3600), whatever machine type (system label) the row names; only these rows are
    # GCP compute. A known machine type gives its microarchitecture's watts and embodied share per instance-hour
    # (vCPU-hours / its vCPUs); an unknown one the provider's average watts per vCPU (flagged as estimated).
    description = out["description"].fillna("").astype(str)
    is_gcp = provider == "gcp"
    gcp_vcpu = is_gcp & (units == "hours") & _contains(description, _GCP_VCPU) & ~_contains(description, _GCP_NOT_VCPU)
    gcp_unknown_shape = gcp_vcpu & spec["vcpus"].isna()
    if gcp_unknown_shape.any():
        min_w, max_w, _known = coefficients.watts("gcp", [])
        rows = gcp_unknown_shape
        spec.loc[rows, ["vcpus", "min_w", "max_w", "watts_estimated"]] = [1.0, min_w, max_w, True]
        spec.loc[rows, ["host_share", "extra_memory_gb", "embodied_total_kg", "gpus"]] = [0.0, 0.0, 0.0, 0]
        spec.loc[rows, ["gpu_min_w", "gpu_max_w"]] = [0.0, 0.0]

    # ---- classification
    usage_class = pd.Series("unknown", index=out.index, dtype=object)
    # A GCP row naming no SKU (``estimate_hours``: plain instance-hours) is an instance's hours, as elsewhere.
    plain = ~is_gcp | (description.str.strip() == "")
    is_compute = ((units == "hours") & spec["vcpus"].notna() & (shape_key != "") & plain) | gcp_vcpu
    usage_class[is_compute] = "compute"
    is_storage = units == "gb-month"
    usage_class[is_storage & _contains(text, _SSD)] = "storage-ssd"
    usage_class[is_storage & ~_contains(text, _SSD)] = "storage-hdd"
    is_transfer = (units == "gb") & (_contains(text, _TRANSFER) | _contains(service, "data transfer"))
    usage_class[is_transfer & _contains(text, _INTER_REGION)] = "network"
    # Internet egress, inter-AZ and CDN traffic: outside CCF's networking scope (0 kWh by its method).
    usage_class[is_transfer & ~_contains(text, _INTER_REGION)] = "network-out-of-scope"
    usage_class[provider == ""] = "unknown"

    replication = _storage_replication(service, text, constants["replication_factors"])
    # Database instance hours: CCF replicates RDS Multi-AZ compute (the standby); storage rules above.
    compute_replication = pd.Series(1.0, index=out.index)
    compute_replication[_contains(service, "relational database|amazonrds") & _contains(text, "multi-az")] = float(
        constants["replication_factors"]["rds_multi_az"]
    )
    pue = provider.map(lambda p: coefficients.provider(p)["pue"] if p else np.nan).astype(float)

    c = usage_class == "compute"
    # Instance-hours; a GCP vCPU SKU's vCPU-hours over its machine type's vCPUs (1 when unknown).
    hours = quantity.where(~gcp_vcpu, quantity / spec["vcpus"]).where(c, 0.0)
    vcpu_hours = (hours * spec["vcpus"].fillna(0.0)).where(c, 0.0)
    avg_w = spec["min_w"] + utilization * (spec["max_w"] - spec["min_w"])
    cpu_kwh = (avg_w * vcpu_hours * pue / 1000.0 * compute_replication).where(c, 0.0)
    gpu_w = spec["gpu_min_w"] + utilization * (spec["gpu_max_w"] - spec["gpu_min_w"])
    gpu_kwh = (gpu_w * spec["gpus"].fillna(0) * hours * pue / 1000.0 * compute_replication).where(c, 0.0)
    memory_kwh = (
        spec["extra_memory_gb"] * hours * constants["memory_kwh_per_gb_hour"] * pue * compute_replication
    ).where(c, 0.0)
    lifespan = float(constants["lifespan_hours"])
    embodied = (spec["embodied_total_kg"] * hours / lifespan * spec["host_share"]).where(c, 0.0)

    ssd, hdd = usage_class == "storage-ssd", usage_class == "storage-hdd"
    tb_hours = (quantity * _hours_in_month(out["day"]) / 1000.0).where(ssd | hdd, 0.0)
    wh_per_tbh = pd.Series(0.0, index=out.index)
    wh_per_tbh[ssd] = constants["ssd_wh_per_tb_hour"]
    wh_per_tbh[hdd] = constants["hdd_wh_per_tb_hour"]
    storage_kwh = (tb_hours * wh_per_tbh / 1000.0 * pue * replication).where(ssd | hdd, 0.0)

    net = usage_class == "network"
    network_kwh = (quantity * constants["network_kwh_per_gb"] * pue).where(net, 0.0)

    compute_kwh = (cpu_kwh + gpu_kwh).fillna(0.0)
    out["usage_class"] = usage_class
    out["instance_shape"] = shape
    out["usage_hours"] = hours.where(~gcp_unknown_shape, 0.0).fillna(0.0)  # no machine type: no instance-hours
    out["vcpu_hours"] = vcpu_hours.fillna(0.0)
    out["compute_kwh"] = compute_kwh
    out["gpu_kwh"] = gpu_kwh.fillna(0.0)
    out["memory_kwh"] = memory_kwh.fillna(0.0)
    out["storage_kwh"] = storage_kwh.fillna(0.0)
    out["network_kwh"] = network_kwh.fillna(0.0)
    out["embodied_kgco2e"] = embodied.fillna(0.0)
    out["watts_estimated"] = (spec["watts_estimated"].fillna(False).astype(bool)) & c

    method = pd.Series("unknown", index=out.index, dtype=object)
    known = usage_class.isin(["compute", "storage-ssd", "storage-hdd", "network", "network-out-of-scope"])
    method[known] = "coefficient"
    method[c & util_given.notna()] = "measured"
    out["kwh"] = out["compute_kwh"] + out["memory_kwh"] + out["storage_kwh"] + out["network_kwh"]
    _cost_ratio(out, method, provider, units, cost)
    out["method"] = method
    out["kwh"] = out["compute_kwh"] + out["memory_kwh"] + out["storage_kwh"] + out["network_kwh"]

    region = out["region"].fillna("").astype(str).str.strip()
    lookups = {pair: coefficients.grid_factor(*pair) for pair in set(zip(provider, region, strict=True))}
    looked = [lookups[pair] for pair in zip(provider, region, strict=True)]
    out["grid_factor"] = [factor for factor, _ in looked]
    out["grid_estimated"] = [estimated for _, estimated in looked]
    out["operational_kgco2e"] = out["kwh"] * out["grid_factor"] * 1000.0
    return out


def _cost_ratio(out: pd.DataFrame, method: pd.Series, provider: pd.Series, units: pd.Series, cost: pd.Series) -> None:
    """CCF's unknown-usage method (AWS): kWh = cost x the kWh per dollar of known usage of the same service and
    usage unit, else of the same unit, else of all known usage; built per day, provider and currency so an
    estimate only depends on its own day's bill, in its own currency."""
    unknown = method == "unknown"
    if not unknown.any():
        return
    day = out["day"].astype(str)
    service = out["service"].fillna("").astype(str)
    currency = out["currency"].fillna("").astype(str) if "currency" in out.columns else pd.Series("", index=out.index)
    basis = (method.isin(["coefficient", "measured"])) & (out["usage_class"] != "network-out-of-scope")
    basis &= (cost > 0) & (out["kwh"] > 0)
    known = pd.DataFrame(
        {
            "day": day,
            "provider": provider,
            "currency": currency,
            "service": service,
            "unit": units,
            "kwh": out["kwh"],
            "cost": cost,
        }
    )[basis]
    ratio = pd.Series(np.nan, index=out.index)
    target = pd.DataFrame({"day": day, "provider": provider, "currency": currency, "service": service, "unit": units})
    for keys in (
        ["day", "provider", "currency", "service", "unit"],
        ["day", "provider", "currency", "unit"],
        ["day", "provider", "currency"],
    ):
        if known.empty:
            break
        sums = known.groupby(keys)[["kwh", "cost"]].sum()
        per_dollar = (sums["kwh"] / sums["cost"]).rename("r").reset_index()
        looked = target.merge(per_dollar, on=keys, how="left")["r"]
        looked.index = out.index
        ratio = ratio.fillna(looked)
    apply = unknown & ratio.notna() & (cost > 0)
    energy = (cost * ratio).where(apply, 0.0)
    # The best-fit known usage type by unit (CCF): storage units -> storage, GB -> networking, else compute.
    out.loc[apply & (units == "gb-month"), "storage_kwh"] = energy
    out.loc[apply & (units == "gb"), "network_kwh"] = energy
    out.loc[apply & ~units.isin(["gb-month", "gb"]), "compute_kwh"] = energy
    method[apply] = "cost-ratio"


def estimate_instance_hours(coefficients: Coefficients, runs: pd.DataFrame) -> pd.DataFrame:
    """Vectorised ``estimate`` of plain instance-hours: ``runs`` has provider, region, instance_type, hours
    (and optionally utilization); returns the estimate columns, one row per run, same index."""
    frame = pd.DataFrame(
        {
            "day": date(2026, 1, 1),  # storage-only input; no effect on compute
            "provider": runs["provider"],
            "region": runs["region"],
            "service": "",
            "description": "",
            "instance_type": runs["instance_type"],
            "unit": "Hours",
            "quantity": runs["hours"],
            "cost": 0.0,
            "utilization": runs.get("utilization", np.nan),
        },
        index=runs.index,
    )
    return estimate(frame, coefficients)


def estimate_hours(
    coefficients: Coefficients,
    *,
    provider: str,
    region: str,
    instance_type: str,
    hours: float,
    utilization: float | None = None,
) -> dict[str, float | bool | str]:
    """One instance type running ``hours`` instance-hours in ``region``: the same math as ``estimate``."""
    runs = pd.DataFrame(
        [
            {
                "provider": provider,
                "region": region,
                "instance_type": instance_type,
                "hours": hours,
                "utilization": np.nan if utilization is None else utilization,
            }
        ]
    )
    row = estimate_instance_hours(coefficients, runs).iloc[0]
    return {k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in OUTPUT_COLUMNS}
