"""python manage.py import_commitment_terms --org SLUG FILE [FILE...]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from finops.commitments.services import commitment_terms_import
from finops.commitments.terms import CommitmentTermsError


class Command(BaseCommand):
    help = (
        "Import commitment start/end dates from `aws ec2 describe-reserved-instances --output json` and "
        "`aws savingsplans describe-savings-plans --output json` files (for bills without them, e.g. FOCUS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("files", nargs="+")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=2)
        try:
            result = commitment_terms_import(organization, *options["files"])
        except CommitmentTermsError as error:
            raise CommandError(f"nothing imported: {error}", returncode=2) from error
        kinds = {"reservation": 0, "savings_plan": 0}
        for term in result.terms:
            kinds[term.kind] += 1
        self.stdout.write(
            f"{organization.slug}: {len(result.terms)} commitment term(s) imported "
            f"({kinds['reservation']} reserved instance(s), {kinds['savings_plan']} savings plan(s); "
            f"{result.replaced} replaced) from {len(result.files)} file(s)."
        )
