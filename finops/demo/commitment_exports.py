"""The demo organization's commitment inventory as the AWS CLI prints it, beside its FOCUS export.

FOCUS line items carry no commitment start or end, so the demo writes what an AWS customer would fetch with
``aws ec2 describe-reserved-instances --output json`` and ``aws savingsplans describe-savings-plans --output json``
for the commitments of ``org.COMMITMENTS``; ``seed_demo`` imports both files (``import_commitment_terms``). Each
commitment is in force from the first hour of its start month for ``term_months`` whole months, the hours the
generator bills it (``generator._active_hours``); ids are the suffixes of the ARNs its FOCUS rows carry.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from finops.demo import org
from finops.demo.generator import CURRENCY

RESERVED_INSTANCES_FILE = "aws_ec2_describe-reserved-instances.json"
SAVINGS_PLANS_FILE = "aws_savingsplans_describe-savings-plans.json"
SECONDS_PER_YEAR = 31_536_000  # the API's one-year Duration; three years are 94608000
PAYMENT = {"no_upfront": "No Upfront", "partial_upfront": "Partial Upfront", "all_upfront": "All Upfront"}


def commitment_span(c: org.Commitment, *, end: date, months: int) -> tuple[np.datetime64, np.datetime64]:
    """[start, end) of a demo commitment: its start month's first instant to ``term_months`` months later, months
    counted like the generator's window (month 0 is ``months - 1`` months before the month of ``end``)."""
    first = np.datetime64(f"{end.year:04d}-{end.month:02d}", "M") - (months - 1)
    return (
        (first + c.start_month).astype("datetime64[s]"),
        (first + c.start_month + c.term_months).astype("datetime64[s]"),
    )


def _iso(t: np.datetime64) -> str:
    return f"{np.datetime_as_string(t, unit='s')}.000Z"


def _state(start: np.datetime64, stop: np.datetime64, now: np.datetime64) -> str:
    """A purchase scheduled for later is ``queued`` (both APIs' state); then ``active``, then ``retired``."""
    if now < start:
        return "queued"
    return "active" if now < stop else "retired"


def _offer(c: org.Commitment) -> tuple[int, str, str]:
    """(years, class or plan type, payment) from an offer key like ``ri_3yr_standard_no_upfront``."""
    _, term, kind, payment = c.offer.split("_", 3)
    return int(term.removesuffix("yr")), kind, PAYMENT[payment]


def demo_commitment_documents(*, end: date, months: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The describe-reserved-instances and describe-savings-plans documents of the demo, as of ``end``."""
    now = np.datetime64(end.isoformat(), "s")
    reservations, plans = [], []
    for c in org.COMMITMENTS:
        start, stop = commitment_span(c, end=end, months=months)
        years, kind, payment = _offer(c)
        suffix = c.id.rpartition("/")[2]
        state = _state(start, stop, now)
        if c.is_savings_plan:
            plans.append(
                {
                    "savingsPlanId": suffix,
                    "savingsPlanArn": c.id,
                    "description": c.name,
                    "start": _iso(start),
                    "end": _iso(stop),
                    "state": state,
                    "region": "",
                    "ec2InstanceFamily": "",
                    "savingsPlanType": kind.capitalize(),
                    "paymentOption": payment,
                    "productTypes": ["EC2", "Fargate", "Lambda"],
                    "currency": CURRENCY,
                    "commitment": c.hourly_commitment,
                    "upfrontPaymentAmount": "0.0",
                    "recurringPaymentAmount": c.hourly_commitment,
                    "termDurationInSeconds": years * SECONDS_PER_YEAR,
                    "tags": {"Name": c.name},
                }
            )
        else:
            reservations.append(
                {
                    "ReservedInstancesId": suffix,
                    "InstanceType": c.instance_type,
                    "InstanceCount": c.count,
                    "Start": _iso(start),
                    "End": _iso(stop),
                    "Duration": years * SECONDS_PER_YEAR,
                    "State": state,
                    "OfferingClass": kind,
                    "OfferingType": payment,
                    "Scope": "Region",
                    "ProductDescription": "Linux/UNIX",
                    "InstanceTenancy": "default",
                    "CurrencyCode": CURRENCY,
                    "FixedPrice": 0.0,
                    "UsagePrice": 0.0,
                    "Tags": [{"Key": "Name", "Value": c.name}],
                }
            )
    return {"ReservedInstances": reservations}, {"savingsPlans": plans}


def write_demo_commitment_exports(out_dir: Path, *, end: date, months: int = 13) -> list[Path]:
    """Write the two inventory files into ``out_dir`` (reserved instances, then savings plans); equal arguments
    give byte-identical files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, document in zip(
        (RESERVED_INSTANCES_FILE, SAVINGS_PLANS_FILE), demo_commitment_documents(end=end, months=months), strict=True
    ):
        path = out_dir / name
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(document, indent=4) + "\n")
        os.replace(partial, path)
        paths.append(path)
    return paths
