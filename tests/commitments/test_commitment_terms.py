"""Commitment terms imported from the AWS CLI's inventory outputs (describe-reserved-instances, describe-savings-plans
JSON): the parser on realistic files, bad files refused with nothing written, the matching rule, the inventory using
the imported ends (the billing data's own end winning), and an expiry alert sent once for an imported end."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from finops.commitments.inventory import Observation, build_inventory
from finops.commitments.models import CommitmentExpiryAlert, ImportedCommitmentTerm
from finops.commitments.selectors import commitment_inventory
from finops.commitments.services import commitment_expiry_alerts
from finops.commitments.terms import CommitmentTerm, CommitmentTermsError, parse_commitment_terms, term_for
from tests import factories
from tests.budgets.budget_helpers import smtp_settings
from tests.commitments.cur_helpers import RI_ARN, RI_END, commitment_rows, write_cur
from tests.conftest import FOCUS_SAMPLE

DATA = Path(__file__).parent / "data"
RI_FILE = DATA / "describe-reserved-instances.json"
SP_FILE = DATA / "describe-savings-plans.json"
SAMPLE_PLAN = "arn:aws:savingsplans::365499461711:savingsplan/37985e61-4fcb-4023-9dd7-e524c80342a2"
SAMPLE_PLAN_2 = "arn:aws:savingsplans::961082193871:savingsplan/493f5705-db1c-4867-8e5c-ee9a66fa6d3f"


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- parser (no database)


def test_reserved_instances_file():
    terms = parse_commitment_terms(RI_FILE.read_bytes(), RI_FILE.name)
    assert [(t.id, t.kind, t.arn, t.start, t.end, t.units, t.hourly_commitment, t.state) for t in terms] == [
        (
            "b847fa93-c736-4eae-bca1-e3147EXAMPLE", "reservation", "",
            _utc(2024, 6, 30, 9, 12, 45, 312000), _utc(2025, 6, 30, 9, 12, 44), Decimal(3), None, "active",
        ),
        (
            "2fa1c5e0-7b3d-4c8e-9f12-0a6b4EXAMPLE", "reservation", "",
            _utc(2024, 1, 15, 22, 3, 20), _utc(2027, 1, 14, 22, 3, 19), Decimal(12), None, "active",
        ),
    ]  # fmt: skip


def test_savings_plans_file():
    terms = parse_commitment_terms(SP_FILE.read_text(), SP_FILE.name)
    assert [(t.id, t.kind, t.arn, t.start, t.end, t.units, t.hourly_commitment) for t in terms] == [
        (
            "37985e61-4fcb-4023-9dd7-e524c80342a2", "savings_plan", SAMPLE_PLAN,
            _utc(2023, 12, 15), _utc(2024, 12, 15), None, Decimal("2.5"),
        ),
        (
            "493f5705-db1c-4867-8e5c-ee9a66fa6d3f", "savings_plan", SAMPLE_PLAN_2,
            _utc(2022, 3, 1, 17, 45), _utc(2025, 2, 28, 17, 44, 59), None, Decimal("0.875"),
        ),
    ]  # fmt: skip


def _broken(path: Path, key: str, index: int, field: str, value) -> str:
    document = json.loads(path.read_text())
    document[key][index][field] = value
    return json.dumps(document)


@pytest.mark.parametrize(
    ("path", "key", "index", "field", "value", "message"),
    [
        (RI_FILE, "ReservedInstances", 1, "End", "2027-13-01T00:00:00Z", "ReservedInstances[1].End: not an ISO"),
        (RI_FILE, "ReservedInstances", 0, "Start", None, "ReservedInstances[0].Start: expected an ISO 8601"),
        (RI_FILE, "ReservedInstances", 1, "End", "2023-01-01T00:00:00Z", "ReservedInstances[1].End: 2023-01-01"),
        (RI_FILE, "ReservedInstances", 0, "InstanceCount", 0, "ReservedInstances[0].InstanceCount: expected a pos"),
        (RI_FILE, "ReservedInstances", 0, "InstanceCount", "3", "ReservedInstances[0].InstanceCount"),
        (RI_FILE, "ReservedInstances", 1, "InstanceCount", True, "ReservedInstances[1].InstanceCount"),
        (RI_FILE, "ReservedInstances", 0, "Duration", -1, "ReservedInstances[0].Duration"),
        (RI_FILE, "ReservedInstances", 1, "ReservedInstancesId", "", "ReservedInstances[1].ReservedInstancesId"),
        (SP_FILE, "savingsPlans", 1, "end", "soon", "savingsPlans[1].end: not an ISO 8601 time: 'soon'"),
        (SP_FILE, "savingsPlans", 0, "commitment", "2,5", "savingsPlans[0].commitment: not a decimal"),
        (SP_FILE, "savingsPlans", 0, "commitment", "0", "savingsPlans[0].commitment: expected a positive"),
        (SP_FILE, "savingsPlans", 1, "savingsPlanArn", SAMPLE_PLAN, "savingsPlans[1].savingsPlanArn"),
    ],
)
def test_bad_entries_are_refused_naming_file_index_and_field(path, key, index, field, value, message):
    with pytest.raises(CommitmentTermsError) as error:
        parse_commitment_terms(_broken(path, key, index, field, value), "inventory.json")
    assert str(error.value).startswith("inventory.json: ") and message in str(error.value)


@pytest.mark.parametrize(
    "text",
    ['{"Reservations": []}', "[]", '{"ReservedInstances": {}}', '{"SavingsPlans": []}', "", "not json"],
)
def test_a_file_that_is_neither_output_is_refused_by_name(text):
    with pytest.raises(CommitmentTermsError, match=r"^export\.json: (neither output|not JSON)") as error:
        parse_commitment_terms(text, "export.json")
    assert "expected `aws ec2 describe-reserved-instances --output json`" in str(error.value)


def test_a_repeated_id_is_refused():
    document = json.loads(RI_FILE.read_text())
    document["ReservedInstances"].append(document["ReservedInstances"][0])
    with pytest.raises(CommitmentTermsError, match=r"ReservedInstances\[2\]: id 'b847fa93.*' repeats entry 0"):
        parse_commitment_terms(json.dumps(document), "ri.json")


def _term(term_id: str, arn: str = "", end: datetime | None = None) -> CommitmentTerm:
    kind = "savings_plan" if arn else "reservation"
    return CommitmentTerm(term_id, kind, arn, _utc(2024, 1, 1), end or _utc(2027, 1, 1), None, None, "active")


def test_matching_rule():
    ri = _term("4f1c2a9e")
    plan = _term("6e0d3f7a", "arn:aws:savingsplans::204938571623:savingsplan/6e0d3f7a")
    terms = {t.id: t for t in (ri, plan)}
    assert term_for("arn:aws:ec2:us-east-1:204938571623:reserved-instances/4f1c2a9e", terms) is ri
    assert term_for("4f1c2a9e", terms) is ri  # the bare id (a FOCUS CommitmentDiscountId may be just that)
    assert term_for("arn:aws:ec2:us-east-1:204938571623:reserved-instances/x4f1c2a9e", terms) is None
    assert term_for("arn:aws:ec2:us-east-1:204938571623:reserved-instances/4f1c2a9e-2", terms) is None
    assert term_for("arn:aws:savingsplans::204938571623:savingsplan/6e0d3f7a", terms) is plan
    assert term_for("6e0d3f7a", terms) is plan
    # Same plan id under another account's ARN: not this plan.
    assert term_for("arn:aws:savingsplans::111122223333:savingsplan/6e0d3f7a", terms) is None


def _observation(commitment_id: str, extras: dict[str, str] | None = None) -> Observation:
    return Observation(
        commitment_id=commitment_id,
        status="Used",
        charge_category="Usage",
        effective_cost=Decimal("10"),
        list_cost=Decimal("15"),
        first_start=_utc(2026, 11, 1),
        last_end=_utc(2026, 12, 1),
        type="Reserved Instance",
        category="Usage",
        extras=extras or {},
    )


def test_inventory_takes_the_imported_end_only_where_the_billing_data_has_none():
    focus_ri = "arn:aws:ec2:us-east-1:1:reserved-instances/aaa"
    cur_ri = "arn:aws:ec2:us-east-1:1:reserved-instances/bbb"
    terms = {"aaa": _term("aaa", end=_utc(2027, 1, 31)), "bbb": _term("bbb", end=_utc(2027, 6, 30))}
    observations = [
        _observation(focus_ri),
        _observation(cur_ri, {"reservation/EndTime": "2026-12-31T23:59:59.000Z"}),
        _observation("arn:aws:ec2:us-east-1:1:reserved-instances/ccc"),
    ]
    by_id = {c.id: c for c in build_inventory(observations, [], today=date(2026, 12, 1), terms=terms)}
    focus, cur, unmatched = by_id[focus_ri], by_id[cur_ri], by_id["arn:aws:ec2:us-east-1:1:reserved-instances/ccc"]
    assert (focus.end, focus.start, focus.end_source, focus.days_to_end) == (
        _utc(2027, 1, 31), _utc(2024, 1, 1), "import", 61
    )  # fmt: skip
    # Disagreement: the billing data's end wins; the imported one stays visible.
    assert (cur.end, cur.end_source, cur.imported_end) == (_utc(2026, 12, 31, 23, 59, 59), "billing", _utc(2027, 6, 30))
    assert cur.document()["imported_end"] == "2027-06-30T00:00:00+00:00"
    assert (unmatched.end, unmatched.end_source, unmatched.imported_end) == (None, None, None)


# ------------------------------------------------------------------------------------------------ with the database


@pytest.fixture
def focus_org():
    organization = factories.organization("termsco")
    factories.ingest_files(organization, [FOCUS_SAMPLE])
    factories.member(organization, "t-fin", "finance", email="fin@example.com")
    return organization


@pytest.mark.django_db
def test_import_command_fills_the_focus_inventory_and_is_idempotent(focus_org, tmp_path):
    before = commitment_inventory(organization=focus_org, today=date(2024, 10, 1))
    assert before.document()["unknown_end"] == 2

    out = StringIO()
    call_command("import_commitment_terms", "--org", "termsco", str(RI_FILE), str(SP_FILE), stdout=out)
    assert "4 commitment term(s) imported (2 reserved instance(s), 2 savings plan(s); 0 replaced)" in out.getvalue()
    row = ImportedCommitmentTerm.objects.get(
        organization=focus_org, commitment_id="37985e61-4fcb-4023-9dd7-e524c80342a2"
    )
    assert (row.source_file, row.arn, row.hourly_commitment) == (SP_FILE.name, SAMPLE_PLAN, Decimal("2.5"))

    document = commitment_inventory(organization=focus_org, today=date(2024, 10, 1)).document()
    assert document["unknown_end"] == 0
    ends = {c["id"]: (c["start"], c["end"], c["end_source"], c["days_to_end"]) for c in document["commitments"]}
    assert ends == {
        SAMPLE_PLAN: ("2023-12-15T00:00:00+00:00", "2024-12-15T00:00:00+00:00", "import", 75),
        SAMPLE_PLAN_2: ("2022-03-01T17:45:00+00:00", "2025-02-28T17:44:59+00:00", "import", 150),
    }

    # The page shows the imported ends, marked so, and no unknown-end note; the API gives the document.
    client = APIClient()
    client.force_login(factories.member(focus_org, "t-viewer", "viewer").user)
    html = client.get("/commitments/").content.decode()
    assert 'id="unknown-end-note"' not in html
    end_cell = re.search(r'data-id="' + re.escape(SAMPLE_PLAN) + r'">.*?<td class="end">(.*?)</td>', html, re.S)
    assert end_cell and "2024-12-15" in end_cell.group(1) and "imported" in end_cell.group(1)
    api = client.get("/api/v1/commitments/", {"today": "2024-10-01"}).json()
    assert {c["id"]: c["end_source"] for c in api["commitments"]} == {SAMPLE_PLAN: "import", SAMPLE_PLAN_2: "import"}

    # Re-import with a changed end: the same ids are replaced, not duplicated.
    changed = json.loads(SP_FILE.read_text())
    changed["savingsPlans"][0]["end"] = "2025-01-31T00:00:00Z"
    path = tmp_path / "sp-renewed.json"
    path.write_text(json.dumps(changed))
    out = StringIO()
    call_command("import_commitment_terms", "--org", "termsco", str(path), stdout=out)
    assert "2 commitment term(s) imported" in out.getvalue() and "2 replaced" in out.getvalue()
    assert ImportedCommitmentTerm.objects.filter(organization=focus_org).count() == 4
    inventory = commitment_inventory(organization=focus_org, today=date(2024, 10, 1))
    assert {c.id: c.end for c in inventory.commitments}[SAMPLE_PLAN] == _utc(2025, 1, 31)


@pytest.mark.django_db
def test_bad_input_exits_2_and_writes_nothing(focus_org, tmp_path):
    bad = tmp_path / "ri.json"
    bad.write_text(_broken(RI_FILE, "ReservedInstances", 1, "End", "31/12/2026"))
    other = tmp_path / "instances.json"
    other.write_text('{"Reservations": [{"Instances": []}]}')  # describe-instances output
    for files, message in (
        ([str(SP_FILE), str(bad)], "ri.json: ReservedInstances[1].End: not an ISO 8601 time: '31/12/2026'"),
        ([str(tmp_path / "missing.json")], "missing.json: cannot read"),
        ([str(FOCUS_SAMPLE)], "focus_sample.csv: not JSON"),
        ([str(SP_FILE), str(other)], "instances.json: neither output; expected `aws ec2 describe-reserved-instances"),
    ):
        with pytest.raises(CommandError) as error:
            call_command("import_commitment_terms", "--org", "termsco", *files)
        assert error.value.returncode == 2 and message in str(error.value)
    assert not ImportedCommitmentTerm.objects.exists()
    with pytest.raises(CommandError, match="no organization 'nope'") as error:
        call_command("import_commitment_terms", "--org", "nope", str(SP_FILE))
    assert error.value.returncode == 2


@pytest.mark.django_db
def test_billing_end_wins_over_a_disagreeing_import(tmp_path):
    organization = factories.organization("curterms")
    factories.ingest_files(organization, [write_cur(tmp_path / "cur.csv", commitment_rows())])
    path = tmp_path / "ri.json"
    ri_id = RI_ARN.rpartition("/")[2]
    entry = {"ReservedInstancesId": ri_id, "Start": "2026-01-01T00:00:00Z", "End": "2027-06-30T00:00:00Z"}
    path.write_text(json.dumps({"ReservedInstances": [entry | {"InstanceCount": 5}]}))
    call_command("import_commitment_terms", "--org", "curterms", str(path), stdout=StringIO())
    ri = {c.id: c for c in commitment_inventory(organization=organization, today=date(2026, 12, 1)).commitments}[RI_ARN]
    assert ri.end == datetime.fromisoformat(RI_END.replace("Z", "+00:00")) and ri.end_source == "billing"
    assert ri.imported_end == _utc(2027, 6, 30) and ri.units == 2  # the CUR's NumberOfReservations wins too


@pytest.mark.django_db
def test_expiry_alert_for_an_imported_end_once_on_a_controlled_clock(focus_org, smtp_server):
    call_command("import_commitment_terms", "--org", "termsco", str(SP_FILE), stdout=StringIO())
    with override_settings(**smtp_settings(smtp_server.port)):
        assert commitment_expiry_alerts(organization=focus_org, today=date(2024, 9, 15)) == []  # 91 days before
        sent = commitment_expiry_alerts(organization=focus_org, today=date(2024, 9, 16))  # 90 days
        assert [(a.commitment_id, a.threshold_days) for a in sent] == [(SAMPLE_PLAN, 90)]
        assert commitment_expiry_alerts(organization=focus_org, today=date(2024, 9, 16)) == []
        assert commitment_expiry_alerts(organization=focus_org, today=date(2024, 10, 1)) == []
    messages = smtp_server.parsed()
    assert len(messages) == 1 and messages[0]["To"].strip() == "fin@example.com"
    assert "ends in 90 days (2024-12-15)" in messages[0]["Subject"]
    alert = CommitmentExpiryAlert.objects.get(organization=focus_org)
    assert (alert.status, alert.ends_at) == ("sent", _utc(2024, 12, 15))


@pytest.mark.django_db
def test_api_post_imports_terms_for_billing_managers_only(focus_org, tmp_path):
    url = "/api/v1/commitments/terms/"
    finance = APIClient()
    finance.force_login(get_user_model().objects.get(username="t-fin"))
    viewer = APIClient()
    viewer.force_login(factories.member(focus_org, "t-viewer2", "viewer").user)
    with SP_FILE.open("rb") as handle:
        assert viewer.post(url, {"file": handle}, format="multipart").status_code == 403
    assert not ImportedCommitmentTerm.objects.exists()

    bad = tmp_path / "ri.json"
    bad.write_text(_broken(RI_FILE, "ReservedInstances", 0, "InstanceCount", -2))
    with SP_FILE.open("rb") as good, bad.open("rb") as broken:
        response = finance.post(url, {"file": [good, broken]}, format="multipart")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "ri.json: ReservedInstances[0].InstanceCount" in error["fields"]["file"][0]
    assert not ImportedCommitmentTerm.objects.exists()

    with SP_FILE.open("rb") as plans, RI_FILE.open("rb") as reservations:
        response = finance.post(url, {"file": [plans, reservations]}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["imported"], body["replaced"]) == (4, 0)
    assert {t["id"]: t["end"] for t in body["terms"]}["37985e61-4fcb-4023-9dd7-e524c80342a2"] == (
        "2024-12-15T00:00:00+00:00"
    )
    assert ImportedCommitmentTerm.objects.filter(organization=focus_org).count() == 4
    inventory = commitment_inventory(organization=focus_org, today=date(2024, 10, 1))
    assert all(c.end_source == "import" for c in inventory.commitments)
