"""The commitment inventory on real billing files ingested through the real path: the public AWS CUR samples (no
commitment line items), the public FOCUS sample (two savings plans, no end dates) and a CUR file with a reservation
and a savings plan built on the sample's header. Expectations are computed from the raw files with pandas/Decimal.
The command, the API and the page give the same inventory; engineers are refused, unknown organizations too."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from finops.commitments.selectors import commitment_inventory
from tests import factories
from tests.commitments.cur_helpers import PAYER, RI_ARN, RI_END, SP_ARN, SP_END, commitment_rows, write_cur
from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE, SHARED_DATA

pytestmark = pytest.mark.django_db
KOKU_CUR = SHARED_DATA / "aws_cur" / "koku_2022-07-01-alt-columns.csv"
TODAY = date(2026, 12, 1)


@pytest.fixture
def cur_org(tmp_path):
    organization = factories.organization("curco")
    factories.ingest_files(organization, [write_cur(tmp_path / "cur.csv", commitment_rows())])
    return organization


@pytest.fixture
def focus_org():
    organization = factories.organization("focusco")
    factories.ingest_files(organization, [FOCUS_SAMPLE])
    return organization


def _d(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def test_cur_samples_have_no_commitments():
    for number, path in enumerate((CUR_SAMPLE, KOKU_CUR)):
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        # Independent: the commitment ARN columns (any spelling) are there and empty on every row.
        arn_columns = [c for c in raw.columns if re.sub(r"[^a-z]", "", c.lower()).endswith("arn")]
        assert arn_columns and all((raw[c] == "").all() for c in arn_columns), path
        organization = factories.organization(f"sample-{number}")
        factories.ingest_files(organization, [path])
        inventory = commitment_inventory(organization=organization, today=TODAY)
        assert inventory.window_end is not None and inventory.commitments == []


def test_focus_sample_savings_plans_without_end_dates(focus_org):
    raw = pd.read_csv(FOCUS_SAMPLE, dtype=str, keep_default_na=False, na_values=[])
    raw = raw.replace("NULL", "")
    starts = pd.to_datetime(raw["ChargePeriodStart"], utc=True)
    window_end = pd.Timestamp(starts.max().date(), tz="UTC") + pd.Timedelta(days=1)
    window_start = window_end - pd.Timedelta(days=30)
    raw = raw[(starts >= window_start) & (starts < window_end)]
    listed = [_d(a) if a else _d(b) for a, b in zip(raw["ListCost"], raw["EffectiveCost"], strict=True)]
    raw = raw.assign(listed=listed)
    used = raw[(raw["CommitmentDiscountId"] != "") & (raw["CommitmentDiscountStatus"] == "Used")]
    expected_ids = sorted(set(raw.loc[raw["CommitmentDiscountId"] != "", "CommitmentDiscountId"]))
    assert len(expected_ids) == 2

    inventory = commitment_inventory(organization=focus_org, today=TODAY)
    assert inventory.window_start == window_start.to_pydatetime()
    assert sorted(c.id for c in inventory.commitments) == expected_ids
    for commitment in inventory.commitments:
        mine = used[used["CommitmentDiscountId"] == commitment.id]
        account = mine["BillingAccountId"].iloc[0]
        eligible = raw[
            (raw["ChargeCategory"] == "Usage")
            & (raw["CommitmentDiscountStatus"] != "Unused")
            & (raw["BillingAccountId"] == account)
            & (raw["ServiceCategory"] == "Compute")
        ]
        covered = sum(mine["listed"], Decimal(0))
        assert commitment.kind == "savings_plan" and commitment.category == "Spend"
        assert commitment.covered_list_cost == covered
        assert commitment.eligible_list_cost == sum(eligible["listed"], Decimal(0))
        assert commitment.coverage == pytest.approx(float(covered / commitment.eligible_list_cost))
        assert commitment.used_cost == sum((_d(v) for v in mine["EffectiveCost"]), Decimal(0))
        # The sample's covered rows carry an effective cost of 0 and no Unused rows: utilization is unknown.
        assert commitment.used_cost == 0 and commitment.utilization is None and commitment.hourly_commitment is None
        assert commitment.end is None and commitment.start is None and commitment.days_to_end is None
    document = inventory.document()
    assert document["unknown_end"] == 2 and "FOCUS" in document["note"]


def _cur_expectations() -> dict[str, dict]:
    rows = commitment_rows()

    def total(kind: str, column: str) -> Decimal:
        return sum((_d(r.get(column, "")) for r in rows if r["lineItem/LineItemType"] == kind), Decimal(0))

    hours = Decimal(30 * 24)
    ri_used = total("DiscountedUsage", "reservation/EffectiveCost")
    ri_unused = total("RIFee", "reservation/UnusedRecurringFee") + total(
        "RIFee", "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"
    )
    sp_used = total("SavingsPlanCoveredUsage", "savingsPlan/SavingsPlanEffectiveCost")
    sp_unused = total("SavingsPlanRecurringFee", "savingsPlan/TotalCommitmentToDate") - total(
        "SavingsPlanRecurringFee", "savingsPlan/UsedCommitment"
    )
    compute_usage = [
        r for r in rows if r["lineItem/LineItemType"] in ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")
    ]
    ri_covered = total("DiscountedUsage", "pricing/publicOnDemandCost")
    ri_eligible = sum(
        (
            _d(r["pricing/publicOnDemandCost"])
            for r in compute_usage
            if r["product/regionCode"] == "us-east-1" and r["product/instanceType"].startswith("m5.")
        ),
        Decimal(0),
    )
    sp_covered = total("SavingsPlanCoveredUsage", "pricing/publicOnDemandCost")
    sp_eligible = sum((_d(r["pricing/publicOnDemandCost"]) for r in compute_usage), Decimal(0))
    return {
        RI_ARN: {
            "used": ri_used, "unused": ri_unused, "hourly": (ri_used + ri_unused) / hours,
            "covered": ri_covered, "eligible": ri_eligible, "end": RI_END,
        },
        SP_ARN: {
            "used": sp_used, "unused": sp_unused, "hourly": (sp_used + sp_unused) / hours,
            "covered": sp_covered, "eligible": sp_eligible, "end": SP_END,
        },
    }  # fmt: skip


def test_cur_reservation_and_savings_plan(cur_org):
    expected = _cur_expectations()
    inventory = commitment_inventory(organization=cur_org, today=TODAY)
    assert [c.id for c in inventory.commitments] == [RI_ARN, SP_ARN]  # ending soonest first
    for c in inventory.commitments:
        e = expected[c.id]
        assert (c.used_cost, c.unused_cost) == (e["used"], e["unused"])
        assert c.utilization == pytest.approx(float(e["used"] / (e["used"] + e["unused"])))
        assert c.hourly_commitment == e["hourly"]
        assert (c.covered_list_cost, c.eligible_list_cost) == (e["covered"], e["eligible"])
        assert c.coverage == pytest.approx(float(e["covered"] / e["eligible"]))
        assert c.end == pd.Timestamp(e["end"]).to_pydatetime()
        assert c.days_to_end == (pd.Timestamp(e["end"]).date() - TODAY).days
        assert c.billing_account_id == PAYER
    ri, sp = inventory.commitments
    assert ri.utilization == pytest.approx(79.2 / 86.4) and ri.hourly_commitment == Decimal("0.12")
    assert (ri.kind, ri.region_id, ri.family, ri.units) == ("reservation", "us-east-1", "m5", Decimal(2))
    assert (ri.offering_class, ri.term, ri.payment) == ("standard", "1yr", "No Upfront")
    assert (sp.kind, sp.region_id, sp.family, sp.plan_type) == ("savings_plan", None, None, "ComputeSavingsPlans")
    assert sp.hourly_commitment == Decimal(1) and sp.utilization == pytest.approx(600 / 720)


def test_command_json_and_table(cur_org, focus_org):
    out = StringIO()
    call_command("commitments", "--org", "curco", "--json", "--today", TODAY.isoformat(), stdout=out)
    document = json.loads(out.getvalue())
    assert document == json.loads(json.dumps(commitment_inventory(organization=cur_org, today=TODAY).document()))
    ri = document["commitments"][0]
    assert ri["id"] == RI_ARN and ri["used_cost"] == "79.2" and ri["unused_cost"] == "7.2"
    assert ri["hourly_commitment"] == "0.12" and ri["days_to_end"] == 30 and ri["end_known"] is True

    table = StringIO()
    call_command("commitments", "--org", "focusco", stdout=table)
    text = table.getvalue()
    assert "arn:aws:savingsplans::365499461711" in text and "unknown" in text
    assert "2 without an end date in the data" in text


def test_command_failure_paths(db):
    with pytest.raises(CommandError, match="no organization 'nope'"):
        call_command("commitments", "--org", "nope", "--json")
    factories.organization("empty")
    with pytest.raises(CommandError, match="not a date"):
        call_command("commitments", "--org", "empty", "--today", "tomorrow")
    out = StringIO()
    call_command("commitments", "--org", "empty", stdout=out)
    assert "No reservations or savings plans" in out.getvalue()
    out = StringIO()
    call_command("commitments", "--org", "empty", "--json", stdout=out)
    assert json.loads(out.getvalue())["commitments"] == [] and json.loads(out.getvalue())["window"]["start"] is None


def _client(organization, username: str, role: str) -> APIClient:
    team = factories.team(organization, "platform")
    membership = factories.member(organization, username, role, teams=[team] if role == "engineer" else None)
    client = APIClient()
    client.force_login(membership.user)
    return client


def test_api_access_policy(cur_org, focus_org):
    url = "/api/v1/commitments/"
    expected = json.loads(json.dumps(commitment_inventory(organization=cur_org, today=TODAY).document()))
    for role in ("admin", "finance", "viewer"):
        response = _client(cur_org, f"c-{role}", role).get(url, {"org": "curco", "today": TODAY.isoformat()})
        assert response.status_code == 200, (role, response.content)
        assert response.json() == expected
    engineer = _client(cur_org, "c-engineer", "engineer")
    response = engineer.get(url, {"org": "curco"})
    assert response.status_code == 403 and "engineer" in response.json()["error"]["message"]
    # A member of curco only: another organization does not exist for them; unknown ones neither.
    finance = _client(cur_org, "c-finance", "finance")
    assert finance.get(url, {"org": "focusco"}).status_code == 404
    assert finance.get(url, {"org": "no-such-org"}).status_code == 404
    assert finance.get(url, {"org": "curco", "today": "soon"}).status_code == 400
    assert APIClient().get(url).status_code in (401, 403)
    # A read token of the organization sees the same.
    key = factories.token_key(factories.user("c-finance"), cur_org, "read")
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert token.get(url, {"today": TODAY.isoformat()}).json() == expected


def test_openapi_schema_lists_the_endpoint(cur_org):
    client = _client(cur_org, "c-admin", "admin")
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/commitments/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"today"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "commitments" in schema["components"]["schemas"][ref]["properties"]


def test_page_and_navigation(cur_org, focus_org):
    finance = _client(focus_org, "p-finance", "finance")
    page = finance.get("/commitments/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/commitments/"' in html and "arn:aws:savingsplans::961082193871" in html
    assert 'id="unknown-end-note"' in html
    engineer = _client(focus_org, "p-engineer", "engineer")
    assert engineer.get("/commitments/").status_code == 403
    assert 'href="/commitments/"' not in engineer.get("/").content.decode()
    viewer = _client(cur_org, "p-viewer", "viewer")
    html = viewer.get("/commitments/").content.decode()
    assert RI_ARN in html and "2026-12-31" in html and "91.7%" in html


def test_inventory_window_is_the_last_30_days(cur_org):
    inventory = commitment_inventory(organization=cur_org, today=TODAY)
    assert inventory.window_end.date() == date(2026, 12, 1)
    assert inventory.window_end - inventory.window_start == timedelta(days=30)


def test_focus_reservation_units_from_commitment_discount_quantity(tmp_path):
    """FOCUS 1.1+ CommitmentDiscountQuantity (kept in extras): Used + Unused instance-hours of a reservation over
    the hours they span give its size (3 here: 2 used and 1 unused each hour). A quantity that is not a number is
    left out (a second reservation with only such quantities has no size) rather than failing the query."""
    from tests.optimizer.optruns_helpers import COLUMNS
    from tests.usage.helpers import write_csv

    rid = "arn:aws:ec2:eu-west-1:123456789012:reserved-instances/focus-ri"
    bad = "arn:aws:ec2:eu-west-1:123456789012:reserved-instances/focus-ri-bad"
    rows = []
    for h, cid in [(h, rid) for h in range(24)] + [(0, bad)]:
        start, end = (
            f"2026-05-01T{h:02d}:00:00Z",
            f"2026-05-01T{h + 1:02d}:00:00Z" if h < 23 else "2026-05-02T00:00:00Z",
        )
        for status, quantity in (("Used", "2"), ("Unused", "1")):
            rows.append(
                {k: "" for k in COLUMNS}
                | {
                    "BilledCost": "0", "EffectiveCost": "0.1" if status == "Used" else "0.05", "ListCost": "0.2",
                    "BillingAccountId": "123456789012", "BillingCurrency": "USD",
                    "BillingPeriodStart": "2026-05-01T00:00:00Z", "BillingPeriodEnd": "2026-06-01T00:00:00Z",
                    "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeCategory": "Usage",
                    "ProviderName": "AWS", "PricingQuantity": quantity, "PricingUnit": "Hours",
                    "ConsumedQuantity": quantity, "ConsumedUnit": "Hours", "ServiceCategory": "Compute",
                    "ServiceName": "Amazon Elastic Compute Cloud", "RegionId": "eu-west-1",
                    "x_InstanceType": "m5.large", "CommitmentDiscountId": cid, "CommitmentDiscountStatus": status,
                    "CommitmentDiscountType": "Reserved Instance", "CommitmentDiscountCategory": "Usage",
                    "CommitmentDiscountQuantity": quantity if cid == rid else "n/a", "CommitmentDiscountUnit": "Hours",
                }
            )  # fmt: skip
    columns = [*COLUMNS, "CommitmentDiscountCategory", "CommitmentDiscountQuantity", "CommitmentDiscountUnit"]
    organization = factories.organization("focusri")
    factories.ingest_files(organization, [write_csv(tmp_path / "focus-ri.csv", rows, columns)])
    by_id = {c.id: c for c in commitment_inventory(organization=organization, today=TODAY).commitments}
    c = by_id[rid]
    assert c.kind == "reservation" and c.units == Decimal(3)  # (24 x 2 + 24 x 1) / 24 hours
    assert c.used_cost == Decimal("2.4") and c.unused_cost == Decimal("1.2") and c.end is None
    assert c.utilization == pytest.approx(2 / 3) and by_id[bad].units is None
