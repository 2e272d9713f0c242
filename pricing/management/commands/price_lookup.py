"""python manage.py price_lookup --provider aws --region us-east-1 --instance-type m5.large [--os linux]
[--at YYYY-MM-DD] [--json]"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from pricing.selectors import LookupError_, lookup_payload, price_lookup


class Command(BaseCommand):
    help = "Every price term of one SKU side by side (on-demand, reserved, savings plans, spot)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", default="aws")
        parser.add_argument("--region", required=True)
        parser.add_argument("--instance-type", required=True)
        parser.add_argument("--os", default="linux")
        parser.add_argument("--at", help="YYYY-MM-DD: prices in force that day (default now)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        if options["at"]:
            try:
                at = datetime.combine(date.fromisoformat(options["at"]), time(23, 59, 59), tzinfo=UTC)
            except ValueError as error:
                raise CommandError(f"not a date (YYYY-MM-DD): {options['at']!r}", returncode=2) from error
        else:
            at = timezone.now()
        try:
            lookup = price_lookup(
                provider=options["provider"],
                region=options["region"],
                instance_type=options["instance_type"],
                operating_system=options["os"],
                at=at,
            )
        except LookupError_ as error:
            raise CommandError(str(error), returncode=2) from error
        payload = lookup_payload(lookup)
        if options["json"]:
            self.stdout.write(json.dumps(payload))
            return
        sku = payload["sku"]
        self.stdout.write(
            f"{sku['instance_type']} {sku['operating_system']} in {sku['region']}: {sku['vcpu']} vCPU, "
            f"{sku['memory_gib']} GiB, {sku['architecture']} (as of {at:%Y-%m-%d})"
        )
        self.stdout.write(
            f"{'term':<13}{'years':>5}  {'option':<16}{'class':<12}{'upfront':>12}"
            f"{'hourly':>12}{'effective':>12}{'saving':>8}  source"
        )
        for p in payload["prices"]:
            saving = f"{float(p['savings']):.0%}" if p["savings"] is not None else ""
            label = p["term"] + (f" ({p['plan_type']})" if p["plan_type"] and p["term"] == "savings_plan" else "")
            self.stdout.write(
                f"{label:<13}{p['lease_years'] or '':>5}  "
                f"{p['purchase_option'] or '':<16}{p['offering_class'] or '':<12}"
                f"{Decimal(p['upfront']):>12,.2f}{Decimal(p['hourly']):>12.6f}{Decimal(p['effective_hourly']):>12.6f}"
                f"{saving:>8}  "
                f"{p['source']}{' (derived)' if p['derived'] else ''}"
            )
        spot = payload["spot"]
        if spot:
            self.stdout.write(
                f"spot history {spot['first']} .. {spot['last']} ({spot['samples']} samples): mean {spot['mean']}, "
                f"p95 {spot['p95']}, max {spot['max']}"
            )
        age = payload["price_age"]
        spot_text = "no spot samples"
        if age["spot_days"] is not None:
            spot_text = f"spot {age['spot_days']} days old" + (
                f" (stale: older than {age['spot_max_age_days']} days, not used to plan spot by default)"
                if age["spot_stale"]
                else ""
            )
        catalog_text = f"{age['catalog_days']} days" if age["catalog_days"] is not None else "none"
        self.stdout.write(f"price age: oldest catalog price {catalog_text}; {spot_text}")
