"""Read-only REST endpoints for the price catalog (reference data shared by every organization).

Not tenant-scoped (catalogs are global), but they go through the same authentication (token or session),
token scopes, throttles and error shape as every API view (``finops.api.tenancy.ApiViewMixin``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from finops.api.pagination import IdCursorPagination
from finops.api.tenancy import ApiViewMixin
from pricing.models import CatalogImport, Price, Sku, Term
from pricing.selectors import LookupError_, lookup_payload, price_lookup


class SkuSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sku
        fields = [
            "id",
            "sku_key",
            "provider",
            "sku_code",
            "service",
            "product_family",
            "region",
            "instance_type",
            "operating_system",
            "tenancy",
            "license_model",
            "vcpu",
            "memory_gib",
            "architecture",
            "gpu",
            "instance_family",
            "normalization_factor",
            "attributes",
        ]


class PriceSerializer(serializers.ModelSerializer):
    sku_key = serializers.CharField(source="sku.sku_key")
    source = serializers.CharField(source="catalog_import.source")

    class Meta:
        model = Price
        fields = [
            "id",
            "sku",
            "sku_key",
            "term",
            "lease_years",
            "purchase_option",
            "offering_class",
            "plan_type",
            "unit",
            "upfront",
            "hourly",
            "currency",
            "effective_from",
            "effective_to",
            "tier_start",
            "tier_end",
            "rate_code",
            "description",
            "derived",
            "provenance",
            "source",
            "catalog_import",
        ]


class CatalogImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = CatalogImport
        fields = [
            "id",
            "provider",
            "format",
            "source",
            "location",
            "publication_date",
            "version",
            "sha256",
            "status",
            "rows_read",
            "skus_added",
            "prices_added",
            "prices_superseded",
            "spot_samples_added",
            "skipped",
            "error",
            "created_at",
            "duration_seconds",
        ]


def _filtered(queryset, request: Request, fields: dict[str, str]):
    for param, lookup in fields.items():
        value = request.query_params.get(param)
        if value:
            queryset = queryset.filter(**{lookup: value})
    return queryset


def _params(*names: str) -> list[OpenApiParameter]:
    return [OpenApiParameter(name, str, description=f"Exact {name}.") for name in names]


@extend_schema_view(list=extend_schema(parameters=_params("provider", "region", "instance_type", "os", "service")))
class SkuViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = SkuSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        filters = {
            "provider": "provider",
            "region": "region",
            "instance_type": "instance_type",
            "os": "operating_system",
            "service": "service",
        }
        return _filtered(Sku.objects.all(), self.request, filters)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            *_params("provider", "region", "instance_type", "os"),
            OpenApiParameter("term", str, enum=list(Term.values)),
            OpenApiParameter("sku", int, description="Sku id."),
            OpenApiParameter("current", str, enum=["true"], description="Only prices in effect now."),
        ]
    )
)
class PriceViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PriceSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        term = self.request.query_params.get("term")
        if term and term not in Term.values:
            raise ValidationError({"term": f"choose one of {', '.join(Term.values)}"})
        sku = self.request.query_params.get("sku")
        if sku and not sku.isdigit():
            raise ValidationError({"sku": "Expected a sku id (an integer)."})
        filters = {
            "provider": "sku__provider",
            "region": "sku__region",
            "instance_type": "sku__instance_type",
            "os": "sku__operating_system",
            "term": "term",
            "sku": "sku_id",
        }
        queryset = Price.objects.select_related("sku", "catalog_import")
        if self.request.query_params.get("current") == "true":
            queryset = queryset.filter(effective_to__isnull=True)
        return _filtered(queryset, self.request, filters)


class CatalogImportViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CatalogImportSerializer
    pagination_class = IdCursorPagination
    queryset = CatalogImport.objects.all()


class PriceLookupApi(ApiViewMixin, APIView):
    """GET /api/v1/prices/lookup?provider=aws&region=us-east-1&instance_type=m5.large[&os=linux][&at=YYYY-MM-DD]:
    the same JSON as ``price_lookup --json``."""

    @extend_schema(
        parameters=[
            OpenApiParameter("region", str, required=True),
            OpenApiParameter("instance_type", str, required=True),
            OpenApiParameter("provider", str, description="Default aws."),
            OpenApiParameter("os", str, description="Default linux."),
            OpenApiParameter("at", OpenApiTypes.DATE, description="Prices in effect that day (default now)."),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        missing = [name for name in ("region", "instance_type") if not params.get(name)]
        if missing:
            raise ValidationError({name: "This query parameter is required." for name in missing})
        at = timezone.now()
        if params.get("at"):
            try:
                at = datetime.combine(date.fromisoformat(params["at"]), time(23, 59, 59), tzinfo=UTC)
            except ValueError as error:
                raise ValidationError({"at": "Not a date (YYYY-MM-DD)."}) from error
        try:
            lookup = price_lookup(
                provider=params.get("provider", "aws"),
                region=params["region"],
                instance_type=params["instance_type"],
                operating_system=params.get("os", "linux"),
                at=at,
            )
        except LookupError_ as error:
            raise NotFound(str(error)) from error
        return Response(lookup_payload(lookup))
