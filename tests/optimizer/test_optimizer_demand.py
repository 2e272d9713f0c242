"""Hourly demand from FOCUS compute rows: covered, spot and unused rows, sunk commitments, rightsizing."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.demand import DemandError, build_demand, coverage_kept, from_focus

H0 = pd.Timestamp("2026-01-01T00:00:00Z")


def row(hour: int, itype: str, qty: float, *, region="us-east-1", cid=None, status=None, category="Usage",
        hours: int = 1, unit="Hours", resource="i-1") -> dict:  # fmt: skip
    start = H0 + pd.Timedelta(hours=hour)
    return {
        "ChargePeriodStart": start.isoformat(),
        "ChargePeriodEnd": (start + pd.Timedelta(hours=hours)).isoformat(),
        "ChargeCategory": category,
        "ConsumedQuantity": qty,
        "PricingQuantity": qty,
        "PricingUnit": unit,
        "RegionId": region,
        "x_InstanceType": itype,
        "ResourceId": resource,
        "CommitmentDiscountId": cid,
        "CommitmentDiscountStatus": status,
        "BilledCost": 0.0 if cid else qty * 0.1,
    }


FIXTURE = pd.DataFrame(
    [
        row(0, "m5.large", 3.0),  # on-demand
        row(0, "m5.large", 2.0, cid="ri-1", status="Used"),  # covered by an RI: still demand, sunk
        row(0, "m5.large", 1.5, cid="ri-1", status="Unused"),  # unused capacity: not demand
        row(1, "m5.large", 4.0, cid="sp-1", status="Used", resource="i-2"),  # covered by a savings plan
        row(1, "c5.xlarge", 2.5, resource="i-3"),  # spot or on-demand alike
        row(2, "c5.xlarge", 1.0, region="eu-west-1", resource="i-4"),
        row(0, "m5.large", 9.0, category="Purchase", cid="ri-1"),  # the RI fee: not usage
        row(1, None, 100.0),  # not compute (no instance type)
        row(2, "m5.large", 50.0, unit="GB-Mo"),  # not hours
        row(0, "t3.small", 48.0, hours=24, resource="i-5"),  # a daily row: spread over 24 hours
        row(5, "m5.large", 7.0, resource="i-6"),  # outside a 4-hour window
    ]
)


def independent(frame: pd.DataFrame, hours: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Expected total and sunk demand, straight from the rules, one row at a time."""
    total, sunk = {}, {}
    for _, r in frame.iterrows():
        if r["ChargeCategory"] != "Usage" or pd.isna(r["x_InstanceType"]) or r["PricingUnit"] != "Hours":
            continue
        if r["CommitmentDiscountStatus"] == "Unused":
            continue
        start = pd.Timestamp(r["ChargePeriodStart"])
        span = int((pd.Timestamp(r["ChargePeriodEnd"]) - start) / pd.Timedelta(hours=1))
        for i in range(span):
            h = int((start - H0) / pd.Timedelta(hours=1)) + i
            if 0 <= h < hours:
                key = (h, f"{r['x_InstanceType']}@{r['RegionId']}")
                total[key] = total.get(key, 0.0) + r["ConsumedQuantity"] / span
                if not pd.isna(r["CommitmentDiscountId"]):
                    sunk[key] = sunk.get(key, 0.0) + r["ConsumedQuantity"] / span
    skus = sorted({k for _, k in total})
    index = pd.date_range(H0, periods=hours, freq="h")

    def frame_of(values):
        return pd.DataFrame([[values.get((h, s), 0.0) for s in skus] for h in range(hours)], index=index, columns=skus)

    return frame_of(total), frame_of(sunk)


def test_demand_matches_an_independent_computation():
    demand = build_demand(from_focus(FIXTURE), start=H0, end=H0 + pd.Timedelta(hours=4))
    total, sunk = independent(FIXTURE, 4)
    assert demand.hours == 4
    assert list(demand.total.columns) == list(total.columns)
    pd.testing.assert_frame_equal(demand.total, total, check_freq=False, check_names=False)
    pd.testing.assert_frame_equal(demand.sunk, sunk, check_freq=False, check_names=False)
    # Hand-checked cells: hour 0 m5.large = 3 on-demand + 2 covered (the 1.5 unused is not demand).
    assert demand.total.iloc[0]["m5.large@us-east-1"] == pytest.approx(5.0)
    assert demand.net.iloc[0]["m5.large@us-east-1"] == pytest.approx(3.0)
    assert demand.net.iloc[1]["m5.large@us-east-1"] == pytest.approx(0.0)
    assert demand.total.iloc[3]["t3.small@us-east-1"] == pytest.approx(2.0)
    assert demand.sunk_by_commitment == pytest.approx({"ri-1": 2.0, "sp-1": 4.0})


def test_sunk_commitment_stops_at_its_expiry():
    demand = build_demand(
        from_focus(FIXTURE), start=H0, end=H0 + pd.Timedelta(hours=4), expiries={"sp-1": H0 + pd.Timedelta(hours=1)}
    )
    # sp-1 covered hour 1, but it ended at hour 1: that usage is demand to serve again.
    assert demand.sunk.iloc[1]["m5.large@us-east-1"] == 0.0
    assert demand.net.iloc[1]["m5.large@us-east-1"] == pytest.approx(4.0)
    assert demand.sunk.iloc[0]["m5.large@us-east-1"] == pytest.approx(2.0)  # ri-1 has no known expiry


def test_resize_moves_demand_and_stop_removes_it():
    resize = {"i-2": "m5.xlarge", "i-3": None}
    demand = build_demand(from_focus(FIXTURE), start=H0, end=H0 + pd.Timedelta(hours=4), resize=resize)
    assert demand.total.iloc[1]["m5.xlarge@us-east-1"] == pytest.approx(4.0)
    assert demand.total.iloc[1]["m5.large@us-east-1"] == pytest.approx(0.0)
    assert "c5.xlarge@us-east-1" not in demand.total.columns  # i-3 stopped: its only usage is gone
    # sp-1 (no category, not a savings-plan ARN: read as a reservation) covered 4 m5.large; m5.xlarge is twice
    # the size in the same family, so the same normalized units cover half the moved hours.
    assert demand.sunk.iloc[1]["m5.xlarge@us-east-1"] == pytest.approx(2.0)
    assert demand.net.iloc[1]["m5.xlarge@us-east-1"] == pytest.approx(2.0)


def sized(itype: str, qty: float, resource: str, cid=None, category=None, name=None, hour: int = 0) -> dict:
    return {
        **row(hour, itype, qty, cid=cid, status="Used" if cid else None, resource=resource),
        "CommitmentDiscountCategory": category,
        "CommitmentDiscountName": name,
    }


RIGHTSIZED = pd.DataFrame(
    [
        sized("m5.large", 2.0, "i-a", "ri-m5", "Usage"),  # -> c6a.large: another family, the RI cannot follow
        sized("m5.large", 1.5, "i-b"),  # on demand, unchanged: the freed RI hours cover it
        sized("m5.large", 1.0, "i-g", "ri-m5", "Usage"),  # stopped: frees one more RI hour
        sized("m5.large", 0.5, "i-h", "sp-1", "Spend", "Compute SP"),  # unchanged and covered: stays covered
        sized("r5.xlarge", 3.0, "i-c", "sp-1", "Spend", "Compute SP"),  # -> r5a.large: a Compute plan follows
        sized("c5.2xlarge", 1.0, "i-d", "ri-c5", "Usage"),  # -> c5.xlarge: same family, smaller: still covered
        sized("c5.large", 2.0, "i-e", "ri-c5b", "Usage"),  # -> c5.xlarge: 4 units cover half of 2 x 8 units
        sized("t3.small", 1.0, "i-f", "sp-ec2", "Spend", "EC2 Instance SP t3"),  # -> t3a: out of the plan's family
    ]
)
RESIZE = {"i-a": "c6a.large", "i-g": None, "i-c": "r5a.large", "i-d": "c5.xlarge", "i-e": "c5.xlarge",
          "i-f": "t3a.small"}  # fmt: skip


def test_rightsizing_keeps_existing_commitments_sunk():
    window = {"start": H0, "end": H0 + pd.Timedelta(hours=1)}
    plain = build_demand(from_focus(RIGHTSIZED), **window)
    demand = build_demand(from_focus(RIGHTSIZED), **window, resize=RESIZE)
    assert float(plain.sunk.to_numpy().sum()) == pytest.approx(2 + 1 + 0.5 + 3 + 1 + 2 + 1)
    # Hand-computed: m5.large keeps 0.5 (sp-1) and re-uses 1.5 of the 3 freed RI hours for i-b; r5a.large 3
    # (sp-1 follows); c5.xlarge 1 (i-d) + 1 (i-e, half); c6a.large and t3a.small lose their coverage.
    expected_sunk = {"m5.large@us-east-1": 2.0, "r5a.large@us-east-1": 3.0, "c5.xlarge@us-east-1": 2.0}
    expected_total = {"m5.large@us-east-1": 2.0, "r5a.large@us-east-1": 3.0, "c5.xlarge@us-east-1": 3.0,
                      "c6a.large@us-east-1": 2.0, "t3a.small@us-east-1": 1.0}  # fmt: skip
    assert demand.total.iloc[0].to_dict() == pytest.approx(expected_total)
    assert demand.sunk.iloc[0].to_dict() == pytest.approx({s: expected_sunk.get(s, 0.0) for s in expected_total})
    assert demand.sunk_by_commitment == pytest.approx({"ri-m5": 1.5, "sp-1": 3.5, "ri-c5": 1.0, "ri-c5b": 1.0})
    # What nothing can use any more is reported, not sold again as demand.
    assert demand.stranded_by_commitment == pytest.approx({"ri-m5": 1.5, "sp-ec2": 1.0})
    assert plain.stranded_by_commitment == {}
    # Net demand: only the usage no commitment can cover.
    assert float(demand.net.to_numpy().sum()) == pytest.approx(2.0 + 1.0 + 1.0)


def test_expired_commitment_frees_nothing_on_rightsizing():
    window = {"start": H0, "end": H0 + pd.Timedelta(hours=1)}
    demand = build_demand(from_focus(RIGHTSIZED), **window, resize=RESIZE, expiries={"ri-m5": H0})
    assert "ri-m5" not in demand.sunk_by_commitment and "ri-m5" not in demand.stranded_by_commitment
    assert demand.sunk.iloc[0]["m5.large@us-east-1"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kind", "name", "old", "new", "share"),
    [
        ("spend", "Compute SP", "m5.xlarge", "r5a.large", 1.0),
        ("spend", "EC2 Instance Savings Plan", "m5.xlarge", "m5.large", 1.0),
        ("spend", "EC2 Instance Savings Plan", "m5.xlarge", "m6i.large", 0.0),
        ("usage", None, "c5.2xlarge", "c5.large", 1.0),
        ("usage", None, "c5.large", "c5.2xlarge", 0.25),
        ("usage", None, "c5.large", "c6a.large", 0.0),
        ("usage", None, "m5.metal", "m5.metal", 1.0),
    ],
)
def test_coverage_kept_by_a_resized_resource(kind, name, old, new, share):
    assert coverage_kept(kind, name, old, new) == share


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (H0, H0, "empty window"),
        (H0 + pd.Timedelta(minutes=30), H0 + pd.Timedelta(hours=2), "whole hours"),
    ],
)
def test_bad_window_is_refused(start, end, message):
    with pytest.raises(DemandError, match=message):
        build_demand(from_focus(FIXTURE), start=start, end=end)


def test_missing_column_is_named():
    with pytest.raises(DemandError, match="instance_type"):
        build_demand(from_focus(FIXTURE).drop(columns=["instance_type"]), start=H0, end=H0 + pd.Timedelta(hours=1))


def test_no_compute_usage_gives_an_empty_demand():
    demand = build_demand(from_focus(FIXTURE), start=H0 + pd.Timedelta(hours=30), end=H0 + pd.Timedelta(hours=32))
    assert demand.total.empty and demand.hours == 2
