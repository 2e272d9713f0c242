"""Price freshness: every run and lookup says how old its prices are; stale spot is not planned unless opted in.

A steady fleet of 10 m5.large in us-east-1 for 7 days, real on-demand and derived commitment prices (their
catalogs dated 2025-01-01 here), and spot history that is either the real 2022 samples or a fresh sample."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from finops.accounts.services import organization_get_or_create
from optimizer.models import OptimizationRun
from optimizer.services import ParametersError, optimization_run_create, optimization_run_execute
from pricing.models import CatalogImport, SpotPriceSample
from tests import factories
from tests.optimizer.optruns_helpers import ingest_fixture, on_demand, seed_catalog, steady_rows

pytestmark = pytest.mark.django_db

SKU = "m5.large@us-east-1"
PUBLISHED = datetime(2025, 1, 1, tzinfo=UTC)
COUNT = 10


@pytest.fixture
def fleet(tmp_path):
    organization, _ = organization_get_or_create(slug="fresh", name="Fresh")
    price = float(on_demand("m5.large", "us-east-1"))
    ingest_fixture(
        organization,
        tmp_path,
        steady_rows({"i-web": ("m5.large", "us-east-1", COUNT)}, {("m5.large", "us-east-1"): price}, days=7),
    )
    seed_catalog([("m5.large", "us-east-1")])
    CatalogImport.objects.update(publication_date=PUBLISHED)
    return organization


def _fresh_spot(age: timedelta, price: str = "0.0300") -> datetime:
    stamp = timezone.now() - age
    SpotPriceSample.objects.create(
        provider="aws", region="us-east-1", availability_zone="us-east-1a", instance_type="m5.large",
        product_description="Linux/UNIX", operating_system="linux", price=Decimal(price), currency="USD",
        timestamp=stamp, catalog_import=CatalogImport.objects.first(),
    )  # fmt: skip
    return stamp


def _run(organization, **options):
    run = optimization_run_create(
        organization=organization, parameters={"lookback_days": 7, "backtest": False, **options}, enqueue=False
    )
    run = optimization_run_execute(run)
    assert run.status == "succeeded", run.error
    return run.results


def _days(at: str, stamp: datetime) -> float:
    return round((datetime.fromisoformat(at) - stamp).total_seconds() / 86400, 1)


def test_stale_spot_is_not_planned_and_the_run_says_how_old_its_prices_are(fleet):
    newest_2022 = SpotPriceSample.objects.filter(instance_type="m5.large", region="us-east-1").aggregate(
        t=Max("timestamp")
    )["t"]
    assert newest_2022.year == 2022
    results = _run(fleet)
    age = results["price_age"]
    assert age["spot_days_newest"] == age["spot_days_oldest"] == _days(age["prices_at"], newest_2022)
    assert age["catalog_days"] == _days(age["prices_at"], PUBLISHED)
    assert age["spot_max_age_days"] == 30 and age["stale_spot_skus"] == [SKU] and age["stale_spot_used"] is False
    assert results["breakdown"]["spot"] == "0" and results["spot_prices"] == {}
    line = results["explanation"][1]
    assert f"up to {age['catalog_days']:,.1f} days old" in line
    assert "older than 30 days and were not used to plan spot" in line

    opted = _run(fleet, allow_stale_spot=True)
    assert opted["price_age"]["stale_spot_used"] is True
    assert opted["spot_prices"][SKU]["stale"] is True
    assert opted["spot_prices"][SKU]["age_days"] == _days(opted["price_age"]["prices_at"], newest_2022)
    assert Decimal(opted["breakdown"]["spot"]) > 0
    assert "were used because the run opted in" in opted["explanation"][1]


def test_fresh_spot_is_planned_and_the_limit_is_a_setting(fleet, settings):
    stamp = _fresh_spot(timedelta(days=2))
    results = _run(fleet)
    age = results["price_age"]
    assert age["stale_spot_skus"] == [] and age["spot_days_newest"] == _days(age["prices_at"], stamp)
    # The only sample in the 30 days before the newest is the fresh one: spot is planned at its price, capped
    # at 20% of the 10 instances each hour (spot at $0.03 is cheaper than any commitment for m5.large).
    assert results["spot_prices"][SKU]["price"] == "0.03"
    hours = 7 * 24
    assert Decimal(results["breakdown"]["spot"]) == pytest.approx(Decimal("0.03") * 2 * hours, abs=Decimal("0.01"))

    settings.FINOPS_SPOT_MAX_AGE_DAYS = 1
    strict = _run(fleet)
    assert strict["price_age"]["spot_max_age_days"] == 1 and strict["price_age"]["stale_spot_skus"] == [SKU]
    assert strict["breakdown"]["spot"] == "0"
    assert "older than 1 days" in strict["explanation"][1]


def test_bad_opt_in_is_refused_and_nothing_is_written(fleet):
    with pytest.raises(ParametersError) as caught:
        optimization_run_create(organization=fleet, parameters={"allow_stale_spot": "yes"}, enqueue=False)
    assert caught.value.errors == {"allow_stale_spot": "must be true or false, got 'yes'"}
    assert not OptimizationRun.objects.exists()


def test_the_opt_in_reaches_the_run_from_the_command_the_api_and_the_form(fleet):
    out = StringIO()
    call_command("recommend_commitments", "--org", "fresh", "--lookback-days", "7", "--allow-stale-spot", "--json",
                 stdout=out)  # fmt: skip
    detail = json.loads(out.getvalue())
    assert detail["parameters"]["allow_stale_spot"] is True and detail["results"]["price_age"]["stale_spot_used"]

    factories.member(fleet, "fin", "finance", password="pw-fresh-1")
    key = factories.token_key(factories.user("fin"), fleet, "runs", scope="write")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.post("/api/v1/optimizer/runs/", {"lookback_days": 7, "allow_stale_spot": True},
                        content_type="application/json")  # fmt: skip
    assert response.status_code == 202, response.content
    assert OptimizationRun.objects.get(pk=response.json()["id"]).parameters["allow_stale_spot"] is True
    refused = api.post("/api/v1/optimizer/runs/", {"allow_stale_spot": "maybe"}, content_type="application/json")
    assert refused.status_code == 400 and "allow_stale_spot" in refused.json()["error"]["fields"]

    page = Client()
    assert page.login(username="fin", password="pw-fresh-1")
    form = page.get("/optimizer/?org=fresh")
    assert 'name="allow_stale_spot"' in form.content.decode()
    posted = page.post("/optimizer/?org=fresh", {"lookback_days": "7", "term": "1y", "payment": "no_upfront",
                                                 "max_spot_share_percent": "20"})  # fmt: skip
    run = OptimizationRun.objects.order_by("-id").first()
    assert posted.status_code == 302 and run.parameters["allow_stale_spot"] is False
    optimization_run_execute(run)
    html = page.get(f"/optimizer/runs/{run.pk}/?org=fresh").content.decode()
    assert 'id="stale-spot" data-used="false"' in html and "not used to plan spot" in html


def test_price_lookup_reports_the_age_of_its_prices(fleet):
    stamp = _fresh_spot(timedelta(days=3))
    out = StringIO()
    call_command("price_lookup", "--region", "us-east-1", "--instance-type", "m5.large", "--json", stdout=out)
    payload = json.loads(out.getvalue())
    assert payload["price_age"] == {
        "catalog_days": _days(payload["at"], PUBLISHED),
        "spot_days": _days(payload["at"], stamp),
        "spot_max_age_days": 30,
        "spot_stale": False,
    }
    assert payload["spot"]["age_days"] == _days(payload["at"], stamp) and payload["spot"]["stale"] is False
    assert {p["age_days"] for p in payload["prices"]} == {_days(payload["at"], PUBLISHED)}
    old = StringIO()
    call_command("price_lookup", "--region", "us-east-1", "--instance-type", "m5.large", "--at", "2022-06-30",
                 stdout=old)  # fmt: skip
    # 2022-05-31 23:45:32 to 2022-06-30 23:59:59 is 30.01 days: past the limit, though it prints as 30.0.
    assert "spot 30.0 days old (stale: older than 30 days" in old.getvalue()
