"""A planted spike yields exactly its anomalies with the planted resource as root cause; a smaller one below the
floor yields none; "expected" feedback suppresses the same pattern."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from finops.accounts.models import Membership, Organization
from finops.forecasting.calc.rootcause import baseline_days
from finops.forecasting.models import Anomaly, AnomalyFeedback
from finops.forecasting.services import anomaly_feedback_set, forecast_refresh_inline
from tests.forecasting.fc_fixtures import LAST_DAY, effective, load, usage_frame

pytestmark = pytest.mark.django_db

WEB, S3, DB = "i-web-1", "bucket-1", "db-1"
SERIES_WITH_WEB = {
    ("total", ""),
    ("service", "Amazon Elastic Compute Cloud"),
    ("account", "111111111111"),
    ("region", "us-east-1"),
    ("team", "web"),
}


def _org(slug="acme"):
    return Organization.objects.create(slug=slug, name=slug.title())


def test_planted_spike_is_found_with_its_root_cause_and_nothing_else():
    organization = _org()
    frame = usage_frame(spikes={(WEB, LAST_DAY): 900.0, (DB, LAST_DAY): 40.0})
    load(organization, frame)
    frame = frame.assign(effective=effective(frame))
    run = forecast_refresh_inline(organization=organization)
    anomalies = list(Anomaly.objects.filter(organization=organization))
    assert {(a.dimension, a.key) for a in anomalies} == SERIES_WITH_WEB
    assert {a.day for a in anomalies} == {LAST_DAY}
    assert run.anomalies_found == 5 and all(a.run_id == run.pk for a in anomalies)

    anomaly = next(a for a in anomalies if a.dimension == "region")
    region = frame[frame["region"] == "us-east-1"]
    actual = region[region["day"] == LAST_DAY]["effective"].sum()
    assert anomaly.actual == actual.quantize(Decimal("0.01"))
    assert anomaly.direction == "spike" and anomaly.actual > anomaly.upper >= anomaly.expected >= anomaly.lower
    assert abs(anomaly.impact - (anomaly.actual - anomaly.expected)) <= Decimal("0.01")
    assert anomaly.impact > 50 and anomaly.impact_pct > 0.10
    # Root cause: the planted resource first, its share computed here from the fixture.
    base = baseline_days(LAST_DAY)
    assert anomaly.baseline_days == [d.isoformat() for d in base]
    on_day = region[region["day"] == LAST_DAY]
    before = region[region["day"].isin(base)]
    web_delta = (
        float(on_day[on_day["resource"] == WEB]["effective"].sum())
        - float(before[before["resource"] == WEB]["effective"].sum()) / 4
    )
    # The share is of the resources' rise: the deltas of the resources that rose, summed here.
    deltas = (
        on_day.groupby("resource")["effective"]
        .sum()
        .astype(float)
        .sub(before.groupby("resource")["effective"].sum().astype(float) / 4, fill_value=0.0)
    )
    rose = float(deltas[deltas > 0].sum())
    top = anomaly.root_cause[0]
    assert (top["dimension"], top["key"]) == ("resource", WEB) == (anomaly.top_dimension, anomaly.top_key)
    assert top["share"] == pytest.approx(web_delta / rose, abs=1e-4)
    assert Decimal(top["delta"]) == Decimal(f"{web_delta:.2f}")
    dims = {c["dimension"] for c in anomaly.root_cause}
    assert dims == {"resource", "usage_type", "service", "account"}  # not the series' own dimension (region)
    usage = next(c for c in anomaly.root_cause if c["dimension"] == "usage_type")
    assert usage["key"] == "BoxUsage:m5.large"  # from the line items' x_UsageType
    # The RDS day was 40 over: outside its interval but under the $50 floor, so not an anomaly.
    assert not Anomaly.objects.filter(dimension="service", key="Amazon Relational Database Service").exists()


def test_the_floor_is_what_kept_the_small_spike_out(settings):
    organization = _org()
    load(organization, usage_frame(spikes={(WEB, LAST_DAY): 900.0, (DB, LAST_DAY): 40.0}))
    settings.FINOPS_ANOMALY_FLOOR_ABS = 20.0
    forecast_refresh_inline(organization=organization)
    rds = Anomaly.objects.get(dimension="service", key="Amazon Relational Database Service")
    assert rds.day == LAST_DAY and Decimal(30) < rds.impact < Decimal(50)
    assert (rds.top_dimension, rds.top_key) == ("resource", DB)


def test_no_spike_no_anomaly():
    organization = _org()
    load(organization, usage_frame())
    run = forecast_refresh_inline(organization=organization)
    assert run.anomalies_found == 0 and not Anomaly.objects.exists()


def _member(organization, username, role="finance"):
    user = get_user_model().objects.create_user(username=username, email=f"{username}@example.com")
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


@pytest.mark.parametrize(
    ("second", "window", "suppressed"),
    [(WEB, 30, True), (S3, 30, False), (WEB, 5, False)],
    ids=["same-pattern", "other-root-cause", "outside-window"],
)
def test_expected_feedback_suppresses_the_same_pattern(settings, second, window, suppressed):
    settings.FINOPS_ANOMALY_SUPPRESS_DAYS = window
    organization = _org()
    first_day = LAST_DAY - timedelta(days=10)
    spikes = {(WEB, first_day): 900.0, (second, LAST_DAY): 900.0}
    full = usage_frame(spikes=spikes)
    load(organization, full[full["day"] <= first_day])
    forecast_refresh_inline(organization=organization)
    first = Anomaly.objects.get(dimension="total", day=first_day)
    assert first.top_key == WEB
    user = _member(organization, "fin")
    anomaly_feedback_set(anomaly=first, user=user, verdict="expected", note="monthly batch job")

    load(organization, full[full["day"] > first_day])
    forecast_refresh_inline(organization=organization)
    again = Anomaly.objects.get(dimension="total", day=LAST_DAY)
    assert again.top_key == second
    assert again.suppressed_by_id == (first.pk if suppressed else None)
    # Only the series marked expected is suppressed; the others of the same day are not.
    assert not Anomaly.objects.filter(day=LAST_DAY).exclude(dimension="total").exclude(suppressed_by=None).exists()


def test_feedback_is_stored_and_validated():
    organization = _org()
    load(organization, usage_frame(spikes={(WEB, LAST_DAY): 900.0}))
    forecast_refresh_inline(organization=organization)
    anomaly = Anomaly.objects.get(dimension="total")
    finance = _member(organization, "fin")
    feedback = anomaly_feedback_set(anomaly=anomaly, user=finance, verdict="confirmed", note="new fleet")
    assert (feedback.user, feedback.verdict, feedback.note) == (finance, "confirmed", "new fleet")
    assert feedback.created_at is not None
    anomaly.refresh_from_db()
    assert anomaly.verdict == "confirmed"

    viewer = _member(organization, "view", role="viewer")
    outsider = get_user_model().objects.create_user(username="out")
    cases = [
        (finance, "maybe", "verdict", "unknown verdict 'maybe'"),
        (viewer, "expected", "user", "viewers cannot"),
        (outsider, "expected", "user", "not a member"),
    ]
    for user, verdict, field, message in cases:
        with pytest.raises(ValidationError) as error:
            anomaly_feedback_set(anomaly=anomaly, user=user, verdict=verdict)
        assert message in " ".join(error.value.message_dict[field])
    assert AnomalyFeedback.objects.count() == 1
    anomaly.refresh_from_db()
    assert anomaly.verdict == "confirmed"
