"""python manage.py recommend_commitments --org SLUG [...]: the optimal commitment purchase for an organization;
with ``--what-if FILE.json`` also a purchase list of your own priced next to it (``--run ID``: on an existing run)."""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from optimizer.management.plan_options import add_plan_arguments, number, plan_parameters
from optimizer.models import OptimizationRun
from optimizer.selectors import optimization_run_detail
from optimizer.services import (
    LOOKBACK_DAYS,
    OptimizationError,
    ParametersError,
    optimization_run_create,
    optimization_run_execute,
)
from optimizer.whatif import WhatIfError, load_what_if, parse_what_if
from optimizer.whatif_selectors import WhatIfUnavailable, run_what_if

BAD_INPUT_EXIT = 2


class Command(BaseCommand):
    help = "Recommend reservations and savings plans (optimal mix), optionally with a backtest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--lookback-days", type=int, default=30, help=f"one of {LOOKBACK_DAYS}")
        add_plan_arguments(parser)
        parser.add_argument("--accounts", default=None, help="comma-separated billing/sub account ids")
        parser.add_argument("--regions", default=None, help="comma-separated region ids")
        parser.add_argument("--teams", default=None, help="comma-separated team slugs")
        parser.add_argument("--backtest", action="store_true", help="also backtest against two baselines")
        parser.add_argument(
            "--carbon", action="store_true", help="also trace the cost-vs-carbon front of the demand (region moves)"
        )
        parser.add_argument(
            "--carbon-price", default=None, help="USD per kgCO2e: pick the placement (implies --carbon)"
        )
        parser.add_argument("--carbon-cap", default=None, help="kgCO2e over the window: cheapest placement within it")
        parser.add_argument("--carbon-regions", default=None, help="comma-separated candidate regions for --carbon")
        parser.add_argument("--carbon-points", type=int, default=9, help="caps tried along the front (5..50)")
        parser.add_argument("--inline", action="store_true", help="run in this process (the default)")
        parser.add_argument("--enqueue", action="store_true", help="queue the run on Celery and print its id")
        parser.add_argument("--json", action="store_true", help="print the run detail JSON")
        parser.add_argument(
            "--what-if",
            default=None,
            metavar="FILE.json",
            help="price this purchase list (reservations by offer and count, savings plans in $/hour) next to the "
            "optimal plan and the baselines; --json adds it as the detail's what_if",
        )
        parser.add_argument(
            "--run", type=int, default=None, help="with --what-if: use this existing run instead of solving anew"
        )

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"unknown organization {options['org']!r}", returncode=BAD_INPUT_EXIT)
        parameters = {
            "lookback_days": options["lookback_days"],
            **plan_parameters(options),
            "accounts": options["accounts"],
            "regions": options["regions"],
            "teams": options["teams"],
            "backtest": options["backtest"],
            "carbon": options["carbon"],
            "carbon_price": options["carbon_price"],
            "carbon_cap": None if options["carbon_cap"] is None else number(options["carbon_cap"]),
            "carbon_regions": options["carbon_regions"],
            "carbon_points": options["carbon_points"],
        }
        if options["inline"] and options["enqueue"]:
            raise CommandError("--inline and --enqueue exclude each other", returncode=BAD_INPUT_EXIT)
        document = _what_if_document(options)
        if options["run"] is not None:
            run = OptimizationRun.objects.filter(organization=organization, pk=options["run"]).first()
            if run is None:
                raise CommandError(f"no run {options['run']} in {organization.slug}", returncode=BAD_INPUT_EXIT)
            self._print(run, options, document)
            return
        try:
            run = optimization_run_create(organization=organization, parameters=parameters, enqueue=options["enqueue"])
        except ParametersError as error:
            raise CommandError(f"invalid options: {error}", returncode=BAD_INPUT_EXIT) from error
        if options["enqueue"]:
            if options["json"]:
                self.stdout.write(json.dumps(optimization_run_detail(run), indent=2))
            else:
                self.stdout.write(f"run {run.pk} queued")
            return
        try:
            run = optimization_run_execute(run)  # the solvers silence the HiGHS banner: --json stays clean
        except OptimizationError as error:
            raise CommandError(f"run {run.pk} failed: {error}", returncode=BAD_INPUT_EXIT) from error
        self._print(run, options, document)

    def _print(self, run: OptimizationRun, options: dict, document: object | None) -> None:
        detail = optimization_run_detail(run)
        if document is not None:
            try:
                detail["what_if"] = run_what_if(run, document)
            except (WhatIfError, WhatIfUnavailable, OptimizationError) as error:
                raise CommandError(_what_if_message(options["what_if"], error), returncode=BAD_INPUT_EXIT) from error
        if options["json"]:
            self.stdout.write(json.dumps(detail, indent=2))
            return
        self.stdout.write(render_table(detail))
        if document is not None:
            self.stdout.write("\n" + render_what_if(detail["what_if"]))


def _what_if_document(options: dict) -> object | None:
    """The --what-if file decoded (and, before a fresh run is solved, checked for shape and amounts)."""
    path = options["what_if"]
    if path is None:
        if options["run"] is not None:
            raise CommandError("--run needs --what-if FILE.json", returncode=BAD_INPUT_EXIT)
        return None
    if options["enqueue"]:
        raise CommandError("--what-if needs the run's result: not with --enqueue", returncode=BAD_INPUT_EXIT)
    try:
        with open(path, encoding="utf-8") as handle:
            document = load_what_if(handle.read())
        if options["run"] is None:
            parse_what_if(document, None)  # a bad file fails before the solve; offers are checked on the run
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}", returncode=BAD_INPUT_EXIT) from error
    except WhatIfError as error:
        raise CommandError(_what_if_message(path, error), returncode=BAD_INPUT_EXIT) from error
    return document


def _what_if_message(path: str, error: Exception) -> str:
    if isinstance(error, WhatIfError):
        return f"invalid what-if {path}:\n" + "\n".join(
            f"  {field}: {message}" for field, message in error.errors.items()
        )
    return f"what-if {path}: {error}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _usd(amount: str) -> str:
    """A stored decimal string shown with thousands separators and cents."""
    return f"{Decimal(amount):,.2f}"


def _usd_or_dash(amount: str | None) -> str:
    return "-" if amount is None else _usd(amount)


def _pct_points(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def render_table(detail: dict) -> str:
    results = detail["results"]
    lines = [f"Run {detail['id']} ({detail['organization']}): {detail['status']}", ""]
    header = (
        f"{'offer':<48} {'quantity':>12} {'upfront':>12} {'$/month':>12} {'saves/month':>12} {'break-even':>10} "
        f"{'util':>7} {'cover':>7}"
    )
    lines += [header, "-" * len(header)]
    for p in detail["purchases"]:
        quantity = f"{p['quantity']} {'u' if p['quantity_unit'] == 'units' else '$/h'}"
        even = "-" if p["break_even_month"] is None else f"month {p['break_even_month']}"
        lines.append(
            f"{p['offer_id']:<48} {quantity:>12} {p['upfront']:>12} {p['monthly_cost']:>12} {p['monthly_savings']:>12} "
            f"{even:>10} {_pct(p['expected_utilization']):>7} {_pct(p['coverage']):>7}"
        )
    if not detail["purchases"]:
        lines.append("(buy nothing: no commitment lowers the cost)")
    lines += ["", *results.get("explanation", [])]
    if results.get("carbon_front"):
        lines += ["", f"{'cost-vs-carbon front':<24} {'on-demand $':>14} {'kgCO2e':>14}  trade-off"]
        for point in results["carbon_front"]:
            lines.append(f"{'':<24} {_usd(point['cost']):>14} {point['kgco2e']:>14,.1f}  {point['summary']}")
        placement = results.get("carbon_placement")
        if placement and "error" not in placement:
            lines.append(
                f"{'chosen placement':<24} {_usd(placement['cost']):>14} {placement['kgco2e']:>14,.1f}  "
                f"{placement['summary']}; moves: "
                + (", ".join(f"{k} -> {v}" for k, v in placement["moves"].items()) or "none")
            )
    backtest = detail.get("backtest")
    if backtest:
        lines.append("")
        if "error" in backtest:
            lines.append(f"Backtest: {backtest['error']}")
        else:
            lines.append(
                f"Backtest: train {backtest['train_window']['start'][:10]}..{backtest['train_window']['end'][:10]}, "
                f"test {backtest['test_window']['start'][:10]}..{backtest['test_window']['end'][:10]}"
            )
            head = (
                f"{'strategy':<22} {'$/h committed':>14} {'test cost':>14} {'all on-demand':>14} {'savings':>14} "
                f"{'savings %':>9} {'util':>7} {'regret':>12} {'regret %':>8}"
            )
            lines += [head, "-" * len(head)]
            for row in backtest["rows"]:
                t = row["test"]
                lines.append(
                    f"{row['strategy']:<22} {_usd(row['commitment_per_hour']):>14} {_usd(t['cost']):>14} "
                    f"{_usd(t['all_on_demand']):>14} {_usd(t['savings']):>14} {t['savings_pct']:>8.1f}% "
                    f"{_pct(t['utilization']):>7} {_usd_or_dash(row.get('regret')):>12} "
                    f"{_pct_points(row.get('regret_pct')):>8}"
                )
    return "\n".join(lines)


def _break_even(row: dict) -> str:
    hours = row["break_even_hours"]
    return "never" if hours is None else f"{hours:,} h"


def render_what_if(what_if: dict) -> str:
    """The what-if next to the optimal plan and the baselines (all on the run's window, by the evaluator)."""
    window = what_if["window"]
    lines = [
        f"What-if on run {what_if['run']}: {window['hours']} hours {window['start'][:10]}..{window['end'][:10]}, "
        f"prices as of {what_if['prices_at'][:16]} UTC ({what_if['seconds']:.1f} s)",
        "",
    ]
    head = (
        f"{'strategy':<22} {'$/h committed':>14} {'upfront':>12} {'cost':>14} {'savings':>14} {'savings %':>9} "
        f"{'cover':>7} {'util':>7} {'break-even':>11}"
    )
    lines += [head, "-" * len(head)]
    for row in what_if["rows"]:
        lines.append(
            f"{row['strategy']:<22} {_usd(row['commitment_per_hour']):>14} {_usd(row['upfront']):>12} "
            f"{_usd(row['cost']):>14} {_usd(row['savings']):>14} {row['savings_pct']:>8.1f}% "
            f"{_pct(row['coverage']):>7} {_pct(row['utilization']):>7} {_break_even(row):>11}"
        )
    difference = what_if["differences"]["optimizer"]["cost"]
    lines += [
        "",
        f"Best: {what_if['best']}. The what-if costs ${_usd(difference)} more than the optimal plan over the window."
        if Decimal(difference) > 0
        else f"Best: {what_if['best']}. The what-if costs no more than the optimal plan over the window.",
    ]
    purchases = what_if["what_if"]["purchases"]
    if purchases:
        lines += ["", "Your purchases (savings incremental, deepest discount first):"]
        for p in purchases:
            quantity = f"{p['quantity']} {'u' if p['quantity_unit'] == 'units' else '$/h'}"
            even = "-" if p["break_even_month"] is None else f"month {p['break_even_month']}"
            lines.append(
                f"  {p['offer_id']:<48} {quantity:>14} saves {_usd(p['monthly_savings']):>12}/month  {even:>9}  "
                f"util {_pct(p['expected_utilization']):>6}  cover {_pct(p['coverage']):>6}"
            )
    lines += [f"note: {note}" for note in what_if["notes"]]
    return "\n".join(lines)
