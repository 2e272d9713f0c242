"""The purchase-plan options the optimizer commands share (recommend_commitments, backtest_commitments): one
definition of each flag and of how it becomes a parameter the services validate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser


def number(text: str) -> float | str:
    """``text`` as a float, or as given when it is none: the services' validation then names the field."""
    try:
        return float(text)
    except ValueError:
        return text


def add_plan_arguments(parser: CommandParser) -> None:
    parser.add_argument("--term", default="1y", help="1y or 3y")
    parser.add_argument("--payment", default="no", help="no, partial or all (upfront)")
    parser.add_argument("--max-spot-share", default="0.2", help="share of each SKU's hourly usage spot may serve")
    parser.add_argument("--upfront-budget", default=None, help="USD available for upfront payments")
    parser.add_argument("--time-limit", default="120", help="solver time limit per solve, seconds")
    parser.add_argument("--rightsize", action="store_true", help="apply rightsizing changes to demand first")
    parser.add_argument(
        "--allow-stale-spot",
        action="store_true",
        help="plan spot even from samples older than FINOPS_SPOT_MAX_AGE_DAYS (default: such spot is not used)",
    )


def plan_parameters(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "term": options["term"],
        "payment": options["payment"],
        "max_spot_share": number(options["max_spot_share"]),
        "upfront_budget": options["upfront_budget"],
        "time_limit": number(options["time_limit"]),
        "rightsize": options["rightsize"],
        "allow_stale_spot": options["allow_stale_spot"],
    }
