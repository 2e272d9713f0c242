"""Builders of the stored objects the tests share: organizations, teams, users with their memberships, API tokens,
ingested billing files, placeholder ingest jobs with hand-made rows, and price catalog entries.

Plain functions over the real services where one exists, so a test builds its world the way the product does.
Each returns the object it made; what a test then asserts stays in the test."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from finops.accounts.models import Membership, Organization, Team
from finops.accounts.services import membership_set, organization_get_or_create
from finops.api.services import token_create
from finops.usage.models import BillingSlice, DailyCost, DailyTagCost, IngestJob, LineItem
from finops.usage.services import ingest_job_create, ingest_job_run
from pricing.models import CatalogImport, Price, Sku, SpotPriceSample, Term


def organization(slug: str = "acme", name: str | None = None) -> Organization:
    """The organization ``slug`` (created with ``name``, default the title-cased slug, when missing)."""
    found, _ = organization_get_or_create(slug=slug, name=name or slug.title())
    return found


def team(organization: Organization, tag_value: str, *, slug: str | None = None, name: str | None = None) -> Team:
    """The organization's team for ``tag_value`` (created with ``slug``/``name`` when missing)."""
    found, _ = Team.objects.get_or_create(
        organization=organization, tag_value=tag_value, defaults={"slug": slug or tag_value, "name": name or tag_value}
    )
    return found


def member(
    organization: Organization,
    username: str,
    role: str = "finance",
    *,
    password: str | None = None,
    email: str = "",
    teams: list[Team] | None = None,
) -> Membership:
    """A user (created when missing) with ``role`` in ``organization``, limited to ``teams`` for an engineer."""
    membership, _ = membership_set(
        username=username,
        organization=organization,
        role=role,
        password=password,
        email=email,
        team_slugs=[t.slug for t in teams] if teams else None,
    )
    return membership


def user(username: str):
    return get_user_model().objects.get(username=username)


def token_key(user, organization: Organization, name: str, scope: str = "read") -> str:
    """A new API token of ``user`` in ``organization``; the plain key a client sends."""
    return token_create(user=user, organization=organization, name=name, scope=scope).key


def ingest_command(slug: str, *paths: Path, options: Iterable[str] = ()) -> str:
    """Ingest billing files into organization ``slug`` through ``manage.py ingest_usage --json``; its output."""
    out = StringIO()
    call_command("ingest_usage", *map(str, paths), "--org", slug, *options, "--json", stdout=out)
    return out.getvalue()


def ingest_files(organization: Organization, paths: list[Path], **options) -> IngestJob:
    """Ingest billing files through the ingest service (create the job, run it); the finished job."""
    return ingest_job_run(ingest_job_create(organization=organization, paths=list(paths), **options))


def placeholder_ingest_job(organization: Organization) -> IngestJob:
    """A succeeded ingest job owning rows a test writes itself (no file behind it)."""
    return IngestJob.objects.create(organization=organization, status="succeeded", delivery_sha256="0" * 64)


def month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def line_item(organization: Organization, job: IngestJob, day: date, **fields) -> LineItem:
    """An unsaved one-day AWS usage line item in USD; ``fields`` set the columns a test cares about."""
    start = datetime.combine(day, time(), UTC)
    period = month_start(day)
    values = {
        "organization": organization,
        "ingest_job": job,
        "provider_name": "AWS",
        "billing_currency": "USD",
        "billing_period_start": period,
        "billing_period_end": period + timedelta(days=31),
        "charge_period_start": start,
        "charge_period_end": start + timedelta(days=1),
        "charge_category": "Usage",
    }
    return LineItem(**(values | fields))


def daily_cost_fields(organization: Organization, job: IngestJob, day: date, **fields) -> dict:
    """The columns of one day's AWS usage rollup row in USD (for DailyCost and DailyTagCost alike): one line
    item's worth; ``fields`` set the columns a test cares about."""
    values = {
        "organization": organization,
        "ingest_job": job,
        "day": day,
        "billing_period_start": month_start(day),
        "provider_name": "AWS",
        "charge_category": "Usage",
        "billing_currency": "USD",
        "pricing_quantity": Decimal(1),
        "row_count": 1,
    }
    return values | fields


def daily_cost(organization: Organization, job: IngestJob, day: date, **fields) -> DailyCost:
    """An unsaved DailyCost row (see ``daily_cost_fields``)."""
    return DailyCost(**daily_cost_fields(organization, job, day, **fields))


def catalog_record(source: str, location: str) -> CatalogImport:
    """A succeeded catalog import owning prices a test writes itself."""
    return CatalogImport.objects.create(
        provider="aws",
        format="test",
        source=source,
        location=location,
        sha256="0" * 64,
        status=CatalogImport.Status.SUCCEEDED,
    )


def ec2_on_demand(
    record: CatalogImport, instance_type: str, region: str, hourly: Decimal, *, sku_fields: dict | None = None, **price
) -> Sku:
    """A Linux shared-tenancy EC2 SKU with its on-demand hourly price in USD."""
    sku = Sku.objects.create(
        sku_key=f"aws:ec2:{region}:{instance_type}:linux:shared",
        provider="aws",
        service="AmazonEC2",
        region=region,
        instance_type=instance_type,
        operating_system="linux",
        tenancy="shared",
        catalog_import=record,
        **(sku_fields or {}),
    )
    Price.objects.create(
        sku=sku,
        term=Term.ON_DEMAND,
        unit="Hrs",
        upfront=Decimal(0),
        hourly=hourly,
        currency="USD",
        catalog_import=record,
        **price,
    )
    return sku


def delete_organizations(organizations: list[Organization], *, usernames: list[str] = ()) -> None:
    """Delete data a module committed outside the tests' transactions: the organizations with everything they
    own (the large row tables first, in one statement each) and the named users."""
    LineItem.objects.filter(organization__in=organizations).delete()
    DailyTagCost.objects.filter(organization__in=organizations).delete()
    DailyCost.objects.filter(organization__in=organizations).delete()
    BillingSlice.objects.filter(organization__in=organizations).delete()
    IngestJob.objects.filter(organization__in=organizations).delete()
    Membership.objects.filter(organization__in=organizations).delete()
    Organization.objects.filter(pk__in=[o.pk for o in organizations]).delete()
    get_user_model().objects.filter(username__in=usernames).delete()


def delete_catalog() -> None:
    """Delete a price catalog a module committed outside the tests' transactions. Emptied table by table in
    SQL: the ORM would load the 60,000 SKUs of the shipped catalog to cascade their deletion."""
    with connection.cursor() as cursor:
        for model in (SpotPriceSample, Price, Sku):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"TRUNCATE {table}" if connection.vendor == "postgresql" else f"DELETE FROM {table}")
    CatalogImport.objects.all().delete()
