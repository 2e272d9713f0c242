"""export_focus: the FOCUS sample and a CUR ingested into one organization, exported as FOCUS 1.0/1.2/1.3 and
ingested again into another: same rows, same totals per currency to the last digit; each version's mandatory
columns checked against the spec's own column definitions (below, independent of finops.usage.export)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.accounts.models import Organization
from finops.core.money import MoneySum
from finops.usage.export import FocusColumn, focus_columns, focus_csv_lines, focus_values
from finops.usage.models import LineItem
from tests import factories
from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE
from tests.usage.helpers import NULLS, read_rows, write_csv

# --- the spec, written out from FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec --------------------------------------
# 1.0 and 1.2: specification/columns/<name>.md at tags v1.0 and v1.2, "Content Constraints" tables (Feature level
# Mandatory; Allows nulls; Data type; Allowed values). 1.3: specification/datasets/cost_and_usage/columns/
# serviceprovidername.md and hostprovidername.md ("MUST be present", "MUST NOT be null"); ProviderName and
# PublisherName stay mandatory in 1.3 (deprecated, providername.md "Deprecated (version) 1.3").
SERVICE_CATEGORIES = {
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
}  # fmt: skip
# column -> (data type, allows nulls, allowed values or None)
MANDATORY_1_0 = {
    "BilledCost": ("Decimal", False, None),
    "BillingAccountId": ("String", False, None),
    "BillingAccountName": ("String", True, None),
    "BillingCurrency": ("String", False, None),
    "BillingPeriodEnd": ("Date/Time", False, None),
    "BillingPeriodStart": ("Date/Time", False, None),
    "ChargeCategory": ("String", False, {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": ("String", True, {"Correction"}),
    "ChargeDescription": ("String", True, None),
    "ChargePeriodEnd": ("Date/Time", False, None),
    "ChargePeriodStart": ("Date/Time", False, None),
    "ContractedCost": ("Decimal", False, None),
    "EffectiveCost": ("Decimal", False, None),
    "InvoiceIssuerName": ("String", False, None),
    "ListCost": ("Decimal", False, None),
    "PricingQuantity": ("Decimal", True, None),
    "PricingUnit": ("String", True, None),
    "ProviderName": ("String", False, None),
    "PublisherName": ("String", False, None),
    "ServiceCategory": ("String", False, SERVICE_CATEGORIES),
    "ServiceName": ("String", False, None),
}
MANDATORY = {
    "1.0": MANDATORY_1_0,
    "1.2": MANDATORY_1_0,  # the same 21 columns and constraints at v1.2
    "1.3": {
        **MANDATORY_1_0,
        "ServiceProviderName": ("String", False, None),
        "HostProviderName": ("String", False, None),
    },
}
# Recommended/conditional columns the export writes, with the values the spec allows (v1.0 and v1.2 alike).
OPTIONAL_ALLOWED = {
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},  # chargefrequency.md: MUST NOT be null
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other"},
    "CommitmentDiscountCategory": {"Spend", "Usage"},
    "CommitmentDiscountStatus": {"Used", "Unused"},
}
# attributes/datetime_format.md: 'YYYY-MM-DDTHH:mm:ssZ'; attributes/numeric_format.md: no exponent, no thousands
# separators, an optional leading minus.
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")


def read_export(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


def file_totals(rows: list[dict[str, str]], columns=MONEY) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        for column in columns:
            totals[(row["BillingCurrency"], column)] += Decimal(row[column])
    return dict(totals)


def db_totals(slug: str) -> tuple[int, dict[tuple[str, str], Decimal]]:
    items = LineItem.objects.filter(organization__slug=slug)
    sums = items.values("billing_currency").annotate(
        **{
            column: MoneySum(field)
            for column, field in zip(MONEY[:3], ("billed_cost", "effective_cost", "list_cost"), strict=True)
        }
    )
    totals = {(r["billing_currency"], column): r[column] for r in sums.order_by() for column in MONEY[:3]}
    return items.count(), totals


def export(slug: str, path: Path, *options: str) -> Path:
    call_command("export_focus", str(path), "--org", slug, *options, stderr=StringIO())
    return path


@pytest.fixture(scope="module")
def mixed_ingested(django_db_setup, django_db_blocker):
    """The FOCUS sample and the CUR sample in one organization, ingested once for the module and committed (each
    test's own writes roll back with its transaction), deleted after its last test."""
    with django_db_blocker.unblock():
        factories.ingest_command("mixed", FOCUS_SAMPLE, CUR_SAMPLE)
    yield "mixed"
    with django_db_blocker.unblock():
        factories.delete_organizations(list(Organization.objects.filter(slug="mixed")))


@pytest.fixture
def mixed_org(db, mixed_ingested) -> str:
    return mixed_ingested


def _raw_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as stream:
        return sum(1 for _ in csv.DictReader(stream))


# --- round trip ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("version", "fmt"), [("1.0", "csv"), ("1.2", "csv"), ("1.3", "csv"), ("1.2", "parquet")])
def test_round_trip_keeps_every_row_and_every_total_exactly(mixed_org, tmp_path, version, fmt):
    rows_in = _raw_rows(FOCUS_SAMPLE) + _raw_rows(CUR_SAMPLE)
    count_a, totals_a = db_totals(mixed_org)
    assert count_a == rows_in == 2281

    path = export(mixed_org, tmp_path / f"a.{fmt}", "--version", version)
    if fmt == "parquet":
        table = pq.read_table(path)
        as_text = {name: [None if v is None else str(v) for v in table.column(name).to_pylist()] for name in MONEY}
        rows = [
            {"BillingCurrency": c, **{name: as_text[name][i] for name in MONEY}}
            for i, c in enumerate(table.column("BillingCurrency").to_pylist())
        ]
    else:
        rows = read_export(path)[1]
    assert len(rows) == count_a
    exported = file_totals(rows)
    assert {key: exported[key] for key in totals_a} == totals_a  # billed, effective, list: as ingested

    factories.ingest_command("again", path)
    count_b, totals_b = db_totals("again")
    assert count_b == count_a and totals_b == totals_a
    again = LineItem.objects.filter(organization__slug="again")
    contracted = again.values("billing_currency").annotate(total=MoneySum("contracted_cost")).order_by()
    assert {(r["billing_currency"], "ContractedCost"): r["total"] for r in contracted} == {
        key: value for key, value in exported.items() if key[1] == "ContractedCost"
    }
    if fmt == "csv":  # the export of what was re-ingested is the same file, byte for byte
        assert export("again", tmp_path / "b.csv", "--version", version).read_bytes() == path.read_bytes()


def test_round_trip_keeps_tags_and_instance_types(db, tmp_path):
    rows = read_rows(FOCUS_SAMPLE)[:50]
    for i, row in enumerate(rows):
        row["x_InstanceType"] = "m5.large" if i % 2 else ""
    factories.ingest_command("typed", write_csv(tmp_path / "typed.csv", rows))
    path = export("typed", tmp_path / "a.csv")
    factories.ingest_command("again", path)
    fields = ("tags", "instance_type", "resource_id", "charge_period_start", "billed_cost")
    before = list(LineItem.objects.filter(organization__slug="typed").order_by("id").values_list(*fields))
    after = list(LineItem.objects.filter(organization__slug="again").order_by("id").values_list(*fields))
    assert [r[1] for r in after] == [None, "m5.large"] * 25
    assert sum(1 for r in after if r[0]) == sum(1 for r in rows if r["Tags"] not in NULLS) > 0
    assert after == before


# --- the spec's constraints ---------------------------------------------------------------------------------------
def _check_value(column: str, value: str, data_type: str, nullable: bool, allowed, problems: list[str], row: int):
    if value == "":
        if not nullable:
            problems.append(f"row {row}: {column} is null")
        return
    if data_type == "Decimal" and not NUMBER.match(value):
        problems.append(f"row {row}: {column}={value!r} is not a decimal")
    if data_type == "Date/Time" and not DATETIME.match(value):
        problems.append(f"row {row}: {column}={value!r} is not YYYY-MM-DDTHH:mm:ssZ")
    if allowed is not None and value not in allowed:
        problems.append(f"row {row}: {column}={value!r} is not an allowed value")


@pytest.mark.parametrize("version", ["1.0", "1.2", "1.3"])
def test_every_mandatory_column_has_the_specs_type_and_values(mixed_org, tmp_path, version):
    header, rows = read_export(export(mixed_org, tmp_path / "a.csv", "--version", version))
    mandatory = MANDATORY[version]
    assert set(mandatory) <= set(header), sorted(set(mandatory) - set(header))
    assert len(header) == len(set(header))
    problems: list[str] = []
    for i, row in enumerate(rows, start=2):
        for column, (data_type, nullable, allowed) in mandatory.items():
            _check_value(column, row[column], data_type, nullable, allowed, problems, i)
        for column, allowed in OPTIONAL_ALLOWED.items():
            nullable = column != "ChargeFrequency"
            _check_value(column, row[column], "String", nullable, allowed, problems, i)
        if row["Tags"]:
            assert isinstance(json.loads(row["Tags"]), dict)  # attributes/key_value_format.md: a JSON object
        # skupriceid.md / pricingcategory.md: null for Tax; not null for Usage/Purchase that are not a Correction
        # (where the source had a SKU at all).
        for column in ("SkuPriceId", "PricingCategory"):
            if row["ChargeCategory"] == "Tax" and row[column]:
                problems.append(f"row {i}: {column} is set on a Tax charge")
        committed_use = row["ChargeCategory"] in ("Usage", "Purchase") and row["ChargeClass"] != "Correction"
        if committed_use and not row["PricingCategory"]:
            problems.append(f"row {i}: PricingCategory is null on a {row['ChargeCategory']} charge")
        if committed_use and row["SkuId"] and not row["SkuPriceId"]:
            problems.append(f"row {i}: SkuPriceId is null on a {row['ChargeCategory']} charge")
        if row["ChargeCategory"] == "Purchase" and row["ChargeFrequency"] == "Usage-Based":
            problems.append(f"row {i}: a Purchase is Usage-Based")
    assert problems == []
    if version == "1.3":
        assert all(r["ServiceProviderName"] == r["ProviderName"] == r["HostProviderName"] for r in rows)
        assert all(r[c] == "" for r in rows for c in ("ContractApplied", "AllocatedMethodId", "AllocatedTags"))


def test_the_1_0_export_uses_the_ratified_column_names(mixed_org, tmp_path):
    """focus-validator 1.0.0 checks four pre-release names (Provider, Publisher, InvoiceIssuer, ResourceID) and
    reads ChargeType in its SkuPriceId rule; .ci/focus-validator-overrides.yaml skips those rules, so this checks
    the ratified names instead."""
    header, rows = read_export(export(mixed_org, tmp_path / "a.csv", "--version", "1.0"))
    assert {"ProviderName", "PublisherName", "InvoiceIssuerName", "ResourceId", "ChargeCategory"} <= set(header)
    assert not {"Provider", "Publisher", "InvoiceIssuer", "ResourceID", "ChargeType"} & set(header)
    assert all(r["ProviderName"] and r["PublisherName"] and r["InvoiceIssuerName"] for r in rows)


def test_dates_filter_by_charge_period_start(mixed_org, tmp_path):
    _, every = read_export(export(mixed_org, tmp_path / "all.csv"))
    _, some = read_export(export(mixed_org, tmp_path / "some.csv", "--start", "2024-09-10", "--end", "2024-09-12"))
    expected = [r for r in every if "2024-09-10" <= r["ChargePeriodStart"][:10] <= "2024-09-12"]
    assert len(some) == len(expected) > 0 and some == expected


# --- failure paths --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--org", "nobody"], "no organization 'nobody'"),
        (["--org", "mixed", "--start", "2024-13-01"], "not a date (YYYY-MM-DD): '2024-13-01'"),
        (
            ["--org", "mixed", "--start", "2024-09-12", "--end", "2024-09-10"],
            "start 2024-09-12 is after end 2024-09-10",
        ),
    ],
)
def test_bad_arguments_fail_clearly_and_write_nothing(mixed_org, tmp_path, options, message):
    target = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("export_focus", str(target), *options)
    assert not target.exists()


def test_parquet_needs_a_file(mixed_org):
    with pytest.raises(CommandError, match="Parquet needs a file"):
        call_command("export_focus", "-", "--org", "mixed", "--format", "parquet")


def test_an_unknown_version_is_refused(mixed_org, tmp_path):
    with pytest.raises(CommandError, match=re.escape("invalid choice: '1.1'")):
        call_command("export_focus", str(tmp_path / "x.csv"), "--org", "mixed", "--version", "1.1")


# --- the mapping alone (no database) ------------------------------------------------------------------------------
def _record(**values) -> dict:
    base = {
        "billed_cost": Decimal("10"),
        "effective_cost": Decimal("8"),
        "list_cost": None,
        "contracted_cost": None,
        "contracted_unit_price": None,
        "pricing_quantity": None,
        "charge_category": "Usage",
        "charge_class": None,
        "charge_frequency": None,
        "sku_id": "SKU1",
        "sku_price_id": None,
        "provider_name": "AWS",
        "publisher_name": None,
        "invoice_issuer_name": None,
        "service_category": None,
        "pricing_category": None,
        "commitment_discount_id": None,
        "charge_period_start": datetime(2024, 9, 1, 5, tzinfo=UTC),
        "extras": {"InvoiceId": "INV-7", "Id": "row-1"},
    }
    return {**base, **values}


def _one(version: str, record: dict, fields=None) -> dict:
    fields = fields if fields is not None else set(record)
    columns = focus_columns(version, fields)
    values = dict(zip([c.name for c in columns], focus_values(record, columns), strict=True))
    return values


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"contracted_cost": Decimal("7")}, Decimal("7")),  # as ingested
        ({"contracted_unit_price": Decimal("0.3"), "pricing_quantity": Decimal("3")}, Decimal("0.9")),
        ({"list_cost": Decimal("12")}, Decimal("12")),  # no unit price: defaults to ListCost
        ({}, Decimal("10")),  # neither: BilledCost
        # a correction's unit price times quantity need not match: ListCost, else BilledCost
        (
            {"contracted_unit_price": Decimal("1"), "pricing_quantity": Decimal("3"), "charge_class": "Correction"},
            Decimal("10"),
        ),
    ],
)
def test_contracted_cost_is_never_null(values, expected):
    assert _one("1.0", _record(**values))["ContractedCost"] == expected


@pytest.mark.parametrize(
    ("values", "frequency", "sku_price", "pricing"),
    [
        ({}, "Usage-Based", "SKU1", "Other"),
        (
            {"charge_frequency": "Usage-based", "sku_price_id": "P1", "pricing_category": "Standard"},
            "Usage-Based",
            "P1",
            "Standard",
        ),
        ({"charge_category": "Purchase", "commitment_discount_id": "ri-1"}, "One-Time", "SKU1", "Committed"),
        ({"charge_category": "Tax", "sku_price_id": "P1", "pricing_category": "Standard"}, "One-Time", None, None),
        ({"charge_category": "Credit"}, "One-Time", None, None),
        ({"charge_class": "Correction"}, "Usage-Based", None, None),
    ],
)
def test_charge_frequency_sku_price_and_pricing_category_follow_the_spec(values, frequency, sku_price, pricing):
    row = _one("1.2", _record(**values))
    assert (row["ChargeFrequency"], row["SkuPriceId"], row["PricingCategory"]) == (frequency, sku_price, pricing)


def test_provider_columns_fall_back_and_1_3_reads_fields_once_they_exist():
    row = _one("1.3", _record())
    assert row["PublisherName"] == row["InvoiceIssuerName"] == row["ServiceProviderName"] == "AWS"
    assert row["HostProviderName"] == "AWS" and row["ContractApplied"] is None and row["InvoiceId"] == "INV-7"
    assert "Id" not in row  # a source column that is not FOCUS stays out
    # When LineItem gains the 1.3 fields, the same table reads them.
    later = _record(service_provider_name="Datadog", host_provider_name="AWS", contract_applied={"Elements": []})
    row = _one("1.3", later)
    assert (row["ServiceProviderName"], row["HostProviderName"], row["ProviderName"]) == ("Datadog", "AWS", "AWS")
    assert row["ContractApplied"] == {"Elements": []}


def test_csv_cells_use_the_spec_formats():
    columns = [
        c
        for c in focus_columns("1.0", set(_record()))
        if c.name in ("ChargePeriodStart", "BilledCost", "ContractedCost")
    ]
    record = _record(billed_cost=Decimal("-0.0000000100000000"))
    lines = list(focus_csv_lines([record], columns))
    assert lines == ["BilledCost,ChargePeriodStart,ContractedCost\n", "-0.00000001,2024-09-01T05:00:00Z,-0.00000001\n"]


def test_versions_are_tables_that_extend():
    names = {v: [c.name for c in focus_columns(v, ())] for v in ("1.0", "1.2", "1.3")}
    assert names["1.2"][: len(names["1.0"]) - 1] == names["1.0"][:-1]  # 1.0's columns, then 1.2's (x_ last)
    new_in_1_3 = {
        "ServiceProviderName", "HostProviderName", "ContractApplied", "AllocatedMethodId", "AllocatedMethodDetails",
        "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags",
    }  # fmt: skip
    assert new_in_1_3 == set(names["1.3"]) - set(names["1.2"])
    assert all(isinstance(c, FocusColumn) for c in focus_columns("1.3", ()))
    with pytest.raises(ValueError, match=re.escape("unknown FOCUS version '0.5'")):
        focus_columns("0.5", ())


def test_csv_lines_stream_one_record_at_a_time():
    consumed = []

    def records():
        for i in range(3):
            consumed.append(i)
            yield _record()

    lines = focus_csv_lines(records(), focus_columns("1.0", set(_record())))
    next(lines)  # the header needs no record
    assert consumed == []
    next(lines)
    assert consumed == [0]
    assert len(list(csv.reader(io.StringIO("".join(lines))))) == 2
