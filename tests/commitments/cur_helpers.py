"""A small AWS CUR file with reservations and savings plans: the real sample's 94 legacy CUR columns (its header,
read from /work/shared/data) plus the provider columns AWS documents for commitments that the sample lacks
(reservation/ReservationARN, product/instanceType, pricing/LeaseContractLength, pricing/OfferingClass,
pricing/PurchaseOption and the savingsPlan/StartTime, EndTime, OfferingType, PaymentOption, PurchaseTerm, Region
columns). The sample itself has
no commitment line items (its reservation/* and savingsPlan/* columns are empty)."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CUR_SAMPLE = ROOT.parent / "shared" / "data" / "aws_cur" / "sample-anonymous-aws-export-dataset.csv"
EXTRA_COLUMNS = [
    "reservation/ReservationARN",
    "product/instanceType",
    "pricing/LeaseContractLength",
    "pricing/OfferingClass",
    "pricing/PurchaseOption",
    "savingsPlan/StartTime",
    "savingsPlan/EndTime",
    "savingsPlan/OfferingType",
    "savingsPlan/PaymentOption",
    "savingsPlan/PurchaseTerm",
    "savingsPlan/Region",
]

PAYER = "444455556666"
RI_ARN = "arn:aws:ec2:us-east-1:444455556666:reserved-instances/11111111-2222-3333-4444-555555555555"
SP_ARN = "arn:aws:savingsplans::444455556666:savingsplan/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
RI_END = "2026-12-31T23:59:59.000Z"
SP_END = "2027-02-14T00:00:00.000Z"


def sample_header() -> list[str]:
    with CUR_SAMPLE.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def _base(start: str, end: str) -> dict[str, str]:
    return {
        "bill/PayerAccountId": PAYER,
        "bill/BillingPeriodStartDate": "2026-11-01T00:00:00Z",
        "bill/BillingPeriodEndDate": "2026-12-01T00:00:00Z",
        "bill/BillType": "Anniversary",
        "lineItem/UsageAccountId": "777788889999",
        "lineItem/UsageStartDate": start,
        "lineItem/UsageEndDate": end,
        "lineItem/CurrencyCode": "USD",
        "lineItem/ProductCode": "AmazonEC2",
        "product/ProductName": "Amazon Elastic Compute Cloud",
        "product/regionCode": "us-east-1",
        "pricing/unit": "Hrs",
    }


def _day(day: int) -> tuple[str, str]:
    first = f"2026-11-{day:02d}T00:00:00Z"
    last = "2026-12-01T00:00:00Z" if day == 30 else f"2026-11-{day + 1:02d}T00:00:00Z"
    return first, last


def commitment_rows() -> list[dict[str, str]]:
    """November 2026 (payer PAYER), one row per day and kind of usage:
    - a Standard 1yr No Upfront reservation of 2 m5.large in us-east-1 (ends RI_END): DiscountedUsage of 44 of the
      48 reserved instance-hours each day at an effective 0.06/h (on demand 0.096/h), and the month's RIFee of
      86.40 with the unused 4 instance-hours a day as UnusedRecurringFee (30 x 4 x 0.06 = 7.20);
    - a Compute savings plan of 1.00/h (ends SP_END): 200 instance-hours of c5.xlarge in us-west-2 a day covered
      (on demand 0.17/h: 34.00) at a savings-plan cost of 20.00, and the month's SavingsPlanRecurringFee with
      TotalCommitmentToDate 720.00 and UsedCommitment 600.00;
    - on-demand usage on the 12th: 24 h of m5.xlarge in us-east-1 (the reservation's family: eligible for it) and
      100 h of c5.large (Compute: eligible for the savings plan only)."""
    rows = []
    ri = {
        "reservation/ReservationARN": RI_ARN,
        "reservation/StartTime": "2025-12-31T00:00:00.000Z",
        "reservation/EndTime": RI_END,
        "reservation/NumberOfReservations": "2",
        "pricing/LeaseContractLength": "1yr",
        "pricing/OfferingClass": "standard",
        "pricing/PurchaseOption": "No Upfront",
        "product/instanceType": "m5.large",
        "lineItem/UsageType": "BoxUsage:m5.large",
    }
    sp = {
        "savingsPlan/SavingsPlanARN": SP_ARN,
        "savingsPlan/StartTime": "2026-02-14T00:00:00.000Z",
        "savingsPlan/EndTime": SP_END,
        "savingsPlan/OfferingType": "ComputeSavingsPlans",
        "savingsPlan/PaymentOption": "No Upfront",
        "savingsPlan/PurchaseTerm": "1yr",
    }
    for day in range(1, 31):
        first, last = _day(day)
        rows.append(
            _base(first, last)
            | ri
            | {
                "lineItem/LineItemType": "DiscountedUsage",
                "lineItem/UsageAmount": "44",
                "lineItem/UnblendedCost": "0",
                "pricing/publicOnDemandCost": "4.224",
                "pricing/publicOnDemandRate": "0.096",
                "reservation/EffectiveCost": "2.64",
            }
        )
        rows.append(
            _base(first, last)
            | sp
            | {
                "lineItem/LineItemType": "SavingsPlanCoveredUsage",
                "lineItem/UsageType": "USW2-BoxUsage:c5.xlarge",
                "product/instanceType": "c5.xlarge",
                "product/regionCode": "us-west-2",
                "lineItem/UsageAmount": "200",
                "lineItem/UnblendedCost": "34.00",
                "pricing/publicOnDemandCost": "34.00",
                "pricing/publicOnDemandRate": "0.17",
                "savingsPlan/SavingsPlanEffectiveCost": "20.00",
            }
        )
    rows.append(
        _base("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
        | ri
        | {
            "lineItem/LineItemType": "RIFee",
            "lineItem/UsageAmount": "1440",
            "lineItem/UnblendedCost": "86.40",
            "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "0",
            "reservation/UnusedRecurringFee": "7.20",
        }
    )
    rows.append(
        _base("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
        | sp
        | {
            "lineItem/LineItemType": "SavingsPlanRecurringFee",
            "lineItem/ProductCode": "ComputeSavingsPlans",
            "lineItem/UsageType": "ComputeSP:1yrNoUpfront",
            "product/ProductName": "Savings Plans for AWS Compute usage",
            "product/regionCode": "",
            "lineItem/UsageAmount": "720",
            "lineItem/UnblendedCost": "720.00",
            "savingsPlan/TotalCommitmentToDate": "720.00",
            "savingsPlan/UsedCommitment": "600.00",
            "savingsPlan/RecurringCommitmentForBillingPeriod": "720.00",
        }
    )
    for itype, amount, rate, cost in (("m5.xlarge", "24", "0.192", "4.608"), ("c5.large", "100", "0.085", "8.5")):
        rows.append(
            _base(*_day(12))
            | {
                "lineItem/LineItemType": "Usage",
                "lineItem/UsageType": f"BoxUsage:{itype}",
                "product/instanceType": itype,
                "lineItem/UsageAmount": amount,
                "lineItem/UnblendedCost": cost,
                "pricing/publicOnDemandCost": cost,
                "pricing/publicOnDemandRate": rate,
                "pricing/term": "OnDemand",
            }
        )
    return rows


def write_cur(path: Path, rows: list[dict[str, str]]) -> Path:
    header = sample_header() + EXTRA_COLUMNS
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            unknown = set(row) - set(header)
            assert not unknown, unknown
            writer.writerow({k: row.get(k, "") for k in header})
    return path
