"""The catalog page: imports (source, version, rows, date) and the lookup table for a chosen SKU."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from pricing.models import CatalogImport
from pricing.selectors import LookupError_, lookup_payload, price_lookup


@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    query = {
        "provider": request.GET.get("provider", "aws"),
        "region": request.GET.get("region", "us-east-1"),
        "instance_type": request.GET.get("instance_type", "m5.large"),
        "os": request.GET.get("os", "linux"),
    }
    context: dict = {"imports": CatalogImport.objects.all()[:50], "query": query, "lookup": None, "error": None}
    try:
        lookup = price_lookup(
            provider=query["provider"],
            region=query["region"],
            instance_type=query["instance_type"],
            operating_system=query["os"],
            at=timezone.now(),
        )
        context["lookup"] = lookup_payload(lookup)
    except LookupError_ as error:
        context["error"] = str(error)
    return render(request, "pricing/catalog.html", context)
