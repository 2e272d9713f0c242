"""Compute specs for SKU rows: instance family, size normalization factor, vCPU, memory, architecture, GPUs.

Pure module: no Django imports. Looked up once per distinct instance type in the shipped moto specs
(``pricing.specs``); an instance type moto does not know still gets its family and, from the size name,
its normalization factor.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from pricing.importers.records import DECIMAL, combined
from pricing.specs import InstanceSpec, family_factors, load_specs, normalization_factor, split_instance_type

SPEC_COLUMNS: Mapping[str, pa.DataType] = {
    "instance_family": pa.string(),
    "normalization_factor": DECIMAL,
    "vcpu": pa.int32(),
    "memory_gib": DECIMAL,
    "architecture": pa.string(),
    "gpu": pa.int32(),
}


@cache
def _largest_in_family() -> Mapping[str, object]:
    return family_factors(load_specs())


def instance_spec(instance_type: str | None) -> dict[str, object]:
    """The SPEC_COLUMNS values of one instance type (all None for None)."""
    if not instance_type:
        return dict.fromkeys(SPEC_COLUMNS)
    spec: InstanceSpec | None = load_specs().get(instance_type)
    family, _ = split_instance_type(instance_type)
    if spec is None:
        return {
            "instance_family": family,
            "normalization_factor": normalization_factor(instance_type, _largest_in_family()),  # type: ignore[arg-type]
            "vcpu": None,
            "memory_gib": None,
            "architecture": None,
            "gpu": None,
        }
    return {
        "instance_family": spec.instance_family,
        "normalization_factor": spec.normalization_factor,
        "vcpu": spec.vcpu,
        "memory_gib": spec.memory_gib,
        "architecture": spec.architecture,
        "gpu": spec.gpu,
    }


def spec_columns(instance_types: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
    """SPEC_COLUMNS as arrays aligned with ``instance_types`` (one lookup per distinct type)."""
    encoded = pc.dictionary_encode(combined(instance_types))
    specs = [instance_spec(t) for t in encoded.dictionary.to_pylist()]
    return {
        name: pc.take(pa.array([spec[name] for spec in specs], dtype), encoded.indices)
        for name, dtype in SPEC_COLUMNS.items()
    }


def processor_architecture(text: str | None) -> str | None:
    """AWS "Physical Processor" text -> arm64 / x86_64 (None when it says nothing we know)."""
    if not text:
        return None
    lowered = text.lower()
    if "graviton" in lowered or "ampere" in lowered:
        return "arm64"
    if "apple" in lowered:
        return "arm64_mac"
    if "intel" in lowered or "amd" in lowered or "xeon" in lowered or "epyc" in lowered:
        return "x86_64"
    return None
