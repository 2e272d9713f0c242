"""Argument helpers shared by the carbon commands (exit status 2 on bad input, like cost_report)."""

from __future__ import annotations

from datetime import date

from django.core.management.base import CommandError

from finops.accounts.models import Organization


def parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--{name}: not a date (YYYY-MM-DD): {value!r}", returncode=2) from error


def organization_or_exit(slug: str) -> Organization:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"no organization {slug!r}", returncode=2)
    return organization


def day_range(options: dict) -> tuple[date | None, date | None]:
    start, end = parse_day(options.get("start"), "start"), parse_day(options.get("end"), "end")
    if start and end and start > end:
        raise CommandError(f"--start {start} is after --end {end}", returncode=2)
    return start, end
