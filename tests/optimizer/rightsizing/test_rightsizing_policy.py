"""The default rightsizing policy on hand-computed cases. Pure: no database.

p95 is recomputed here from raw samples (hourly means by pandas resample, then numpy's percentile), and
every required capacity and cost is written out by hand.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from optimizer.rightsizing.metrics import hourly_aggregates
from optimizer.rightsizing.policy import (
    KEEP,
    RESIZE,
    STOP,
    Resource,
    RightsizingPolicy,
    Shape,
    Utilization,
    recommend,
    required_capacity,
    utilization_from_hourly,
)


def shape(name: str, vcpu: int, mem: float, hourly: str, arch: str = "x86_64", current: bool = True, **kw) -> Shape:
    return Shape(name, name.split(".")[0], vcpu, mem, arch, current, Decimal(hourly), **kw)


CATALOG = {
    s.instance_type: s
    for s in (
        shape("m5.2xlarge", 8, 32, "0.384", current=False),
        shape("m5.xlarge", 4, 16, "0.192", current=False),
        shape("m5.large", 2, 8, "0.096", current=False),
        shape("m6i.large", 2, 8, "0.096"),
        shape("m7i.large", 2, 8, "0.1008"),
        shape("c6i.large", 2, 4, "0.085"),
        shape("r6i.large", 2, 16, "0.126"),
        shape("m4.large", 2, 8, "0.05", current=False),  # cheap but previous generation
        shape("m7g.large", 2, 8, "0.0816", arch="arm64"),
        shape("c7g.large", 2, 4, "0.0725", arch="arm64"),
        shape("g4dn.xlarge", 4, 16, "0.01", gpu=1),  # absurdly cheap GPU: must never be offered
        shape("m6i.metal", 128, 512, "0.001", bare_metal=True),
        shape("t3.large", 2, 8, "0.0832"),
        shape("mac1.metal", 12, 32, "0.001", arch="x86_64_mac"),
    )
}
POLICY = RightsizingPolicy()


def resource(instance_type: str = "m5.xlarge", instances: float = 1.0) -> Resource:
    return Resource("i-1", instance_type, "us-east-1", team="web", instances=instances)


def samples(cpu: np.ndarray, memory: np.ndarray | None = None, start: str = "2026-03-01") -> pd.DataFrame:
    stamps = pd.date_range(start, periods=len(cpu), freq="5min", tz="UTC")
    return pd.DataFrame(
        {
            "resource_id": "i-1",
            "timestamp": stamps,
            "cpu_percent": cpu,
            "memory_percent": memory if memory is not None else np.nan,
        }
    )


def test_p95_is_over_hourly_means_and_max_over_samples():
    rng = np.random.default_rng(7)
    cpu = rng.uniform(0, 60, 14 * 288)
    cpu[100] = 97.0  # a single 5-minute spike: the max sees it
    memory = rng.uniform(20, 40, 14 * 288)
    raw = samples(cpu, memory)
    use = utilization_from_hourly(hourly_aggregates(raw), POLICY)
    by_hour = raw.set_index("timestamp").resample("1h")
    expected_p95 = np.percentile(by_hour["cpu_percent"].mean().to_numpy(), 95)
    assert use.hours == 14 * 24
    assert use.p_cpu == pytest.approx(expected_p95)
    assert use.max_cpu == 97.0
    assert use.p_memory == pytest.approx(np.percentile(by_hour["memory_percent"].mean().to_numpy(), 95))


def test_no_memory_samples_means_no_memory_evidence():
    use = utilization_from_hourly(hourly_aggregates(samples(np.full(288, 30.0))), POLICY)
    assert use.p_memory is None and use.p_cpu == pytest.approx(30.0)


def test_required_capacity_by_hand():
    current = CATALOG["m5.xlarge"]  # 4 vCPU, 16 GiB
    vcpu, mem = required_capacity(current, Utilization(336, 25.0, 50.0, 40.0), POLICY)
    assert vcpu == pytest.approx(4 * 0.25 * 1.2)  # 1.2 vCPU
    assert mem == pytest.approx(16 * 0.40 * 1.2)  # 7.68 GiB
    vcpu, mem = required_capacity(current, Utilization(336, 25.0, 50.0, None), POLICY)
    assert mem == 16  # no evidence: the current memory


def test_cheapest_fitting_current_generation_same_arch_wins():
    # needs 1.2 vCPU and 7.68 GiB: m6i.large (0.096) and m7i.large fit; c6i.large has 4 GiB; the cheaper
    # m4.large is previous generation, m7g/c7g are arm64, t3 is burstable, g4dn has a GPU, metal is metal.
    decision = recommend(resource(), Utilization(336, 25.0, 50.0, 40.0), CATALOG, POLICY)
    assert decision.action == RESIZE
    # m5.large fits too and is the same price as m6i.large: the tie goes to the current family (same excess).
    assert decision.recommended_type == "m5.large"
    names = [c.shape.instance_type for c in decision.candidates]
    assert names == ["m5.large", "m6i.large", "m7i.large", "r6i.large"]
    assert not any(c.migration_effort for c in decision.candidates)
    assert decision.current_monthly_cost == Decimal("140.16")  # 0.192 x 730
    assert decision.new_monthly_cost == Decimal("70.08")  # 0.096 x 730
    assert decision.monthly_savings == Decimal("70.08")


def test_without_memory_evidence_memory_never_shrinks():
    decision = recommend(resource(), Utilization(336, 25.0, 50.0, None), CATALOG, POLICY)
    # 1.2 vCPU but 16 GiB: only 16 GiB shapes; r6i.large (2 vCPU, 16 GiB, 0.126) is the one cheaper fit.
    assert decision.recommended_type == "r6i.large"
    assert decision.required_memory_gib == 16
    assert "memory not measured" in decision.reason


def test_ties_go_to_the_closest_shape():
    catalog = {
        "m5.xlarge": CATALOG["m5.xlarge"],
        "x1.big": shape("x1.big", 4, 16, "0.100"),  # fits with lots of excess
        "x2.snug": shape("x2.snug", 2, 8, "0.100"),  # same price, closer to 1.2 vCPU / 7.68 GiB
    }
    decision = recommend(resource(), Utilization(336, 25.0, 50.0, 40.0), catalog, POLICY)
    assert [c.shape.instance_type for c in decision.candidates] == ["x2.snug", "x1.big"]
    assert decision.recommended_type == "x2.snug"


def test_cross_architecture_only_with_the_flag_and_flagged():
    policy = RightsizingPolicy(allow_cross_architecture=True)
    decision = recommend(resource(), Utilization(336, 25.0, 50.0, 40.0), CATALOG, policy)
    assert decision.recommended_type == "m7g.large"  # 0.0816 < 0.096, arm64
    assert decision.migration_effort
    assert "migration effort" in decision.reason
    assert "mac1.metal" not in [c.shape.instance_type for c in decision.candidates]


def test_previous_generation_candidates_only_when_allowed():
    policy = RightsizingPolicy(current_generation_only=False)
    decision = recommend(resource(), Utilization(336, 25.0, 50.0, 40.0), CATALOG, policy)
    assert decision.recommended_type == "m4.large"


def test_burstable_candidates_only_for_a_burstable_current():
    catalog = {**CATALOG, "t3.xlarge": shape("t3.xlarge", 4, 16, "0.1664")}
    decision = recommend(resource("t3.xlarge"), Utilization(336, 25.0, 50.0, 40.0), catalog, POLICY)
    assert decision.recommended_type == "t3.large"  # 0.0832, cheapest fit once burstable is allowed


def test_idle_is_stop():
    decision = recommend(resource(instances=2.5), Utilization(336, 0.8, 1.99, None), CATALOG, POLICY)
    assert decision.action == STOP and decision.recommended_type is None
    assert decision.current_monthly_cost == Decimal("350.40")  # 0.192 x 730 x 2.5
    assert decision.new_monthly_cost == Decimal("0.00")
    assert "idle" in decision.reason
    not_idle = recommend(resource(), Utilization(336, 0.8, 2.0, None), CATALOG, POLICY)
    assert not_idle.action != STOP  # the threshold is strict: max CPU < 2%


def test_busy_or_right_sized_is_kept():
    busy = recommend(resource(), Utilization(336, 90.0, 100.0, 50.0), CATALOG, POLICY)
    assert busy.action == KEEP and "under-provisioned" in busy.reason  # needs 4.32 vCPU of 4
    snug = recommend(resource("m6i.large"), Utilization(336, 70.0, 90.0, 70.0), CATALOG, POLICY)
    assert snug.action == KEEP and snug.recommended_type == "m6i.large" and snug.monthly_savings == 0


def test_missing_data_or_price_is_kept_with_a_reason():
    assert "no utilisation metrics" in recommend(resource(), None, CATALOG, POLICY).reason
    few = recommend(resource(), Utilization(10, 5.0, 6.0, None), CATALOG, POLICY)
    assert few.action == KEEP and "only 10 hour(s)" in few.reason
    unknown = recommend(resource("z9.huge"), Utilization(336, 5.0, 6.0, None), CATALOG, POLICY)
    assert unknown.action == KEEP and "no known on-demand price" in unknown.reason
    assert unknown.current_monthly_cost is None


@pytest.mark.parametrize("kwargs", [{"percentile": 0}, {"headroom": 0.9}, {"lookback_days": 0}, {"idle_max_cpu": 100}])
def test_bad_policy_values_are_refused(kwargs):
    with pytest.raises(ValueError):
        RightsizingPolicy(**kwargs)
