"""Rightsize-then-commit on the seeded demo organization: existing commitments stay sunk.

The expected covered instance-hours are computed from the generated FOCUS files with pandas, apart from the
optimizer: usage a commitment covered stays covered unless its resource is stopped, or is resized out of what
the commitment can cover (a reservation covers its own family; the demo's savings plans are Compute plans)."""

from __future__ import annotations

import pandas as pd
import pytest

from finops.accounts.models import Organization
from optimizer.rightsizing.selectors import rightsizing_changes
from optimizer.services import optimization_run_create, optimization_run_execute

pytestmark = pytest.mark.django_db


def _run(organization: Organization, rightsize: bool):
    run = optimization_run_create(
        organization=organization, parameters={"lookback_days": 30, "rightsize": rightsize}, enqueue=False
    )
    run = optimization_run_execute(run)
    assert run.status == "succeeded", run.error
    return run.results


def _covered_rows(var_dir, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    frames = [pd.read_csv(path, low_memory=False) for path in sorted((var_dir / "demo").glob("*/*.csv.gz"))]
    rows = pd.concat(frames, ignore_index=True)
    when = pd.to_datetime(rows["ChargePeriodStart"], utc=True)
    usage = (
        (rows["ChargeCategory"] == "Usage")
        & rows["x_InstanceType"].notna()
        & (rows["CommitmentDiscountStatus"] == "Used")
        & (when >= start)
        & (when < end)
    )
    covered = rows[usage]
    # Every covered EC2 row of the demo is one hour, so its quantity is its instance-hours in the window.
    hours = (pd.to_datetime(covered["ChargePeriodEnd"], utc=True) - when[usage]) / pd.Timedelta(hours=1)
    assert (hours == 1).all()
    return covered


def test_rightsize_keeps_the_demo_commitments_sunk(seeded_demo):
    demo = Organization.objects.get(slug="demo")
    changes = rightsizing_changes(demo)
    assert changes, "the demo's rightsizing run changes resources"

    plain = _run(demo, rightsize=False)
    chained = _run(demo, rightsize=True)
    assert plain["window"] == chained["window"]
    start, end = pd.Timestamp(plain["window"]["start"]), pd.Timestamp(plain["window"]["end"])
    covered = _covered_rows(seeded_demo.var_dir, start, end)
    before = float(covered["ConsumedQuantity"].sum())
    assert before > 0
    assert float(plain["sunk_instance_hours"]) == pytest.approx(before, rel=1e-6)

    def stays_covered(row) -> bool:
        if row["ResourceId"] not in changes:
            return True
        new = changes[row["ResourceId"]]
        if new is None:
            return False  # stopped
        if row["CommitmentDiscountCategory"] == "Spend":
            return True  # a Compute savings plan covers the new type
        return new.split(".")[0] == row["x_InstanceType"].split(".")[0]

    keep = covered.apply(stays_covered, axis=1)
    expected = float(covered.loc[keep, "ConsumedQuantity"].sum())
    freed = covered.loc[~keep].groupby("CommitmentDiscountId")["ConsumedQuantity"].sum()
    # No other usage of a freed SKU runs in the demo, so nothing is re-used: freed capacity is stranded.
    assert float(chained["sunk_instance_hours"]) == pytest.approx(expected, rel=1e-6)
    assert float(chained["stranded_instance_hours"]) == pytest.approx(float(freed.sum()), rel=1e-6)
    assert {k: float(v) for k, v in chained["stranded_by_commitment"].items()} == pytest.approx(freed.to_dict())
    # The savings plans keep every hour they covered; nothing a commitment covered vanishes.
    plans = covered[covered["CommitmentDiscountCategory"] == "Spend"].groupby("CommitmentDiscountId")
    for commitment, quantity in plans["ConsumedQuantity"].sum().items():
        assert float(chained["sunk_by_commitment"][commitment]) == pytest.approx(float(quantity), rel=1e-6)
    for commitment, hours in plain["sunk_by_commitment"].items():
        kept = float(chained["sunk_by_commitment"].get(commitment, 0))
        assert kept + float(chained["stranded_by_commitment"].get(commitment, 0)) == pytest.approx(float(hours))
    # Rightsizing only removes capacity: the all-on-demand baseline of what is left to serve never rises.
    assert float(chained["all_on_demand"]) <= float(plain["all_on_demand"])
    assert any("Existing commitments stay sunk" in line for line in chained["explanation"])
