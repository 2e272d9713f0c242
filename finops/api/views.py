"""Core API endpoints: costs, line items, ingest jobs, organizations, teams, members and tokens.

Every view here is tenant-scoped through ``finops.api.tenancy`` (see its docstring for how to add one).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from finops.accounts.access import ADMINS, BILLING_MANAGERS
from finops.accounts.models import Membership, Organization, Role, Team, TeamTagMapping
from finops.api import serializers as s
from finops.api.errors import PayloadTooLarge
from finops.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from finops.api.idempotency import idempotent
from finops.api.models import ApiToken
from finops.api.pagination import IdCursorPagination, NewestFirstPagination
from finops.api.selectors import tokens_visible
from finops.api.services import TokenError, token_create, token_revoke
from finops.api.tenancy import ALL_ROLES, TenantAPIView, TenantMixin, TenantReadOnlyViewSet
from finops.core.amounts import money_str
from finops.core.spreadsheet import SpreadsheetSafeWriter
from finops.usage.export import focus_csv_lines
from finops.usage.formats.errors import IngestError, TooLargeError
from finops.usage.models import IngestJob, LineItem
from finops.usage.selectors import (
    ReportError,
    cost_breakdown,
    currency_totals,
    focus_export,
    line_items_filtered,
    line_items_pruned_check,
    parse_group_bys,
)
from finops.usage.services import billing_upload_create
from finops.usage.teams import TeamMappingError, team_tag_mapping_set, team_tag_mappings
from finops.usage.uploads import upload_request_check


# --- costs ----------------------------------------------------------------------------------------------
def _cost_rows(view: TenantAPIView, request: Request, query_class: type, default_group_by: str) -> tuple[dict, list]:
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    group_by = data.get("group_by", default_group_by)
    try:
        dimensions = parse_group_bys(group_by)
    except ReportError as error:
        raise ValidationError({"group_by": [str(error)]}) from error
    try:
        rows = cost_breakdown(
            organization=view.tenant.organization,
            group_by=dimensions,
            metric=data["metric"],
            start=data.get("start"),
            end=data.get("end"),
            filters=query.filters(),
            team=data.get("team"),
            tag=data.get("tag"),
            granularity=data.get("granularity"),
            team_ids=view.tenant.team_ids,
        )
    except ReportError as error:
        raise ValidationError(str(error)) from error
    head = {
        "metric": data["metric"],
        "group_by": group_by,
        "start": data["start"].isoformat() if data.get("start") else None,
        "end": data["end"].isoformat() if data.get("end") else None,
    }
    if "granularity" in data:
        head["granularity"] = data["granularity"]
    return head, rows


class CostSummaryApi(TenantAPIView):
    """Cost per group and currency, largest first: the JSON of ``cost_report --format json``."""

    @extend_schema(parameters=[s.CostQuerySerializer], responses=s.CostSummarySerializer)
    def get(self, request: Request) -> Response:
        head, rows = _cost_rows(self, request, s.CostQuerySerializer, "service")
        head["rows"] = [
            {"group": r.group, "groups": list(r.groups), "currency": r.currency, "cost": money_str(r.cost)}
            for r in rows
        ]
        head["totals"] = [{"currency": c, "cost": money_str(t)} for c, t in currency_totals(rows).items()]
        return Response(head)


class CostTimeseriesApi(TenantAPIView):
    """Cost per period (day, week starting Monday, or month), group and currency."""

    @extend_schema(parameters=[s.CostTimeseriesQuerySerializer], responses=s.CostTimeseriesSerializer)
    def get(self, request: Request) -> Response:
        head, rows = _cost_rows(self, request, s.CostTimeseriesQuerySerializer, "")
        head["rows"] = [
            {
                "period": r.period.isoformat(),
                "group": r.group,
                "groups": list(r.groups),
                "currency": r.currency,
                "cost": money_str(r.cost),
            }
            for r in rows
        ]
        return Response(head)


# --- line items -----------------------------------------------------------------------------------------
class CSVRenderer(BaseRenderer):
    """Negotiation only (``Accept: text/csv`` or ``?format=csv``): the view streams the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return json.dumps(data).encode() if data is not None else b""


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if hasattr(value, "as_tuple"):  # Decimal
        return money_str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class LineItemViewSet(TenantReadOnlyViewSet):
    """FOCUS line items, filtered, cursor-paginated; ``Accept: text/csv`` or ``?format=csv`` streams them all."""

    queryset = LineItem.objects.all()
    serializer_class = s.LineItemSerializer
    pagination_class = IdCursorPagination
    renderer_classes = [JSONRenderer, CSVRenderer]

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().scope_queryset(queryset)
        if not self.tenant.sees_all_teams:  # line items name their team by its tag value
            queryset = queryset.filter(team_tag_value__in=self.tenant.teams().values("tag_value"))
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action != "list":
            return queryset
        query = s.LineItemQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError({"start": ["start is after end"]})
        try:  # a dated listing only: an undated one pages through what is kept
            if data.get("start") or data.get("end"):
                line_items_pruned_check(
                    organization=self.tenant.organization, start=data.get("start"), end=data.get("end")
                )
        except ReportError as error:
            raise ValidationError({"start": [str(error)]}) from error
        # Filtered exactly as the cost breakdown filters them (one code path).
        matching = line_items_filtered(
            organization=self.tenant.organization,
            start=data.get("start"),
            end=data.get("end"),
            filters=query.filters(),
            team=data.get("team"),
            tag=data.get("tag"),
        )
        return queryset.filter(pk__in=matching.values("pk"))

    @extend_schema(
        parameters=[
            s.LineItemQuerySerializer,
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv streams every matching row."),
        ],
        responses={(200, "application/json"): s.LineItemSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR},
    )
    def get_renderers(self) -> list:
        if self.action != "list":  # CSV is an export of the list only
            return [JSONRenderer()]
        return super().get_renderers()

    def list(self, request: Request, *args, **kwargs):
        if request.accepted_renderer.format == "csv":
            return self._stream_csv(self.filter_queryset(self.get_queryset()))
        return super().list(request, *args, **kwargs)

    def _stream_csv(self, queryset: QuerySet) -> StreamingHttpResponse:
        fields = s.LINE_ITEM_FIELDS

        def rows() -> Iterator[str]:
            writer = SpreadsheetSafeWriter(_Echo(), lineterminator="\n")
            yield writer.writerow(fields)
            # iterator(): rows are fetched in chunks and never held all at once.
            for values in queryset.order_by("id").values_list(*fields).iterator(chunk_size=2000):
                yield writer.writerow([_csv_value(v) for v in values])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="line-items.csv"'
        return response

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON even when CSV was asked for.
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is not None and renderer.format == "csv":
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


# --- FOCUS export -------------------------------------------------------------------------------------------
class FocusExportApi(TenantAPIView):
    """The organization's line items as a FOCUS dataset (CSV, streamed): the ``export_focus`` command's CSV.
    Engineers get their teams' rows only, as in the cost endpoints."""

    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=[s.FocusExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="Streams every line item charged in [start, end] with the mandatory columns of the FOCUS "
        "version (and the optional ones the data carries); errors are JSON.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = s.FocusExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            columns, records = focus_export(
                organization=self.tenant.organization,
                version=data["version"],
                start=data.get("start"),
                end=data.get("end"),
                team_ids=self.tenant.team_ids,
            )
        except ReportError as error:  # e.g. line items of those days removed by retention
            raise ValidationError({"start": [str(error)]}) from error
        response = StreamingHttpResponse(focus_csv_lines(records, columns), content_type="text/csv; charset=utf-8")
        name = f"focus-{data['version']}-{self.tenant.organization.slug}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON even when CSV was asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


# --- ingest jobs ----------------------------------------------------------------------------------------
class IngestJobViewSet(TenantMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Upload a billing export (202 + job URL; the ingest runs in Celery), poll a job, list the history."""

    queryset = IngestJob.objects.prefetch_related("files")
    serializer_class = s.IngestJobSerializer
    pagination_class = NewestFirstPagination
    write_roles = BILLING_MANAGERS  # an upload replaces the organization's billing slices

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and hasattr(self.request, "tenant"):
            context["hide_totals"] = not self.tenant.sees_all_teams
        return context

    @extend_schema(
        request={"multipart/form-data": s.IngestUploadSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="A retry with the same key and body returns the first response and starts no new job.",
            )
        ],
        responses={
            202: OpenApiResponse(s.IngestJobSerializer, description="Accepted; poll the job's url."),
            503: OpenApiResponse(
                description="The task queue is unavailable (code queue_unavailable): nothing was stored; "
                "retry after Retry-After seconds."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        try:  # before the body is read (a client announcing too much), and once it is (a body streamed past it)
            upload_request_check(request)
            data = request.data
            upload_request_check(request)
        except TooLargeError as error:
            raise PayloadTooLarge(error.describe()) from error
        upload = s.IngestUploadSerializer(data=data)
        upload.is_valid(raise_exception=True)
        return idempotent(request, self.tenant, lambda: self._start(request, upload.validated_data))

    def _start(self, request: Request, data: dict) -> Response:
        try:
            job = billing_upload_create(
                organization=self.tenant.organization,
                files=[data["file"]],
                user=request.user,
                fmt=data["format"],
                source="api",
            )
        except TooLargeError as error:
            raise PayloadTooLarge(error.describe()) from error
        except IngestError as error:
            raise ValidationError({"file": [error.describe()]}) from error
        body = self.get_serializer(job).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})


class ApiRootApi(APIView):
    """The API's resources: name -> URL (like DRF's API root), so a client can start from ``/api/v1/``. It lists
    routes, no data, so it answers without credentials."""

    permission_classes = [AllowAny]
    routes: dict[str, str] = {}  # resource name -> URL name; set by finops.api.urls

    @extend_schema(
        responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}},
        operation_id="api_root",
    )
    def get(self, request: Request) -> Response:
        return Response({name: reverse(url_name, request=request) for name, url_name in self.routes.items()})


@csrf_exempt  # a 404 for every method: no CSRF page in the middle of the API
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Any other URL under /api/v1/: a 404 in the API's error shape (not Django's HTML page)."""
    return JsonResponse({"error": {"code": "not_found", "message": "No such API endpoint."}}, status=404)


# --- organizations, teams, members, tokens --------------------------------------------------------------
class OrganizationViewSet(TenantReadOnlyViewSet):
    """The caller's organizations: a token's one organization, or every organization of a session user."""

    queryset = Organization.objects.all()
    serializer_class = s.OrganizationSerializer
    pagination_class = IdCursorPagination
    lookup_field = "slug"

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.tenant.token_id is not None:
            return queryset.filter(pk=self.tenant.organization.pk)
        return queryset.filter(memberships__user=self.request.user)

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if hasattr(self.request, "user") and self.request.user.is_authenticated:
            context["roles"] = dict(
                Membership.objects.filter(user=self.request.user).values_list("organization_id", "role")
            )
        return context


class TeamViewSet(TenantReadOnlyViewSet):
    queryset = Team.objects.all()
    serializer_class = s.TeamSerializer
    pagination_class = IdCursorPagination
    lookup_field = "slug"


class MemberViewSet(TenantReadOnlyViewSet):
    """Memberships of the organization (admins only)."""

    queryset = Membership.objects.select_related("user").prefetch_related("teams")
    serializer_class = s.MemberSerializer
    pagination_class = IdCursorPagination
    read_roles = ADMINS
    write_roles = ADMINS


class TokenViewSet(
    TenantMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your API tokens in this organization (admins see everyone's). The key is shown once, at creation;
    DELETE revokes (the record stays, with ``revoked_at``)."""

    queryset = ApiToken.objects.select_related("user", "organization")
    serializer_class = s.TokenSerializer
    pagination_class = NewestFirstPagination
    write_roles = ALL_ROLES  # a token never exceeds its user's role, so viewers may hold one

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return tokens_visible(self.tenant, self.request.user)

    @extend_schema(request=s.TokenCreateSerializer, responses={201: s.TokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = s.TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            new = token_create(
                user=request.user,
                organization=self.tenant.organization,
                name=data.validated_data["name"],
                scope=data.validated_data["scope"],
                expires_in_days=data.validated_data.get("expires_in_days"),
            )
        except TokenError as error:
            raise ValidationError(str(error)) from error
        body = s.TokenCreatedSerializer(new.token).data
        body["key"] = new.key
        url = reverse("api-token-detail", args=[new.token.pk], request=request)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": url})

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        token_revoke(token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- team tag mapping ------------------------------------------------------------------------------------
class TeamMappingInputSerializer(drf_serializers.Serializer):
    tag_value = drf_serializers.CharField(help_text="A value of a team tag key (FINOPS_TEAM_TAG_KEYS).")
    action = drf_serializers.ChoiceField(choices=TeamTagMapping.Action.values)
    team = drf_serializers.CharField(required=False, allow_null=True, help_text="merge: the slug of the team.")


class TeamMappingSerializer(drf_serializers.Serializer):
    tag_value = drf_serializers.CharField()
    action = drf_serializers.ChoiceField(choices=TeamTagMapping.Action.values)
    team = drf_serializers.CharField(allow_null=True, help_text="Slug; null: unallocated.")
    explicit = drf_serializers.BooleanField(help_text="Decided by an admin (false: made its own team at ingest).")


class TeamMappingApi(TenantAPIView):
    """GET every team tag value and the team it counts for; POST (admins) maps one value to its own team, into
    another team (merge) or to none (ignore), re-attributing the costs already ingested. The web page
    ``/team-mappings/`` calls the same service."""

    read_roles = (Role.ADMIN, Role.FINANCE, Role.VIEWER)
    write_roles = ADMINS

    @extend_schema(responses=TeamMappingSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([dataclasses.asdict(row) for row in team_tag_mappings(self.tenant)])

    @extend_schema(request=TeamMappingInputSerializer, responses=TeamMappingSerializer(many=True))
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        try:
            team_tag_mapping_set(
                policy=self.tenant,
                tag_value=data.get("tag_value", ""),
                action=data.get("action", ""),
                team=data.get("team"),
            )
        except TeamMappingError as error:
            raise ValidationError({name: [message] for name, message in error.errors.items()}) from error
        return Response([dataclasses.asdict(row) for row in team_tag_mappings(self.tenant)])
