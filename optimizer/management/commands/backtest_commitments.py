"""python manage.py backtest_commitments --org SLUG [--lookbacks 7,30,90] [--test-days 30] [...]: decision quality
on held-back weeks: each strategy's test-window cost, its regret against the perfect-hindsight optimum, per
lookback, as one table."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from optimizer.backtest import lookback_table
from optimizer.management.plan_options import add_plan_arguments, plan_parameters
from optimizer.services import (
    OptimizationError,
    ParametersError,
    commitment_backtest_lookbacks,
    stored_json,
)

BAD_INPUT_EXIT = 2


class Command(BaseCommand):
    help = "Backtest the optimizer and two baselines for several lookbacks against one held-back test window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--lookbacks", default="7,30,90", help="training windows in days, comma-separated")
        parser.add_argument("--test-days", type=int, default=30, help="the held-back window: the last N days")
        add_plan_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the tables as JSON")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"unknown organization {options['org']!r}", returncode=BAD_INPUT_EXIT)
        try:
            lookbacks = tuple(int(v) for v in options["lookbacks"].split(",") if v.strip())
        except ValueError as error:
            raise CommandError(f"invalid options: lookbacks: {error}", returncode=BAD_INPUT_EXIT) from error
        parameters = plan_parameters(options)
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
