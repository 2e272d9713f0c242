"""recommend_commitments: the JSON contract, the readable table, and exit code 2 on bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.services import organization_get_or_create
from optimizer.models import OptimizationRun
from tests.optimizer.optruns_helpers import ingest_fixture

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("recommend_commitments", *args, stdout=out)
    return out.getvalue()


def test_json_contract(org):
    detail = json.loads(run_command("--org", "acme", "--lookback-days", "7", "--backtest", "--json"))
    assert detail["status"] == "succeeded" and detail["organization"] == "acme"
    assert detail["parameters"]["lookback_days"] == 7 and detail["parameters"]["payment"] == "no_upfront"
    assert set(detail["solver"]) >= {"status", "objective", "bound", "gap", "build_seconds", "solve_seconds", "solver"}
    assert Decimal(detail["solver"]["bound"]) <= Decimal(detail["solver"]["objective"])
    purchase = detail["purchases"][0]
    assert set(purchase) >= {
        "offer_id", "kind", "sku", "family", "region", "term", "payment", "quantity", "upfront", "monthly_cost",
        "monthly_savings", "break_even_month", "expected_utilization", "coverage",
    }  # fmt: skip
    for key in ("quantity", "upfront", "monthly_cost", "monthly_savings"):
        Decimal(purchase[key])  # decimal strings
    results = detail["results"]
    for key in ("objective", "bound", "gap", "all_on_demand", "savings", "breakdown", "utilization", "explanation"):
        assert key in results
    assert [r["strategy"] for r in detail["backtest"]["rows"]] == ["optimizer", "p10_reserved", "console_savings_plan"]


def test_readable_table(org):
    text = run_command("--org", "acme", "--lookback-days", "7", "--backtest")
    assert "saves/month" in text and "Backtest:" in text
    for name in ("optimizer", "p10_reserved", "console_savings_plan"):
        assert name in text
    assert "Optimality:" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nope"], "unknown organization 'nope'"),
        (["--org", "acme", "--lookback-days", "14"], "lookback_days: must be one of 7, 30, 60, 90"),
        (["--org", "acme", "--term", "2y"], "term: must be 1y or 3y"),
        (["--org", "acme", "--max-spot-share", "lots"], "max_spot_share"),
        (["--org", "acme", "--payment", "partial"], "no reserved or savings-plan prices for 1y partial_upfront"),
    ],
)
def test_bad_input_exits_2(org, args, message):
    with pytest.raises(CommandError, match=message) as info:
        run_command(*args)
    assert info.value.returncode == 2


def test_no_usage_exits_2_and_nothing_half_written():
    organization_get_or_create(slug="empty", name="Empty")
    with pytest.raises(CommandError, match="no compute usage") as info:
        run_command("--org", "empty")
    assert info.value.returncode == 2
    run = OptimizationRun.objects.get()
    assert run.status == "failed" and not run.recommendations.exists()


def test_no_prices_exits_2(tmp_path):
    organization, _ = organization_get_or_create(slug="unpriced", name="Unpriced")
    ingest_fixture(organization, tmp_path)  # usage, but no catalog imported
    with pytest.raises(CommandError, match="no prices in the catalog for the SKUs") as info:
        run_command("--org", "unpriced", "--lookback-days", "7")
    assert info.value.returncode == 2
