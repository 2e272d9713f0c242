"""An organization billed by several providers in two currencies: every surface keeps the currencies apart.

The organization holds the public FOCUS sample (AWS, Microsoft and Oracle rows in USD, September 2024), the
real Azure EA cost details sample (Microsoft, USD, September 2023) and the real OCI cost report (Oracle, GBP),
its charge dates moved to September 2024 so both currencies share a month. Oracle is billed in USD and in GBP.
Every expected number is summed here with Decimal from the raw files (csv module), never read back from the
product; each surface must give one number per currency and never add two.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from finops.accounts.models import Organization
from finops.budgets.services import budget_create, budget_evaluate
from finops.carbon.selectors import carbon_frame
from finops.carbon.services import carbon_rollup_refresh
from finops.forecasting.conf import forecast_config
from finops.forecasting.selectors import daily_cost_frame, series_plan
from finops.usage.models import LineItem
from finops.usage.selectors import cost_breakdown
from tests import factories
from tests.conftest import FOCUS_SAMPLE, SHARED_DATA

pytestmark = pytest.mark.django_db

AZURE_SAMPLE = SHARED_DATA / "azure" / "EA_ActualCost_Small.csv"
OCI_SAMPLE = SHARED_DATA / "oci" / "koku_reports_cost-csv_0001000000603747.csv"
SEPTEMBER = (date(2024, 9, 1), date(2024, 9, 30))
PASSWORD = "multi-currency-pw-1"


def dec(text: str | None) -> Decimal:
    return Decimal(text) if text not in (None, "", "NULL") else Decimal(0)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def oci_in_september(tmp_path: Path) -> Path:
    """The OCI sample with its charges (April 2022) moved to September 2024; every other byte as shipped."""
    text = OCI_SAMPLE.read_text(encoding="utf-8").replace("2022-04-", "2024-09-")
    path = tmp_path / "reports_cost-csv_0001000000603747.csv"
    path.write_text(text, encoding="utf-8")
    return path


def expected_billed(oci_path: Path) -> dict[tuple[str, str], Decimal]:
    """Billed cost per (provider, currency) over every file, from the raw rows."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in read(FOCUS_SAMPLE):
        sums[(row["ProviderName"], row["BillingCurrency"])] += dec(row["BilledCost"])
    for row in read(AZURE_SAMPLE):  # an actual-cost file: every row is billed, purchases included
        sums[("Microsoft", row["BillingCurrency"])] += dec(row["Cost"])
    for row in read(oci_path):  # billed = cost/myCostOverage (prepaid commitment usage is not billed again)
        sums[("Oracle", "GBP")] += dec(row["cost/myCostOverage"])
    return dict(sums)


def september_billed(oci_path: Path) -> dict[str, Decimal]:
    """Billed cost per currency of the charges of September 2024."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in read(FOCUS_SAMPLE):
        if row["ChargePeriodStart"].startswith("2024-09"):
            sums[row["BillingCurrency"]] += dec(row["BilledCost"])
    for row in read(oci_path):
        sums["GBP"] += dec(row["cost/myCostOverage"])
    return dict(sums)


@pytest.fixture(scope="module")
def ingested(django_db_setup, django_db_blocker, tmp_path_factory):
    """The three deliveries, ingested once for the module and committed (each test's own writes roll back with
    its transaction), deleted after its last test."""
    with django_db_blocker.unblock():
        organization = factories.organization("multi")
        oci = oci_in_september(tmp_path_factory.mktemp("oci"))
        for paths in ([FOCUS_SAMPLE], [AZURE_SAMPLE], [oci]):
            job = factories.ingest_files(organization, paths)
            assert job.status == "succeeded", job.error
        factories.member(organization, "multi-finance", "finance", password=PASSWORD)
    expected = expected_billed(oci)
    assert {currency for _, currency in expected} == {"USD", "GBP"}
    assert expected[("Oracle", "GBP")] != 0 and expected[("Oracle", "USD")] != 0
    yield {"org_id": organization.pk, "oci": oci, "expected": expected}
    with django_db_blocker.unblock():
        factories.delete_organizations([organization], usernames=["multi-finance"])


@pytest.fixture
def world(ingested):
    cache.clear()  # the page cache outlives a test; a test must not see pages another test's writes shaped
    return {"org": Organization.objects.get(pk=ingested["org_id"]), **ingested}


def by_currency(expected: dict[tuple[str, str], Decimal], provider: str | None = None) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for (name, currency), cost in expected.items():
        if provider is None or name == provider:
            totals[currency] += cost
    return dict(totals)


def test_every_provider_keeps_its_billing_currency(world):
    stored = set(LineItem.objects.filter(organization=world["org"]).values_list("provider_name", "billing_currency"))
    assert stored == {("AWS", "USD"), ("Microsoft", "USD"), ("Oracle", "USD"), ("Oracle", "GBP")}


def test_breakdown_by_provider_is_one_row_per_provider_and_currency(world):
    rows = cost_breakdown(organization=world["org"], group_by=["provider"])
    got = {(r.group, r.currency): r.cost for r in rows}
    assert got == world["expected"]
    oracle = cost_breakdown(organization=world["org"], group_by=["provider"], filters={"provider": "Oracle"})
    assert {(r.group, r.currency): r.cost for r in oracle} == {
        k: v for k, v in world["expected"].items() if k[0] == "Oracle"
    }


def test_api_costs_group_and_filter_by_provider_with_totals_per_currency(world):
    client = APIClient()
    client.login(username="multi-finance", password=PASSWORD)
    payload = client.get("/api/v1/costs/summary", {"group_by": "provider", "org": "multi"}).json()
    got = {(r["group"], r["currency"]): Decimal(r["cost"]) for r in payload["rows"]}
    assert got == world["expected"]
    assert {t["currency"]: Decimal(t["cost"]) for t in payload["totals"]} == by_currency(world["expected"])

    oracle = client.get("/api/v1/costs/summary", {"group_by": "service", "provider": "Oracle"}).json()
    assert {t["currency"]: Decimal(t["cost"]) for t in oracle["totals"]} == by_currency(world["expected"], "Oracle")
    gbp = client.get("/api/v1/costs/timeseries", {"group_by": "provider", "currency": "GBP"}).json()
    assert {r["currency"] for r in gbp["rows"]} == {"GBP"}
    assert sum(Decimal(r["cost"]) for r in gbp["rows"]) == world["expected"][("Oracle", "GBP")]


def test_cost_report_filters_by_provider_and_totals_per_currency(world):
    out = StringIO()
    call_command("cost_report", "--org", "multi", "--group-by", "provider", "--format", "json", stdout=out)
    payload = json.loads(out.getvalue())
    assert {(r["group"], r["currency"]): Decimal(r["cost"]) for r in payload["rows"]} == world["expected"]
    assert {t["currency"]: Decimal(t["cost"]) for t in payload["totals"]} == by_currency(world["expected"])

    out = StringIO()
    call_command(
        "cost_report", "--org", "multi", "--group-by", "service", "--filter", "provider=Oracle", "--format", "json",
        stdout=out,
    )  # fmt: skip
    payload = json.loads(out.getvalue())
    assert payload["filters"] == {"provider": ["Oracle"]}
    assert {t["currency"]: Decimal(t["cost"]) for t in payload["totals"]} == by_currency(world["expected"], "Oracle")

    out = StringIO()
    call_command("cost_report", "--org", "multi", "--group-by", "provider", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("total")] == [["total", "GBP"], ["total", "USD"]]


def test_cost_report_refuses_an_unknown_filter(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown filter 'cloud'"):
        call_command("cost_report", "--org", "multi", "--filter", "cloud=aws", stdout=StringIO())
    with pytest.raises(CommandError, match="NAME=VALUE"):
        call_command("cost_report", "--org", "multi", "--filter", "provider", stdout=StringIO())


def page_client() -> Client:
    client = Client()
    assert client.login(username="multi-finance", password=PASSWORD)
    return client


def test_explore_totals_per_currency_and_provider_filter(world):
    client = page_client()
    query = "/explore/?group=provider&granularity=month&start=2023-09-01&end=2024-09-30"
    page = client.get(query)
    assert page.status_code == 200
    assert {t["currency"]: t["total"] for t in page.context["totals"]} == by_currency(world["expected"])
    assert page.context["total"] == by_currency(world["expected"])["USD"] and page.context["currency"] == "USD"
    # Filtered to Oracle: a USD and a GBP total, never one number.
    oracle = client.get(query + "&provider=Oracle")
    assert {t["currency"]: t["total"] for t in oracle.context["totals"]} == by_currency(world["expected"], "Oracle")
    # Filtered to GBP: the chart and total are in GBP (there is no USD left to show).
    gbp = client.get(query + "&currency=GBP")
    assert gbp.context["currency"] == "GBP" and gbp.context["total"] == world["expected"][("Oracle", "GBP")]
    assert "GBP" in [value for value, _ in page.context["choices"]["currency"]]


def test_overview_shows_one_currency_and_offers_the_other(world):
    client = page_client()
    usd = client.get("/?stack=provider")
    september = september_billed(world["oci"])
    assert usd.context["currency"] == "USD" and usd.context["other_currencies"] == ["GBP"]
    assert usd.context["as_of"] == SEPTEMBER[1]
    assert usd.context["mtd"] == september["USD"]
    names = {trace["name"] for trace in usd.context["spend_figure"]["data"]}
    assert {"AWS", "Microsoft", "Oracle"} <= names
    assert b'data-currency="GBP"' in usd.content
    gbp = client.get("/?stack=provider&currency=GBP")
    assert gbp.context["currency"] == "GBP" and gbp.context["other_currencies"] == ["USD"]
    assert gbp.context["mtd"] == september["GBP"]
    assert {trace["name"] for trace in gbp.context["spend_figure"]["data"]} == {"Oracle"}
    # An unknown currency falls back to the main one.
    assert client.get("/?currency=EUR").context["currency"] == "USD"


def test_teams_page_total_is_in_one_currency(world):
    client = page_client()
    usd = client.get("/teams/")
    assert usd.context["currency"] == "USD" and usd.context["other_currencies"] == ["GBP"]
    assert usd.context["total"] == september_billed(world["oci"])["USD"]
    gbp = client.get("/teams/?currency=GBP")
    assert gbp.context["total"] == september_billed(world["oci"])["GBP"]


def test_budget_adds_only_its_own_currency(world):
    org = world["org"]
    september = september_billed(world["oci"])
    base = {"period": "monthly", "amount": "1000"}
    gbp = budget_create(organization=org, data={**base, "name": "gbp", "currency": "GBP"})
    usd = budget_create(organization=org, data={**base, "name": "usd", "currency": "USD"})
    oracle_usd = budget_create(
        organization=org, data={**base, "name": "oracle", "currency": "USD", "scope": {"provider_name": ["Oracle"]}}
    )
    today = date(2024, 9, 30)
    assert budget_evaluate(budget=gbp, today=today, dry_run=True).evaluation.actual == september["GBP"]
    assert budget_evaluate(budget=usd, today=today, dry_run=True).evaluation.actual == september["USD"]
    oracle_september = sum(
        (dec(r["BilledCost"]) for r in read(FOCUS_SAMPLE) if r["ProviderName"] == "Oracle"), Decimal(0)
    )
    assert budget_evaluate(budget=oracle_usd, today=today, dry_run=True).evaluation.actual == oracle_september


def test_budget_scope_refuses_an_unknown_provider(world):
    from finops.budgets.validation import BudgetValidationError

    with pytest.raises(BudgetValidationError) as caught:
        budget_create(
            organization=world["org"],
            data={"name": "x", "period": "monthly", "amount": "1", "scope": {"provider_name": ["Alibaba"]}},
        )
    assert "Alibaba" in caught.value.message_dict["scope.provider_name"][0]


def test_forecast_series_are_per_currency(world):
    frame = daily_cost_frame(organization=world["org"], metric="billed", dimension="total")
    assert set(frame["currency"]) == {"USD", "GBP"}
    totals = {c: sum(part["cost"], Decimal(0)) for c, part in frame.groupby("currency")}
    assert totals == by_currency(world["expected"])


def test_carbon_cost_columns_are_per_currency(world):
    org = world["org"]
    carbon_rollup_refresh(organization=org, start=date(2023, 9, 1), end=date(2024, 10, 31))
    frame = carbon_frame(organization=org)
    got = {c: sum(part["cost"], Decimal(0)) for c, part in frame.groupby("currency")}
    usage = LineItem.objects.filter(organization=org, charge_category="Usage").exclude(
        commitment_discount_status="Unused"
    )
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for currency, cost in usage.values_list("billing_currency", "effective_cost"):
        expected[currency] += cost
    assert set(got) == {"USD", "GBP"}
    for currency, total in expected.items():
        assert abs(got[currency] - total) < Decimal("1e-9"), currency  # the rollup stores 10 places
    page = page_client().get("/carbon/")
    assert page.context["currency"] == "USD" and page.context["other_currencies"] == ["GBP"]
    assert abs(page.context["total_cost"] - expected["USD"]) < Decimal("1e-6")


def test_forecast_series_by_provider_where_a_currency_has_several(world):
    config = dataclasses.replace(
        forecast_config(), metrics=("billed",), min_history_days=1, min_spend=Decimal(0), spend_window_days=400
    )
    plan = series_plan(organization=world["org"], as_of=SEPTEMBER[1], config=config)
    providers = {(s.currency, s.key) for s in plan if s.dimension == "provider" and s.metric == "billed"}
    # USD is billed by three providers: a series each; GBP by Oracle alone: its total series says it all.
    assert providers == {("USD", "AWS"), ("USD", "Microsoft"), ("USD", "Oracle")}
    assert any(s.dimension == "total" and s.currency == "GBP" for s in plan)
    frame = daily_cost_frame(organization=world["org"], metric="billed", dimension="provider", currency="USD")
    got = {key: sum(part["cost"], Decimal(0)) for key, part in frame.groupby("key")}
    assert got == {name: cost for (name, currency), cost in world["expected"].items() if currency == "USD"}
