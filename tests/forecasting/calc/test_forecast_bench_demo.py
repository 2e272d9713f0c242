"""The demo mode of bench/forecast.py builds the product's daily series from FOCUS CSVs: sums and eligibility
checked against brute-force sums over the fixture rows."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import sys
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "forecast.py"
_spec = importlib.util.spec_from_file_location("forecast_bench_demo_module", BENCH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up while the class is built
_spec.loader.exec_module(bench)

AS_OF = date(2026, 3, 31)
KEYS = ("team", "Team")
COLUMNS = ["ChargePeriodStart", "BillingCurrency", "SubAccountId", "ServiceName", "RegionId", "RegionName", "Tags"]


def _row(
    day: date,
    hour: int,
    service: str,
    cost: str,
    *,
    account="111",
    region="us-east-1",
    region_name="",
    tags: dict | None = None,
) -> dict:
    return {
        "ChargePeriodStart": f"{day.isoformat()}T{hour:02d}:00:00Z",
        "BillingCurrency": "USD",
        "SubAccountId": account,
        "ServiceName": service,
        "RegionId": region,
        "RegionName": region_name,
        "Tags": json.dumps(tags) if tags is not None else "",
        "EffectiveCost": cost,
    }


def _fixture_rows() -> list[dict]:
    rows = []
    # EC2: 60 days up to AS_OF, two rows a day (hours 0 and 23 both belong to that UTC day), skipping every 10th day.
    for i in range(60):
        day = AS_OF - timedelta(days=59 - i)
        if i % 10 == 3:
            continue
        rows.append(_row(day, 0, "EC2", f"{100 + i}.25", tags={"team": "web", "Team": "ignored"}))
        rows.append(_row(day, 23, "EC2", "7.5", account="222", tags={"Team": "data"}))
    # S3: first day exactly min_history_days (28) before AS_OF counting AS_OF itself -> planned.
    for i in range(28):
        rows.append(_row(AS_OF - timedelta(days=27 - i), 5, "S3", "1", region="", region_name="Global"))
    # Lambda: one day too short -> not planned.
    for i in range(27):
        rows.append(_row(AS_OF - timedelta(days=26 - i), 5, "Lambda", "50", tags={}))
    # KMS: long history, 10.00 in the last 28 days -> planned; SNS: 9.99 -> not planned.
    rows.append(_row(AS_OF - timedelta(days=50), 1, "KMS", "100"))
    rows.append(_row(AS_OF - timedelta(days=3), 1, "KMS", "10.00"))
    rows.append(_row(AS_OF - timedelta(days=50), 1, "SNS", "100"))
    rows.append(_row(AS_OF - timedelta(days=3), 1, "SNS", "9.99"))
    # After AS_OF: ignored by the plan, present in the series values through a later end.
    rows.append(_row(AS_OF + timedelta(days=2), 4, "EC2", "1000"))
    return rows


@pytest.fixture
def files(tmp_path: Path) -> tuple[list[Path], list[dict]]:
    rows = _fixture_rows()
    paths = []
    for n, part in enumerate((rows[: len(rows) // 2], rows[len(rows) // 2 :])):
        path = tmp_path / f"focus_{n}.csv.gz"
        with gzip.open(path, "wt", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, "EffectiveCost"])
            writer.writeheader()
            writer.writerows(part)
        paths.append(path)
    return paths, rows


def _team(row: dict) -> str:
    tags = json.loads(row["Tags"]) if row["Tags"] else {}
    return next((str(tags[k]) for k in KEYS if tags.get(k) not in (None, "")), "")


def _key(row: dict, dimension: str) -> str:
    return {
        "total": "",
        "service": row["ServiceName"],
        "account": row["SubAccountId"],
        "region": row["RegionId"] or row["RegionName"],
        "team": _team(row),
    }[dimension]


def _brute_daily(rows: list[dict], dimension: str, key: str) -> dict[date, Decimal]:
    sums: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows:
        if _key(row, dimension) == key:
            sums[date.fromisoformat(row["ChargePeriodStart"][:10])] += Decimal(row["EffectiveCost"])
    return sums


@pytest.mark.parametrize(
    ("dimension", "key"),
    [
        ("total", ""),
        ("service", "EC2"),
        ("account", "222"),
        ("region", "Global"),
        ("team", "web"),
        ("team", "data"),
        ("team", ""),
    ],
)
def test_series_values_equal_brute_force_daily_sums(files, dimension, key):
    paths, rows = files
    daily = bench.demo_daily_costs(paths, KEYS, ["effective"])
    end = AS_OF + timedelta(days=5)
    first, values = bench.demo_series_values(daily, bench.DemoSeries("effective", "USD", dimension, key), end)
    expected = _brute_daily(rows, dimension, key)
    assert first == min(expected)
    assert values.size == (end - first).days + 1
    for i, value in enumerate(values):
        day = first + timedelta(days=i)
        assert value == pytest.approx(float(expected.get(day, Decimal(0))), abs=1e-9), day
    assert values.sum() == pytest.approx(float(sum(expected.values())), abs=1e-6)


def test_plan_keeps_the_series_the_product_would_forecast(files):
    paths, rows = files
    daily = bench.demo_daily_costs(paths, KEYS, ["effective"])
    planned = bench.plan_demo_series(daily, AS_OF, ["effective"], bench.Eligibility(28, Decimal("10"), 28))
    got = {(s.dimension, s.key) for s in planned}
    # Brute force of the rules over the rows up to AS_OF.
    expected = set()
    seen = [r for r in rows if date.fromisoformat(r["ChargePeriodStart"][:10]) <= AS_OF]
    for dimension in ("total", "service", "account", "region", "team"):
        for key in {_key(r, dimension) for r in seen}:
            sums = _brute_daily(seen, dimension, key)
            recent = sum((v for d, v in sums.items() if d >= AS_OF - timedelta(days=27)), Decimal(0))
            if min(sums) <= AS_OF - timedelta(days=27) and abs(recent) >= Decimal("10"):
                expected.add((dimension, key))
    assert got == expected
    # And the boundary cases by name.
    assert ("service", "S3") in got and ("service", "KMS") in got
    assert ("service", "Lambda") not in got and ("service", "SNS") not in got
    assert ("team", "") in got  # untagged cost is its own series, as the product files it under ""
    assert all(s.metric == "effective" and s.currency == "USD" for s in planned)


def test_series_without_cost_is_refused(files):
    paths, _ = files
    daily = bench.demo_daily_costs(paths, KEYS, ["effective"])
    with pytest.raises(ValueError, match="service:Nope has no cost"):
        bench.demo_series_values(daily, bench.DemoSeries("effective", "USD", "service", "Nope"), AS_OF)


def test_no_rows_is_refused(tmp_path):
    path = tmp_path / "empty.csv.gz"
    with gzip.open(path, "wt", newline="") as handle:
        csv.writer(handle).writerow([*COLUMNS, "EffectiveCost"])
    with pytest.raises(ValueError, match="no billing rows in 1 file"):
        bench.demo_daily_costs([path], KEYS, ["effective"])


def test_scores_use_the_held_back_days():
    train = np.tile([10.0, 10, 10, 10, 10, 4, 4], 6)
    held = np.array([10.0, 10, 10, 10, 10, 4, 4]) + 1.0
    fc = bench._forecast((train, date(2026, 1, 1)))
    s = bench.score([train], [held], [fc])
    # In-sample seasonal naive MAE of an exactly weekly train is 0 -> floored scale 1e-9 * mean: huge MASE; the
    # naive forecast repeats the last week, so its error is exactly 1 per day.
    scale = 1e-9 * train.mean()
    assert s.naive_mase[0] == pytest.approx(1.0 / scale)
