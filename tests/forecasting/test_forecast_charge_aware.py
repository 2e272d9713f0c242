"""Charge-aware anomalies on a small synthetic bill: month-to-date tax and purchases on the 1st and a correction
are never usage anomalies; a service's usage doubling for a day is found with that service and its resource as the
causes; "not an anomaly" feedback raises the series' floor. Expected numbers are computed here from the frame."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.contrib.auth import get_user_model

from finops.accounts.models import Membership, Organization
from finops.forecasting.calc.rootcause import baseline_days
from finops.forecasting.calc.series import analyse_series
from finops.forecasting.models import Anomaly, SeriesForecast
from finops.forecasting.services import anomaly_feedback_bulk_set, forecast_refresh_inline
from tests.forecasting.fc_fixtures import FIRST_DAY, effective, load, usage_frame

pytestmark = pytest.mark.django_db

LAST = date(2026, 4, 3)  # three days into April: the 1st carries a month-to-date share of tax and purchases
INCIDENT = date(2026, 4, 2)
EC2 = "Amazon Elastic Compute Cloud"
WEB = "i-web-1"
PURCHASE, TAX = Decimal("3000.00"), Decimal("600.00")  # a whole month's, dated on the 1st


def _row(day: date, cost: Decimal, charge: str, **fields) -> dict:
    base = {
        "day": day,
        "resource": "",
        "service": EC2,
        "account": "111111111111",
        "region": "us-east-1",
        "team": "",
        "usage_type": charge,
        "cost": cost,
        "charge": charge,
        "charge_class": "",
        "resource_name": "",
    }
    return base | fields


def _bill(*, last: date = LAST, incidents: dict[date, float] | None = None) -> pd.DataFrame:
    """Usage of the fixture's resources, ``i-web-1`` (named "web-frontend") multiplied on the incident days; on
    each 1st a purchase and tax, whole for past months and 3/30 for the month to date; a usage correction
    (-500, ChargeClass Correction) on the last day."""
    frame = usage_frame(last_day=last).assign(charge="Usage", charge_class="", resource_name="")
    frame.loc[frame["resource"] == WEB, "resource_name"] = "web-frontend"
    for day, factor in (incidents or {INCIDENT: 2.0}).items():
        hit = (frame["resource"] == WEB) & (frame["day"] == day)
        scale = Decimal(str(factor))
        frame.loc[hit, "cost"] = [(c * scale).quantize(Decimal("0.01")) for c in frame.loc[hit, "cost"]]
    extra = []
    first = date(FIRST_DAY.year, FIRST_DAY.month, 1)
    month = date(first.year, first.month + 1, 1) if first.month < 12 else date(first.year + 1, 1, 1)
    while month <= last:
        share = Decimal(1) if month.month != last.month else Decimal(last.day) / Decimal(30)
        extra.append(_row(month, (PURCHASE * share).quantize(Decimal("0.01")), "Purchase", service="Savings Plans"))
        extra.append(_row(month, (TAX * share).quantize(Decimal("0.01")), "Tax"))
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    extra.append(_row(last, Decimal("-500.00"), "Usage", resource=WEB, charge_class="Correction"))
    return pd.concat([frame, pd.DataFrame.from_records(extra)], ignore_index=True)


def _usage(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["charge"] == "Usage") & (frame["charge_class"] != "Correction")]


def _daily(frame: pd.DataFrame, last: date) -> list[float]:
    by_day = frame.assign(e=effective(frame).astype(float)).groupby("day")["e"].sum()
    return by_day.reindex(pd.date_range(FIRST_DAY, last).date, fill_value=0.0).tolist()


def test_the_whole_bill_would_flag_the_first_and_usage_does_not():
    """The pure analysis on this bill: checked on every charge, the correction (-500 on the last day) is a drop
    (a false alarm); checked on usage, only the incident is an anomaly."""
    frame = _bill()
    total, usage = _daily(frame, LAST), _daily(_usage(frame), LAST)
    whole = analyse_series(total, FIRST_DAY, lookback=3)
    assert (LAST, "drop") in {(a.day, a.direction) for a in whole.anomalies}
    charge_aware = analyse_series(total, FIRST_DAY, lookback=3, usage=usage)
    assert [(a.day, a.direction) for a in charge_aware.anomalies] == [(INCIDENT, "spike")]
    # Same forecast either way: projections stay of the whole bill.
    assert charge_aware.month.total == pytest.approx(whole.month.total)
    assert charge_aware.month.actual_to_date == pytest.approx(sum(total[-3:]))
    with pytest.raises(ValueError, match="same days"):
        analyse_series(total, FIRST_DAY, usage=usage[:-1])


def test_refresh_finds_only_the_usage_incident_with_its_service_and_resource():
    organization = Organization.objects.create(slug="bill", name="Bill")
    frame = _bill()
    load(organization, frame)
    forecast_refresh_inline(organization=organization, send_alerts=False)
    anomalies = list(Anomaly.objects.filter(organization=organization))
    assert anomalies, "the doubling of i-web-1 was not found"
    assert {a.day for a in anomalies} == {INCIDENT}  # nothing on the 1st (tax, purchase) nor the correction
    assert all(a.direction == "spike" for a in anomalies)
    service = next(a for a in anomalies if (a.dimension, a.key) == ("service", EC2))
    usage = _usage(frame).assign(e=effective(_usage(frame)).astype(float))
    base = baseline_days(INCIDENT)
    ec2 = usage[usage["service"] == EC2]
    assert float(service.actual) == pytest.approx(ec2[ec2["day"] == INCIDENT]["e"].sum(), abs=0.01)
    top = service.root_cause[0]
    assert (top["dimension"], top["key"], top["name"]) == ("resource", WEB, "web-frontend")
    web = ec2[ec2["resource"] == WEB]
    web_delta = web[web["day"] == INCIDENT]["e"].sum() - web[web["day"].isin(base)]["e"].sum() / 4
    assert float(top["delta"]) == pytest.approx(web_delta, abs=0.01)
    assert top["share"] == pytest.approx(1.0)  # the only EC2 usage resource
    # The total's causes: the resource first, the service among them, every one rising, shares summing to 1.
    total = next(a for a in anomalies if a.dimension == "total")
    assert (total.top_dimension, total.top_key) == ("resource", WEB)
    by_service = usage.groupby(["day", "service"])["e"].sum().unstack(fill_value=0.0)
    deltas = by_service.loc[INCIDENT] - by_service.loc[list(base)].sum() / 4
    rose = deltas[deltas > 0]
    service_cause = next(c for c in total.root_cause if c["dimension"] == "service")
    assert service_cause["key"] == EC2
    assert service_cause["share"] == pytest.approx(rose[EC2] / rose.sum(), abs=1e-4)
    for dimension in {c["dimension"] for c in total.root_cause}:
        listed = [c for c in total.root_cause if c["dimension"] == dimension]
        assert all(Decimal(c["delta"]) > 0 and 0 < c["share"] <= 1 for c in listed)
        if len(listed) < 5:
            assert sum(c["share"] for c in listed) == pytest.approx(1.0, abs=1e-3)
    # The forecast is still of the whole bill: April's actual to date includes the 1st's tax and purchase.
    stored = SeriesForecast.objects.get(organization=organization, dimension="total", metric="effective")
    april = frame[frame["day"] >= date(2026, 4, 1)]
    assert stored.projections.get(period="month").actual_to_date == sum(effective(april), Decimal(0)).quantize(
        Decimal("0.01")
    )


@pytest.mark.parametrize(("verdict", "flagged_again"), [("not_an_anomaly", False), ("confirmed", True)])
def test_not_an_anomaly_raises_the_series_floor(verdict, flagged_again):
    """After "not an anomaly" on the EC2 incident, a smaller repeat on the same series (on another weekday: the
    seasonal naive model would expect the same weekday's spike) is not flagged; "confirmed" changes nothing."""
    organization = Organization.objects.create(slug="fb", name="Fb")
    later = LAST + timedelta(days=7)
    frame = _bill(last=later, incidents={INCIDENT: 2.0, later - timedelta(days=2): 1.8})
    load(organization, frame[frame["day"] <= LAST])
    forecast_refresh_inline(organization=organization, send_alerts=False)
    first = Anomaly.objects.get(organization=organization, dimension="service", key=EC2, day=INCIDENT)
    user = get_user_model().objects.create_user(username="fin")
    Membership.objects.create(user=user, organization=organization, role="finance")
    anomaly_feedback_bulk_set(anomalies=[first], user=user, verdict=verdict)
    load(organization, frame[frame["day"] > LAST])
    forecast_refresh_inline(organization=organization, send_alerts=False)
    repeat = Anomaly.objects.filter(
        organization=organization, dimension="service", key=EC2, day=later - timedelta(days=2)
    )
    assert repeat.exists() == flagged_again


def test_a_larger_repeat_still_alerts_after_not_an_anomaly():
    organization = Organization.objects.create(slug="fb2", name="Fb2")
    later = LAST + timedelta(days=7)
    frame = _bill(last=later, incidents={INCIDENT: 2.0, later - timedelta(days=2): 3.5})
    load(organization, frame[frame["day"] <= LAST])
    forecast_refresh_inline(organization=organization, send_alerts=False)
    first = Anomaly.objects.get(organization=organization, dimension="service", key=EC2, day=INCIDENT)
    user = get_user_model().objects.create_user(username="fin2")
    Membership.objects.create(user=user, organization=organization, role="finance")
    anomaly_feedback_bulk_set(anomalies=[first], user=user, verdict="not_an_anomaly")
    load(organization, frame[frame["day"] > LAST])
    forecast_refresh_inline(organization=organization, send_alerts=False)
    repeat = Anomaly.objects.get(organization=organization, dimension="service", key=EC2, day=later - timedelta(days=2))
    assert abs(repeat.impact) > abs(first.impact)
    assert np.sign(float(repeat.impact)) == 1


def test_bulk_feedback_refuses_bad_batches_and_writes_nothing():
    from django.core.exceptions import ValidationError

    from finops.forecasting.models import AnomalyFeedback
    from finops.forecasting.services import BULK_FEEDBACK_LIMIT

    one = Organization.objects.create(slug="one", name="One")
    two = Organization.objects.create(slug="two", name="Two")
    fields = {
        "metric": "effective",
        "currency": "USD",
        "dimension": "total",
        "key": "",
        "day": LAST,
        "expected": 1,
        "actual": 2,
        "lower": 0,
        "upper": 1,
        "impact": 1,
        "direction": "spike",
        "model": "ets",
    }
    mine, theirs = (
        Anomaly.objects.create(organization=one, **fields),
        Anomaly.objects.create(organization=two, **fields),
    )
    user = get_user_model().objects.create_user(username="fin3")
    Membership.objects.create(user=user, organization=one, role="finance")
    too_many = [Anomaly(pk=10_000 + i, organization=one, **fields) for i in range(BULK_FEEDBACK_LIMIT + 1)]
    cases = [
        ([mine, theirs], "expected", "anomalies", "more than one organization"),
        (too_many, "expected", "anomalies", f"at most {BULK_FEEDBACK_LIMIT} anomalies at once, got 501"),
        ([], "expected", "anomalies", "choose at least one anomaly"),
        ([theirs], "expected", "user", "not a member"),
        ([mine], "nope", "verdict", "unknown verdict 'nope'"),
    ]
    for anomalies, verdict, field, message in cases:
        with pytest.raises(ValidationError) as error:
            anomaly_feedback_bulk_set(anomalies=anomalies, user=user, verdict=verdict)
        assert message in " ".join(error.value.message_dict[field])
    assert not AnomalyFeedback.objects.exists()
    assert set(Anomaly.objects.values_list("verdict", flat=True)) == {""}
    # The same anomaly twice is one verdict.
    assert len(anomaly_feedback_bulk_set(anomalies=[mine, mine], user=user, verdict="confirmed")) == 1
