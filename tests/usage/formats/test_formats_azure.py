"""Azure cost details (EA/MCA actual and amortized, older EA and pay-as-you-go schemas) -> canonical chunks.

Expected values come from the raw files read with the csv module and summed in Decimal (azure_expected).
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from azure_expected import (
    EA_ACTUAL,
    EA_AMORTIZED,
    KOKU_PAYG,
    KOKU_V2,
    exact_sum,
    expected_totals,
    is_amortized_commitment_usage,
    is_commitment_purchase,
    rows_of,
    stored,
)
from formats_helpers import FOCUS_SAMPLE, needs_shared_data

from finops.usage.formats import IngestError, detect_format, read_chunks

pytestmark = needs_shared_data


def read(path: Path, fmt: str = "auto", delivery: list[Path] | None = None, chunk_rows: int = 100_000) -> pa.Table:
    chunks = [c.table for c in read_chunks(path, fmt, chunk_rows, None, delivery or ())]
    return pa.concat_tables(chunks)


def totals(table: pa.Table) -> dict[str, dict[str, Decimal]]:
    result: dict[str, dict[str, Decimal]] = {}
    for row in table.select(["billing_currency", "billed_cost", "effective_cost"]).to_pylist():
        bucket = result.setdefault(row["billing_currency"], {"billed": Decimal(0), "effective": Decimal(0)})
        bucket["billed"] += row["billed_cost"]
        bucket["effective"] += row["effective_cost"]
    return result


def copy_rows(path: Path, rows: list[dict[str, str]], fieldnames: list[str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def header_of(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


# ------------------------------------------------------------------------------------------ detection


@pytest.mark.parametrize("path", [EA_ACTUAL, EA_AMORTIZED, KOKU_V2, KOKU_PAYG], ids=lambda p: p.name)
def test_azure_exports_are_detected_as_azure_not_as_broken_focus(path):
    assert detect_format(path) == "azure"


def test_focus_files_stay_focus():
    assert detect_format(FOCUS_SAMPLE) == "focus"


def test_an_azure_file_without_a_cost_column_is_refused_naming_azure(tmp_path):
    rows = rows_of(EA_ACTUAL)
    fields = [f for f in header_of(EA_ACTUAL) if f != "Cost"]
    broken = copy_rows(tmp_path / "no-cost.csv", [{f: r[f] for f in fields} for r in rows], fields)
    with pytest.raises(IngestError) as caught:
        read(broken)  # detected as Azure still: the refusal says what an Azure export lacks, not a FOCUS one
    assert caught.value.file == str(broken)
    assert "missing Azure cost export columns" in caught.value.message
    assert "a cost (CostInBillingCurrency, Cost or PreTaxCost)" in caught.value.message


# ------------------------------------------------------------------------------------ the EA samples


def test_ea_actual_sample_rows_and_totals():
    rows = rows_of(EA_ACTUAL)
    table = read(EA_ACTUAL)
    assert table.num_rows == len(rows) == 11
    got = totals(table)
    assert got == expected_totals(rows, "BillingCurrency")
    # Actual cost alone: BilledCost is every row's cost (the invoice) ...
    assert got["USD"]["billed"] == exact_sum(rows) == Decimal("8.5450077867419368")
    # ... and EffectiveCost leaves the reservation purchase out (3.25 USD): its amortization is not in this file.
    purchases = [r for r in rows if is_commitment_purchase(r)]
    assert [r["Cost"] for r in purchases] == ["3.25"]
    assert got["USD"]["effective"] == exact_sum(rows) - Decimal("3.25")


def test_ea_amortized_sample_rows_and_totals():
    rows = rows_of(EA_AMORTIZED)
    table = read(EA_AMORTIZED)
    assert table.num_rows == len(rows) == 28
    got = totals(table)
    assert got == expected_totals(rows, "BillingCurrency")
    # Amortized cost alone: EffectiveCost is every row's cost (stored to 16 places) ...
    assert got["USD"]["effective"] == sum((stored(Decimal(r["Cost"])) for r in rows), Decimal(0))
    # ... within the documented rounding bound of the exact sum (two costs carry 28 decimal places).
    assert abs(got["USD"]["effective"] - exact_sum(rows)) <= len(rows) * Decimal("0.5e-16")
    # BilledCost leaves out the reservation and savings plan usage (billed through their purchase).
    commitment = [r for r in rows if is_amortized_commitment_usage(r)]
    assert sorted(r["PricingModel"] for r in commitment) == ["Reservation", "SavingsPlan"]
    assert got["USD"]["billed"] == got["USD"]["effective"] - sum(Decimal(r["Cost"]) for r in commitment)


def test_ea_columns_map_to_focus():
    table = read(EA_AMORTIZED).to_pylist()
    reservation, savings_plan, on_demand = table[0], table[1], table[3]
    assert reservation["provider_name"] == "Microsoft"
    assert reservation["billing_account_id"] == "8611537"
    assert reservation["billing_account_name"] == "Trey Research Demo (DO NOT USE)"
    assert reservation["sub_account_id"] == "9ec51cfd-5ca7-4d76-8101-dd0a4abc5674"
    assert reservation["sub_account_name"] == "Trey Research Corporate"
    # 09/22/2023 (US dates), one day; the billing period's end is exclusive (09/30/2023 + 1 day).
    assert reservation["charge_period_start"] == datetime(2023, 9, 22, tzinfo=UTC)
    assert reservation["charge_period_end"] == datetime(2023, 9, 23, tzinfo=UTC)
    assert reservation["billing_period_start"] == datetime(2023, 9, 1, tzinfo=UTC)
    assert reservation["billing_period_end"] == datetime(2023, 10, 1, tzinfo=UTC)
    assert (reservation["charge_category"], reservation["pricing_category"]) == ("Usage", "Committed")
    assert reservation["charge_frequency"] == "Usage-Based"
    assert reservation["commitment_discount_type"] == "Reservation"
    assert reservation["commitment_discount_category"] == "Usage"
    assert reservation["commitment_discount_status"] == "Used"
    assert reservation["commitment_discount_name"] == "ProdDS1VMReservation"
    assert reservation["commitment_discount_id"].endswith("/reservations/f39d1c73-af74-4308-9083-fbf5efab37d1")
    assert (reservation["billed_cost"], reservation["effective_cost"]) == (0, Decimal("0.493152"))
    assert reservation["instance_type"] == "Standard_DS2_v2"  # AdditionalInfo's ServiceType
    assert (reservation["region_id"], reservation["region_name"]) == ("eastus", "East US")  # from "EastUS"
    extras = json.loads(reservation["extras"])
    assert extras["ResourceLocation"] == "EastUS"
    assert reservation["sku_id"] == "14fc9a21-4919-4cb1-b495-5666966556bc"  # the meter
    # Microsoft's services table, by ConsumedService and the resource id's type (a scale set here).
    assert reservation["resource_type"] == "microsoft.compute/virtualmachinescalesets"
    assert (reservation["service_name"], reservation["service_category"]) == ("Virtual Machine Scale Sets", "Compute")
    assert extras["MeterCategory"] == "Virtual Machines"
    assert savings_plan["commitment_discount_type"] == "Savings Plan"
    assert savings_plan["commitment_discount_category"] == "Spend"
    assert savings_plan["instance_type"] == "Standard_B2s"
    assert on_demand["pricing_category"] == "Standard"
    assert on_demand["commitment_discount_id"] is None and on_demand["instance_type"] is None
    # Tags without braces in this export become a JSON object; the resource group stays in extras.
    raw = rows_of(EA_AMORTIZED)[0]
    assert json.loads(reservation["tags"]) == json.loads("{" + raw["Tags"] + "}")
    extras = json.loads(reservation["extras"])
    assert extras["ResourceGroup"] == "MC_ANALYTICSENGINE_ANALYTICSENGINE_EASTUS"
    assert extras["PricingModel"] == "Reservation" and extras["AdditionalInfo"] == raw["AdditionalInfo"]
    assert "SubscriptionId" not in extras and "Tags" not in extras  # copied as is, not kept twice


def test_ea_reservation_purchase_is_billed_not_amortized():
    purchase = read(EA_ACTUAL).to_pylist()[0]
    assert (purchase["charge_category"], purchase["charge_frequency"]) == ("Purchase", "Recurring")
    assert (purchase["billed_cost"], purchase["effective_cost"]) == (Decimal("3.25"), 0)
    assert purchase["commitment_discount_type"] == "Reservation"
    assert purchase["commitment_discount_status"] is None  # a purchase is not usage of the commitment
    assert purchase["resource_name"] is None  # ResourceName is empty; not guessed from the id
    assert (purchase["service_name"], purchase["service_category"]) == (
        "Azure Reservations",
        "Management and Governance",
    )


def test_services_table_corrects_the_exports_service_family():
    storage = read(EA_ACTUAL).to_pylist()[1]
    assert rows_of(EA_ACTUAL)[1]["ServiceFamily"] == "Compute"  # as Microsoft's demo export has it
    assert storage["resource_type"] == "microsoft.storage/storageaccounts"
    assert (storage["service_name"], storage["service_category"]) == ("Storage Accounts", "Storage")


# -------------------------------------------------------------------------- actual + amortized delivery


def test_actual_and_amortized_in_one_delivery_bill_purchases_once():
    actual, amortized = rows_of(EA_ACTUAL), rows_of(EA_AMORTIZED)
    delivery = [EA_ACTUAL, EA_AMORTIZED]
    from_actual, from_amortized = read(EA_ACTUAL, delivery=delivery), read(EA_AMORTIZED, delivery=delivery)
    # Every amortized row; from the actual file only the commitment purchase (its on-demand rows are in both).
    assert from_amortized.num_rows == 28
    assert from_actual.num_rows == 1 == sum(is_commitment_purchase(r) for r in actual)
    got = totals(pa.concat_tables([from_actual, from_amortized]))["USD"]
    purchases = sum((Decimal(r["Cost"]) for r in actual if is_commitment_purchase(r)), Decimal(0))
    amortized_cost = sum((stored(Decimal(r["Cost"])) for r in amortized), Decimal(0))
    commitment_usage = sum((Decimal(r["Cost"]) for r in amortized if is_amortized_commitment_usage(r)), Decimal(0))
    assert got["billed"] == amortized_cost - commitment_usage + purchases
    assert got["effective"] == amortized_cost  # the purchase amortizes into usage: not counted again
    assert json.loads(from_actual["extras"][0].as_py())["x_DataSet"] == "actual"


def test_files_named_by_dataset_are_combined_by_their_names(tmp_path):
    """Parts of an on-demand-only actual export carry no commitment rows: their names tell what they are."""
    rows, fields = rows_of(EA_ACTUAL), header_of(EA_ACTUAL)
    part = copy_rows(tmp_path / "ActualCost_part_1.csv", rows[1:], fields)
    delivery = [part, EA_AMORTIZED]
    assert read(part, delivery=delivery).num_rows == 0  # on demand: taken from the amortized file
    unnamed = copy_rows(tmp_path / "part_1.csv", rows[1:], fields)
    with pytest.raises(IngestError) as caught:
        read(EA_AMORTIZED, delivery=[unnamed, EA_ACTUAL, EA_AMORTIZED])
    assert caught.value.file == str(unnamed)
    assert "'actual' or 'amortized'" in caught.value.message


def test_multi_part_and_gzip_exports_give_the_whole_files_totals(tmp_path):
    rows, fields = rows_of(EA_AMORTIZED), header_of(EA_AMORTIZED)
    first = copy_rows(tmp_path / "part_0_0001.csv", rows[:10], fields)
    second = tmp_path / "part_0_0002.csv.gz"
    copy_rows(tmp_path / "plain.csv", rows[10:], fields)
    second.write_bytes(gzip.compress((tmp_path / "plain.csv").read_bytes()))
    delivery = [first, second]
    parts = pa.concat_tables([read(first, delivery=delivery), read(second, delivery=delivery)])
    assert parts.num_rows == 28
    assert totals(parts) == expected_totals(rows, "BillingCurrency")


# ------------------------------------------------------------------------------------- older schemas


def test_legacy_pay_as_you_go_export():
    rows = rows_of(KOKU_PAYG)
    table = read(KOKU_PAYG)
    assert table.num_rows == len(rows) == 3
    assert totals(table) == expected_totals(rows, "Currency")
    assert totals(table)["USD"]["billed"] == Decimal("0.00010368") + Decimal("0.00000648")
    first = table.to_pylist()[0]
    # No billing account or period in this schema: the subscription, and the charge's calendar month.
    assert first["billing_account_id"] == first["sub_account_id"] == "0039de71-ca37-4a17-a104-17665a50e7fc"
    assert first["billing_period_start"] == datetime(2019, 7, 1, tzinfo=UTC)
    assert first["billing_period_end"] == datetime(2019, 8, 1, tzinfo=UTC)
    assert first["charge_period_start"] == datetime(2019, 7, 29, tzinfo=UTC)
    assert (first["charge_category"], first["charge_frequency"]) == ("Usage", "Usage-Based")
    assert json.loads(first["tags"]) == {"project": "p1"}
    assert first["resource_type"] == "Microsoft.Compute/virtualMachines"
    assert (first["service_name"], first["service_category"]) == ("Virtual Machines", "Compute")
    # The legacy export's display-style location, through Microsoft's region table.
    assert (first["region_id"], first["region_name"]) == ("eastus2", "East US 2")  # from "US East 2"


def test_an_unknown_location_keeps_its_text(tmp_path):
    rows = [{**r, "ResourceLocation": "Mars Central"} for r in rows_of(EA_ACTUAL)]
    table = read(copy_rows(tmp_path / "mars.csv", rows, header_of(EA_ACTUAL)))
    assert set(zip(table["region_id"].to_pylist(), table["region_name"].to_pylist(), strict=True)) == {
        ("marscentral", "Mars Central")
    }


def test_ea_v2_schema_with_its_placeholder_currency_is_refused():
    with pytest.raises(IngestError) as caught:
        read(KOKU_V2)
    error = caught.value
    assert (error.file, error.row, error.column) == (str(KOKU_V2), 1, "BillingCurrencyCode")
    assert "not an ISO 4217 currency code: 'MC'" in error.message


def test_ea_v2_schema(tmp_path):
    """The Koku fixture with a real currency code in place of its placeholder "MC"."""
    rows = [{**r, "BillingCurrencyCode": "EUR"} for r in rows_of(KOKU_V2)]
    fixed = copy_rows(tmp_path / "v2.csv", rows, header_of(KOKU_V2))
    table = read(fixed)
    assert table.num_rows == 5
    assert totals(table) == expected_totals(rows, "BillingCurrencyCode")
    assert totals(table)["EUR"]["billed"] == sum(Decimal(r["CostInBillingCurrency"]) for r in rows)
    marketplace = table.to_pylist()[1]
    assert (marketplace["charge_category"], marketplace["publisher_name"]) == ("Purchase", "OpenShift on Azure testing")
    assert marketplace["effective_cost"] == marketplace["billed_cost"]  # not a commitment: no amortization
    vm = table.to_pylist()[2]
    assert vm["instance_type"] == "Standard_D4s_v3"
    assert vm["charge_period_start"] == datetime(2020, 9, 11, tzinfo=UTC)
    assert vm["billing_period_end"] == datetime(2020, 10, 1, tzinfo=UTC)


def test_mca_rows_bill_to_the_billing_profile(tmp_path):
    rows = [
        {
            **r,
            "BillingAccountId": "acct:1_2019-05-31",
            "BillingProfileId": "AB12-CD34",
            "BillingProfileName": "EU profile",
        }
        for r in rows_of(EA_ACTUAL)
    ]
    table = read(copy_rows(tmp_path / "mca.csv", rows, header_of(EA_ACTUAL)))
    assert set(table["billing_account_id"].to_pylist()) == {"AB12-CD34"}
    assert set(table["billing_account_name"].to_pylist()) == {"EU profile"}
    assert json.loads(table["extras"][0].as_py())["BillingAccountId"] == "acct:1_2019-05-31"


def test_single_digit_us_dates(tmp_path):
    rows = [{**r, "Date": "9/4/2023", "BillingPeriodStartDate": "9/1/2023"} for r in rows_of(EA_ACTUAL)]
    table = read(copy_rows(tmp_path / "dates.csv", rows, header_of(EA_ACTUAL)))
    assert set(table["charge_period_start"].to_pylist()) == {datetime(2023, 9, 4, tzinfo=UTC)}
    assert set(table["billing_period_start"].to_pylist()) == {datetime(2023, 9, 1, tzinfo=UTC)}


# ----------------------------------------------------------------------------------------- bad input


def test_text_in_the_cost_column_is_refused_naming_row_and_column(tmp_path):
    rows = rows_of(EA_ACTUAL)
    rows[6]["Cost"] = "n/a"
    bad = copy_rows(tmp_path / "bad.csv", rows, header_of(EA_ACTUAL))
    with pytest.raises(IngestError) as caught:
        read(bad)
    assert (caught.value.file, caught.value.row, caught.value.column) == (str(bad), 7, "Cost")
    assert "not a number: 'n/a'" in caught.value.message


def test_a_truncated_file_is_refused_naming_its_last_row(tmp_path):
    text = EA_AMORTIZED.read_text(encoding="utf-8-sig")
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: text.rindex("\n", 0, len(text) - 2) + 60], encoding="utf-8")
    with pytest.raises(IngestError) as caught:
        read(cut)
    assert caught.value.file == str(cut) and caught.value.row == 28
    assert "truncated" in caught.value.message


def test_two_currencies_in_one_billing_account_are_refused(tmp_path):
    rows = rows_of(EA_ACTUAL)
    rows[4]["BillingCurrency"] = "EUR"
    mixed = copy_rows(tmp_path / "mixed.csv", rows, header_of(EA_ACTUAL))
    with pytest.raises(IngestError) as caught:
        read(mixed, chunk_rows=2)
    error = caught.value
    assert (error.file, error.row, error.column) == (str(mixed), 5, "BillingCurrency")
    assert "billing account 8611537 is billed in USD (row 1) and in EUR" in error.message


def test_two_currencies_of_one_billing_account_in_two_part_files_are_refused(tmp_path):
    rows, fields = rows_of(EA_AMORTIZED), header_of(EA_AMORTIZED)
    first = copy_rows(tmp_path / "part_0_0001.csv", rows[:10], fields)
    second = copy_rows(tmp_path / "part_0_0002.csv", [{**r, "BillingCurrency": "EUR"} for r in rows[10:]], fields)
    delivery = [first, second]
    assert read(first, delivery=delivery).num_rows == 10
    with pytest.raises(IngestError) as caught:
        read(second, delivery=delivery)
    error = caught.value
    assert (error.file, error.row, error.column) == (str(second), 1, "BillingCurrency")
    assert f"billing account 8611537 is billed in USD (file {first}, row 1) and in EUR" in error.message


def test_two_billing_accounts_may_have_two_currencies(tmp_path):
    rows = rows_of(EA_ACTUAL)
    rows[4].update(BillingCurrency="EUR", BillingAccountId="999", BillingProfileId="999")
    table = read(copy_rows(tmp_path / "two.csv", rows, header_of(EA_ACTUAL)))
    assert sorted(pc.unique(table["billing_currency"]).to_pylist()) == ["EUR", "USD"]
    assert totals(table)["EUR"]["billed"] == Decimal(rows[4]["Cost"])


def test_camel_case_mca_headers(tmp_path):
    """MCA (and newer EA) exports spell the columns in camelCase and name the cost CostInBillingCurrency."""
    rows = rows_of(EA_AMORTIZED)
    renamed = {"Cost": "costInBillingCurrency", "BillingCurrency": "billingCurrency", "Date": "date"}
    fields = [renamed.get(f, f[0].lower() + f[1:]) for f in header_of(EA_AMORTIZED)]
    camel = [dict(zip(fields, r.values(), strict=True)) for r in rows]
    table = read(copy_rows(tmp_path / "mca.csv", camel, fields))
    assert totals(table) == expected_totals(rows, "BillingCurrency")
    assert table["commitment_discount_type"].to_pylist()[:2] == ["Reservation", "Savings Plan"]


def test_zip_and_parquet_exports(tmp_path):
    import zipfile

    import pandas as pd

    rows = rows_of(EA_AMORTIZED)
    packed = tmp_path / "AmortizedCost.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.write(EA_AMORTIZED, EA_AMORTIZED.name)
    assert totals(read(packed)) == expected_totals(rows, "BillingCurrency")
    # Parquet with the types pandas infers (float costs, integer ids): floats are read by their shortest text.
    frame = pd.read_csv(EA_AMORTIZED)
    frame.to_parquet(tmp_path / "amortized.parquet")
    table = read(tmp_path / "amortized.parquet")
    assert table.num_rows == 28
    floats = sum((stored(Decimal(repr(float(r["Cost"])))) for r in rows), Decimal(0))
    assert totals(table)["USD"]["effective"] == floats


def test_unused_reservations_and_refunds(tmp_path):
    """Rows the demo export lacks, made from its reservation rows: the unused part of a reservation (amortized
    data) and a refunded reservation purchase (actual data)."""
    reservation = rows_of(EA_AMORTIZED)[0]
    purchase = rows_of(EA_ACTUAL)[0]
    rows = [
        {**reservation, "ChargeType": "UnusedReservation", "Cost": "1.25"},
        {**purchase, "ChargeType": "Refund", "Cost": "-3.25", "Date": "08/21/2023"},
    ]
    table = read(copy_rows(tmp_path / "unused-and-refund.csv", rows, header_of(EA_ACTUAL))).to_pylist()
    unused, refund = table
    assert (unused["charge_category"], unused["commitment_discount_status"]) == ("Usage", "Unused")
    assert (unused["billed_cost"], unused["effective_cost"]) == (0, Decimal("1.25"))
    assert (refund["charge_category"], refund["charge_class"]) == ("Purchase", "Correction")
    assert (refund["billed_cost"], refund["effective_cost"]) == (Decimal("-3.25"), 0)
    # A correction may date from before its billing period.
    assert refund["charge_period_start"] == datetime(2023, 8, 21, tzinfo=UTC)
