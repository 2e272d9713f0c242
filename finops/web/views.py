"""Pages. Plain for now: the dashboards issue grows them. Every query is scoped to the user's organizations."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from finops.accounts.models import Membership
from finops.usage.models import IngestJob
from finops.usage.selectors import cost_summary


def _current_membership(request: HttpRequest) -> Membership | None:
    memberships = Membership.objects.filter(user=request.user).select_related("organization")
    wanted = request.GET.get("org") or request.session.get("org")
    chosen = next((m for m in memberships if m.organization.slug == wanted), None) or memberships.first()
    if chosen:
        request.session["org"] = chosen.organization.slug
    return chosen


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    membership = _current_membership(request)
    context: dict = {"membership": membership, "memberships": Membership.objects.filter(user=request.user)}
    if membership:
        organization = membership.organization
        context["by_service"] = cost_summary(organization=organization, group_by="service")[:15]
        context["by_team"] = cost_summary(organization=organization, group_by="team")[:15]
        context["jobs"] = IngestJob.objects.filter(organization=organization)[:10]
    return render(request, "web/overview.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})
