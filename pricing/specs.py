"""EC2 instance specs from moto's DescribeInstanceTypes-shaped JSON, and the size normalization factor
AWS uses for size-flexible Reserved Instances.

Pure module: no Django imports. The project ships a gzip of moto 5.2.1's ``instance_types.json``
(``pricing/data/``, Apache-2.0, see LICENSES.md); ``load_specs()`` reads it once per process.

Normalization factor (AWS "Instance size flexibility" table): nano 0.25, micro 0.5, small 1, medium 2,
large 4, xlarge 8, Nxlarge 8N; ``metal-Nxl`` is the Nxlarge it equals (c7i.metal-48xl = 384); a plain
``metal`` is the factor of the largest size of its family (m5.metal = m5.24xlarge = 192), and None when
the family has no other size (mac1.metal).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
MOTO_SPECS = DATA / "moto_ec2_instance_types.json.gz"

SIZE_FACTORS: Mapping[str, Decimal] = {
    "nano": Decimal("0.25"),
    "micro": Decimal("0.5"),
    "small": Decimal(1),
    "medium": Decimal(2),
    "large": Decimal(4),
    "xlarge": Decimal(8),
}
_MULTIPLE = re.compile(r"(\d+)xlarge")
_METAL_SIZE = re.compile(r"metal-(\d+)xl")
_MIB_PER_GIB = Decimal(1024)


@dataclass(frozen=True)
class InstanceSpec:
    instance_type: str  # "m5.large"
    instance_family: str  # "m5"
    size: str  # "large"
    vcpu: int
    memory_gib: Decimal  # exact: MiB / 1024
    architecture: str  # "x86_64", "arm64", "x86_64_mac", "arm64_mac"
    gpu: int  # GPUs (sum of GpuInfo.Gpus[].Count); 0 when none
    gpu_memory_gib: Decimal
    current_generation: bool
    bare_metal: bool
    normalization_factor: Decimal | None


def split_instance_type(instance_type: str) -> tuple[str, str]:
    """ "m5.large" -> ("m5", "large"); "db.r7g.2xlarge" -> ("db.r7g", "2xlarge"); "m5" -> ("m5", "")."""
    family, _, size = instance_type.rpartition(".")
    return (family, size) if family else (instance_type, "")


def size_factor(size: str) -> Decimal | None:
    """The normalization factor of a size name alone (None for a plain "metal", which needs its family)."""
    if size in SIZE_FACTORS:
        return SIZE_FACTORS[size]
    match = _MULTIPLE.fullmatch(size) or _METAL_SIZE.fullmatch(size)
    if match:
        return SIZE_FACTORS["xlarge"] * int(match.group(1))
    return None


def family_factors(instance_types: Iterable[str]) -> dict[str, Decimal]:
    """Family -> the largest size factor among its known (non-metal) sizes: what a plain "metal" counts."""
    largest: dict[str, Decimal] = {}
    for instance_type in instance_types:
        family, size = split_instance_type(instance_type)
        factor = size_factor(size)
        if factor is not None and not size.startswith("metal") and factor > largest.get(family, Decimal(0)):
            largest[family] = factor
    return largest


def normalization_factor(instance_type: str, largest_in_family: Mapping[str, Decimal] | None = None) -> Decimal | None:
    family, size = split_instance_type(instance_type)
    if size == "metal":
        if largest_in_family is None:
            largest_in_family = family_factors(load_specs())
        return largest_in_family.get(family)
    return size_factor(size)


def _architecture(architectures: list[str]) -> str:
    """One name from SupportedArchitectures: the 64-bit one when i386 is listed too."""
    wanted = [a for a in architectures if a != "i386"]
    return (wanted or architectures or [""])[0]


def parse_specs(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, InstanceSpec]:
    """moto's ``{instance type: DescribeInstanceTypes entry}`` -> ``{instance type: InstanceSpec}``."""
    largest = family_factors(raw)
    specs: dict[str, InstanceSpec] = {}
    for instance_type, entry in raw.items():
        family, size = split_instance_type(instance_type)
        gpus = (entry.get("GpuInfo") or {}).get("Gpus") or []
        gpu_memory = (entry.get("GpuInfo") or {}).get("TotalGpuMemoryInMiB") or 0
        specs[instance_type] = InstanceSpec(
            instance_type=instance_type,
            instance_family=family,
            size=size,
            vcpu=int(entry["VCpuInfo"]["DefaultVCpus"]),
            memory_gib=Decimal(int(entry["MemoryInfo"]["SizeInMiB"])) / _MIB_PER_GIB,
            architecture=_architecture(list(entry["ProcessorInfo"]["SupportedArchitectures"])),
            gpu=sum(int(gpu.get("Count", 0)) for gpu in gpus),
            gpu_memory_gib=Decimal(int(gpu_memory)) / _MIB_PER_GIB,
            current_generation=bool(entry.get("CurrentGeneration")),
            bare_metal=bool(entry.get("BareMetal")),
            normalization_factor=normalization_factor(instance_type, largest),
        )
    return specs


def read_specs(path: Path) -> dict[str, InstanceSpec]:
    """Specs from a moto ``instance_types.json`` (plain or gzip)."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as handle:
        return parse_specs(json.load(handle))


@cache
def load_specs() -> Mapping[str, InstanceSpec]:
    """The shipped moto 5.2.1 specs (1,263 instance types), read once per process."""
    return read_specs(MOTO_SPECS)
