"""python manage.py rebuild_rollups --org SLUG [--org SLUG ...] | --all"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from finops.core.signals import organization_data_changed
from finops.usage.models import DailyCost
from finops.usage.rebuild import rollups_rebuild


class Command(BaseCommand):
    help = "Recompute the daily rollups (DailyCost, DailyTagCost) from line items, one transaction per organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", action="append", default=[], help="organization slug (repeatable)")
        parser.add_argument("--all", action="store_true", help="every organization")

    def handle(self, *args, **options) -> None:
        if options["all"] == bool(options["org"]):
            raise CommandError("give --org SLUG (repeatable) or --all", returncode=2)
        organizations = Organization.objects.order_by("slug")
        if not options["all"]:
            organizations = organizations.filter(slug__in=options["org"])
            missing = sorted(set(options["org"]) - set(organizations.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"no organization {', '.join(repr(m) for m in missing)}", returncode=2)
        for organization in organizations:
            started = time.monotonic()
            written = rollups_rebuild(organization_id=organization.pk)
            organization_data_changed.send(sender=DailyCost, organization_id=organization.pk)
            self.stdout.write(
                f"{organization.slug}: {written['DailyCost']:,} daily rows, {written['DailyTagCost']:,} tag rows "
                f"({time.monotonic() - started:.1f} s)"
            )
