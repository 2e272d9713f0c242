"""Versioned Cloud Carbon Footprint coefficient sets, loaded from the shipped CCF files.

Pure module: no Django. ``load_shipped()`` reads ``finops/carbon/data`` (verbatim CCF files plus
``ccf-constants.json``, whose every value is quoted from CCF with its source) and compiles them into a
``Coefficients`` object. ``Coefficients.to_dict()`` / ``from_dict()`` round-trip it through JSON so a set
stored in the database reproduces old estimates even after the shipped files change.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CCF_DIR = DATA_DIR  # the verbatim CCF CSVs sit beside ccf-constants.json (package-data "data/*")
PROVIDERS = ("aws", "gcp", "azure")

# CPU model list file -> the microarchitecture name used in coefficients-*-use.csv.
ARCH_FILES: dict[str, str] = {
    "intel-sandybridge.csv": "Sandy Bridge",
    "intel-ivybridge.csv": "Ivy Bridge",
    "intel-haswell.csv": "Haswell",
    "intel-broadwell.csv": "Broadwell",
    "intel-skylake.csv": "Skylake",
    "intel-skylake-server.csv": "Skylake",
    "intel-skylake-client.csv": "Skylake",
    "intel-cascadelake.csv": "Cascade Lake",
    "intel-coffeelake.csv": "Coffee Lake",
    "intel-icelake.csv": "Ice Lake",
    "intel-sapphirerapids.csv": "Sapphire Rapids",
    "intel-emeraldrapids.csv": "Emerald Rapids",
    "intel-graniterapids.csv": "Granite Rapids",
    "amd-epyc-gen1.csv": "EPYC 1st Gen",
    "amd-epyc-gen2.csv": "EPYC 2nd Gen",
    "amd-epyc-gen3.csv": "EPYC 3rd Gen",
    "amd-epyc-gen4.csv": "EPYC 4th Gen",
    "amd-epyc-gen5.csv": "EPYC 5th Gen",
}
# CCF: a group of microarchitectures containing one of these uses the median, not the mean (outliers).
MEDIAN_ARCHS = {"Ivy Bridge", "Sandy Bridge"}
# Burstable families have no instance comparable to a SPECpower server row: CCF adds no memory for them.
_BURSTABLE = re.compile(r"^t\d[a-z]*\.")


class CoefficientError(ValueError):
    """A coefficient file or stored set is malformed; the message names the file/row/field."""


def provider_key(name: str | None) -> str | None:
    """FOCUS ProviderName / CUR provider -> 'aws' | 'gcp' | 'azure' (None when not a CCF provider)."""
    text = (name or "").strip().lower()
    if text in ("aws", "amazon web services", "amazon", "amazon web services, inc."):
        return "aws"
    if text in ("gcp", "google", "google cloud", "google cloud platform"):
        return "gcp"
    if text in ("azure", "microsoft", "microsoft azure"):
        return "azure"
    return None


def instance_key(provider: str, name: str | None) -> str:
    """Normalised instance type for lookups: 'db.'/'cache.' prefixes dropped (AWS), 'Standard_D2s_v3' -> 'd2s v3'."""
    text = (name or "").strip().lower()
    if provider == "aws":
        for prefix in ("db.", "cache.", "ml."):
            if text.startswith(prefix):
                return text[len(prefix) :]
        return text
    if provider == "azure":
        text = re.sub(r"[\s_]+", " ", text)
        return text.removeprefix("standard ").strip()
    return text


def _region_key(region: str | None) -> str:
    return re.sub(r"[\s_-]+", "", (region or "").strip().lower())


@dataclass(frozen=True)
class Coefficients:
    """One dated coefficient set. Everything the estimator multiplies by comes from here."""

    version: str
    published: str
    source: str
    constants: dict[str, Any]
    # provider -> microarchitecture -> {"min_watts", "max_watts", "gb_per_chip"}
    architectures: dict[str, dict[str, dict[str, float]]]
    # provider -> normalised type -> {"vcpus", "platform_vcpus", "memory_gb", "platform_memory_gb", "archs",
    #                                 "chips", "gpus", "gpu_name", "embodied_kg", "burstable"}
    instances: dict[str, dict[str, dict[str, Any]]]
    # provider -> region -> metric tCO2e per kWh; provider -> region -> source text
    grid: dict[str, dict[str, float]]
    grid_sources: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    # ---- derived lookups (cheap; no caching needed at these sizes)

    def provider(self, provider: str) -> dict[str, float]:
        return self.constants["providers"][provider]

    def grid_average(self, provider: str) -> float:
        """The providers' fallback for an unknown region: the mean of that provider's region factors."""
        values = list(self.grid.get(provider, {}).values())
        if not values:
            values = [v for p in self.grid.values() for v in p.values()]
        return sum(values) / len(values)

    def grid_factor(self, provider: str, region: str | None) -> tuple[float, bool]:
        """(tCO2e/kWh, estimated) for a region; Azure's "eastus" matches the table's "East US". Unknown or
        missing regions get the provider average, flagged as estimated."""
        table = self.grid.get(provider, {})
        wanted = _region_key(region)
        for name, factor in table.items():
            if _region_key(name) == wanted and wanted:
                return factor, False
        return self.grid_average(provider), True

    def watts(self, provider: str, archs: list[str]) -> tuple[float, float, bool]:
        """(min W, max W, known) per vCPU for a group of microarchitectures, CCF's averaging rule."""
        table = self.architectures.get(provider, {})
        known = [a for a in archs if a in table]
        if not known:
            c = self.provider(provider)
            return c["min_watts_avg"], c["max_watts_avg"], False
        pick = statistics.median if MEDIAN_ARCHS & set(known) else statistics.fmean
        return pick(table[a]["min_watts"] for a in known), pick(table[a]["max_watts"] for a in known), True

    def gb_per_chip(self, provider: str, archs: list[str]) -> float | None:
        table = self.architectures.get(provider, {})
        known = [table[a]["gb_per_chip"] for a in archs if a in table]
        return statistics.fmean(known) if known else None

    def instance(self, provider: str, instance_type: str | None) -> dict[str, Any] | None:
        if not instance_type:
            return None
        return self.instances.get(provider, {}).get(instance_key(provider, instance_type))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "published": self.published,
            "source": self.source,
            "constants": self.constants,
            "architectures": self.architectures,
            "instances": self.instances,
            "grid": self.grid,
            "grid_sources": self.grid_sources,
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Coefficients:
        missing = [k for k in ("version", "constants", "architectures", "instances", "grid") if k not in data]
        if missing:
            raise CoefficientError(f"coefficient set is missing {', '.join(missing)}")
        for provider in PROVIDERS:
            if provider not in data["constants"].get("providers", {}):
                raise CoefficientError(f"coefficient set {data['version']}: no constants for provider {provider}")
        return cls(
            version=data["version"],
            published=data.get("published", ""),
            source=data.get("source", ""),
            constants=data["constants"],
            architectures=data["architectures"],
            instances=data["instances"],
            grid=data["grid"],
            grid_sources=data.get("grid_sources", {}),
            skipped=list(data.get("skipped", [])),
        )


# ---------------------------------------------------------------------------------------------
# Loading the shipped files


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _number(value: str, where: str) -> float:
    text = (value or "").strip().replace(",", ".")
    try:
        return float(text)
    except ValueError as error:
        raise CoefficientError(f"{where}: not a number: {value!r}") from error


def _optional_int(value: str | None) -> int:
    text = (value or "").strip()
    return int(float(text)) if text and text.upper() != "N/A" else 0


def _architectures(directory: Path) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for provider in PROVIDERS:
        path = directory / f"coefficients-{provider}-use.csv"
        table: dict[str, dict[str, float]] = {}
        for n, row in enumerate(_rows(path), start=2):
            where = f"{path.name} row {n}"
            table[row["Architecture"].strip()] = {
                "min_watts": _number(row["Min Watts"], f"{where} Min Watts"),
                "max_watts": _number(row["Max Watts"], f"{where} Max Watts"),
                "gb_per_chip": _number(row["GB/Chip"], f"{where} GB/Chip"),
            }
        out[provider] = table
    return out


def _cpu_architectures(directory: Path) -> dict[str, str]:
    """CPU model (as listed in the per-microarchitecture files) -> microarchitecture."""
    out: dict[str, str] = {}
    for name, arch in ARCH_FILES.items():
        path = directory / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            model = line.strip().lower()
            if model:
                out.setdefault(model, arch)
    return out


def cpu_architecture(cpu_name: str, models: dict[str, str], known_archs: set[str]) -> str | None:
    """'Xeon Platinum 8175M' -> 'Skylake'; 'Graviton2' -> 'Graviton2' (named directly in the use table)."""
    name = cpu_name.strip()
    if name.replace(" ", "") in {a.replace(" ", "") for a in known_archs}:
        return next(a for a in known_archs if a.replace(" ", "") == name.replace(" ", ""))
    bare = re.sub(r"^(intel\s+|amd\s+)?(xeon\s+)?", "", name.lower()).strip()
    for candidate in (name.lower(), bare, bare.split()[-1] if bare else ""):
        if candidate and candidate in models:
            return models[candidate]
    return None


def _embodied(path: Path) -> dict[str, float]:
    by_type: dict[str, list[float]] = {}
    for n, row in enumerate(_rows(path), start=2):
        by_type.setdefault(row["type"].strip(), []).append(_number(row["total"], f"{path.name} row {n} total"))
    return {k: statistics.fmean(v) for k, v in by_type.items()}


def _aws_instances(directory: Path, archs: dict[str, dict[str, float]], models: dict[str, str]) -> dict[str, dict]:
    sockets = {
        r["CPU Name"].strip(): _optional_int(r["Platform Number of CPU Socket(s)"])
        for r in _rows(directory / "aws-instances-cpus.csv")
    }
    embodied = _embodied(directory / "coefficients-aws-embodied.csv")
    out: dict[str, dict] = {}
    path = directory / "aws-instances.csv"
    for n, row in enumerate(_rows(path), start=2):
        itype = row["Instance type"].strip().lower()
        if not itype:
            continue
        cpu = row["Platform CPU Name"].strip()
        arch = cpu_architecture(cpu, models, set(archs))
        gpu_name = row["Platform GPU Name"].strip()
        out[itype] = {
            "vcpus": _number(row["Instance vCPU"], f"{path.name} row {n} Instance vCPU"),
            "platform_vcpus": _number(row["Platform Total Number of vCPU"], f"{path.name} row {n} platform vCPU"),
            "memory_gb": _number(row["Instance Memory (in GB)"], f"{path.name} row {n} memory"),
            "platform_memory_gb": _number(row["Platform Memory (in GB)"], f"{path.name} row {n} platform memory"),
            "cpu": cpu,
            "archs": [arch] if arch else [],
            "chips": sockets.get(cpu, 0),
            "gpus": _optional_int(row["Instance Number of GPU"]),
            "gpu_name": "" if gpu_name.upper() == "N/A" else gpu_name,
            "embodied_kg": embodied.get(itype),
            "burstable": bool(_BURSTABLE.match(itype)),
        }
    return out


def _other_instances(directory: Path, provider: str) -> dict[str, dict]:
    """Azure / GCP tables: one row per (type, possible microarchitecture); chips per microarchitecture."""
    chips = {
        r["Microarchitecture"].strip(): _optional_int(r["CPU Sockets"])
        for r in _rows(directory / f"{provider}-instances-cpus.csv")
    }
    embodied = {
        instance_key(provider, k): v for k, v in _embodied(directory / f"coefficients-{provider}-embodied.csv").items()
    }
    type_column = "Virtual Machine" if provider == "azure" else "Machine type"
    out: dict[str, dict] = {}
    path = directory / f"{provider}-instances.csv"
    for n, row in enumerate(_rows(path), start=2):
        key = instance_key(provider, row[type_column])
        if not key:
            continue
        arch = row["Microarchitecture"].strip()
        entry = out.setdefault(
            key,
            {
                "vcpus": _number(row["Instance vCPUs"], f"{path.name} row {n} Instance vCPUs"),
                "platform_vcpus": _number(
                    row["Platform vCPUs (highest vCPU possible)"], f"{path.name} row {n} platform vCPUs"
                ),
                "memory_gb": _number(row["Instance Memory"], f"{path.name} row {n} Instance Memory"),
                "platform_memory_gb": _number(row["Platform Memory"], f"{path.name} row {n} Platform Memory"),
                "cpu": "",
                "archs": [],
                "chips": chips.get(arch, 0),
                "gpus": _optional_int(row.get("Instance GPUs")),
                "gpu_name": (row.get("Platform GPU") or "").strip() if _optional_int(row.get("Instance GPUs")) else "",
                "embodied_kg": embodied.get(key),
                "burstable": False,
            },
        )
        if arch and arch != "Unknown" and arch not in entry["archs"]:
            entry["archs"].append(arch)
    return out


def _grid(directory: Path) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, str]], list[str]]:
    factors: dict[str, dict[str, float]] = {}
    sources: dict[str, dict[str, str]] = {}
    skipped: list[str] = []
    for provider in PROVIDERS:
        path = directory / f"grid-emissions-factors-{provider}.csv"
        factors[provider], sources[provider] = {}, {}
        for n, row in enumerate(_rows(path), start=2):
            region = (row.get("Region") or "").strip()
            value = (row.get("CO2e (metric ton/kWh)") or "").strip()
            # A factor must read as a decimal fraction of a ton (0.000...); the upstream Azure file has two
            # values that lost their "0." ("000077"): refused rather than guessed.
            if not region or not re.fullmatch(r"0\.\d+", value):
                skipped.append(f"{path.name} row {n}: region {region!r} factor {value!r} is malformed, not used")
                continue
            factors[provider][region] = float(value)
            sources[provider][region] = (row.get("Source") or "").strip()
    return factors, sources, skipped


def load_directory(directory: Path, constants_path: Path) -> Coefficients:
    constants = json.loads(constants_path.read_text(encoding="utf-8"))
    models = _cpu_architectures(directory)
    archs = _architectures(directory)
    grid, grid_sources, skipped = _grid(directory)
    instances = {
        "aws": _aws_instances(directory, archs["aws"], models),
        "azure": _other_instances(directory, "azure"),
        "gcp": _other_instances(directory, "gcp"),
    }
    unmapped = sorted({i["cpu"] for i in instances["aws"].values() if not i["archs"]})
    if unmapped:
        skipped.append(f"aws-instances.csv: no microarchitecture for CPU {', '.join(unmapped)}: provider average used")
    meta = {k: constants.pop(k) for k in ("version", "published", "source") if k in constants}
    constants.pop("published_note", None)
    return Coefficients(
        version=meta.get("version", "ccf-unknown"),
        published=meta.get("published", ""),
        source=meta.get("source", ""),
        constants=constants,
        architectures=archs,
        instances=instances,
        grid=grid,
        grid_sources=grid_sources,
        skipped=skipped,
    )


@cache
def load_shipped() -> Coefficients:
    """The coefficient set shipped with this finops version (read once per process)."""
    return load_directory(CCF_DIR, DATA_DIR / "ccf-constants.json")
