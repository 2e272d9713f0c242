"""EC2 instance specs from moto's DescribeInstanceTypes JSON, and the size normalization factor.

Pure: no Django, no database (``pytest tests/pricing/test_specs.py -p no:django``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from pricing.specs import MOTO_SPECS, load_specs, normalization_factor, read_specs, size_factor, split_instance_type

SHARED_MOTO = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aws_pricing" / "moto_ec2_instance_types.json"
)
needs_shared_data = pytest.mark.skipif(not SHARED_MOTO.is_file(), reason=f"shared data not found at {SHARED_MOTO}")


@pytest.fixture(scope="module")
def raw() -> dict:
    with gzip.open(MOTO_SPECS, "rb") as handle:
        return json.load(handle)


def test_m5_large() -> None:
    # "m5.large": VCpuInfo.DefaultVCpus 2, MemoryInfo.SizeInMiB 8192, ProcessorInfo.SupportedArchitectures ["x86_64"]
    spec = load_specs()["m5.large"]
    assert (spec.vcpu, spec.memory_gib, spec.architecture, spec.gpu) == (2, Decimal(8), "x86_64", 0)
    assert (spec.instance_family, spec.size, spec.normalization_factor) == ("m5", "large", Decimal(4))
    assert spec.bare_metal is False


@pytest.mark.parametrize(
    ("size", "factor"),
    [
        ("nano", "0.25"),
        ("micro", "0.5"),
        ("small", "1"),
        ("medium", "2"),
        ("large", "4"),
        ("xlarge", "8"),
        ("2xlarge", "16"),
        ("4xlarge", "32"),
        ("24xlarge", "192"),
        ("metal-48xl", "384"),
    ],
)
def test_size_factors(size: str, factor: str) -> None:
    assert size_factor(size) == Decimal(factor)


def test_metal_is_the_largest_size_of_its_family(raw: dict) -> None:
    specs = load_specs()
    assert specs["m5.metal"].normalization_factor == Decimal(192)  # m5.24xlarge
    assert specs["a1.metal"].normalization_factor == Decimal(32)  # a1.4xlarge
    assert specs["z1d.metal"].normalization_factor == Decimal(96)  # z1d.12xlarge
    assert specs["c7i.metal-48xl"].normalization_factor == Decimal(384)  # the size it names
    assert specs["mac1.metal"].normalization_factor is None  # no other size in the family
    for name, spec in specs.items():  # independently: the largest NNxlarge of the family
        family, size = name.rsplit(".", 1)
        if size != "metal":
            continue
        multiples = [int(s.split(".")[1][: -len("xlarge")] or 1) for s in raw if s.startswith(family + ".")
                     and s.split(".")[1].endswith("xlarge")]  # fmt: skip
        assert spec.normalization_factor == (Decimal(8 * max(multiples)) if multiples else None), name


def test_every_type_matches_moto(raw: dict) -> None:
    specs = load_specs()
    assert len(specs) == len(raw) == 1263
    for name, entry in raw.items():
        spec = specs[name]
        assert spec.vcpu == entry["VCpuInfo"]["DefaultVCpus"]
        assert spec.memory_gib * 1024 == entry["MemoryInfo"]["SizeInMiB"]
        assert spec.gpu == sum(g["Count"] for g in entry.get("GpuInfo", {}).get("Gpus", []))
        assert spec.current_generation == entry["CurrentGeneration"]
        assert spec.architecture in entry["ProcessorInfo"]["SupportedArchitectures"]
        assert spec.architecture != "i386"


def test_gpus() -> None:
    specs = load_specs()
    gpu_types = {name: spec.gpu for name, spec in specs.items() if spec.gpu}
    assert gpu_types  # moto lists GpuInfo for 65 types
    assert specs["dl1.24xlarge"].gpu == 8  # "Gpus": [{"Count": 8, ... "Name": "Gaudi HL-205"}]
    assert specs["dl1.24xlarge"].gpu_memory_gib == Decimal(256)  # TotalGpuMemoryInMiB 262144


def test_names() -> None:
    assert split_instance_type("m5.large") == ("m5", "large")
    assert split_instance_type("db.r7g.2xlarge") == ("db.r7g", "2xlarge")
    assert normalization_factor("db.r7g.2xlarge") == Decimal(16)
    assert normalization_factor("u-6tb1.56xlarge") == Decimal(448)


@needs_shared_data
def test_the_shipped_gzip_is_the_shared_file() -> None:
    assert (
        hashlib.sha256(gzip.decompress(MOTO_SPECS.read_bytes())).digest()
        == hashlib.sha256(SHARED_MOTO.read_bytes()).digest()
    )
    assert read_specs(SHARED_MOTO) == dict(load_specs())
