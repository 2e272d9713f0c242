"""Shared world for the API tests: two organizations with real ingested FOCUS rows, one user per role,
tokens, and API clients acting as each caller. Imported by the test modules (fixtures re-exported there)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from finops.accounts.models import Organization, Team
from tests import factories
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv

ROLES = ["admin", "finance", "engineer", "viewer", "token_read", "token_write"]
OTHER_ACCOUNT = "999999999999"


@dataclass
class World:
    org: Organization
    other: Organization
    rows: list[dict[str, str]]  # org's FOCUS rows (the whole public sample)
    other_rows: list[dict[str, str]]
    engineer_team: Team
    keys: dict[str, str] = field(default_factory=dict)  # token_read / token_write / other_admin -> key
    usernames: list[str] = field(default_factory=list)

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role.startswith("token_") or role == "other_token":
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.keys[role]}")
        else:
            client.force_login(get_user_model().objects.get(username=f"t-{role}"))
        return client


def _other_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """A second tenant's bill: other account, other team tag values, so any leak is visible."""
    out = []
    for row in rows:
        row = dict(row)
        row["BillingAccountId"] = OTHER_ACCOUNT
        if row["Tags"] not in ("", "NULL"):
            tags = json.loads(row["Tags"])
            if "business_unit" in tags:
                tags["business_unit"] = "other-" + str(tags["business_unit"])
            row["Tags"] = json.dumps(tags)
        out.append(row)
    return out


def build_world(tmp: Path) -> World:
    cache.clear()  # throttle history of earlier runs
    rows = read_rows(FOCUS_SAMPLE)
    factories.ingest_command("t-acme", FOCUS_SAMPLE)
    other_rows = _other_rows(rows[:120])
    factories.ingest_command("t-other", write_csv(tmp / "other.csv", other_rows))
    org = Organization.objects.get(slug="t-acme")
    other = Organization.objects.get(slug="t-other")
    team = Team.objects.filter(organization=org).order_by("slug").first()
    usernames = []
    for role in ("admin", "finance", "engineer", "viewer"):
        factories.member(org, f"t-{role}", role, password="pw", teams=[team] if role == "engineer" else None)
        usernames.append(f"t-{role}")
    other_admin = factories.member(other, "t-other-admin", "admin", password="pw").user
    usernames.append("t-other-admin")
    world = World(org=org, other=other, rows=rows, other_rows=other_rows, engineer_team=team, usernames=usernames)
    admin = factories.user("t-admin")
    world.keys["token_read"] = factories.token_key(admin, org, "r", scope="read")
    world.keys["token_write"] = factories.token_key(admin, org, "w", scope="write")
    for role in ("finance", "engineer", "viewer"):  # everyone has a token of their own to list
        factories.token_key(factories.user(f"t-{role}"), org, role)
    world.keys["other_token"] = factories.token_key(other_admin, other, "o", scope="write")
    return world


def destroy_world(world: World) -> None:
    factories.delete_organizations([world.org, world.other], usernames=world.usernames)
    cache.clear()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> World:
    with django_db_blocker.unblock():
        built = build_world(tmp_path_factory.mktemp("world"))
    yield built
    with django_db_blocker.unblock():
        destroy_world(built)


# --- domain objects (budgets, forecasts, anomalies, optimizer and rightsizing runs) ---------------------------
@dataclass
class Domain:
    """Stored objects of each domain for both organizations. In ``world.org`` the first object of each kind
    belongs to the engineer's team (engineers may read it); ``org_wide`` ones must stay invisible to engineers."""

    own: dict[str, object] = field(default_factory=dict)
    org_wide: dict[str, object] = field(default_factory=dict)
    other: dict[str, object] = field(default_factory=dict)


def _forecast_objects(organization, team_slug: str, as_of) -> tuple[object, object]:
    from datetime import timedelta
    from decimal import Decimal

    from finops.forecasting.models import Anomaly, ForecastRun, SeriesForecast, SeriesProjection

    run = ForecastRun.objects.create(organization=organization, as_of=as_of, status=ForecastRun.Status.SUCCEEDED)
    points = {"start": (as_of + timedelta(days=1)).isoformat()}
    for name in ("point", "lower_80", "upper_80", "lower_95", "upper_95", "lower_99", "upper_99"):
        points[name] = ["10.00", "11.50"]
    forecasts, anomalies = [], []
    for dimension, key in (("team", team_slug), ("total", "")):
        forecast = SeriesForecast.objects.create(
            run=run,
            organization=organization,
            metric="effective",
            currency="USD",
            dimension=dimension,
            key=key,
            model="ets",
            reason="backtest",
            history_start=as_of - timedelta(days=60),
            history_end=as_of,
            sigma=1.5,
            points=points,
        )
        SeriesProjection.objects.create(
            forecast=forecast,
            period="month",
            period_start=as_of.replace(day=1),
            period_end=as_of + timedelta(30),
            actual_to_date=Decimal("100.25"),
            forecast_remainder=Decimal("50.5"),
            total=Decimal("150.75"),
            lower_80=Decimal("140"),
            upper_80=Decimal("160"),
            lower_95=Decimal("135"),
            upper_95=Decimal("165"),
            actual_days=10,
            forecast_days=20,
        )
        forecasts.append(forecast)
        anomalies.append(
            Anomaly.objects.create(
                organization=organization,
                run=run,
                metric="effective",
                currency="USD",
                dimension=dimension,
                key=key,
                day=as_of,
                expected=Decimal("10.00"),
                actual=Decimal("35.125"),
                lower=Decimal("5"),
                upper=Decimal("15"),
                impact=Decimal("25.125"),
                impact_pct=2.5125,
                direction="spike",
                model="ets",
                root_cause=[
                    {
                        "dimension": "service",
                        "key": "AmazonEC2",
                        "actual": "30.00",
                        "baseline": "5.00",
                        "delta": "25.00",
                        "share": 0.99,
                    }
                ],
                baseline_days=[(as_of - timedelta(days=7)).isoformat()],
                top_dimension="service",
                top_key="AmazonEC2",
            )
        )
    return forecasts, anomalies


def seed_domain_objects(organization, team: Team) -> dict[str, object]:
    """One stored object of each domain for ``organization``, team-scoped to ``team`` where a domain has teams,
    plus organization-wide ones (keys ``wide_*``)."""
    from datetime import date
    from decimal import Decimal

    from finops.budgets.models import Budget, BudgetAlert
    from optimizer.models import OptimizationRun, Recommendation
    from optimizer.rightsizing.models import RightsizingRecommendation, RightsizingRun

    forecasts, anomalies = _forecast_objects(organization, team.slug, date(2024, 9, 15))
    budget = Budget.objects.create(
        organization=organization,
        name=f"{team.slug} budget",
        scope={"team": [team.slug]},
        amount=Decimal("1000"),
        thresholds=[{"percent": "80", "kind": "actual"}],
        recipient_emails=["ops@example.com"],
        last_status="ok",
        last_evaluation={"status": "ok"},
    )
    BudgetAlert.objects.create(
        organization=organization,
        budget=budget,
        period_start=date(2024, 9, 1),
        threshold_percent=Decimal("80"),
        kind="actual",
        status="sent",
        recipients=["ops@example.com"],
        subject="Budget at 80%",
        body_text="t",
        body_html="<p>t</p>",
        numbers={"actual": "812.50"},
    )
    wide = Budget.objects.create(organization=organization, name="whole org", amount=Decimal("5000"))
    run = OptimizationRun.objects.create(
        organization=organization,
        status=OptimizationRun.Status.SUCCEEDED,
        parameters={"lookback_days": 30},
        results={"objective": 123.456, "savings": "12.30"},  # float and string money: passed through
        backtest={"rows": []},
        objective=Decimal("123.456"),
    )
    Recommendation.objects.create(
        run=run,
        organization=organization,
        offer_id="ri-m5.large",
        kind="reservation",
        sku="m5.large",
        term="1y",
        payment="no_upfront",
        quantity=Decimal("3"),
        upfront=Decimal("0"),
        monthly_cost=Decimal("150.1"),
        monthly_savings=Decimal("40.25"),
    )
    rs_run = RightsizingRun.objects.create(
        organization=organization,
        status=RightsizingRun.Status.SUCCEEDED,
        resources=2,
        total_monthly_savings=Decimal("70.00"),
    )
    for resource, tag_value, savings in (("i-team", team.tag_value, "30.00"), ("i-wide", "", "40.00")):
        RightsizingRecommendation.objects.create(
            run=rs_run,
            organization=organization,
            resource_id=f"{resource}-{organization.slug}",
            team=team if tag_value else None,
            team_tag_value=tag_value,
            region="us-east-1",
            current_type="m5.xlarge",
            recommended_type="m5.large",
            action="resize",
            reason="p95 cpu 20%",
            current_monthly_cost=Decimal("140.16"),
            new_monthly_cost=Decimal("140.16") - Decimal(savings),
            monthly_savings=Decimal(savings),
        )
    return {
        "forecasts": forecasts[0],
        "anomalies": anomalies[0],
        "budgets": budget,
        "optimizer/runs": run,
        "wide_forecasts": forecasts[1],
        "wide_anomalies": anomalies[1],
        "wide_budgets": wide,
    }


def build_domain(world: World) -> Domain:
    domain = Domain()
    other_team, _ = Team.objects.get_or_create(
        organization=world.other, slug="other-team", defaults={"name": "Other", "tag_value": "other-team"}
    )
    for organization, slot, team in (
        (world.org, domain.own, world.engineer_team),
        (world.other, domain.other, other_team),
    ):
        objects = seed_domain_objects(organization, team)
        slot.update({k: v for k, v in objects.items() if not k.startswith("wide_")})
        if organization == world.org:
            domain.org_wide.update({k[5:]: v for k, v in objects.items() if k.startswith("wide_")})
    return domain
