"""The demo FOCUS billing generator: shape, determinism, real prices (AWS and Azure) and commitment accounting.

No Django: run with ``.venv/bin/pytest tests/demo -p no:django``. Every expected number is computed
here from the written CSV files or read straight from the shared real-data files, never from the
generator's own helpers.
"""

from __future__ import annotations

import importlib.util
import json
import re
import statistics
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finops.demo import org, prices
from finops.demo.generator import generate_demo_billing

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
DATA = ROOT / "finops" / "demo" / "data"
END = date(2026, 3, 15)
MANDATORY = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "InvoiceIssuerName",
    "ProviderName",
    "PublisherName",
    "PricingQuantity",
    "PricingUnit",
    "ServiceCategory",
    "ServiceName",
)
ALSO_REQUIRED = (
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "RegionName",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SkuId",
    "SkuPriceId",
    "PricingCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountType",
    "CommitmentDiscountCategory",
    "CommitmentDiscountStatus",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "ChargeFrequency",
    "Tags",
    "x_InstanceType",
)
NUMBERS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "ConsumedQuantity",
    "CommitmentDiscountQuantity",
)
TIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
EC2 = "Amazon Elastic Compute Cloud"


# Missing shared data skips loudly on a laptop; under FINOPS_REQUIRE_SERVICES=1 (CI) it fails the run
# (tests/conftest.py).
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"DATA MISSING: the shared real-data folder {SHARED} is missing"
)


def _read(paths: list[Path]) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False, na_values=["NULL"]).assign(file=p.name) for p in paths]
    return pd.concat(frames, ignore_index=True)


def _exact(values: pd.Series) -> np.ndarray:
    """Decimal strings (at most 10 places) as exact integers of 1e-10 USD; float64 is exact below 9e5."""
    floats = values.astype(float).to_numpy()
    assert np.abs(floats).max() < 9e5
    return np.rint(floats * 1e10).astype(np.int64)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], pd.DataFrame]:
    paths = generate_demo_billing(tmp_path_factory.mktemp("demo"), end=END)
    return paths, _read(paths)


@pytest.fixture(scope="module")
def frame(export: tuple[list[Path], pd.DataFrame]) -> pd.DataFrame:
    df = export[1].copy()
    for column in NUMBERS:
        df[column] = df[column].astype(float)
    df["team"] = df["Tags"].map(lambda t: json.loads(t).get("team") if isinstance(t, str) else None)
    return df


def _usage_ec2(df: pd.DataFrame) -> pd.DataFrame:
    """Hourly instance usage rows (not EBS, NAT or unused reservations)."""
    return df[
        (df.ServiceName == EC2)
        & (df.ChargeCategory == "Usage")
        & df.ConsumedQuantity.notna()
        & df.x_InstanceType.notna()
    ]


# ---------------------------------------------------------------------------------------------
# Files and format


def test_one_file_per_billing_account_and_month_in_stable_order(
    export: tuple[list[Path], pd.DataFrame],
) -> None:
    paths, df = export
    months = [f"{y}-{m:02d}" for y, m in [(2025, m) for m in range(3, 13)] + [(2026, m) for m in (1, 2, 3)]]
    accounts = sorted(df.BillingAccountId.unique())
    assert accounts == ["71842093", "731942058316", "859302716445"]  # the Azure enrollment and two AWS payers
    assert [p.name for p in paths] == [f"focus_{a}_{m}.csv.gz" for a in accounts for m in months]
    per_file = df.groupby("file")[["BillingAccountId", "BillingPeriodStart"]].agg(set)
    for name, row in per_file.iterrows():
        assert len(row.BillingAccountId) == 1 and len(row.BillingPeriodStart) == 1, name
        assert name == f"focus_{min(row.BillingAccountId)}_{min(row.BillingPeriodStart)[:7]}.csv.gz"
    # Month to date: the last month stops at END (exclusive).
    assert df.ChargePeriodEnd.max() == "2026-03-15T00:00:00Z"
    assert df.ChargePeriodStart.min() == "2025-03-01T00:00:00Z"


def test_same_arguments_give_byte_identical_files(export: tuple[list[Path], pd.DataFrame], tmp_path: Path) -> None:
    paths, _ = export
    again = generate_demo_billing(tmp_path, end=END, months=13, seed=20260101)
    assert [p.name for p in again] == [p.name for p in paths]
    for first, second in zip(paths, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_a_different_seed_gives_different_numbers_same_layout(tmp_path: Path) -> None:
    a = generate_demo_billing(tmp_path / "a", end=END, months=2)
    b = generate_demo_billing(tmp_path / "b", end=END, months=2, seed=7)
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() != y.read_bytes() for x, y in zip(a, b, strict=True))
    assert _read(a).BilledCost.astype(float).sum() != _read(b).BilledCost.astype(float).sum()


def test_every_required_focus_column_is_present(export: tuple[list[Path], pd.DataFrame]) -> None:
    _, df = export
    missing = [c for c in MANDATORY + ALSO_REQUIRED if c not in df.columns]
    assert missing == []


def test_timestamps_and_decimals_are_plain_text(export: tuple[list[Path], pd.DataFrame]) -> None:
    _, df = export
    for column in TIMES:
        assert df[column].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all(), column
    for column in NUMBERS:
        values = df[column].dropna()
        assert values.str.fullmatch(r"-?\d+(\.\d{1,10})?").all(), column
    for column in (
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "ContractedCost",
        "BillingAccountId",
        "ChargeCategory",
    ):
        assert df[column].notna().all(), column
    assert df.BillingCurrency.eq("USD").all()
    providers = df.groupby("BillingAccountId")[["ProviderName", "PublisherName", "InvoiceIssuerName"]].agg(set)
    aws, azure = {"AWS"}, {"Microsoft"}
    assert providers.to_dict("index") == {
        "71842093": {"ProviderName": azure, "PublisherName": azure, "InvoiceIssuerName": azure},
        "731942058316": {
            "ProviderName": aws,
            "PublisherName": {"Amazon Web Services, Inc."},
            "InvoiceIssuerName": {"Amazon Web Services, Inc."},
        },
        "859302716445": {
            "ProviderName": aws,
            "PublisherName": {"Amazon Web Services, Inc."},
            "InvoiceIssuerName": {"Amazon Web Services, Inc."},
        },
    }


def test_tags_are_json_objects(frame: pd.DataFrame) -> None:
    tags = frame.Tags.dropna().drop_duplicates().map(json.loads)
    assert tags.map(lambda t: isinstance(t, dict)).all()
    keys = set().union(*tags.map(set))
    assert {"team", "env", "app"} <= keys


# ---------------------------------------------------------------------------------------------
# What the organization looks like


def test_row_count_is_in_the_planned_range(frame: pd.DataFrame) -> None:
    assert 250_000 <= len(frame) <= 450_000


def test_breadth_of_regions_services_teams_and_untagged_spend(frame: pd.DataFrame) -> None:
    regions = set(frame.RegionId.dropna()) - {"global"}
    assert len(regions) >= 3
    assert frame.ServiceName.nunique() >= 10
    assert frame.team.dropna().nunique() >= 5
    assert frame[frame.team.isna() & frame.ChargeCategory.eq("Usage")].EffectiveCost.sum() > 0
    subs = frame.groupby("BillingAccountId").SubAccountId.unique()
    assert [len(subs[ba]) for ba in ("71842093", "731942058316", "859302716445")] == [1, 3, 3]
    assert set(frame.x_InstanceType.dropna().str.split(".").str[0]) >= {"m5", "c5", "r5", "t3"}


def test_all_pricing_categories_and_both_commitment_kinds(frame: pd.DataFrame) -> None:
    assert {"Standard", "Committed", "Dynamic", "Other"} <= set(frame.PricingCategory.dropna())
    committed = frame[frame.PricingCategory == "Committed"]
    assert set(committed.CommitmentDiscountType) == {"Reserved Instance", "Savings Plan"}
    assert set(committed.CommitmentDiscountStatus) == {"Used", "Unused"}
    assert set(committed.CommitmentDiscountCategory) == {"Usage", "Spend"}


def test_credits_are_negative(frame: pd.DataFrame) -> None:
    credits = frame[frame.ChargeCategory == "Credit"]
    assert len(credits) >= 3
    assert (credits.BilledCost < 0).all() and (credits.EffectiveCost < 0).all()


def test_tax_every_month_for_every_billing_account(frame: pd.DataFrame) -> None:
    tax = frame[frame.ChargeCategory == "Tax"]
    assert (tax.BilledCost > 0).all()
    with_tax = set(zip(tax.BillingAccountId, tax.BillingPeriodStart, strict=True))
    aws = frame[frame.ProviderName == "AWS"]
    every = set(zip(aws.BillingAccountId, aws.BillingPeriodStart, strict=True))
    assert with_tax == every and len(every) == 26  # Azure's cost export bills no sales tax


def test_weekday_compute_hours_exceed_weekend_hours(frame: pd.DataFrame) -> None:
    per_hour = _usage_ec2(frame).groupby("ChargePeriodStart").ConsumedQuantity.sum()
    weekday = pd.to_datetime(per_hour.index).day_of_week
    assert per_hour[weekday < 5].mean() > 1.1 * per_hour[weekday >= 5].mean()


def test_business_hours_peak_above_night(frame: pd.DataFrame) -> None:
    ec2 = _usage_ec2(frame)
    web = ec2[ec2.ResourceName == "web-frontend"]  # us-east-1: 14:00 local is 19:00 UTC
    per_hour = web.groupby(web.ChargePeriodStart.str[11:13]).ConsumedQuantity.mean()
    assert per_hour["19"] > 1.3 * per_hour["09"]


def test_compute_spend_grows(frame: pd.DataFrame) -> None:
    ec2 = _usage_ec2(frame)
    monthly = ec2.groupby(ec2.BillingPeriodStart.str[:7]).EffectiveCost.sum()
    first, last_full = monthly.iloc[0], monthly.iloc[-2]
    assert last_full > 1.2 * first
    hours = ec2.groupby(ec2.BillingPeriodStart.str[:7]).ConsumedQuantity.sum()
    days = pd.Series([31, 28], index=["2025-03", "2026-02"])
    assert hours["2026-02"] / days["2026-02"] > 1.3 * hours["2025-03"] / days["2025-03"]


def test_one_launch_spike(frame: pd.DataFrame) -> None:
    ec2 = _usage_ec2(frame)
    fleet = ec2[ec2.ResourceName == "ml-inference"]
    daily = fleet.groupby(fleet.ChargePeriodStart.str[:10]).ConsumedQuantity.sum()
    median = daily.median()
    spike_days = daily[daily > 2.5 * median]
    assert 3 <= len(spike_days) <= 6
    assert spike_days.index.str[:7].nunique() == 1
    assert daily.max() > 3 * median


# ---------------------------------------------------------------------------------------------
# Money


def test_commitment_purchases_equal_amortized_used_plus_unused_each_month(
    export: tuple[list[Path], pd.DataFrame],
) -> None:
    """The designed identity: per commitment and month, Purchase BilledCost == Used + Unused EffectiveCost."""
    _, raw = export
    rows = raw[raw.CommitmentDiscountId.notna()].assign(
        billed=lambda d: _exact(d.BilledCost), effective=lambda d: _exact(d.EffectiveCost)
    )
    key = ["BillingAccountId", "BillingPeriodStart", "CommitmentDiscountId"]
    purchases = rows[rows.ChargeCategory == "Purchase"]
    usage = rows[rows.ChargeCategory == "Usage"]
    assert (purchases.effective == 0).all()
    assert (usage.billed == 0).all()
    billed = purchases.groupby(key).billed.sum()
    amortized = usage.groupby(key).effective.sum()
    assert len(billed) >= 60
    pd.testing.assert_series_equal(billed, amortized, check_names=False)
    assert {"Used", "Unused"} == set(usage.CommitmentDiscountStatus)


def test_billed_equals_amortized_per_billing_account_and_month(
    export: tuple[list[Path], pd.DataFrame],
) -> None:
    _, raw = export
    money = raw.assign(billed=_exact(raw.BilledCost), effective=_exact(raw.EffectiveCost))
    totals = money.groupby(["BillingAccountId", "BillingPeriodStart"])[["billed", "effective"]].sum()
    assert len(totals) == 39  # three billing accounts x 13 months
    assert (totals.billed == totals.effective).all()
    # Not trivially so: within a month, covered usage is billed 0 and purchases are amortized 0.
    assert (money.billed != money.effective).sum() > 100_000


def test_commitments_are_fully_accounted_every_hour(frame: pd.DataFrame) -> None:
    """Each hour a Reserved Instance's used + unused hours is its count; a Savings Plan's is its dollars."""
    usage = frame[(frame.ChargeCategory == "Usage") & frame.CommitmentDiscountId.notna()]
    purchases = frame[frame.ChargeCategory == "Purchase"]
    for cid, group in usage.groupby("CommitmentDiscountId"):
        per_hour = group.groupby("ChargePeriodStart").CommitmentDiscountQuantity.sum()
        purchase = purchases[purchases.CommitmentDiscountId == cid].iloc[0]
        hours = (pd.Timestamp(purchase.ChargePeriodEnd) - pd.Timestamp(purchase.ChargePeriodStart)) / pd.Timedelta("1h")
        per_hour_commitment = purchase.CommitmentDiscountQuantity / hours
        assert per_hour.to_numpy() == pytest.approx(per_hour_commitment, abs=1e-9), cid


def test_list_cost_is_list_unit_price_times_quantity_on_usage_rows(frame: pd.DataFrame) -> None:
    usage = frame[frame.ChargeCategory == "Usage"]
    assert usage.ListUnitPrice.notna().all() and usage.PricingQuantity.notna().all()
    expected = usage.ListUnitPrice * usage.PricingQuantity
    assert (usage.ListCost - expected).abs().max() < 1e-8
    standard = usage[usage.PricingCategory == "Standard"]
    assert (standard.BilledCost == standard.ListCost).all()


def test_ondemand_prices_are_libcloud_prices(frame: pd.DataFrame) -> None:
    libcloud = json.loads((SHARED / "aws_pricing/libcloud_pricing.json").read_text())["compute"]["ec2_linux"]
    ec2 = _usage_ec2(frame)
    ondemand = ec2[ec2.PricingCategory == "Standard"]
    pairs = ondemand.groupby(["x_InstanceType", "RegionId"]).ListUnitPrice.unique()
    assert len(pairs) >= 10
    for (itype, region), listed in pairs.items():
        assert list(listed) == [libcloud[itype][region]], (itype, region)
        assert libcloud[itype][region] > 0
    # Covered and spot rows are listed at the same on-demand price.
    for _, row in ec2.drop_duplicates(["x_InstanceType", "RegionId", "PricingCategory"]).iterrows():
        assert row.ListUnitPrice == libcloud[row.x_InstanceType][row.RegionId]


def test_commitment_rates_come_from_the_real_discount_ratios(frame: pd.DataFrame) -> None:
    record = json.loads((SHARED / "aws_pricing/ec2instances_x2iedn.32xlarge.json").read_text())["pricing"]
    term = {"3y": "yrTerm3Standard.noUpfront", "1y": "yrTerm1Standard.noUpfront"}
    ri = frame[(frame.CommitmentDiscountType == "Reserved Instance") & (frame.CommitmentDiscountStatus == "Used")]
    for (name, region), group in ri.groupby(["CommitmentDiscountName", "RegionId"]):
        linux = record[region]["linux"]
        ratio = float(linux["reserved"][term[name[-3:-1]]]) / float(linux["ondemand"])
        rate = (group.EffectiveCost / group.PricingQuantity).to_numpy()
        assert rate == pytest.approx(group.ListUnitPrice.to_numpy() * ratio, abs=5e-7), name
    sp = frame[(frame.CommitmentDiscountType == "Savings Plan") & (frame.CommitmentDiscountStatus == "Used")]
    linux = record["us-east-1"]["linux"]
    ratio = float(linux["reserved"]["yrTerm1Convertible.noUpfront"]) / float(linux["ondemand"])
    median = statistics.median(sp.EffectiveCost / sp.ListCost)
    assert median == pytest.approx(ratio, abs=1e-3)


def test_spot_prices_follow_the_observed_spot_level(frame: pd.DataFrame) -> None:
    libcloud = json.loads((SHARED / "aws_pricing/libcloud_pricing.json").read_text())["compute"]["ec2_linux"]
    zones = {"use1": "us-east-1", "usw2": "us-west-2", "euw1": "eu-west-1"}
    observed: dict[tuple[str, str], list[float]] = {}
    for line in (SHARED / "aws_spot/spot_price_history_2022-05.tsv").read_text().splitlines():
        zone, itype, product, price, _ = line.split("\t")
        if product == "Linux/UNIX" and zone.split("-")[0] in zones:
            observed.setdefault((itype, zones[zone.split("-")[0]]), []).append(float(price))
    spot = frame[frame.PricingCategory == "Dynamic"]
    assert len(spot) > 0
    for (itype, region), group in spot.groupby(["x_InstanceType", "RegionId"]):
        mean = statistics.fmean(observed[(itype, region)])
        assert group.ContractedUnitPrice.unique() == pytest.approx([mean], abs=1e-6)
        assert group.ListUnitPrice.unique() == pytest.approx([libcloud[itype][region]])
        assert (group.BilledCost < group.ListCost).all()


# ---------------------------------------------------------------------------------------------
# Edges and bad input


def test_end_on_the_first_of_a_month_bills_nothing_for_that_month(tmp_path: Path) -> None:
    paths = generate_demo_billing(tmp_path, end=date(2026, 3, 1), months=2)
    assert [p.name.split("_")[2] for p in paths] == ["2026-02.csv.gz"] * 3
    assert _read(paths).ChargePeriodEnd.max() == "2026-03-01T00:00:00Z"
    assert generate_demo_billing(tmp_path / "none", end=date(2026, 3, 1), months=1) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"end": END, "months": 0}, ValueError, "months must be a positive integer, got 0"),
        ({"end": END, "months": "13"}, ValueError, "months must be a positive integer, got '13'"),
        ({"end": datetime(2026, 3, 15), "months": 2}, TypeError, "end must be a datetime.date, not datetime"),
        ({"end": "2026-03-15", "months": 2}, TypeError, "end must be a datetime.date, not str"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(error, match=re.escape(message)):
        generate_demo_billing(out, **kwargs)  # type: ignore[arg-type]
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# Provenance


def test_price_files_are_reproducible_from_the_shared_data(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("demo_extract", DATA / "extract.py")
    assert spec is not None and spec.loader is not None
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    extract.main(SHARED, tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "azure_vm_ondemand_linux.json",
        "ec2_commitment_ratios.json",
        "ec2_ondemand_linux.json",
        "ec2_spot_linux_2022-05-31.tsv",
        "service_rates.csv",
    ]
    for name in written:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_every_price_used_has_a_recorded_source() -> None:
    provenance = prices.provenance()
    for line in org.USAGE_LINES:
        assert f"{line.rate} {line.region}" in provenance, (line.rate, line.region)
    for group in org.COMPUTE_GROUPS:
        assert f"ec2 {group.instance_type} {group.region}" in provenance
        if group.spot:
            assert f"spot {group.instance_type} {group.region}" in provenance
    for group in org.AZURE_VM_GROUPS:
        assert f"azure vm {group.instance_type} {group.region}" in provenance
    published = {k for k, v in provenance.items() if v == prices.PUBLISHED}
    assert published == {f"{k} {r}" for k, by_region in prices.PUBLISHED_LIST_PRICES.items() for r in by_region}
    for (key, region), rate in prices.service_rates().items():
        assert rate.source == prices.PUBLISHED or rate.source.startswith(("focus/", "aws_cur/")), (
            key,
            region,
        )


def test_azure_rows_are_daily_at_the_retail_meter_price(frame: pd.DataFrame) -> None:
    azure = frame[frame.ProviderName == "Microsoft"]
    retail = json.loads((SHARED / "azure/retail_prices/eastus_standard_d2s_v3_nofilter.json").read_text())
    meters = [
        item
        for item in retail["Items"]
        if item["meterName"] == "D2s v3" and item["type"] == "Consumption" and "Windows" not in item["productName"]
    ]
    assert len(meters) == 1
    meter = meters[0]
    assert set(azure.ChargeCategory) == {"Usage"} and set(azure.ServiceName) == {"Virtual Machines"}
    assert set(azure.SkuPriceId) == {meter["meterId"]} and set(azure.RegionId) == {meter["armRegionName"]}
    assert set(azure.x_InstanceType) == {meter["armSkuName"]}
    assert azure.ResourceId.str.startswith("/subscriptions/6f2c9d3e-8a41-4b7e-9c15-2d0e7a3b5f18/resourceGroups/").all()
    start, end = pd.to_datetime(azure.ChargePeriodStart), pd.to_datetime(azure.ChargePeriodEnd)
    assert ((end - start) == pd.Timedelta(days=1)).all() and (start.dt.hour == 0).all()
    assert azure.ListUnitPrice.unique() == pytest.approx([meter["retailPrice"]])
    assert (azure.BilledCost - azure.PricingQuantity * meter["retailPrice"]).abs().max() < 1e-9
    # One row per scale set and day, for every day of the window.
    days = (pd.Timestamp(END) - pd.Timestamp("2025-03-01")).days
    assert len(azure) == len(org.AZURE_VM_GROUPS) * days
    assert azure.groupby("ResourceName").size().to_dict() == {g.name: days for g in org.AZURE_VM_GROUPS}
    # A few dozen VMs against the AWS fleet: a visible, small share of the bill.
    share = azure.EffectiveCost.sum() / frame.EffectiveCost.sum()
    assert 0.005 < share < 0.1, share


def test_commitment_inventory_files_round_trip_and_match_the_bill(frame: pd.DataFrame, tmp_path: Path) -> None:
    """The describe-reserved-instances / describe-savings-plans files beside the FOCUS export parse back to each
    commitment's id (the ARN's suffix), term and size; every billed hour of a commitment lies within its term."""
    from finops.commitments.terms import parse_commitment_terms, term_for
    from finops.demo.commitment_exports import write_demo_commitment_exports

    paths = write_demo_commitment_exports(tmp_path / "a", end=END, months=13)
    again = write_demo_commitment_exports(tmp_path / "b", end=END, months=13)
    assert [p.name for p in paths] == [
        "aws_ec2_describe-reserved-instances.json",
        "aws_savingsplans_describe-savings-plans.json",
    ]
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    terms = {t.id: t for p in paths for t in parse_commitment_terms(p.read_bytes(), p.name)}
    assert len(terms) == len(org.COMMITMENTS)

    first_month = pd.Timestamp(END.replace(day=1), tz="UTC") - pd.DateOffset(months=12)
    billed = frame[frame["CommitmentDiscountId"].notna()]
    starts = pd.to_datetime(billed["ChargePeriodStart"], utc=True)
    for c in org.COMMITMENTS:
        term = term_for(c.id, terms)
        start = first_month + pd.DateOffset(months=c.start_month)
        end = start + pd.DateOffset(months=c.term_months)
        assert term is not None and c.id.endswith("/" + term.id)
        assert (term.start, term.end) == (start.to_pydatetime(), end.to_pydatetime())
        if c.is_savings_plan:
            assert (term.kind, term.arn, term.hourly_commitment) == ("savings_plan", c.id, Decimal(c.hourly_commitment))
        else:
            assert (term.kind, term.units) == ("reservation", c.count)
        mine = starts[billed["CommitmentDiscountId"] == c.id]
        assert not mine.empty and mine.min() >= start and mine.max() < end, c.name
        assert mine.min() == max(start, first_month)
