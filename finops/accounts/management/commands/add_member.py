"""python manage.py add_member USERNAME --org SLUG --role ROLE [--team SLUG] [--password P]"""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.accounts.models import Organization, Role
from finops.accounts.services import membership_set


class Command(BaseCommand):
    help = "Give a user a role in an organization, creating the user if needed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--org", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--team", action="append", default=[], help="team slug (repeatable)")
        parser.add_argument("--password", help="password (prompted for a new user when omitted)")
        parser.add_argument("--email", default="")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}", returncode=2)
        from django.contrib.auth import get_user_model

        password = options["password"]
        exists = get_user_model().objects.filter(username=options["username"]).exists()
        if password is None and not exists:
            if not sys.stdin.isatty():
                raise CommandError("a new user needs --password (no terminal to prompt on)", returncode=2)
            password = getpass.getpass(f"Password for {options['username']}: ")
            if password != getpass.getpass("Again: "):
                raise CommandError("passwords differ", returncode=2)
        try:
            membership, created = membership_set(
                username=options["username"],
                organization=organization,
                role=options["role"],
                password=password,
                email=options["email"],
                team_slugs=options["team"],
            )
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from error
        verb = "Created user" if created else "Updated user"
        teams = ", ".join(t.slug for t in membership.teams.all()) or "no teams"
        self.stdout.write(f"{verb} {options['username']}: {membership.role} in {organization.slug} ({teams}).")
