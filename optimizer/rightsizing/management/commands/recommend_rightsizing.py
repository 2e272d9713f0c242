"""python manage.py recommend_rightsizing --org SLUG [--json] [--max-changes-per-team N]
[--max-changes N] [--keep-within-family] [--allow-cross-architecture] [--lookback-days 14] [--solver highs|cbc]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from optimizer.rightsizing.fleet import FleetConstraints
from optimizer.rightsizing.policy import RightsizingPolicy
from optimizer.rightsizing.selectors import rightsizing_payload
from optimizer.rightsizing.services import RightsizingError, rightsizing_recommend

BAD_INPUT_EXIT = 2


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Rightsize the organization's EC2 fleet from its utilisation metrics and the price catalog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--max-changes-per-team", type=int, default=None, metavar="N")
        parser.add_argument("--max-changes", type=int, default=None, metavar="N", help="for the whole fleet")
        parser.add_argument("--keep-within-family", action="store_true", help="resize only within the family")
        parser.add_argument(
            "--allow-cross-architecture",
            action="store_true",
            help="allow e.g. x86 -> Graviton (flagged as migration effort)",
        )
        parser.add_argument("--lookback-days", type=int, default=14)
        parser.add_argument("--solver", choices=["highs", "cbc"], default=None)

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=BAD_INPUT_EXIT)
        try:
            policy = RightsizingPolicy(
                lookback_days=options["lookback_days"], allow_cross_architecture=options["allow_cross_architecture"]
            )
            constraints = FleetConstraints(
                max_changes_per_team=options["max_changes_per_team"],
                max_changes=options["max_changes"],
                keep_within_family=options["keep_within_family"],
            )
            run = rightsizing_recommend(
                organization=organization, policy=policy, constraints=constraints, solver=options["solver"]
            )
        except (RightsizingError, ValueError) as error:
            raise CommandError(str(error), returncode=BAD_INPUT_EXIT) from error
        payload = rightsizing_payload(run)
        if options["json"]:
            self.stdout.write(json.dumps(payload))
            return
        self._table(payload)

    def _table(self, payload: dict) -> None:
        rows = payload["recommendations"]
        header = (
            "action",
            "team",
            "resource",
            "region",
            "current",
            "recommended",
            "p95 cpu",
            "max cpu",
            "now $/mo",
            "new $/mo",
            "saves $/mo",
        )
        lines = [header]
        for r in rows:
            name = r["resource_name"] or r["resource_id"]
            lines.append(
                (
                    r["action"] + (" *" if r["migration_effort"] else ""),
                    r["team"] or "-",
                    name if len(name) <= 40 else name[:37] + "...",
                    r["region"],
                    r["current_type"],
                    r["recommended_type"] or "(stop)",
                    "-" if r["p95_cpu"] is None else f"{r['p95_cpu']:.1f}%",
                    "-" if r["max_cpu"] is None else f"{r['max_cpu']:.1f}%",
                    r["current_monthly_cost"] or "-",
                    r["new_monthly_cost"] or "-",
                    r["monthly_savings"] or "-",
                )
            )
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
        right = {6, 7, 8, 9, 10}
        for line in lines:
            self.stdout.write(
                "  ".join(
                    str(v).rjust(w) if i in right else str(v).ljust(w)
                    for i, (v, w) in enumerate(zip(line, widths, strict=True))
                ).rstrip()
            )
        self.stdout.write(
            f"\n{sum(r['action'] != 'keep' for r in rows)} change(s) of {len(rows)} resource(s); "
            f"total savings ${payload['total_monthly_savings']} per month (on-demand list prices, 730 h)."
        )
        if any(r["migration_effort"] for r in rows):
            self.stdout.write("* cross-architecture: needs an arm64 build (migration effort)")
        self.stdout.write(f"window {payload['window_start']} to {payload['window_end']}; run #{payload['run']}")
