"""The overview's projection slot and the anomalies page, against the stored forecasts and the fixture's sums."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from django.test import Client

from finops.budgets.services import budget_create
from finops.forecasting.models import Anomaly, AnomalyFeedback, SeriesForecast
from finops.forecasting.services import forecast_refresh_inline
from finops.web import figures
from finops.web.views_forecasts import forecast_frame
from tests.web.conftest import PASSWORD

CENT = Decimal("0.01")


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_expected_vs_actual_and_ranked_bars_figures():
    actual = pd.DataFrame({"day": [date(2024, 1, d) for d in range(1, 6)], "cost": [1, 2, 3, 9, 2]})
    marks = pd.DataFrame(
        {
            "day": [date(2024, 1, 4)],
            "expected": [Decimal("2.5")],
            "actual": [Decimal(9)],
            "lower": [Decimal(1)],
            "upper": [Decimal(4)],
        }
    )
    fig = figures.expected_vs_actual(actual, marks, title="t", currency="USD")
    assert [len(t["x"]) for t in fig["data"]] == [5, 1, 1]
    assert fig["data"][1]["error_y"]["array"] == [1.5] and fig["data"][1]["error_y"]["arrayminus"] == [1.5]
    bars = figures.ranked_bars(pd.DataFrame({"label": ["a", "b"], "value": [5, -1]}), title="t", currency="USD")
    assert bars["data"][0]["x"] == [5.0, -1.0] and bars["data"][0]["y"] == ["a", "b"]
    assert figures.ranked_bars(pd.DataFrame(columns=["label", "value"]), title="t", currency="USD")["data"] == []


@pytest.mark.django_db
def test_overview_slot_shows_the_stored_projection_and_budgets(tenants):
    alpha = tenants["alpha"]
    forecast_refresh_inline(organization=alpha, send_alerts=False)
    stored = SeriesForecast.objects.get(organization=alpha, dimension="total", metric="effective")
    month = stored.projections.get(period="month")
    frame = tenants["frame"]
    september = sum(frame["BilledCost"], Decimal(0))
    budget_create(organization=alpha, data={"name": "Monthly", "period": "monthly", "amount": "100"})
    ann = login("ann")
    page = ann.get("/?metric=effective")
    slot = page.context["slot"]
    projection = slot["projection"]
    assert projection["total"] == month.total and projection["lower_80"] == month.lower_80
    assert projection["upper_95"] == month.upper_95 and projection["period_end"] == date(2024, 10, 31)
    # The band: the stored daily forecast of October, one point per day.
    band = next(t for t in slot["forecast_figure"]["data"] if t["name"] == "Forecast")
    assert len(band["x"]) == 31 and band["x"][0] == "2024-10-01"
    assert band["y"] == [round(float(Decimal(v)), 2) for v in stored.points["point"][:31]]
    html = page.content.decode()
    assert f'data-value="{month.total.quantize(Decimal("0.01"))}"' in html and "Projection for October 2024" in html
    # Month to date vs the monthly budget (September).
    (row,) = slot["budgets"]
    assert row["actual"] == september and row["amount"] == Decimal(100)
    # The billed projection is computed from the data (no stored forecast needed): October has no actual yet.
    billed = ann.get("/?metric=billed").context["slot"]["projection"]
    assert billed["forecast_id"] is None and billed["actual_to_date"] == 0 and billed["forecast_days"] == 31
    # An engineer gets the projection of their own team, never the organization's.
    eve = login("eve").get("/?metric=effective").context["slot"]["projection"]
    assert eve["teams"] and eve["total"] != projection["total"]


def test_forecast_frame_reads_the_days_after_history():
    stored = SeriesForecast(
        points={
            "start": "2024-10-01",
            "point": ["1.00", "2.00", "3.00"],
            "lower_80": ["0.5", "1", "1"],
            "upper_80": ["2", "3", "4"],
        }
    )
    frame = forecast_frame(stored, after=date(2024, 10, 1), until=date(2024, 10, 3))
    assert list(frame["day"]) == [date(2024, 10, 2), date(2024, 10, 3)]
    assert list(frame["point"]) == [Decimal(2), Decimal(3)] and list(frame["upper"]) == [Decimal(3), Decimal(4)]


def _anomaly(org, *, dimension="total", key="", day=date(2024, 9, 13), **extra) -> Anomaly:
    values = {
        "metric": "billed",
        "currency": "USD",
        "expected": Decimal("1.10"),
        "actual": Decimal("2.19"),
        "lower": Decimal("0.40"),
        "upper": Decimal("1.80"),
        "impact": Decimal("1.09"),
        "impact_pct": 0.99,
        "direction": "spike",
        "model": "ets",
        "root_cause": [
            {
                "dimension": "service",
                "key": "Virtual Machines",
                "actual": "1.50",
                "baseline": "0.50",
                "delta": "1.00",
                "share": 0.92,
            },
            {
                "dimension": "region",
                "key": "eastus",
                "actual": "0.30",
                "baseline": "0.21",
                "delta": "0.09",
                "share": 0.08,
            },
        ],
        "top_dimension": "service",
        "top_key": "Virtual Machines",
    }
    values.update(extra)
    return Anomaly.objects.create(organization=org, dimension=dimension, key=key, day=day, **values)


@pytest.mark.django_db
def test_anomalies_page_numbers(tenants):
    anomaly = _anomaly(tenants["alpha"])
    _anomaly(tenants["alpha"], day=date(2024, 9, 20), impact=Decimal("-0.50"), direction="drop")
    page = login("ann").get(f"/anomalies/?anomaly={anomaly.pk}")
    assert page.status_code == 200 and page.context["selected"] == anomaly
    actual, expected, marks = page.context["timeline_figure"]["data"]
    assert marks["y"] == [2.19, 2.19] and marks["x"] == expected["x"]
    frame = tenants["frame"]
    # The timeline is of usage, what the detector checks: ChargeCategory Usage without corrections.
    frame = frame[(frame["ChargeCategory"] == "Usage") & (frame["ChargeClass"] != "Correction")]
    window = frame[(frame["day"] >= "2024-07-30") & (frame["day"] <= "2024-09-27")]
    by_day = window.groupby("day")["BilledCost"].apply(lambda s: sum(s, Decimal(0)))
    assert actual["x"] == list(by_day.index)
    assert actual["y"] == [float(v.quantize(CENT)) for v in by_day]
    assert expected["x"] == ["2024-09-13", "2024-09-20"] and expected["y"] == [1.1, 1.1]
    assert expected["error_y"]["array"] == [0.7, 0.7] and expected["error_y"]["arrayminus"] == [0.7, 0.7]
    causes = page.context["cause_figure"]["data"][0]
    assert causes["y"] == ["service: Virtual Machines", "region: eastus"] and causes["x"] == [1.0, 0.09]
    html = page.content.decode()
    assert html.count('data-verdict="') == 3 and "+$1.09" in html
    assert [r.pk for r in page.context["rows"]][1] == anomaly.pk  # newest day first


@pytest.mark.django_db
def test_anomaly_access_and_feedback(tenants):
    alpha, team, other = tenants["alpha"], tenants["team"], tenants["other_team"]
    org_wide = _anomaly(alpha)
    mine = _anomaly(alpha, dimension="team", key=team.slug)
    theirs = _anomaly(alpha, dimension="team", key=other.slug)
    beta = _anomaly(tenants["beta"])
    eve, vic = login("eve"), login("vic")
    assert [a.pk for a in eve.get("/anomalies/").context["rows"]] == [mine.pk]
    assert eve.get(f"/anomalies/?anomaly={theirs.pk}").status_code == 404
    assert eve.get(f"/anomalies/?anomaly={org_wide.pk}").status_code == 404
    assert login("bob").get(f"/anomalies/?anomaly={org_wide.pk}").status_code == 404
    assert login("ann").get(f"/anomalies/?anomaly={beta.pk}&org=alpha").status_code == 404
    # A viewer sees the page without buttons and cannot post.
    assert 'id="feedback-form"' not in vic.get("/anomalies/").content.decode()
    assert vic.post(f"/anomalies/{org_wide.pk}/feedback", {"verdict": "expected"}).status_code == 403
    assert eve.post(f"/anomalies/{theirs.pk}/feedback", {"verdict": "expected"}).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    assert strict.login(username="eve", password=PASSWORD)
    assert strict.post(f"/anomalies/{mine.pk}/feedback", {"verdict": "confirmed"}).status_code == 403
    assert AnomalyFeedback.objects.count() == 0
    # An engineer gives feedback on their team's anomaly; a bad verdict is refused with its message.
    response = eve.post(f"/anomalies/{mine.pk}/feedback", {"verdict": "confirmed"})
    assert response.status_code == 302 and response["Location"] == f"/anomalies/?anomaly={mine.pk}"
    mine.refresh_from_db()
    assert mine.verdict == "confirmed" and AnomalyFeedback.objects.get().user.username == "eve"
    refused = eve.post(f"/anomalies/{mine.pk}/feedback", {"verdict": "maybe"}, follow=True)
    assert "unknown verdict" in refused.content.decode() and AnomalyFeedback.objects.count() == 1
    ann = login("ann")
    ann.post(f"/anomalies/{org_wide.pk}/feedback", {"verdict": "not_an_anomaly"})
    org_wide.refresh_from_db()
    assert org_wide.verdict == "not_an_anomaly"
