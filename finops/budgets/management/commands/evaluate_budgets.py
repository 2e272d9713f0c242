"""python manage.py evaluate_budgets [--org SLUG] [--dry-run] [--json] [--today YYYY-MM-DD]

Evaluates the active budgets (of one organization, or all), sends the alerts that are due and prints each
budget's state and the alerts it sent. With --dry-run nothing is written or sent, and the alerts that would
be sent are listed. --json prints {"budgets": [{"name", "period", "amount", "actual", "forecast",
"probability_of_breach", "alerts_sent": [{"threshold", "kind", "recipients"}], ...}]} (money as decimal strings).
"""

from __future__ import annotations

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from finops.budgets.services import budgets_evaluate


class Command(BaseCommand):
    help = "Evaluate budgets and send (or, with --dry-run, list) their due alert emails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (default: every organization)")
        parser.add_argument("--dry-run", action="store_true", help="write and send nothing; list what would be sent")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--today", help="evaluate as of this UTC day, YYYY-MM-DD (default: today)")

    def handle(self, *args, **options) -> None:
        organization = None
        if options["org"]:
            organization = Organization.objects.filter(slug=options["org"]).first()
            if organization is None:
                raise CommandError(f"no organization {options['org']!r}")
        try:
            today = date.fromisoformat(options["today"]) if options["today"] else None
        except ValueError as error:
            raise CommandError(f"--today: {error}") from error
        results = budgets_evaluate(organization=organization, today=today, dry_run=options["dry_run"])
        payload = [r.as_dict() for r in results]
        if options["json"]:
            for item, result in zip(payload, results, strict=True):
                item["organization"] = result.budget.organization.slug
            self.stdout.write(json.dumps({"budgets": payload, "dry_run": options["dry_run"]}, indent=2))
            return
        verb = "would send" if options["dry_run"] else "sent"
        if not payload:
            self.stdout.write("No active budgets.")
        for item, result in zip(payload, results, strict=True):
            ev = result.evaluation
            self.stdout.write(
                f"{result.budget.organization.slug}/{item['name']} [{item['period']} {item['period_start']}.."
                f"{item['period_end']}] {item['status'].upper()}: amount {item['currency']} {ev.amount:,.2f}"
                f" ({item['amount_source']}), actual {ev.actual:,.2f}, forecast {ev.forecast:,.2f}"
                f" (95% {ev.lower[0.95]:,.2f}..{ev.upper[0.95]:,.2f}), P(breach) {ev.probability_of_breach:.0%}"
            )
            for alert in item["alerts_sent"]:
                self.stdout.write(
                    f"  alert {verb}: {alert['threshold']}% {alert['kind']} -> {', '.join(alert['recipients'])}"
                )
