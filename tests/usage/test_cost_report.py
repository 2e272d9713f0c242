"""cost_report: the contract JSON shape, and numbers equal to independent Decimal group-bys of the file."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from tests import factories
from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE
from tests.usage.helpers import NULLS, grouped_sum, read_rows, tag_value, team_of

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="class")
def focus_org(django_db_setup, django_db_blocker):
    """The FOCUS sample ingested into "acme" once for the class and committed (each test's own writes roll back
    with its transaction), deleted after its last test."""
    with django_db_blocker.unblock():
        call_command("ingest_usage", str(FOCUS_SAMPLE), "--org", "acme", "--json", stdout=StringIO())
    yield read_rows(FOCUS_SAMPLE)
    with django_db_blocker.unblock():
        factories.delete_organizations(list(Organization.objects.filter(slug="acme")))


def report(*args: str) -> dict:
    out = StringIO()
    call_command("cost_report", "--org", "acme", "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def as_dict(payload: dict) -> dict[str, Decimal]:
    assert {r["currency"] for r in payload["rows"]} <= {"USD"}
    return {r["group"]: Decimal(r["cost"]) for r in payload["rows"]}


def label(value: str | None) -> str:
    return "(none)" if value in NULLS or value is None else value


class TestOnTheFocusSample:
    """Reports on the FOCUS sample, ingested into "acme" (the class fixture)."""

    def test_json_shape_is_the_contract(self, focus_org):
        payload = report("--group-by", "service", "--metric", "billed")
        assert payload["metric"] == "billed" and payload["group_by"] == "service"
        row = payload["rows"][0]
        assert set(row) == {"group", "currency", "cost"}
        assert isinstance(row["cost"], str)
        costs = [Decimal(r["cost"]) for r in payload["rows"]]
        assert costs == sorted(costs, reverse=True)

    @pytest.mark.parametrize(
        ("group_by", "column", "metric", "metric_column"),
        [
            ("service", "ServiceName", "billed", "BilledCost"),
            ("service", "ServiceName", "effective", "EffectiveCost"),
            ("account", "BillingAccountId", "list", "ListCost"),
            ("sub_account", "SubAccountId", "billed", "BilledCost"),
            ("provider", "ProviderName", "billed", "BilledCost"),
            ("charge_category", "ChargeCategory", "effective", "EffectiveCost"),
        ],
    )
    def test_group_by_equals_independent_sum(self, focus_org, group_by, column, metric, metric_column):
        expected = grouped_sum(focus_org, lambda r: label(r[column]), metric_column)
        assert as_dict(report("--group-by", group_by, "--metric", metric)) == expected

    def test_region_falls_back_to_region_name(self, focus_org):
        expected = grouped_sum(
            focus_org,
            lambda r: label(r["RegionId"] if r["RegionId"] not in NULLS else r["RegionName"]),
            "BilledCost",
        )
        assert as_dict(report("--group-by", "region")) == expected

    def test_tag_group_by(self, focus_org):
        expected = grouped_sum(focus_org, lambda r: label(tag_value(r, "environment")), "BilledCost")
        assert as_dict(report("--group-by", "tag:environment")) == expected

    def test_team_group_by(self, focus_org):
        from django.conf import settings
        from django.utils.text import slugify

        keys = settings.FINOPS_TEAM_TAG_KEYS
        expected = grouped_sum(focus_org, lambda r: label(slugify(team_of(r, keys))), "BilledCost")
        assert as_dict(report("--group-by", "team")) == expected

    def test_date_range_is_inclusive_by_charge_day(self, focus_org):
        start, end = date(2024, 9, 10), date(2024, 9, 20)
        in_range = [r for r in focus_org if start <= date.fromisoformat(r["ChargePeriodStart"][:10]) <= end]
        assert in_range and len(in_range) < len(focus_org)
        expected = grouped_sum(in_range, lambda r: label(r["ServiceName"]), "BilledCost")
        payload = report("--start", start.isoformat(), "--end", end.isoformat())
        assert as_dict(payload) == expected
        # The tag group-by reads the tag rollup: the same range must hold the same money.
        tag_payload = report("--start", "2024-09-10", "--end", "2024-09-20", "--group-by", "tag:environment")
        assert sum(as_dict(tag_payload).values()) == sum(expected.values())

    def test_organizations_are_isolated(self, focus_org):
        call_command("ingest_usage", str(CUR_SAMPLE), "--org", "other", "--json", stdout=StringIO())
        expected = grouped_sum(focus_org, lambda r: label(r["ProviderName"]), "BilledCost")
        assert as_dict(report("--group-by", "provider")) == expected

    def test_csv_and_table_formats(self, focus_org):
        out = StringIO()
        call_command("cost_report", "--org", "acme", "--format", "csv", stdout=out)
        lines = out.getvalue().splitlines()
        assert lines[0] == "group,currency,cost"
        assert len(lines) - 1 == len(report()["rows"])
        out = StringIO()
        call_command("cost_report", "--org", "acme", stdout=out)
        assert "Amazon Elastic Compute Cloud" in out.getvalue()

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--group-by", "colour"], "unknown group-by"),
            (["--start", "2024-31-01"], "not a date"),
            (["--start", "2024-10-01", "--end", "2024-09-01"], "after end"),
        ],
    )
    def test_bad_parameters_exit_2(self, focus_org, args, message):
        with pytest.raises(CommandError) as caught:
            report(*args)
        assert caught.value.returncode == 2
        assert message in str(caught.value)


def test_unknown_organization_exits_2():
    with pytest.raises(CommandError) as caught:
        report()
    assert caught.value.returncode == 2 and "acme" in str(caught.value)
