"""python manage.py backtest_commitments --org SLUG [--lookbacks 7,30,90] [--test-days 30] [...]: decision quality
on held-back weeks: each strategy's test-window cost, its regret against the perfect-hindsight optimum, per
lookback, as one table."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from optimizer.backtest import lookback_table
from optimizer.services import (
    OptimizationError,
    ParametersError,
    commitment_backtest_lookbacks,
    stored_json,
)

BAD_INPUT_EXIT = 2


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # validation names the field


class Command(BaseCommand):
    help = "Backtest the optimizer and two baselines for several lookbacks against one held-back test window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--lookbacks", default="7,30,90", help="training windows in days, comma-separated")
        parser.add_argument("--test-days", type=int, default=30, help="the held-back window: the last N days")
        parser.add_argument("--term", default="1y", help="1y or 3y")
        parser.add_argument("--payment", default="no", help="no, partial or all (upfront)")
        parser.add_argument("--max-spot-share", default="0.2", help="share of each SKU's hourly usage spot may serve")
        parser.add_argument("--upfront-budget", default=None, help="USD available for upfront payments")
        parser.add_argument("--time-limit", default="120", help="solver time limit per solve, seconds")
        parser.add_argument("--rightsize", action="store_true", help="apply rightsizing changes to demand first")
        parser.add_argument("--allow-stale-spot", action="store_true", help="plan spot even from stale samples")
        parser.add_argument("--json", action="store_true", help="print the tables as JSON")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"unknown organization {options['org']!r}", returncode=BAD_INPUT_EXIT)
        try:
            lookbacks = tuple(int(v) for v in options["lookbacks"].split(",") if v.strip())
        except ValueError as error:
            raise CommandError(f"invalid options: lookbacks: {error}", returncode=BAD_INPUT_EXIT) from error
        parameters = {
            "term": options["term"],
            "payment": options["payment"],
            "max_spot_share": _number(options["max_spot_share"]),
            "upfront_budget": options["upfront_budget"],
            "time_limit": _number(options["time_limit"]),
            "rightsize": options["rightsize"],
            "allow_stale_spot": options["allow_stale_spot"],
        }
        try:
            result = commitment_backtest_lookbacks(
                organization, parameters, lookbacks=lookbacks, test_days=options["test_days"]
            )
        except ParametersError as error:
            raise CommandError(f"invalid options: {error}", returncode=BAD_INPUT_EXIT) from error
        except OptimizationError as error:
            raise CommandError(str(error), returncode=BAD_INPUT_EXIT) from error
        if options["json"]:
            self.stdout.write(json.dumps(stored_json(result), indent=2))
            return
        window = result["test_window"]
        self.stdout.write(
            lookback_table(result, title=f"{organization.slug}: test window {window['start']}..{window['end']}")
        )
