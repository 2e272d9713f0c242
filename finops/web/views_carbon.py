"""Carbon pages: kgCO2e by month, service and region, intensity (kgCO2e per $), the region comparison (cost vs
carbon), region moves, and the methodology page listing every formula and coefficient with its source and version.

Numbers come from ``finops.carbon.selectors.carbon_frame`` (one grouped query over the ``CarbonDaily`` rows the
caller's policy may read) and are cached per organization until the next ingest or recompute."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from finops.accounts.access import AccessPolicy
from finops.carbon.calc import Coefficients
from finops.carbon.models import CarbonDaily, CoefficientSet
from finops.carbon.selectors import carbon_frame, carbon_region_alternatives
from finops.carbon.services import coefficient_set_current
from finops.web import figures
from finops.web.access import cache_prefix, org_page, render_page, scope_for
from finops.web.cache import cached

PROVIDER_NAMES = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}
# Candidate regions on the page: where the organization runs plus this many lowest-factor regions (every
# candidate costs a catalog lookup per instance type; the carbon_regions command searches them all).
PAGE_GREENEST_REGIONS = 6
TOP_GROUPS = 15


def _cost_currency(frame: pd.DataFrame) -> str:
    """The currency the page shows cost in: the one with the most effective cost (ties by code)."""
    costs: dict[str, Decimal] = {}
    for currency, cost in zip(frame["currency"], frame["cost"], strict=True):
        if currency:
            costs[currency] = costs.get(currency, Decimal(0)) + cost
    return min(costs, key=lambda c: (-costs[c], c)) if costs else "USD"


def _totals(frame: pd.DataFrame, key: str, currency: str) -> list[dict]:
    """Carbon per group over every row; cost and intensity (kgCO2e per unit of cost) over the rows billed in
    ``currency`` only, so no cost adds two currencies."""
    out = []
    for group, part in frame.groupby(key, sort=False):
        priced = part[part["currency"] == currency]
        kg, cost = sum(part["kgco2e"], Decimal(0)), sum(priced["cost"], Decimal(0))
        priced_kg = sum(priced["kgco2e"], Decimal(0))
        out.append(
            {
                "group": group,
                "kwh": sum(part["kwh"], Decimal(0)),
                "operational": sum(part["operational"], Decimal(0)),
                "embodied": sum(part["embodied"], Decimal(0)),
                "kgco2e": kg,
                "cost": cost,
                "vcpu_hours": sum(part["vcpu_hours"], Decimal(0)),
                "intensity": float(priced_kg / cost) if cost > 0 else None,
            }
        )
    return out


def carbon_page_data(scope: AccessPolicy) -> dict:
    frame = carbon_frame(organization=scope.organization, team_ids=scope.team_ids)
    if frame.empty:
        return {"empty": True}
    currency = _cost_currency(frame)
    by_month = sorted(_totals(frame, "month", currency), key=lambda r: r["group"])
    by_service = sorted(_totals(frame, "service", currency), key=lambda r: (-r["kgco2e"], r["group"]))
    by_region = sorted(_totals(frame, "region", currency), key=lambda r: (-r["kgco2e"], r["group"]))
    month_long = pd.concat(
        [
            pd.DataFrame({"month": [r["group"] for r in by_month], "group": "Operational",
                          "value": [r["operational"] for r in by_month]}),
            pd.DataFrame({"month": [r["group"] for r in by_month], "group": "Embodied",
                          "value": [r["embodied"] for r in by_month]}),
        ]
    )  # fmt: skip
    service_long = frame.assign(group=frame["service"])[["month", "group", "kgco2e"]]
    top = {r["group"] for r in by_service[: len(figures.PALETTE)]}
    service_long = service_long.assign(group=[g if g in top else figures.OTHER_LABEL for g in service_long["group"]])
    intensity = pd.DataFrame({"month": [r["group"] for r in by_month], "intensity": [r["intensity"] for r in by_month]})
    return {
        "by_month": by_month,
        "by_service": by_service[:TOP_GROUPS],
        "by_region": by_region,
        "total_kg": sum(frame["kgco2e"], Decimal(0)),
        "total_cost": sum(frame.loc[frame["currency"] == currency, "cost"], Decimal(0)),
        "currency": currency,
        "other_currencies": sorted({c for c in frame["currency"] if c and c != currency}),
        "month_figure": figures.stacked_quantity(
            month_long, x="month", group="group", value="value", title="kgCO2e by month", unit="kgCO2e"
        ),
        "service_figure": figures.stacked_quantity(
            service_long, x="month", group="group", value="kgco2e", title="kgCO2e by month and service", unit="kgCO2e"
        ),
        "intensity_figure": figures.intensity_line(
            intensity,
            x="month",
            y="intensity",
            title=f"Carbon intensity: kgCO2e per {currency} of effective cost, by month",
        ),
        "region_figure": figures.region_scatter(
            [(r["group"], float(r["cost"]), float(r["kgco2e"])) for r in by_region],
            title=f"Regions: effective cost ({currency}) vs kgCO2e",
        ),
        "versions": sorted(
            set(
                CarbonDaily.objects.filter(organization=scope.organization)
                .values_list("coefficient_set__version", flat=True)
                .distinct()
            )
        ),
    }


def _moves(scope: AccessPolicy, regions_used: set[str]) -> list[dict]:
    """Region moves that cut carbon (organization-wide compute; catalog lookups, so cached with the page)."""
    current = coefficient_set_current()
    coefficients = Coefficients.from_dict(current.data)
    aws = coefficients.grid.get("aws", {})
    candidates = sorted(regions_used & set(aws) | set(sorted(aws, key=aws.get)[:PAGE_GREENEST_REGIONS]))
    moves = []
    for w in carbon_region_alternatives(organization=scope.organization, coefficients=coefficients, regions=candidates):
        lower = [a for a in w.alternatives if a.carbon_delta < 0]
        if lower:
            best = min(lower, key=lambda a: (a.cost_delta, a.kgco2e))
            moves.append({"workload": w, "best": best, "greenest": lower[0]})
    moves.sort(key=lambda m: m["greenest"].carbon_delta)
    return moves[:15]


@org_page()
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """Carbon per month, service and region, intensity, the region comparison and region moves."""
    scope: AccessPolicy = request.scope
    marker = CarbonDaily.objects.filter(organization=scope.organization).aggregate(m=Max("pk"))["m"]

    def compute() -> dict:
        data = carbon_page_data(scope)
        if not data.get("empty") and scope.sees_all_teams:
            data["moves"] = _moves(scope, {r["group"] for r in data["by_region"]})
        return data

    data = cached(cache_prefix(scope), "page:carbon", {"rollup": marker}, compute)
    return render_page(request, "carbon/overview.html", {**data, "coefficients": coefficient_set_current()})


@login_required
@require_GET
def methodology(request: HttpRequest) -> HttpResponse:
    """Organization-independent (formulas and coefficients): open to any signed-in user, with or without one."""
    request.scope = scope_for(request)
    current = coefficient_set_current()
    requested = request.GET.get("version")
    chosen = CoefficientSet.objects.filter(version=requested).first() if requested else None
    shown = chosen or current
    c = Coefficients.from_dict(shown.data)
    providers = [
        {
            "key": key,
            "name": PROVIDER_NAMES[key],
            "constants": c.provider(key),
            "architectures": sorted(c.architectures.get(key, {}).items()),
            "grid": sorted((r, f, c.grid_sources.get(key, {}).get(r, "")) for r, f in c.grid[key].items()),
            "grid_average": c.grid_average(key),
            "instances": len(c.instances.get(key, {})),
        }
        for key in ("aws", "gcp", "azure")
    ]
    context = {
        "set": shown,
        "current": current,
        "sets": CoefficientSet.objects.all(),
        "c": c,
        "constants": c.constants,
        "replication": sorted(c.constants["replication_factors"].items()),
        "gpus": sorted(c.constants["gpu_watts"].items()),
        "sources": sorted(c.constants.get("sources", {}).items()),
        "providers": providers,
    }
    return render_page(request, "carbon/methodology.html", context)
