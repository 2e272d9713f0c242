"""Hourly demand from FOCUS compute rows: covered, spot and unused rows, sunk commitments, rightsizing."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.demand import DemandError, build_demand, from_focus

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
    # The moved usage lost its old coverage (an RI/SP of the old type is sunk either way).
    assert demand.sunk.iloc[1].sum() == 0.0
    assert demand.net.iloc[1]["m5.xlarge@us-east-1"] == pytest.approx(4.0)


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
