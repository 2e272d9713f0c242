"""Independent expectations for Azure cost files: the raw CSV read with the csv module, sums in Decimal.

The classification below restates Microsoft's rules in the plainest form (one row at a time), so it can
catch the vectorised mapper getting them wrong.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

AZURE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "azure"
EA_ACTUAL = AZURE / "EA_ActualCost_Small.csv"
EA_AMORTIZED = AZURE / "EA_AmortizedCost_Small.csv"
KOKU_V2 = AZURE / "koku_azure_version_2.csv"
KOKU_PAYG = AZURE / "koku_costreport_a243c6f2.csv"
STORED = Decimal("1e-16")  # the canonical schema keeps 16 decimal places


def rows_of(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def cost_of(row: dict[str, str]) -> Decimal:
    for column in ("CostInBillingCurrency", "Cost", "PreTaxCost"):
        if column in row:
            return Decimal(row[column])
    raise KeyError("no cost column")


def stored(value: Decimal) -> Decimal:
    return value.quantize(STORED, rounding=ROUND_HALF_EVEN)


def is_commitment(row: dict[str, str]) -> bool:
    return (
        row.get("PricingModel") in ("Reservation", "SavingsPlan")
        or row.get("ConsumedService", "").lower() in ("microsoft.capacity", "microsoft.billingbenefits")
        or bool(row.get("ReservationId"))
        or bool(row.get("benefitId") or row.get("BenefitId"))
    )


def is_commitment_purchase(row: dict[str, str]) -> bool:
    return is_commitment(row) and row.get("ChargeType") in ("Purchase", "Refund")


def is_amortized_commitment_usage(row: dict[str, str]) -> bool:
    return (
        is_commitment(row)
        and row.get("ChargeType") in ("Usage", "UnusedReservation", "UnusedSavingsPlan")
        and cost_of(row) != 0
    )


def expected_totals(rows: list[dict[str, str]], currency_column: str) -> dict[str, dict[str, Decimal]]:
    """Per currency: billed (commitment usage left out) and effective (commitment purchases left out)."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"billed": Decimal(0), "effective": Decimal(0)})
    for row in rows:
        cost = stored(cost_of(row))
        bucket = totals[row[currency_column].upper()]
        if not is_amortized_commitment_usage(row):
            bucket["billed"] += cost
        if not is_commitment_purchase(row):
            bucket["effective"] += cost
    return dict(totals)


def exact_sum(rows: list[dict[str, str]]) -> Decimal:
    return sum((cost_of(row) for row in rows), Decimal(0))
