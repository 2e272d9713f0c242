"""Human labels for the stored enum values that pages, emails and charts show (one mapping for all)."""

from __future__ import annotations

ENUM_LABELS: dict[str, str] = {
    "on_demand": "On-demand",
    "all_on_demand": "All on-demand",
    "no_upfront": "No upfront",
    "partial_upfront": "Partial upfront",
    "all_upfront": "All upfront",
    "no_commitment": "No commitment",
    "savings_plan": "Savings plan",
    "savings_plans": "Savings plans",
    "compute_savings_plan": "Compute savings plan",
    "ec2_instance_savings_plan": "EC2 instance savings plan",
    "reserved": "Reserved",
    "reservation": "Reservation",
    "spot": "Spot",
    "1y": "1 year",
    "3y": "3 years",
    "at_risk": "At risk",
    "time_limit": "Time limit",
    "convertible": "Convertible",
    "standard": "Standard",
    "ec2_instance": "EC2 instance",
    "compute": "Compute",
    "sagemaker": "SageMaker",
}


def enum_label(value: object) -> str:
    """'on_demand' -> 'On-demand'; an unknown value reads as words ('some_value' -> 'Some value'); '' for None."""
    if value is None:
        return ""
    text = str(value)
    if text in ENUM_LABELS:
        return ENUM_LABELS[text]
    words = text.replace("_", " ").strip()
    return words[:1].upper() + words[1:]
