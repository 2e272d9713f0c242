"""The team page's slots: rightsizing recommendations (latest run), carbon by month, share of commitments, and
the team's outlook (month-end projection, its budgets and anomalies).

Each reads a rollup or a stored run, bounded to the team and the page's 13-month window; the team page caches
them with its other numbers (until the next ingest)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pandas as pd
from django.db.models.functions import TruncMonth

from finops.accounts.access import AccessPolicy
from finops.accounts.models import Team
from finops.budgets.selectors import budgets_visible, last_data_day, projected_day, spend_projection
from finops.carbon.models import CarbonDaily
from finops.core.money import MoneySum
from finops.forecasting.models import Dimension
from finops.forecasting.selectors import anomalies_visible
from finops.web import figures, selectors
from finops.web.budget_rows import budget_row
from optimizer.rightsizing.selectors import (
    CHANGES,
    RightsizingFilter,
    rightsizing_latest_run,
    rightsizing_recommendations_visible,
    rightsizing_savings,
    rightsizing_sorted,
)

RIGHTSIZING_ROWS = 25


def team_rightsizing(scope: AccessPolicy, team: Team) -> dict:
    run = rightsizing_latest_run(organization=scope.organization)
    if run is None:
        return {"run": None, "rows": [], "savings": Decimal(0)}
    rows = rightsizing_sorted(
        rightsizing_recommendations_visible(scope, run, RightsizingFilter(team=team.slug, actions=CHANGES))
    )
    return {
        "run": run,
        "rows": rows[:RIGHTSIZING_ROWS],
        "more": max(len(rows) - RIGHTSIZING_ROWS, 0),
        "savings": rightsizing_savings(rows),
    }


def team_carbon(scope: AccessPolicy, team: Team, *, start: date, end: date, currency: str = "USD") -> dict:
    """The team's kgCO2e by month over every row; its intensity (kgCO2e per unit of effective cost) over the rows
    billed in ``currency`` only, so no cost adds two currencies."""
    rows = (
        CarbonDaily.objects.filter(organization=scope.organization, team=team, day__gte=start, day__lte=end)
        .annotate(month=TruncMonth("day"))
        .values("month", "billing_currency")
        .annotate(
            operational=MoneySum("operational_kgco2e"),
            embodied=MoneySum("embodied_kgco2e"),
            cost=MoneySum("effective_cost"),
        )
        .order_by()
    )
    months: dict = {}
    for r in rows:
        month = months.setdefault(
            r["month"], {"operational": Decimal(0), "embodied": Decimal(0), "priced_kg": Decimal(0), "cost": Decimal(0)}
        )
        operational, embodied = r["operational"] or Decimal(0), r["embodied"] or Decimal(0)
        month["operational"] += operational
        month["embodied"] += embodied
        if r["billing_currency"] == currency:
            month["priced_kg"] += operational + embodied
            month["cost"] += r["cost"] or Decimal(0)
    records = []
    for month, m in months.items():
        records.append(
            {
                "month": month,
                "operational": m["operational"],
                "embodied": m["embodied"],
                "kgco2e": m["operational"] + m["embodied"],
                "cost": m["cost"],
                "intensity": float(m["priced_kg"] / m["cost"]) if m["cost"] > 0 else None,
            }
        )
    frame = pd.DataFrame.from_records(
        sorted(records, key=lambda r: r["month"]),
        columns=["month", "operational", "embodied", "kgco2e", "cost", "intensity"],
    )
    long = pd.concat(
        [
            pd.DataFrame({"month": frame["month"], "group": "Operational", "value": frame["operational"]}),
            pd.DataFrame({"month": frame["month"], "group": "Embodied", "value": frame["embodied"]}),
        ]
    )
    return {
        "carbon_months": frame.to_dict("records"),
        "carbon_total": sum(frame["kgco2e"], Decimal(0)),
        "carbon_figure": figures.stacked_quantity(
            long, x="month", group="group", value="value", title=f"{team.name}: kgCO2e by month", unit="kgCO2e"
        ),
    }


def team_commitment_share(scope: AccessPolicy, team: Team, *, start: date, end: date, currency: str) -> list[dict]:
    """Per month: the team's covered (Used) usage at list cost, its coverage, and its share of the
    organization's covered usage (who benefits from the reservations and savings plans)."""
    team_rows = selectors.commitment_monthly(
        dataclasses.replace(scope, team_ids=(team.pk,)), start=start, end=end, currency=currency
    )
    org_rows = selectors.commitment_monthly(
        dataclasses.replace(scope, team_ids=None), start=start, end=end, currency=currency
    )
    org_covered = {r.month: r.covered_list for r in org_rows.itertuples()}
    out = []
    for r in team_rows.itertuples():
        total = org_covered.get(r.month, Decimal(0))
        if total <= 0:
            continue
        out.append(
            {
                "month": r.month,
                "covered_list": r.covered_list,
                "coverage": r.coverage,
                "share": float(r.covered_list / total),
                "savings": r.savings,
            }
        )
    return out


ANOMALY_ROWS = 10


def team_outlook(scope: AccessPolicy, team: Team, *, metric: str, currency: str) -> dict:
    """The team's month-end projection (the one projection selector, as budgets on the team compute it), the
    budgets limited to the team and the anomalies of its series, as far as the caller may read them."""
    last = last_data_day(organization=scope.organization)
    projection = spend_projection(
        organization=scope.organization,
        scope={"team": [team.slug]},
        metric=metric,
        currency=currency,
        period="monthly",
        today=projected_day("monthly", last),
    )
    budgets = [
        budget_row(b, last)
        for b in budgets_visible(scope).filter(active=True).order_by("name")
        if (b.scope or {}).get("team") == [team.slug]
    ]
    anomalies = list(
        anomalies_visible(scope).filter(dimension=Dimension.TEAM, key=team.slug).order_by("-day", "-id")[:ANOMALY_ROWS]
    )
    return {
        "projection": dataclasses.replace(projection, forecast=None),  # cached with the page: numbers only
        "lower_80": projection.lower[0.8],
        "upper_80": projection.upper[0.8],
        "budgets": budgets,
        "anomalies": anomalies,
    }
