"""The overview compares usage with usage and shows tax, purchases and corrections as their own lines against last
month at the same stage; bulk anomaly feedback through the page and the API (one service). Numbers by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from finops.forecasting.models import Anomaly, AnomalyFeedback
from finops.usage.charges import charge_kind, same_stage
from finops.usage.models import DailyCost
from finops.web.selectors import charge_lines
from tests import factories

PASSWORD = "pw-like-for-like-1"
NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)
AS_OF = date(2026, 12, 6)  # six days of December billed


@pytest.mark.parametrize(
    ("category", "charge_class", "kind"),
    [
        ("Usage", None, "usage"),
        ("Usage", "Correction", "correction"),
        ("Tax", "", "tax"),
        ("Purchase", None, "purchase"),
        ("Credit", None, "credit"),
        ("Adjustment", None, "adjustment"),
        ("Fee", None, "fee"),
        ("", None, "other"),
        (None, None, "other"),
        ("Refund?", None, "other"),
    ],
)
def test_charge_kinds(category, charge_class, kind):
    assert charge_kind(category, charge_class) == kind


def test_same_stage_prorates_last_month_by_days_billed():
    assert same_stage(Decimal("3000"), as_of=AS_OF) == Decimal("600")  # 6 of November's 30 days
    assert same_stage(Decimal("3100"), as_of=date(2027, 1, 31)) == Decimal("3100")  # December whole: 31 of 31
    assert same_stage(Decimal("2800"), as_of=date(2027, 3, 30)) == Decimal("2800")  # capped at February's 28
    lines = charge_lines({"tax": Decimal("120")}, {"tax": Decimal("600"), "purchase": Decimal("30")}, as_of=AS_OF)
    assert [(x.kind, x.current, x.previous_same_stage, x.change) for x in lines] == [
        ("purchase", Decimal(0), Decimal("6"), Decimal("-6")),
        ("tax", Decimal("120"), Decimal("120"), Decimal(0)),
    ]
    assert charge_lines({"usage": Decimal(5)}, {}, as_of=AS_OF) == []
    assert charge_lines({"purchase": Decimal(0)}, {"purchase": Decimal(0)}, as_of=AS_OF) == []  # amortized


def _seed(organization):
    """Flat usage (EC2 100 a day, S3 40 a day, S3 at 60 in December), November's whole purchase (3000) and tax
    (600) on Nov 1, December's month-to-date share (600, 120) on Dec 1, and a -50 usage correction on Dec 3."""
    job = factories.placeholder_ingest_job(organization)
    rows = []
    day = NOV
    while day <= AS_OF:
        rows.append(factories.daily_cost(organization, job, day, service_name="EC2", billed_cost=Decimal(100)))
        s3 = Decimal(60) if day >= DEC else Decimal(40)
        rows.append(factories.daily_cost(organization, job, day, service_name="S3", billed_cost=s3))
        day += timedelta(days=1)
    for first, purchase, tax in ((NOV, 3000, 600), (DEC, 600, 120)):
        rows.append(
            factories.daily_cost(
                organization, job, first, service_name="SP", charge_category="Purchase", billed_cost=Decimal(purchase)
            )
        )
        rows.append(
            factories.daily_cost(organization, job, first, service_name="EC2", charge_category="Tax", billed_cost=tax)
        )
    rows.append(
        factories.daily_cost(
            organization, job, date(2026, 12, 3), service_name="EC2", charge_class="Correction", billed_cost=-50
        )
    )
    for row in rows:
        row.effective_cost = row.billed_cost
        row.list_cost = row.billed_cost
    DailyCost.objects.bulk_create(rows)


@pytest.mark.django_db
def test_overview_compares_usage_like_for_like():
    organization = factories.organization("lfl")
    _seed(organization)
    factories.member(organization, "cfo", "finance", password=PASSWORD)
    client = Client()
    assert client.login(username="cfo", password=PASSWORD)
    page = client.get("/?metric=billed")
    assert page.status_code == 200
    context = page.context
    # Usage by hand: December 1-6 = 6 x (100 + 60) = 960 (the correction is not usage); November 1-6 = 6 x 140.
    assert context["mtd_usage"] == Decimal(960)
    assert context["previous_usage"] == Decimal(840)
    assert context["usage_change"] == Decimal(120)
    assert context["usage_change_ratio"] == pytest.approx(120 / 840)
    # All charges stay available: 960 - 50 + 600 + 120 month to date.
    assert context["mtd"] == Decimal(1630)
    # Other lines: December's month-to-date share against 6/30 of November's whole charge.
    lines = {line.kind: line for line in context["charge_lines"]}
    assert set(lines) == {"purchase", "tax", "correction"}
    assert (lines["purchase"].current, lines["purchase"].previous_month) == (Decimal(600), Decimal(3000))
    assert lines["purchase"].previous_same_stage == Decimal(600) and lines["purchase"].change == 0
    assert (lines["tax"].current, lines["tax"].previous_same_stage) == (Decimal(120), Decimal(120))
    assert (lines["correction"].current, lines["correction"].previous_month) == (Decimal(-50), Decimal(0))
    # Movers are usage: S3 +120 over the six days; EC2 (tax, correction aside) did not move; no purchase row.
    movers = [(m["mover"].group, m["mover"].change) for m in context["movers"]]
    assert movers == [("S3", Decimal(120))]
    html = page.content.decode()
    assert 'id="usage-comparison"' in html and 'id="charge-table"' in html
    assert "+14.3%" in html  # 120 / 840
    assert "6 of its 30 days" in html
    # The anomalies page reports the same lines beside the (usage-only) anomalies.
    anomalies = client.get("/anomalies/")
    assert [(x.kind, x.current, x.previous_same_stage) for x in anomalies.context["charge_lines"]] == [
        ("purchase", Decimal(600), Decimal(600)),
        ("tax", Decimal(120), Decimal(120)),
        ("correction", Decimal(-50), Decimal(0)),
    ]
    assert 'id="other-charges"' in anomalies.content.decode()


def _anomaly(organization, day: date, key: str = "EC2") -> Anomaly:
    return Anomaly.objects.create(
        organization=organization,
        metric="effective",
        currency="USD",
        dimension="service",
        key=key,
        day=day,
        expected=Decimal(100),
        actual=Decimal(200),
        lower=Decimal(90),
        upper=Decimal(110),
        impact=Decimal(100),
        direction="spike",
        model="ets",
    )


@pytest.mark.django_db
def test_bulk_dismiss_on_the_page_and_in_the_api():
    organization = factories.organization("bulk")
    other = factories.organization("bulk-other")
    mine = [_anomaly(organization, date(2026, 12, d)) for d in (1, 2, 3)]
    foreign = _anomaly(other, date(2026, 12, 1))
    factories.member(organization, "fin", "finance", password=PASSWORD)
    factories.member(organization, "view", "viewer", password=PASSWORD)
    client = Client()
    assert client.login(username="fin", password=PASSWORD)
    page = client.get("/anomalies/").content.decode()
    assert 'id="bulk-feedback-form"' in page and page.count('name="anomaly"') == 3

    # The page: two of them dismissed in one post.
    response = client.post("/anomalies/feedback", {"anomaly": [mine[0].pk, mine[1].pk], "verdict": "not_an_anomaly"})
    assert response.status_code == 302
    verdicts = dict(Anomaly.objects.filter(organization=organization).values_list("pk", "verdict"))
    assert verdicts == {mine[0].pk: "not_an_anomaly", mine[1].pk: "not_an_anomaly", mine[2].pk: ""}
    assert AnomalyFeedback.objects.count() == 2

    # Failure paths write nothing: another organization's id, no selection, a bad verdict, a viewer.
    refused = client.post(
        "/anomalies/feedback", {"anomaly": [mine[2].pk, foreign.pk], "verdict": "expected"}, follow=True
    )
    assert f"no anomaly visible to you with id {foreign.pk}" in refused.content.decode()
    empty = client.post("/anomalies/feedback", {"verdict": "expected"}, follow=True)
    assert "choose at least one anomaly" in empty.content.decode()
    bad = client.post("/anomalies/feedback", {"anomaly": [mine[2].pk], "verdict": "maybe"}, follow=True)
    assert "unknown verdict" in bad.content.decode()
    viewer = Client()
    assert viewer.login(username="view", password=PASSWORD)
    assert viewer.post("/anomalies/feedback", {"anomaly": [mine[2].pk], "verdict": "expected"}).status_code == 403
    assert AnomalyFeedback.objects.count() == 2

    # The API: same service, same rules.
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Token {factories.token_key(factories.user('fin'), organization, 'w', 'write')}"
    )
    created = api.post("/api/v1/anomalies/feedback/", {"ids": [mine[2].pk], "verdict": "confirmed"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["count"] == 1 and body["feedback"][0]["anomaly"] == mine[2].pk
    assert body["feedback"][0]["verdict"] == "confirmed" and body["feedback"][0]["username"] == "fin"
    unknown = api.post("/api/v1/anomalies/feedback/", {"ids": [foreign.pk], "verdict": "expected"}, format="json")
    assert unknown.status_code == 400 and str(foreign.pk) in unknown.content.decode()
    empty = api.post("/api/v1/anomalies/feedback/", {"ids": [], "verdict": "expected"}, format="json")
    assert empty.status_code == 400
    # An id no row can have (past a 64-bit key) is refused by name like any unknown one, never a 500.
    huge = 2**111
    beyond = api.post("/api/v1/anomalies/feedback/", {"ids": [mine[2].pk, huge], "verdict": "expected"}, format="json")
    assert beyond.status_code == 400 and f"with id {huge}" in beyond.content.decode()
    refused_huge = client.post("/anomalies/feedback", {"anomaly": [str(huge)], "verdict": "expected"}, follow=True)
    assert f"no anomaly visible to you with id {huge}" in refused_huge.content.decode()
    assert AnomalyFeedback.objects.count() == 3
    assert not AnomalyFeedback.objects.filter(anomaly=foreign).exists()
    # The detail carries the readable name field of each cause (empty for causes stored without one).
    detail = api.get(f"/api/v1/anomalies/{mine[0].pk}/").json()
    assert detail["verdict"] == "not_an_anomaly" and detail["root_cause"] == []
