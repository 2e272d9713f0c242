"""Carbon pages: the methodology page lists every formula and coefficient with its source and version."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from finops.accounts.models import Membership
from finops.carbon.calc import Coefficients
from finops.carbon.models import CoefficientSet
from finops.carbon.selectors import carbon_region_alternatives, carbon_summary
from finops.carbon.services import coefficient_set_current

PROVIDER_NAMES = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}


# Candidate regions on the page: where the organization runs plus this many lowest-factor regions (every
# candidate costs a catalog lookup per instance type; the carbon_regions command searches them all).
PAGE_GREENEST_REGIONS = 6


def _membership(request: HttpRequest) -> Membership | None:
    memberships = Membership.objects.filter(user=request.user).select_related("organization")
    wanted = request.GET.get("org") or request.session.get("org")
    return next((m for m in memberships if m.organization.slug == wanted), None) or memberships.first()


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Carbon per service, region and month, and the region moves that cut carbon, for the user's organization."""
    membership = _membership(request)
    context: dict = {
        "membership": membership,
        "memberships": Membership.objects.filter(user=request.user).select_related("organization"),
    }
    if membership:
        organization = membership.organization
        context["by_service"] = carbon_summary(organization=organization, group_by="service")
        context["by_region"] = carbon_summary(organization=organization, group_by="region")
        by_month = carbon_summary(organization=organization, group_by="month")
        by_month.rows.sort(key=lambda r: r.group)
        context["by_month"] = by_month
        current = coefficient_set_current()
        coefficients = Coefficients.from_dict(current.data)
        aws = coefficients.grid.get("aws", {})
        used = {r.group for r in context["by_region"].rows}
        candidates = sorted(used & set(aws) | set(sorted(aws, key=aws.get)[:PAGE_GREENEST_REGIONS]))
        moves = []
        for w in carbon_region_alternatives(organization=organization, coefficients=coefficients, regions=candidates):
            lower = [a for a in w.alternatives if a.carbon_delta < 0]
            if lower:
                best = min(lower, key=lambda a: (a.cost_delta, a.kgco2e))
                moves.append({"workload": w, "best": best, "greenest": lower[0]})
        moves.sort(key=lambda m: m["greenest"].carbon_delta)
        context["moves"] = moves[:15]
        context["coefficients"] = current
    return render(request, "carbon/overview.html", context)


@login_required
def methodology(request: HttpRequest) -> HttpResponse:
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
        "memberships": Membership.objects.filter(user=request.user).select_related("organization"),
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
    return render(request, "carbon/methodology.html", context)
