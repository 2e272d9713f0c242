"""python manage.py create_api_token USERNAME --org SLUG [--scope read|write] [--expires-days N] [--name NAME]"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization
from finops.api.models import ApiToken
from finops.api.services import TokenError, token_create


class Command(BaseCommand):
    help = "Create an API token for a member of an organization and print its key (shown this once only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--scope", default=ApiToken.Scope.READ, choices=ApiToken.Scope.values)
        parser.add_argument("--expires-days", type=int, help="days until the token expires (default: never)")
        parser.add_argument("--name", default="", help="a label for the token (default: cli)")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=2)
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}", returncode=2)
        try:
            new = token_create(
                user=user,
                organization=organization,
                name=options["name"] or "cli",
                scope=options["scope"],
                expires_in_days=options["expires_days"],
            )
        except TokenError as error:
            raise CommandError(str(error), returncode=2) from error
        expiry = f"expires {new.token.expires_at:%Y-%m-%d %H:%M} UTC" if new.token.expires_at else "no expiry"
        self.stderr.write(
            f"Token {new.token.prefix} ({new.token.scope}, {expiry}) for {user} in {organization.slug}. "
            "Store the key now: it is not shown again."
        )
        self.stdout.write(new.key)
