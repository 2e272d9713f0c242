"""seed_demo through the real ingest path (organizations, users, teams and data, idempotent), and what the
seeded demo shows. ``seed_demo`` costs over a minute (price catalog, ingest, forecasts, rightsizing, budgets), so
this module seeds once and commits it; each test's own writes roll back with its transaction, and everything is
deleted after the module's last test.

Rightsize-then-commit on the seeded demo keeps existing commitments sunk. The expected covered instance-hours
are computed from the generated FOCUS files with pandas, apart from the optimizer: usage a commitment covered
stays covered unless its resource is stopped, or is resized out of what the commitment can cover (a reservation
covers its own family; the demo's savings plans are Compute plans).
"""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.contrib.auth import authenticate
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

from finops.accounts.models import Membership, Organization
from finops.budgets.models import Budget, BudgetAlert
from finops.carbon.models import CarbonDaily
from finops.core.money import MoneySum
from finops.forecasting.models import Anomaly, ForecastRun, SeriesForecast
from finops.usage.models import DailyCost, LineItem
from optimizer.models import OptimizationRun
from optimizer.rightsizing.models import RightsizingRun
from optimizer.rightsizing.selectors import rightsizing_changes
from optimizer.services import optimization_run_create, optimization_run_execute
from pricing.models import Sku
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import decimal_sum, read_rows

pytestmark = pytest.mark.django_db

DEMO_END = "2026-03-15"
DEMO_MONTHS = "2"
DEMO_PASSWORD = "pw-for-test"
DEMO_USERS = ["admin", "finance", "engineer", "viewer", "analyst"]


@dataclass(frozen=True)
class SeededDemo:
    var_dir: Path  # the VAR_DIR the seed wrote its generated files under
    output: str  # what the command printed
    emails_sent: int  # the alert emails the seed sent


@pytest.fixture(scope="module")
def seeded_demo(django_db_setup, django_db_blocker, tmp_path_factory) -> SeededDemo:
    var_dir = tmp_path_factory.mktemp("demo-var")
    previous = os.environ.get("DEMO_PASSWORD")
    os.environ["DEMO_PASSWORD"] = DEMO_PASSWORD
    out = StringIO()
    try:
        with django_db_blocker.unblock(), override_settings(VAR_DIR=var_dir):
            mail.outbox = []
            call_command("seed_demo", "--end", DEMO_END, "--months", DEMO_MONTHS, stdout=out)
            sent = len(mail.outbox)
    finally:
        if previous is None:
            os.environ.pop("DEMO_PASSWORD", None)
        else:
            os.environ["DEMO_PASSWORD"] = previous
    yield SeededDemo(var_dir=var_dir, output=out.getvalue(), emails_sent=sent)
    with django_db_blocker.unblock():
        factories.delete_organizations(
            list(Organization.objects.filter(slug__in=["demo", "focus-sample"])), usernames=DEMO_USERS
        )
        factories.delete_catalog()
        # What later modules would trip over, checked here where the cause is plain.
        assert not (Organization.objects.exists() or LineItem.objects.exists() or Sku.objects.exists())


def test_seed_demo_creates_two_tenants_with_users_and_data(seeded_demo, settings, monkeypatch):
    text = seeded_demo.output
    for user in ("finance", "engineer", "viewer", "analyst"):
        assert user in text
        assert authenticate(username=user, password=DEMO_PASSWORD) is not None

    demo = Organization.objects.get(slug="demo")
    sample = Organization.objects.get(slug="focus-sample")
    roles = dict(Membership.objects.filter(organization=demo).values_list("user__username", "role"))
    assert roles["finance"] == "finance" and roles["viewer"] == "viewer" and roles["engineer"] == "engineer"
    engineer = Membership.objects.get(organization=demo, user__username="engineer")
    assert sorted(t.slug for t in engineer.teams.all()) == ["checkout", "search"]
    assert list(Membership.objects.filter(organization=sample).values_list("user__username", flat=True)) == ["analyst"]

    # The demo's line items are exactly the generated files' rows (read independently).
    files = sorted((seeded_demo.var_dir / "demo").glob("*/*.csv.gz"))
    assert files
    rows = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    assert LineItem.objects.filter(organization=demo).count() == len(rows)
    billed = LineItem.objects.filter(organization=demo).aggregate(t=MoneySum("billed_cost"))["t"]
    assert billed == decimal_sum(rows, "BilledCost")
    assert DailyCost.objects.filter(organization=demo).aggregate(t=MoneySum("billed_cost"))["t"] == billed
    days = set(DailyCost.objects.filter(organization=demo).values_list("day", flat=True))
    assert min(days) == date(2026, 2, 1) and max(days) == date(2026, 3, 14)

    focus_rows = read_rows(FOCUS_SAMPLE)
    assert LineItem.objects.filter(organization=sample).count() == len(focus_rows)
    assert LineItem.objects.filter(organization=sample).aggregate(t=MoneySum("effective_cost"))["t"] == decimal_sum(
        focus_rows, "EffectiveCost"
    )

    # The derived data a worker would compute after ingest is there, so the demo opens complete.
    assert CarbonDaily.objects.filter(organization=demo).exists()
    assert CarbonDaily.objects.filter(organization=sample).exists()
    run = ForecastRun.objects.get(organization=demo)
    assert run.status == "succeeded"
    # One refresh checks the last month for anomalies (a month of nightly refreshes would have).
    assert f"{run.anomalies_found} anomalies in the last 30 days" in text
    assert Anomaly.objects.filter(organization=demo).count() == run.anomalies_found
    # Anomalies are of usage only: each one's actual is its series' usage cost that day, summed here from the
    # files (Mar 1 also carries tax and purchases: the all-charges amount differs). Causes move with it.
    anomalies = list(Anomaly.objects.filter(organization=demo))
    columns = {"service": "ServiceName", "account": "SubAccountId", "region": "RegionId"}
    usage: dict[tuple[str, str, str], Decimal] = {}
    every: dict[tuple[str, str, str], Decimal] = {}
    for r in rows:
        for dimension, column in columns.items():
            key = (dimension, r[column], r["ChargePeriodStart"][:10])
            every[key] = every.get(key, Decimal(0)) + Decimal(r["EffectiveCost"])
            if r["ChargeCategory"] == "Usage" and r.get("ChargeClass", "") != "Correction":
                usage[key] = usage.get(key, Decimal(0)) + Decimal(r["EffectiveCost"])
    checked = [a for a in anomalies if a.dimension in columns]
    assert checked
    for anomaly in checked:
        key = (anomaly.dimension, anomaly.key, anomaly.day.isoformat())
        assert anomaly.actual == usage[key].quantize(Decimal("0.01")), key
        sign = 1 if anomaly.direction == "spike" else -1
        assert all(sign * Decimal(c["delta"]) > 0 and 0 < c["share"] <= 1 for c in anomaly.root_cause)
    assert any(every[k] != usage[k] for k in every if k[2] == "2026-03-01")  # tax and purchases on the 1st
    # The planted incident: DynamoDB doubles on Mar 13 (two days before --end), found with its table first.
    service = next(
        a for a in anomalies if (a.dimension, a.key, a.day) == ("service", "Amazon DynamoDB", date(2026, 3, 13))
    )
    days = ("2026-03-06", "2026-02-27", "2026-02-20", "2026-02-13")
    baseline = sum(usage[("service", "Amazon DynamoDB", d)] for d in days) / 4
    assert float(usage[("service", "Amazon DynamoDB", "2026-03-13")] / baseline) == pytest.approx(2.0, rel=0.15)
    assert service.direction == "spike"
    top = service.root_cause[0]
    assert (top["dimension"], top["name"]) == ("resource", "search-sessions")
    assert top["key"].startswith("arn:aws:dynamodb:") and top["share"] == pytest.approx(1.0)
    assert SeriesForecast.objects.filter(organization=demo, dimension="total").count() >= 1
    assert RightsizingRun.objects.filter(organization=demo).count() == 1
    budgets = {b.name: b.last_status for b in Budget.objects.filter(organization=demo)}
    assert {"ok", "at_risk", "breached"} <= set(budgets.values()), budgets
    alerts = BudgetAlert.objects.filter(budget__organization=demo)
    assert alerts.exists() and set(alerts.values_list("status", flat=True)) == {"sent"}
    # One email per budget evaluation that crossed thresholds, listing them all.
    emailed = alerts.values_list("budget_id", flat=True).distinct().count()
    assert seeded_demo.emails_sent == emailed
    assert not OptimizationRun.objects.exists()  # queued only where a worker drains the queue

    # Running it again changes nothing.
    settings.VAR_DIR = seeded_demo.var_dir
    monkeypatch.setenv("DEMO_PASSWORD", DEMO_PASSWORD)
    before = LineItem.objects.count(), billed
    out = StringIO()
    call_command("seed_demo", "--end", DEMO_END, "--months", DEMO_MONTHS, stdout=out)
    assert "unchanged" in out.getvalue()
    assert mail.outbox == []  # no alert twice
    assert (LineItem.objects.count(), billed) == before
    assert billed > Decimal(0)


def _run(organization: Organization, rightsize: bool):
    run = optimization_run_create(
        organization=organization, parameters={"lookback_days": 30, "rightsize": rightsize}, enqueue=False
    )
    run = optimization_run_execute(run)
    assert run.status == "succeeded", run.error
    return run.results


def _covered_rows(var_dir, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    frames = [pd.read_csv(path, low_memory=False) for path in sorted((var_dir / "demo").glob("*/*.csv.gz"))]
    rows = pd.concat(frames, ignore_index=True)
    when = pd.to_datetime(rows["ChargePeriodStart"], utc=True)
    usage = (
        (rows["ChargeCategory"] == "Usage")
        & rows["x_InstanceType"].notna()
        & (rows["CommitmentDiscountStatus"] == "Used")
        & (when >= start)
        & (when < end)
    )
    covered = rows[usage]
    # Every covered EC2 row of the demo is one hour, so its quantity is its instance-hours in the window.
    hours = (pd.to_datetime(covered["ChargePeriodEnd"], utc=True) - when[usage]) / pd.Timedelta(hours=1)
    assert (hours == 1).all()
    return covered


def test_rightsize_keeps_the_demo_commitments_sunk(seeded_demo):
    demo = Organization.objects.get(slug="demo")
    changes = rightsizing_changes(demo)
    assert changes, "the demo's rightsizing run changes resources"

    plain = _run(demo, rightsize=False)
    chained = _run(demo, rightsize=True)
    assert plain["window"] == chained["window"]
    start, end = pd.Timestamp(plain["window"]["start"]), pd.Timestamp(plain["window"]["end"])
    covered = _covered_rows(seeded_demo.var_dir, start, end)
    before = float(covered["ConsumedQuantity"].sum())
    assert before > 0
    assert float(plain["sunk_instance_hours"]) == pytest.approx(before, rel=1e-6)

    def stays_covered(row) -> bool:
        if row["ResourceId"] not in changes:
            return True
        new = changes[row["ResourceId"]]
        if new is None:
            return False  # stopped
        if row["CommitmentDiscountCategory"] == "Spend":
            return True  # a Compute savings plan covers the new type
        return new.split(".")[0] == row["x_InstanceType"].split(".")[0]

    keep = covered.apply(stays_covered, axis=1)
    expected = float(covered.loc[keep, "ConsumedQuantity"].sum())
    freed = covered.loc[~keep].groupby("CommitmentDiscountId")["ConsumedQuantity"].sum()
    # No other usage of a freed SKU runs in the demo, so nothing is re-used: freed capacity is stranded.
    assert float(chained["sunk_instance_hours"]) == pytest.approx(expected, rel=1e-6)
    assert float(chained["stranded_instance_hours"]) == pytest.approx(float(freed.sum()), rel=1e-6)
    assert {k: float(v) for k, v in chained["stranded_by_commitment"].items()} == pytest.approx(freed.to_dict())
    # The savings plans keep every hour they covered; nothing a commitment covered vanishes.
    plans = covered[covered["CommitmentDiscountCategory"] == "Spend"].groupby("CommitmentDiscountId")
    for commitment, quantity in plans["ConsumedQuantity"].sum().items():
        assert float(chained["sunk_by_commitment"][commitment]) == pytest.approx(float(quantity), rel=1e-6)
    for commitment, hours in plain["sunk_by_commitment"].items():
        kept = float(chained["sunk_by_commitment"].get(commitment, 0))
        assert kept + float(chained["stranded_by_commitment"].get(commitment, 0)) == pytest.approx(float(hours))
    # Rightsizing only removes capacity: the all-on-demand baseline of what is left to serve never rises.
    assert float(chained["all_on_demand"]) <= float(plain["all_on_demand"])
    assert any("Existing commitments stay sunk" in line for line in chained["explanation"])


def test_demo_commitment_inventory(seeded_demo):
    """The demo's FOCUS data carries its reservations and savings plans but no end dates (FOCUS has none on line
    items; the seed imports them from the demo's AWS inventory files): the inventory lists those in force in the
    last 30 days, with utilization and coverage equal to sums over the generated files."""
    from finops.commitments.selectors import commitment_inventory
    from finops.demo import org as demo_org

    demo = Organization.objects.get(slug="demo")
    inventory = commitment_inventory(organization=demo, today=date(2026, 3, 15))
    frames = [
        pd.read_csv(p, dtype=str, keep_default_na=False) for p in (seeded_demo.var_dir / "demo").glob("*/*.csv.gz")
    ]
    raw = pd.concat(frames, ignore_index=True).replace("NULL", "")
    starts = pd.to_datetime(raw["ChargePeriodStart"], utc=True)
    end = pd.Timestamp("2026-03-15T00:00:00Z")  # the day after the last day of data
    raw = raw[(starts >= end - pd.Timedelta(days=30)) & (starts < end)]
    cost = raw["EffectiveCost"].map(Decimal)
    listed = [Decimal(a) if a else Decimal(b) for a, b in zip(raw["ListCost"], raw["EffectiveCost"], strict=True)]
    raw = raw.assign(cost=cost, listed=listed, family=raw["x_InstanceType"].str.split(".").str[0])
    mine = raw[raw["CommitmentDiscountId"] != ""]
    expected_ids = sorted(set(mine["CommitmentDiscountId"]))
    # Every commitment in force in the window: the ones bought before the generated months.
    in_force = sorted(c.id for c in demo_org.COMMITMENTS if c.start_month < 0)
    assert expected_ids == in_force
    assert sorted(c.id for c in inventory.commitments) == expected_ids
    assert inventory.document()["unknown_end"] == 0
    usage = raw[(raw["ChargeCategory"] == "Usage") & (raw["CommitmentDiscountStatus"] != "Unused")]
    for c in inventory.commitments:
        rows = mine[mine["CommitmentDiscountId"] == c.id]
        used = rows[rows["CommitmentDiscountStatus"] == "Used"]
        unused = rows[(rows["CommitmentDiscountStatus"] == "Unused") | (rows["ChargeCategory"] == "Purchase")]
        assert c.used_cost == sum(used["cost"], Decimal(0)) and c.unused_cost == sum(unused["cost"], Decimal(0))
        assert c.utilization == pytest.approx(float(c.used_cost / (c.used_cost + c.unused_cost)))
        assert 0 < c.utilization <= 1
        account, region, family = used.iloc[0][["BillingAccountId", "RegionId", "family"]]
        eligible = usage[usage["BillingAccountId"] == account]
        if c.kind == "reservation":
            eligible = eligible[(eligible["RegionId"] == region) & (eligible["family"] == family)]
        else:
            eligible = eligible[eligible["ServiceCategory"] == "Compute"]
        assert c.covered_list_cost == sum(used["listed"], Decimal(0))
        assert c.eligible_list_cost == sum(eligible["listed"], Decimal(0))
        assert c.coverage == pytest.approx(float(c.covered_list_cost / c.eligible_list_cost))
        assert c.end_source == "import" and c.days_to_end == (c.end.date() - date(2026, 3, 15)).days
        # Its size from CommitmentDiscountQuantity (Used + Unused instance-hours per hour) is the demo's count.
        assert c.units == next(d.count for d in demo_org.COMMITMENTS if d.id == c.id)


def test_the_foundations_validator_passes_the_demos_focus_1_0_export(seeded_demo, tmp_path):
    """The demo's whole bill (both providers, all-digit account ids) exported as FOCUS 1.0: every rule of
    focus-validator 1.0.0 passes but the documented overrides (.ci/focus-validator-overrides.yaml)."""
    import yaml

    from tests.usage.test_focus_validator import OVERRIDES, RULES_IN_1_0, _validate

    export = tmp_path / "demo-1.0.csv"
    call_command("export_focus", str(export), "--org", "demo", "--version", "1.0", stderr=StringIO())
    exported = read_rows(export)
    assert {r["ProviderName"] for r in exported} == {"AWS", "Microsoft"}
    assert len(exported) == LineItem.objects.filter(organization__slug="demo").count()
    assert all(r["BillingAccountId"].isdigit() for r in exported)  # what the validator's own CSV loader misreads
    results = _validate(export, tmp_path / "report.xml")
    skipped = set(yaml.safe_load(OVERRIDES.read_text())["overrides"])
    assert len(results) == RULES_IN_1_0
    assert {rule for rule, result in results.items() if result == "failed"} == set()
    assert {rule for rule, result in results.items() if result == "skipped"} == skipped


def test_demo_overview_shows_both_providers(seeded_demo):
    """The demo bills AWS and an Azure subscription: the overview stacked by provider shows both, and its
    month-to-date per provider is the generated files' billed cost (read here with csv), in their currency."""
    from django.core.cache import cache
    from django.test import Client

    cache.clear()
    client = Client()
    assert client.login(username="finance", password=DEMO_PASSWORD)
    page = client.get("/?org=demo&stack=provider")
    assert page.status_code == 200
    as_of, currency = page.context["as_of"], page.context["currency"]
    month = as_of.strftime("%Y-%m")
    expected: dict[str, Decimal] = {}
    currencies = set()
    for path in (seeded_demo.var_dir / "demo").glob("*/*.csv.gz"):
        with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                currencies.add(row["BillingCurrency"])
                day = row["ChargePeriodStart"][:10]
                billed = row["BilledCost"] not in ("", "NULL")
                if day[:7] == month and day <= as_of.isoformat() and row["BillingCurrency"] == currency and billed:
                    provider = row["ProviderName"]
                    expected[provider] = expected.get(provider, Decimal(0)) + Decimal(row["BilledCost"])
    assert {"AWS", "Microsoft"} <= set(expected)
    assert page.context["other_currencies"] == sorted(currencies - {currency})
    names = {trace["name"] for trace in page.context["spend_figure"]["data"]}
    assert {"AWS", "Microsoft"} <= names
    assert page.context["mtd"] == sum(expected.values(), Decimal(0))
    month_rows = {row["month"]: row["total"] for row in page.context["month_table"]}
    assert month_rows[as_of.replace(day=1)] == page.context["mtd"]


def test_seed_demo_imports_the_demos_commitment_terms(seeded_demo):
    """The seed writes the demo's describe-reserved-instances / describe-savings-plans files beside its FOCUS files
    and imports them: every commitment of org.COMMITMENTS, its term from its start month and length (month 0 is
    DEMO_MONTHS - 1 months before DEMO_END's month), so the inventory shows real ends. None of the demo's
    commitments in force ends within 90 days of DEMO_END: the seed sent no expiry email."""
    from finops.commitments.models import CommitmentExpiryAlert, ImportedCommitmentTerm
    from finops.commitments.selectors import commitment_inventory
    from finops.commitments.services import commitment_expiry_alerts
    from finops.demo import org as demo_org

    demo = Organization.objects.get(slug="demo")
    folder = seeded_demo.var_dir / "demo" / f"{DEMO_END}-{DEMO_MONTHS}m"
    names = sorted(p.name for p in folder.glob("*.json"))
    assert names == ["aws_ec2_describe-reserved-instances.json", "aws_savingsplans_describe-savings-plans.json"]
    first_month = pd.Timestamp(DEMO_END[:8] + "01", tz="UTC") - pd.DateOffset(months=int(DEMO_MONTHS) - 1)
    expected = {}
    for c in demo_org.COMMITMENTS:
        start = first_month + pd.DateOffset(months=c.start_month)
        expected[c.id.rpartition("/")[2]] = (start, start + pd.DateOffset(months=c.term_months))
    rows = ImportedCommitmentTerm.objects.filter(organization=demo)
    assert {r.commitment_id: (pd.Timestamp(r.start), pd.Timestamp(r.end)) for r in rows} == expected
    assert {r.source_file for r in rows} == set(names)
    inventory = commitment_inventory(organization=demo, today=date.fromisoformat(DEMO_END))
    assert inventory.commitments and all(c.end_source == "import" for c in inventory.commitments)
    for c in inventory.commitments:
        assert pd.Timestamp(c.end) == expected[c.id.rpartition("/")[2]][1]
    assert min(c.days_to_end for c in inventory.commitments) > 90
    assert not CommitmentExpiryAlert.objects.filter(organization=demo).exists()
    assert "demo: 6 commitment term(s) imported." in seeded_demo.output
    assert "demo: 0 commitment expiry alert email(s) sent." in seeded_demo.output
    # Later, on a controlled clock: the commitment ending first gets its 90-day email, once.
    soonest = min(inventory.commitments, key=lambda c: c.end)
    day = (pd.Timestamp(soonest.end) - pd.Timedelta(days=90)).date()
    mail.outbox = []
    sent = commitment_expiry_alerts(organization=demo, today=day)
    assert [(a.commitment_id, a.threshold_days) for a in sent] == [(soonest.id, 90)]
    assert commitment_expiry_alerts(organization=demo, today=day) == []
    assert len(mail.outbox) == 1 and "ends in 90 days" in mail.outbox[0].subject
