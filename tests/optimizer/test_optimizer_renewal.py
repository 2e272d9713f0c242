"""Renewal re-plan: a commitment ending inside the plan window (the window after the demand window) is sunk only
until its end. Pure mapping of ends onto the demand window, the released usage in ``build_demand``, and a real run
on the reduced demo-like organization whose reservation's end comes from an ingested CUR file."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from django.test import Client

from optimizer.demand import build_demand, from_focus, plan_expiries
from optimizer.services import optimization_run_create, optimization_run_execute
from tests import factories
from tests.commitments.cur_helpers import write_cur
from tests.optimizer.optruns_helpers import DAYS, RI_ID, START

W0 = pd.Timestamp("2026-03-08T00:00:00Z")
W1 = pd.Timestamp("2026-03-15T00:00:00Z")  # a 7-day window; the plan window is 2026-03-15..22


def test_plan_expiries_map_ends_onto_the_demand_window():
    ends = {
        "inside": pd.Timestamp("2026-03-18T12:30:00Z"),  # 3.5 days into the plan window
        "ended": pd.Timestamp("2026-03-10T00:00:00Z"),  # already over: not sunk at all
        "after": pd.Timestamp("2026-03-22T00:00:00Z"),  # covers the whole plan window
        "far": pd.Timestamp("2027-01-01T00:00:00Z"),
    }
    assert plan_expiries(ends, window_start=W0, window_end=W1) == {
        "inside": pd.Timestamp("2026-03-11T12:00:00Z"),
        "ended": W0,
    }


def test_build_demand_reports_the_usage_released_after_an_end():
    rows = []
    for h in range(6):
        start = W0 + pd.Timedelta(hours=h)
        for cid, qty in (("ri", 2.0), ("sp", 1.0), (None, 3.0)):
            rows.append({
                "ChargePeriodStart": start.isoformat(), "ChargePeriodEnd": (start + pd.Timedelta(hours=1)).isoformat(),
                "ChargeCategory": "Usage", "ConsumedQuantity": qty, "PricingUnit": "Hours", "RegionId": "us-east-1",
                "x_InstanceType": "m5.large", "ResourceId": f"i-{cid}", "CommitmentDiscountId": cid,
                "CommitmentDiscountStatus": "Used" if cid else None,
            })  # fmt: skip
    demand = build_demand(
        from_focus(pd.DataFrame(rows)),
        start=W0,
        end=W0 + pd.Timedelta(hours=6),
        expiries={"ri": W0 + pd.Timedelta(hours=4)},
    )
    assert demand.released_by_commitment == {"ri": pytest.approx(2 * 2.0)}  # hours 4 and 5
    assert demand.sunk_by_commitment == {"ri": pytest.approx(4 * 2.0), "sp": pytest.approx(6 * 1.0)}
    assert list(demand.net["m5.large@us-east-1"]) == pytest.approx([3, 3, 3, 3, 5, 5])


def _ri_fee_row(end: str) -> dict[str, str]:
    """The fixture's reservation as the CUR names it: one RIFee row carrying its end date (another billing
    account's slice: it adds no compute usage)."""
    return {
        "bill/PayerAccountId": "333333333333",
        "bill/BillingPeriodStartDate": "2026-03-01T00:00:00Z",
        "bill/BillingPeriodEndDate": "2026-04-01T00:00:00Z",
        "lineItem/UsageStartDate": "2026-03-01T00:00:00Z",
        "lineItem/UsageEndDate": "2026-03-02T00:00:00Z",
        "lineItem/LineItemType": "RIFee",
        "lineItem/CurrencyCode": "USD",
        "lineItem/UnblendedCost": "0",
        "lineItem/ProductCode": "AmazonEC2",
        "product/regionCode": "us-east-1",
        "product/instanceType": "m5.large",
        "reservation/ReservationARN": RI_ID,
        "reservation/EndTime": end,
    }


@pytest.mark.django_db
def test_run_replans_the_coverage_of_a_reservation_ending_in_the_plan_window(org, tmp_path):
    end = pd.Timestamp(START + timedelta(days=DAYS))  # the demand window's end (last compute hour + 1)
    ri_end = end + pd.Timedelta(days=3, hours=12)  # inside the 7-day plan window
    factories.ingest_files(org, [write_cur(tmp_path / "ri.csv", [_ri_fee_row(ri_end.strftime("%Y-%m-%dT%H:%M:%SZ"))])])
    run = optimization_run_execute(
        optimization_run_create(organization=org, parameters={"lookback_days": 7}, enqueue=False)
    )
    assert run.status == "succeeded", run.error
    start = end - pd.Timedelta(days=7)
    sunk_until = ri_end - pd.Timedelta(days=7)
    # Independent, from the fixture's CSV rows: the reservation's covered instance-hours before and after.
    before = after = 0.0
    for r in org.fixture_rows:
        t = pd.Timestamp(r["ChargePeriodStart"])
        if r["CommitmentDiscountId"] == RI_ID and r["CommitmentDiscountStatus"] == "Used" and start <= t < end:
            if t < sunk_until:
                before += float(r["ConsumedQuantity"])
            else:
                after += float(r["ConsumedQuantity"])
    assert before > 0 and after > 0
    results = run.results
    assert results["plan_window"] == {"start": end.isoformat(), "end": (end + pd.Timedelta(days=7)).isoformat()}
    [expiring] = results["expiring_commitments"]
    assert expiring["id"] == RI_ID and pd.Timestamp(expiring["end"]) == ri_end
    assert pd.Timestamp(expiring["sunk_until"]) == sunk_until and expiring["sunk_hours"] == 3 * 24 + 12
    assert expiring["released_instance_hours"] == pytest.approx(after, rel=1e-9)
    assert results["post_expiry_instance_hours"] == pytest.approx(after, rel=1e-9)
    assert results["sunk_instance_hours"] == pytest.approx(before, rel=1e-9)
    assert results["sunk_by_commitment"] == {RI_ID: pytest.approx(before, rel=1e-9)}
    assert any("Renewal: 1 existing commitment(s)" in line for line in results["explanation"])

    finance = factories.member(org, "r-fin", "finance")
    client = Client()
    client.force_login(finance.user)
    page = client.get(f"/optimizer/runs/{run.pk}/").content.decode()
    assert 'id="expiring-commitments"' in page and RI_ID in page
    api = client.get(f"/api/v1/optimizer/runs/{run.pk}/").json()
    assert api["results"]["expiring_commitments"][0]["id"] == RI_ID
