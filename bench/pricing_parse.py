#!/usr/bin/env python
"""Parse-rate benchmark of the AWS bulk offer CSV importer (no database): a generated EC2-shaped price
list of N rows through ``pricing.importers.read_catalog``, next to pyarrow's bare CSV read of the same
file (every column as text, nothing converted) as the reference line. Prints a table.

    python bench/pricing_parse.py [--rows 2000000] [--batch-rows 100000] [--fresh] [--clean]

The file has the real EC2 offer CSV layout: the 5-line preamble, the 91-column header of
AmazonEC2 offer files (term columns, then product attributes) and every value quoted. Its content is
synthetic but shaped like the real thing: one SKU per (instance type, region, operating system,
tenancy) drawn from moto's instance specs and libcloud's on-demand prices (both shipped in
pricing/data), each SKU with 21 rows: its OnDemand row and 12 Reserved offers (1/3 years x
standard/convertible x No/Partial/All Upfront; Partial and All Upfront have an upfront "Quantity" row and
an "Hrs" row). Reserved prices are made up from the on-demand price, not AWS's.

Each measurement runs in its own process so its peak RSS is its own. The file is written to
var/bench/ and reused (delete it, or pass --fresh, to regenerate).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_ROWS_PER_S = 150_000
TARGET_RSS_MB = 1024

HEADER = [  # the AmazonEC2 offer CSV header (91 columns)
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "EffectiveDate",
    "StartingRange",
    "EndingRange",
    "Unit",
    "PricePerUnit",
    "Currency",
    "RelatedTo",
    "LeaseContractLength",
    "PurchaseOption",
    "OfferingClass",
    "Product Family",
    "serviceCode",
    "Location",
    "Location Type",
    "Instance Type",
    "Current Generation",
    "Instance Family",
    "vCPU",
    "Physical Processor",
    "Clock Speed",
    "Memory",
    "Storage",
    "Network Performance",
    "Processor Architecture",
    "Storage Media",
    "Volume Type",
    "Max Volume Size",
    "Max IOPS/volume",
    "Max IOPS Burst Performance",
    "Max throughput/volume",
    "Provisioned",
    "Tenancy",
    "EBS Optimized",
    "Operating System",
    "License Model",
    "Group",
    "Group Description",
    "Transfer Type",
    "From Location",
    "From Location Type",
    "To Location",
    "To Location Type",
    "usageType",
    "operation",
    "AvailabilityZone",
    "CapacityStatus",
    "ClassicNetworkingSupport",
    "Dedicated EBS Throughput",
    "ECU",
    "Elastic Graphics Type",
    "Enhanced Networking Supported",
    "From Region Code",
    "GPU",
    "GPU Memory",
    "Instance",
    "Instance Capacity - 10xlarge",
    "Instance Capacity - 12xlarge",
    "Instance Capacity - 16xlarge",
    "Instance Capacity - 18xlarge",
    "Instance Capacity - 24xlarge",
    "Instance Capacity - 2xlarge",
    "Instance Capacity - 32xlarge",
    "Instance Capacity - 4xlarge",
    "Instance Capacity - 8xlarge",
    "Instance Capacity - 9xlarge",
    "Instance Capacity - large",
    "Instance Capacity - medium",
    "Instance Capacity - metal",
    "Instance Capacity - xlarge",
    "instanceSKU",
    "Intel AVX2 Available",
    "Intel AVX Available",
    "Intel Turbo Available",
    "MarketOption",
    "Normalization Size Factor",
    "Physical Cores",
    "Pre Installed S/W",
    "Processor Features",
    "Product Type",
    "Region Code",
    "Resource Type",
    "serviceName",
    "SnapshotArchiveFeeType",
    "To Region Code",
    "Volume API Name",
    "VPCNetworkingSupport",
]
TERM_COUNT = 15  # SKU and the 14 term columns
OS_VARIANTS = [  # (Operating System, License Model, Pre Installed S/W, operation, libcloud table)
    ("Linux", "No License required", "NA", "RunInstances", "ec2_linux"),
    ("RHEL", "No License required", "NA", "RunInstances:0010", "ec2_rhel"),
    ("SUSE", "No License required", "NA", "RunInstances:000g", "ec2_suse"),
    ("Windows", "No License required", "NA", "RunInstances:0002", "ec2_windows"),
    ("Red Hat Enterprise Linux with HA", "No License required", "NA", "RunInstances:1010", "ec2_rhel_ha"),
]
TENANCIES = [("Shared", "BoxUsage"), ("Dedicated", "DedicatedUsage")]
# (OfferTermCode, lease, class, purchase option, has upfront row, upfront months, hourly share of on-demand)
RESERVED = [
    ("4NA7Y494T4", "1yr", "standard", "No Upfront", False, 0, "0.63"),
    ("HU7G6KETJZ", "1yr", "standard", "Partial Upfront", True, 3.5, "0.30"),
    ("6QCMYABX3D", "1yr", "standard", "All Upfront", True, 7.1, "0"),
    ("BPH4J8HBKS", "3yr", "standard", "No Upfront", False, 0, "0.43"),
    ("38NPMPTW36", "3yr", "standard", "Partial Upfront", True, 7.3, "0.19"),
    ("NQ3QZPMQV9", "3yr", "standard", "All Upfront", True, 14.0, "0"),
    ("7NE97W5U4E", "1yr", "convertible", "No Upfront", False, 0, "0.72"),
    ("CUZHX8X6JH", "1yr", "convertible", "Partial Upfront", True, 4.1, "0.35"),
    ("VJWZNREJX2", "1yr", "convertible", "All Upfront", True, 8.2, "0"),
    ("Z2E3P23VKM", "3yr", "convertible", "No Upfront", False, 0, "0.50"),
    ("R5XV2EPZQZ", "3yr", "convertible", "Partial Upfront", True, 8.6, "0.24"),
    ("MZU6U2429S", "3yr", "convertible", "All Upfront", True, 16.5, "0"),
]
ROWS_PER_SKU = 1 + sum(2 if r[4] else 1 for r in RESERVED)  # 21


def _sku_code(n: int) -> str:
    """A 16-character code that looks like an AWS SKU, stable for ``n``."""
    digest = hashlib.blake2b(str(n).encode(), digest_size=10).digest()
    return base64.b32encode(digest).decode()[:16]


def _products(count: int) -> tuple[list[list[str]], list[float]]:
    """``count`` distinct EC2 products (product attribute columns, in HEADER order) and their on-demand prices."""
    with gzip.open(ROOT / "pricing" / "data" / "moto_ec2_instance_types.json.gz", "rb") as handle:
        specs = json.load(handle)
    with gzip.open(ROOT / "pricing" / "data" / "libcloud_pricing.json.gz", "rb") as handle:
        compute = json.load(handle)["compute"]
    regions = sorted({r for sizes in compute["ec2_linux"].values() for r in sizes if r.count("-") == 2})
    product_names = ["SKU", *HEADER[TERM_COUNT:]]
    products: list[list[str]] = []
    prices: list[float] = []
    types = sorted(specs)
    i = 0
    for region in regions:
        for instance_type in types:
            spec = specs[instance_type]
            vcpu = spec["VCpuInfo"]["DefaultVCpus"]
            memory = spec["MemoryInfo"]["SizeInMiB"] / 1024
            arch = spec["ProcessorInfo"]["SupportedArchitectures"][-1]
            for os_name, license_model, software, operation, table in OS_VARIANTS:
                base = compute[table].get(instance_type, {}).get(region) or round(0.048 * vcpu + 0.006 * memory, 4)
                for tenancy, usage in TENANCIES:
                    if len(products) >= count:
                        return products, prices
                    i += 1
                    values = dict.fromkeys(product_names, "")
                    values.update(
                        {
                            "SKU": _sku_code(i),
                            "Product Family": "Compute Instance",
                            "serviceCode": "AmazonEC2",
                            "Location": f"AWS Region {region}",
                            "Location Type": "AWS Region",
                            "Instance Type": instance_type,
                            "Current Generation": "Yes" if spec["CurrentGeneration"] else "No",
                            "Instance Family": "General purpose",
                            "vCPU": str(vcpu),
                            "Physical Processor": "AWS Graviton2 Processor" if arch == "arm64" else "Intel Xeon Family",
                            "Clock Speed": f"{spec['ProcessorInfo'].get('SustainedClockSpeedInGhz', 2.5)} GHz",
                            "Memory": f"{memory:g} GiB",
                            "Storage": "EBS only",
                            "Network Performance": spec["NetworkInfo"]["NetworkPerformance"],
                            "Processor Architecture": "64-bit",
                            "Tenancy": tenancy,
                            "EBS Optimized": "Yes",
                            "Operating System": os_name,
                            "License Model": license_model,
                            "usageType": f"{region.upper()}-{usage}:{instance_type}",
                            "operation": operation,
                            "AvailabilityZone": "NA",
                            "CapacityStatus": "Used",
                            "ClassicNetworkingSupport": "false",
                            "Dedicated EBS Throughput": "Up to 4750 Mbps",
                            "ECU": "NA",
                            "Enhanced Networking Supported": "Yes",
                            "GPU": "NA",
                            "GPU Memory": "NA",
                            "instanceSKU": _sku_code(i + 10**9),
                            "Intel AVX2 Available": "Yes",
                            "Intel AVX Available": "Yes",
                            "Intel Turbo Available": "Yes",
                            "MarketOption": "OnDemand",
                            "Normalization Size Factor": "NA",
                            "Physical Cores": "NA",
                            "Pre Installed S/W": software,
                            "Processor Features": "Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo",
                            "Region Code": region,
                            "serviceName": "Amazon Elastic Compute Cloud",
                            "VPCNetworkingSupport": "true",
                        }
                    )
                    products.append([values[name] for name in product_names])
                    prices.append(base * (1.1 if tenancy == "Dedicated" else 1.0))
    raise SystemExit(f"only {len(products)} distinct products available; ask for fewer rows")


def generate(rows: int, out: Path) -> Path:
    """An EC2-shaped AWS offer CSV of exactly ``rows`` data rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = out / f"aws-offer-ec2-{rows}.csv"
    if path.exists():
        return path
    skus = -(-rows // ROWS_PER_SKU)
    products, prices = _products(skus)
    product_names = ["SKU", *HEADER[TERM_COUNT:]]
    product_table = pa.table({name: [p[j] for p in products] for j, name in enumerate(product_names)})
    on_demand = np.array(prices)
    # The 21 term rows of one SKU:
    # (OfferTermCode, rate suffix, TermType, Unit, lease, class, option, kind, months, share)
    template = [("JRTCKXETXF", "6YS6EN2CT7", "OnDemand", "Hrs", "", "", "", "od", 0.0, "1")]
    for code, lease, klass, option, upfront, months, share in RESERVED:
        if upfront:
            template.append((code, "2TG2D8R56U", "Reserved", "Quantity", lease, klass, option, "up", months, "0"))
        template.append((code, "6YS6EN2CT7", "Reserved", "Hrs", lease, klass, option, "hrs", 0.0, share))
    per_sku = len(template)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as sink:
        sink.write(
            b'"FormatVersion","v1.0"\n"Disclaimer","This pricing list is for informational purposes only. '
            b'(synthetic EC2-shaped benchmark file, not AWS prices)"\n"Publication Date","2026-01-16T16:02:58Z"\n'
            b'"Version","20260116160258"\n"OfferCode","AmazonEC2"\n'
        )
        sink.write((",".join(f'"{name}"' for name in HEADER) + "\n").encode())
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        with pacsv.CSVWriter(sink, pa.schema([(name, pa.string()) for name in HEADER]), write_options=options) as w:
            done = 0
            while done < rows:
                n = min(210_000, rows - done)
                index = np.arange(done, done + n)
                sku_index = index // per_sku
                term_index = index % per_sku
                kinds = np.array([t[7] for t in template])[term_index]
                base = on_demand[sku_index]
                months = np.array([t[8] for t in template])[term_index]
                share = np.array([float(t[9]) for t in template])[term_index]
                value = np.where(kinds == "up", np.round(base * months * 730, 0), np.round(base * share, 4))
                price_text = [f"{v:.10f}" for v in value]
                sku = product_table["SKU"].take(pa.array(sku_index))
                columns = {
                    "SKU": sku,
                    "OfferTermCode": pa.array([template[t][0] for t in term_index]),
                    "RateCode": pa.array(
                        [
                            f"{s}.{template[t][0]}.{template[t][1]}"
                            for s, t in zip(sku.to_pylist(), term_index, strict=True)
                        ]
                    ),
                    "TermType": pa.array([template[t][2] for t in term_index]),
                    "PriceDescription": pa.array(
                        [
                            "Upfront Fee" if k == "up" else f"${v:g} per Instance Hour"
                            for k, v in zip(kinds, value, strict=True)
                        ]
                    ),
                    "EffectiveDate": pa.array(["2025-12-01"] * n),
                    "StartingRange": pa.array(["0" if k == "od" else "" for k in kinds]),
                    "EndingRange": pa.array(["Inf" if k == "od" else "" for k in kinds]),
                    "Unit": pa.array([template[t][3] for t in term_index]),
                    "PricePerUnit": pa.array(price_text),
                    "Currency": pa.array(["USD"] * n),
                    "RelatedTo": pa.array([""] * n),
                    "LeaseContractLength": pa.array([template[t][4] for t in term_index]),
                    "PurchaseOption": pa.array([template[t][6] for t in term_index]),
                    "OfferingClass": pa.array([template[t][5] for t in term_index]),
                }
                taken = product_table.take(pa.array(sku_index))
                for name in product_names[1:]:
                    columns[name] = taken[name]
                w.write_table(pa.table([columns[name] for name in HEADER], names=HEADER))
                done += n
    tmp.rename(path)
    return path


def child_import(path: str, batch_rows: int) -> None:
    from pricing.importers import read_catalog

    started = time.perf_counter()
    _, batches = read_catalog(Path(path), "aws-offer-csv", batch_rows=batch_rows)
    rows = skus = prices = 0
    for batch in batches:
        rows += batch.rows
        skus += batch.skus.num_rows
        prices += batch.prices.num_rows
    elapsed = time.perf_counter() - started
    print(f"RESULT {rows} {elapsed:.3f} {skus} {prices}")


def child_raw(path: str) -> None:
    """The reference: pyarrow's streaming CSV reader, every column as text, nothing converted."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from pricing.importers.csvstream import BLOCK_BYTES

    started = time.perf_counter()
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=HEADER, skip_rows=6, block_size=BLOCK_BYTES),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(HEADER, pa.string())),
    )
    rows = sum(batch.num_rows for batch in reader)
    print(f"RESULT {rows} {time.perf_counter() - started:.3f} 0 0")


def run_child(args: list[str]) -> tuple[int, float, int, int, float, float]:
    """Run this script as a child; (rows, seconds, skus, prices, peak RSS MB, CPU seconds) of that child alone."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"benchmark child failed ({args}):\n{output}")
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    _, rows, seconds, skus, prices = line.split()
    return int(rows), float(seconds), int(skus), int(prices), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--fresh", action="store_true", help="regenerate the file even if it exists")
    parser.add_argument("--clean", action="store_true", help="delete the generated file afterwards")
    parser.add_argument("--child-import", nargs=2, metavar=("PATH", "BATCH_ROWS"), help=argparse.SUPPRESS)
    parser.add_argument("--child-raw", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        return child_import(args.child_import[0], int(args.child_import[1]))
    if args.child_raw:
        return child_raw(args.child_raw)

    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        (out / f"aws-offer-ec2-{args.rows}.csv").unlink(missing_ok=True)
    started = time.perf_counter()
    path = generate(args.rows, out)
    size_mb = path.stat().st_size / 1e6
    print(f"pricing parse benchmark: {path.name} ({size_mb:,.0f} MB, {args.rows:,} rows), {os.cpu_count()} CPUs")
    print(f"  file ready in {time.perf_counter() - started:.1f} s")
    raw_rows, raw_s, _, _, raw_rss, raw_cpu = run_child(["--child-raw", str(path)])
    rows, seconds, skus, prices, rss, cpu = run_child(["--child-import", str(path), str(args.batch_rows)])
    assert rows == raw_rows == args.rows, (rows, raw_rows, args.rows)
    print()
    print("| step | rows | s | rows/s | MB/s | CPU s (whole child) | peak RSS MB | SKUs out | prices out |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| pyarrow CSV read only (reference) | {raw_rows:,} | {raw_s:.1f} | {raw_rows / raw_s:,.0f} | "
        f"{size_mb / raw_s:,.0f} | {raw_cpu:.1f} | {raw_rss:,.0f} | | |"
    )
    print(
        f"| read_catalog aws-offer-csv | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | "
        f"{size_mb / seconds:,.0f} | {cpu:.1f} | {rss:,.0f} | {skus:,} | {prices:,} |"
    )
    print()
    rate_ok = rows / seconds >= TARGET_ROWS_PER_S
    rss_ok = rss < TARGET_RSS_MB
    print(
        f"target >= {TARGET_ROWS_PER_S:,} rows/s: {'met' if rate_ok else 'MISSED'}; "
        f"peak RSS < {TARGET_RSS_MB:,} MB: {'met' if rss_ok else 'MISSED'}"
    )
    if args.clean:
        path.unlink()


if __name__ == "__main__":
    main()
