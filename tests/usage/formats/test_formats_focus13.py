"""FOCUS 1.3 and 1.4 Cost and Usage files: version detection, the provider columns that replaced ProviderName and
PublisherName, split cost allocation and ContractApplied values, and the files of other datasets and providers that
are named and refused. Expected values come from the rows as written, never from the parser."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from formats_helpers import SHARED_DATA, read_all

from finops.usage.formats import IngestError, UnknownFormatError, detect_format, read_chunks
from finops.usage.formats.detect import unsupported_export
from finops.usage.formats.focus import focus_version
from tests.usage.focus_v13 import COLUMNS_1_3, COLUMNS_1_4, focus13_rows, totals, write_focus


def _sums(table, column: str, key: str | None = None) -> dict[tuple, Decimal]:
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    keys = table[key].to_pylist() if key else [""] * table.num_rows
    for currency, group, value in zip(
        table["billing_currency"].to_pylist(), keys, table[column].to_pylist(), strict=True
    ):
        sums[(currency, group or "")] += value
    return dict(sums)


@pytest.mark.parametrize(("columns", "version"), [(COLUMNS_1_3, "1.3"), (COLUMNS_1_4, "1.4")])
def test_a_1_3_and_a_1_4_file_parse_with_exact_totals_per_currency(tmp_path, columns, version):
    rows = focus13_rows()
    path = write_focus(tmp_path / f"v{version}.csv", rows, columns)
    chunks = list(read_chunks(path, chunk_rows=5))
    assert {c.focus_version for c in chunks} == {version}
    table = read_all(path)
    assert table.num_rows == len(rows)
    assert _sums(table, "billed_cost") == totals(rows)
    assert _sums(table, "effective_cost") == totals(rows, "EffectiveCost")
    assert set(table["provider_name"].to_pylist()) == {"Contoso Cloud"}
    assert set(table["host_provider_name"].to_pylist()) == {"Contoso Cloud"}
    assert _sums(table, "billed_cost", "allocated_resource_id") == totals(rows, key="AllocatedResourceId")
    # 1.4 has no PublisherName: the canonical column stays empty, nothing is invented
    publishers = set(table["publisher_name"].to_pylist())
    assert publishers == ({"Contoso Cloud"} if version == "1.3" else {None})


def test_allocation_and_contract_columns_are_kept_exactly(tmp_path):
    rows = focus13_rows(3)
    table = read_all(write_focus(tmp_path / "v13.csv", rows))
    first = table.slice(0, 1).to_pylist()[0]
    assert first["allocated_method_id"] == "cpu-memory-requests"
    assert first["allocated_resource_id"] == "pod/api"
    assert first["allocated_resource_name"] == "api"
    assert json.loads(first["allocated_tags"]) == {"app": "api"}
    details = json.loads(first["allocated_method_details"], parse_float=Decimal)
    assert details["Elements"][0]["AllocatedRatio"] == Decimal("0.5")
    applied = json.loads(first["contract_applied"], parse_float=Decimal)
    # the money inside ContractApplied keeps every digit (no float round trip)
    assert applied["Elements"][0]["ContractCommitmentAppliedCost"] == Decimal(rows[0]["BilledCost"])
    unallocated = table.slice(2, 1).to_pylist()[0]
    assert unallocated["allocated_resource_id"] is None and unallocated["allocated_tags"] is None
    assert "AllocatedTags" not in json.loads(unallocated["extras"] or "{}")


def test_a_1_4_file_needs_neither_provider_name_nor_publisher_name(tmp_path):
    path = write_focus(tmp_path / "v14.csv", focus13_rows(), COLUMNS_1_4)
    assert detect_format(path) == "focus"
    assert read_all(path).num_rows == 12
    # without ServiceProviderName it is an older file missing its provider
    header = tuple(c for c in COLUMNS_1_4 if c != "ServiceProviderName")
    with pytest.raises(IngestError, match="missing mandatory FOCUS columns: ProviderName"):
        read_all(write_focus(tmp_path / "noprovider.csv", focus13_rows(), header))


def test_a_1_2_file_still_needs_publisher_name(tmp_path):
    header = tuple(c for c in COLUMNS_1_3 if c not in ("PublisherName", "ServiceProviderName", "HostProviderName"))
    header = tuple(c for c in header if not c.startswith("Allocated") and c != "ContractApplied")
    with pytest.raises(IngestError, match="missing mandatory FOCUS columns: PublisherName"):
        read_all(write_focus(tmp_path / "v12.csv", focus13_rows(), header))


def test_disagreeing_provider_spellings_service_provider_name_wins(tmp_path):
    """FOCUS 1.3: ProviderName is deprecated, "replaced by ServiceProviderName"; a marketplace row may rightly
    differ (the seller vs the marketplace). The newer column is the provider; the old value stays in extras."""
    rows = focus13_rows(4)
    for row in rows:
        row["ProviderName"] = "Marketplace Operator"
        row["ServiceProviderName"] = "Seller Inc"
    table = read_all(write_focus(tmp_path / "both.csv", rows))
    assert table["provider_name"].to_pylist() == ["Seller Inc"] * 4
    assert json.loads(table["extras"][0].as_py())["ProviderName"] == "Marketplace Operator"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("AllocatedTags", '{"app": ', "invalid JSON"),
        ("AllocatedTags", '["app"]', "not a JSON object"),
        ("ContractApplied", "{not json}", "invalid JSON"),
        ("ContractApplied", '{"Elements": []}', 'non-empty "Elements"'),
        ("ContractApplied", '{"Elements": [{"ContractCommitmentID": "cc-1"}]}', "both null"),
        (
            "ContractApplied",
            '{"Elements": [{"ContractCommitmentID": "cc-1", "ContractCommitmentAppliedCost": "ten"}]}',
            "must be a number",
        ),
        ("ContractApplied", '{"Elements": [{"ContractCommitmentAppliedCost": 1}]}', "ContractCommitmentID"),
        (
            "ContractApplied",
            '{"Elements": [{"ContractCommitmentID": "cc-1", "ContractCommitmentAppliedQuantity": 2}]}',
            "ContractCommitmentAppliedUnit",
        ),
        (
            "AllocatedMethodDetails",
            '{"Elements": [{"AllocatedRatio": 1.5}]}',
            "AllocatedRatio must be a number from 0 to 1",
        ),
        ("AllocatedMethodDetails", '{"Ratio": 0.5}', '"Elements"'),
        ("AllocatedMethodDetails", '{"Elements": [{"AllocatedRatio": 0.5, "UsageQuantity": 2}]}', "UsageUnit"),
        ("HostProviderName", "", "missing value"),
    ],
)
def test_a_bad_1_3_value_is_refused_naming_file_row_and_column(tmp_path, column, value, message):
    rows = focus13_rows(12)
    rows[7][column] = value
    path = write_focus(tmp_path / "bad.csv", rows)
    with pytest.raises(IngestError) as caught:
        read_all(path, chunk_rows=5)
    error = caught.value
    assert message in str(error)
    assert (Path(error.file).name, error.row, error.column) == ("bad.csv", 8, column)


@pytest.mark.parametrize(
    ("header", "version"),
    [
        (COLUMNS_1_4, "1.4"),
        (COLUMNS_1_3, "1.3"),
        (["ProviderName", "PublisherName", "InvoiceId", "BilledCost"], "1.2"),
        (["ProviderName", "PublisherName", "SkuPriceDetails", "BilledCost"], "1.1"),
        (["ProviderName", "PublisherName", "BilledCost"], "1.0"),
        (["ServiceProviderName", "BilledCost"], "1.4"),
        (["servicepRoviderName", "providername", "BilledCost"], "1.3"),
    ],
)
def test_focus_version_from_the_columns(header, version):
    assert focus_version(header) == version


def test_the_shared_focus_sample_is_focus_1_0():
    """Its header has the 1.0 columns only (no 1.1 SkuPriceDetails or CapacityReservationId, no 1.2 InvoiceId)."""
    chunks = list(read_chunks(SHARED_DATA / "focus" / "focus_sample.csv"))
    assert [c.focus_version for c in chunks] == ["1.0"]


# ----------------------------------------------------------------------------- known files finops does not read

SHARED_UNSUPPORTED = [
    ("azure/EA-Reservations-Recommendations.csv", "this is an Azure reservation recommendations export"),
    ("oci/koku_reports_usage-csv_0001000000829494.csv", "this is an OCI usage report"),
    ("aws_pricing/pricelist/AWSDatabaseSavingsPlans-ap-south-2-index.csv", "this is an AWS price list file"),
    ("aws_pricing/pricelist/service-comprehend-ap-south-1-20260116160258.csv", "this is an AWS price list file"),
]


@pytest.mark.parametrize(("name", "message"), SHARED_UNSUPPORTED, ids=[n for n, _ in SHARED_UNSUPPORTED])
def test_a_known_provider_file_finops_does_not_read_is_named(name, message):
    path = SHARED_DATA / name
    with pytest.raises(UnknownFormatError) as caught:
        detect_format(path)
    assert str(caught.value).startswith(f"file {path}: {message}")
    assert "; finops reads " in str(caught.value)
    with pytest.raises(UnknownFormatError, match=message):
        list(read_chunks(path))


def test_the_reservation_recommendations_message_says_what_to_send_instead():
    header = (SHARED_DATA / "azure/EA-Reservations-Recommendations.csv").read_text().splitlines()[0].split(",")
    assert unsupported_export(header) == (
        "this is an Azure reservation recommendations export; finops reads Azure cost details exports "
        "(actual or amortized)"
    )


# The FOCUS 1.3 Contract Commitment dataset's columns, as its spec folder lists them.
CONTRACT_COMMITMENT = [
    "BillingCurrency",
    "ContractCommitmentCategory",
    "ContractCommitmentCost",
    "ContractCommitmentDescription",
    "ContractCommitmentId",
    "ContractCommitmentPeriodEnd",
    "ContractCommitmentPeriodStart",
    "ContractCommitmentQuantity",
    "ContractCommitmentType",
    "ContractCommitmentUnit",
    "ContractId",
    "ContractPeriodEnd",
    "ContractPeriodStart",
    "InvoiceIssuerName",
    "ServiceProviderName",
]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (CONTRACT_COMMITMENT, "this is a FOCUS Contract Commitment dataset; finops reads the FOCUS Cost and Usage"),
        (
            [
                "BillingPeriodStart",
                "BillingPeriodEnd",
                "BillingPeriodStatus",
                "BillingPeriodCreated",
                "InvoiceIssuerName",
            ],
            "this is a FOCUS Billing Period dataset",
        ),
        (
            ["MeterId", "MeterName", "UnitOfMeasure", "UnitPrice", "PriceType", "Term", "BillingCurrency"],
            "this is an Azure price sheet; finops reads Azure cost details exports (actual or amortized)",
        ),
    ],
)
def test_other_datasets_are_named_not_read_as_broken_cost_files(tmp_path, header, message):
    path = tmp_path / "export.csv"
    path.write_text(",".join(header) + "\n" + ",".join("x" for _ in header) + "\n")
    with pytest.raises(UnknownFormatError, match=re.escape(message)):
        detect_format(path)


def test_real_formats_are_checked_before_names(tmp_path):
    """A header a reader claims is never named as unsupported, whatever else it carries."""
    rows = focus13_rows(3)
    for row in rows:
        row["RecommendedQuantity"], row["NetSavings"], row["LookBackPeriod"] = "1", "2", "Last7Days"
    path = write_focus(
        tmp_path / "focus.csv", rows, (*COLUMNS_1_3, "RecommendedQuantity", "NetSavings", "LookBackPeriod")
    )
    assert detect_format(path) == "focus"
