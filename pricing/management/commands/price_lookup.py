"""python manage.py price_lookup --provider aws --region us-east-1 --instance-type m5.large [--os linux]
[--at YYYY-MM-DD] [--json]"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from finops.core.money import money_str
from pricing.selectors import LookupError_, price_lookup


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


def lookup_payload(lookup) -> dict:
    sku = lookup.sku
    spot = lookup.spot
    return {
        "sku": {
            "sku_key": sku.sku_key,
            "provider": sku.provider,
            "region": sku.region,
            "instance_type": sku.instance_type,
            "operating_system": sku.operating_system,
            "tenancy": sku.tenancy,
            "vcpu": sku.vcpu,
            "memory_gib": money_str(sku.memory_gib),
            "architecture": sku.architecture,
            "gpu": sku.gpu,
            "instance_family": sku.instance_family,
            "normalization_factor": money_str(sku.normalization_factor),
        },
        "at": lookup.at.isoformat(),
        "prices": [
            {
                "term": v.price.term,
                "lease_years": v.price.lease_years,
                "purchase_option": v.price.purchase_option,
                "offering_class": v.price.offering_class,
                "plan_type": v.price.plan_type,
                "upfront": money_str(v.price.upfront),
                "hourly": money_str(v.price.hourly),
                "effective_hourly": money_str(v.effective_hourly),
                "currency": v.price.currency,
                "unit": v.price.unit,
                "effective_from": v.price.effective_from.isoformat() if v.price.effective_from else None,
                "savings": money_str(v.savings) if v.savings is not None else None,
                "break_even_month": v.break_even_month,
                "source": v.source,
                "derived": v.price.derived,
                "provenance": v.price.provenance,
            }
            for v in lookup.prices
        ],
        "spot": (
            {
                "samples": spot.samples,
                "first": spot.first.isoformat(),
                "last": spot.last.isoformat(),
                "mean": f"{spot.mean:.6f}",
                "p95": f"{spot.p95:.6f}",
                "max": f"{spot.max:.6f}",
                "volatility": round(spot.volatility, 4),
                "share_above_50pct_on_demand": spot.share_above_50pct_on_demand,
                "share_above_80pct_on_demand": spot.share_above_80pct_on_demand,
            }
            if spot
            else None
        ),
    }
