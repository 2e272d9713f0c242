"""import_metrics and recommend_rightsizing: the JSON contracts, the table and the exit codes."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.services import organization_get_or_create
from optimizer.rightsizing.models import UtilizationHour
from tests.optimizer.rightsizing.rightsizing_fixtures import PRICES, make_org, write_metrics

pytestmark = pytest.mark.django_db
CONTRACT_KEYS = {
    "resource_id",
    "team",
    "region",
    "current_type",
    "recommended_type",
    "action",
    "p95_cpu",
    "max_cpu",
    "current_monthly_cost",
    "new_monthly_cost",
    "monthly_savings",
    "reason",
    "migration_effort",
}


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def fails(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode == 2
    return caught.value


@pytest.fixture
def org(tmp_path):
    return make_org(tmp_path)


def test_import_metrics_json_and_duplicate(org, tmp_path):
    path = write_metrics(tmp_path / "m.csv")
    first = json.loads(run("import_metrics", str(path), "--org", "acme", "--json"))
    assert first["status"] == "succeeded" and first["rows"] == 3 * 14 * 288 and first["resources"] == 3
    assert first["hours_written"] == UtilizationHour.objects.count() == 3 * 14 * 24
    assert first["first_hour"] == "2026-03-01T00:00:00+00:00" and first["has_memory"] is True
    second = json.loads(run("import_metrics", str(path), "--org", "acme", "--json"))
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["import"]
    assert "unchanged" in run("import_metrics", str(path), "--org", "acme")


def test_import_metrics_bad_input_exits_2(org, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("resource_id,timestamp\ni,2026-03-01\n")
    error = fails("import_metrics", str(bad), "--org", "acme")
    assert "file bad.csv: missing column(s) cpu_percent" in str(error)
    assert "no organization 'nope'" in str(fails("import_metrics", str(bad), "--org", "nope"))
    assert UtilizationHour.objects.count() == 0


def test_recommend_rightsizing_json_contract(org, tmp_path):
    run("import_metrics", str(write_metrics(tmp_path / "m.csv")), "--org", "acme")
    payload = json.loads(run("recommend_rightsizing", "--org", "acme", "--json"))
    recs = {r["resource_id"]: r for r in payload["recommendations"]}
    assert all(set(r) >= CONTRACT_KEYS for r in recs.values())
    over, idle, busy = recs["i-over"], recs["i-idle"], recs["asg-busy"]
    assert (over["action"], over["current_type"], over["recommended_type"]) == ("resize", "m5.xlarge", "m5.large")
    assert over["current_monthly_cost"] == f"{Decimal(PRICES['m5.xlarge']) * 730:.2f}" == "140.16"
    assert over["new_monthly_cost"] == "70.08" and over["monthly_savings"] == "70.08"
    assert over["team"] == "web" and over["region"] == "us-east-1" and over["migration_effort"] is False
    assert (idle["action"], idle["recommended_type"], idle["new_monthly_cost"]) == ("stop", None, "0.00")
    assert busy["action"] == "keep" and busy["recommended_type"] == "m5.2xlarge" and busy["monthly_savings"] == "0.00"
    assert isinstance(over["p95_cpu"], float) and isinstance(over["max_cpu"], float)
    assert payload["total_monthly_savings"] == "210.24"
    savings = [Decimal(r["monthly_savings"]) for r in payload["recommendations"]]
    assert savings == sorted(savings, reverse=True)


def test_recommend_rightsizing_options_and_table(org, tmp_path):
    run("import_metrics", str(write_metrics(tmp_path / "m.csv")), "--org", "acme")
    limited = json.loads(run("recommend_rightsizing", "--org", "acme", "--json", "--max-changes-per-team", "1"))
    assert limited["total_monthly_savings"] == "140.16"
    assert limited["parameters"]["constraints"]["max_changes_per_team"] == 1
    # With Graviton allowed, m7g.large (0.0816) beats m5.large (0.096) for i-over, flagged as migration effort.
    cross = json.loads(run("recommend_rightsizing", "--org", "acme", "--json", "--allow-cross-architecture"))
    over = next(r for r in cross["recommendations"] if r["resource_id"] == "i-over")
    assert over["recommended_type"] == "m7g.large" and over["migration_effort"] is True
    assert over["monthly_savings"] == f"{(Decimal('0.192') - Decimal('0.0816')) * 730:.2f}"
    table = run("recommend_rightsizing", "--org", "acme")
    assert "i-over" in table and "m5.large" in table and "(stop)" in table and "210.24" in table


def test_recommend_rightsizing_bad_input_exits_2(org, tmp_path):
    assert "no organization 'nope'" in str(fails("recommend_rightsizing", "--org", "nope"))
    assert "max_changes_per_team must be >= 0" in str(
        fails("recommend_rightsizing", "--org", "acme", "--max-changes-per-team", "-1")
    )
    assert "lookback_days must be >= 1" in str(fails("recommend_rightsizing", "--org", "acme", "--lookback-days", "0"))
    organization_get_or_create(slug="empty")
    assert "no EC2 usage" in str(fails("recommend_rightsizing", "--org", "empty", "--json"))
