"""Forecast and anomaly endpoints.

``forecasts`` lists the series forecasts of the organization's latest finished forecast run (daily points
with 80/95/99% intervals, month- and quarter-end projections); a detail URL reads any stored forecast;
``forecasts/projection`` computes a period's projection from the latest data for the caller's scope.
``anomalies`` lists detected cost anomalies with their root cause (those suppressed by "expected" feedback with
``suppressed=1`` only; a detail URL reads any); ``anomalies/{id}/feedback`` records a verdict (viewers may not),
``anomalies/feedback/`` one verdict on several anomalies (``{"ids": [...], "verdict": ..., "note": ...}``).
Who reads which series is ``forecast_series_visible`` / ``anomalies_visible`` (as on the pages): engineers see
only the series of their own teams (dimension ``team``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from finops.api.fields import Money
from finops.api.pagination import IdCursorPagination, NewestFirstPagination
from finops.api.tenancy import TenantReadOnlyViewSet
from finops.budgets.calc import PERIODS
from finops.budgets.selectors import last_data_day, policy_scope, projected_day, spend_projection
from finops.core.amounts import money_str
from finops.forecasting.models import METRIC_CHOICES, Anomaly, Dimension, SeriesForecast, SeriesProjection
from finops.forecasting.selectors import (
    anomalies_chosen,
    anomalies_visible,
    forecast_run_latest,
    forecast_series_visible,
)
from finops.forecasting.services import BULK_FEEDBACK_LIMIT, anomaly_feedback_bulk_set, anomaly_feedback_set


# --- forecasts -------------------------------------------------------------------------------------------
class ProjectionSerializer(serializers.ModelSerializer):
    period = serializers.CharField(help_text="month or quarter.")  # a plain string: no enum name clash
    actual_to_date = Money()
    forecast_remainder = Money()
    total = Money()
    lower_80 = Money()
    upper_80 = Money()
    lower_95 = Money()
    upper_95 = Money()

    class Meta:
        model = SeriesProjection
        fields = [
            "period",
            "period_start",
            "period_end",
            "actual_to_date",
            "forecast_remainder",
            "total",
            "lower_80",
            "upper_80",
            "lower_95",
            "upper_95",
            "actual_days",
            "forecast_days",
        ]


class ForecastPointsSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="Day of the first element; element i is start + i days.")
    point = serializers.ListField(child=serializers.CharField())
    lower_80 = serializers.ListField(child=serializers.CharField())
    upper_80 = serializers.ListField(child=serializers.CharField())
    lower_95 = serializers.ListField(child=serializers.CharField())
    upper_95 = serializers.ListField(child=serializers.CharField())
    lower_99 = serializers.ListField(child=serializers.CharField())
    upper_99 = serializers.ListField(child=serializers.CharField())


@extend_schema_field(ForecastPointsSerializer)
class PointsField(serializers.JSONField):
    """The stored parallel arrays, passed through (documented as ForecastPoints)."""


class SeriesForecastSerializer(serializers.ModelSerializer):
    as_of = serializers.DateField(source="run.as_of", read_only=True)
    points = PointsField(read_only=True)
    projections = ProjectionSerializer(many=True, read_only=True)

    class Meta:
        model = SeriesForecast
        fields = [
            "id",
            "run",
            "as_of",
            "metric",
            "currency",
            "dimension",
            "key",
            "model",
            "reason",
            "backtest_mase",
            "backtest",
            "history_start",
            "history_end",
            "sigma",
            "points",
            "projections",
        ]


class ForecastQuerySerializer(serializers.Serializer):
    dimension = serializers.ChoiceField(choices=Dimension.choices, required=False)
    key = serializers.CharField(required=False, allow_blank=True, help_text='Series key; "" for the total.')
    metric = serializers.ChoiceField(choices=METRIC_CHOICES, required=False)
    currency = serializers.CharField(required=False)


class ProjectionQuerySerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=METRIC_CHOICES, default="effective")
    currency = serializers.CharField(required=False, help_text="Billing currency (default USD).")
    period = serializers.ChoiceField(choices=PERIODS, default="monthly")
    today = serializers.DateField(
        required=False,
        help_text="Project the period containing this day (default: today, or the last data day when the data "
        "stops before today's period, as the pages do).",
    )
    team = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Team slug (repeatable); default: all you see."
    )


class SpendProjectionSerializer(serializers.Serializer):
    scope = serializers.DictField()
    metric = serializers.CharField()
    currency = serializers.CharField()
    period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    as_of = serializers.DateField(allow_null=True)
    actual = serializers.CharField(help_text="Actual spend of the period through as_of (exact decimal string).")
    total = serializers.CharField(help_text="Projected period total (cents).")
    interval = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="Level (80, 95) -> [lower, upper]."
    )
    model = serializers.CharField(allow_blank=True)
    days_elapsed = serializers.IntegerField()
    days_total = serializers.IntegerField()


class SeriesForecastViewSet(TenantReadOnlyViewSet):
    """Series forecasts of the latest finished forecast run (filters: dimension, key, metric, currency)."""

    queryset = SeriesForecast.objects.select_related("run").prefetch_related("projections")
    serializer_class = SeriesForecastSerializer
    pagination_class = IdCursorPagination

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset & forecast_series_visible(self.tenant)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action != "list":
            return queryset
        query = ForecastQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        run = forecast_run_latest(organization=self.tenant.organization)
        if run is None:
            return queryset.none()
        return queryset.filter(run=run, **query.validated_data)

    @extend_schema(parameters=[ForecastQuerySerializer])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[ProjectionQuerySerializer], responses=SpendProjectionSerializer)
    @action(detail=False, methods=["get"], url_path="projection")
    def projection(self, request: Request) -> Response:
        """The spend projection of a period computed now from the latest data (``spend_projection``: what the
        overview, the budgets, their emails and ``evaluate_budgets`` show for the same scope and metric). Scope:
        the organization, or ``team`` (repeatable); an engineer's default scope is their own teams."""
        query = ProjectionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        slugs = request.query_params.getlist("team")
        scope = {"team": sorted({self.tenant.team_or_404(slug).slug for slug in slugs})} if slugs else {}
        if not slugs:
            scope = policy_scope(self.tenant)
        currency = data.get("currency") or "USD"
        last = last_data_day(organization=self.tenant.organization)
        result = spend_projection(
            organization=self.tenant.organization,
            scope=scope,
            metric=data["metric"],
            currency=currency,
            period=data["period"],
            today=data.get("today") or projected_day(data["period"], last),
        )
        body = {
            "scope": scope,
            "metric": data["metric"],
            "currency": currency,
            "period": data["period"],
            "period_start": result.period_start,
            "period_end": result.period_end,
            "as_of": result.as_of,
            "actual": money_str(result.actual),
            "total": money_str(result.total),
            "interval": {
                f"{int(level * 100)}": [money_str(result.lower[level]), money_str(result.upper[level])]
                for level in result.lower
            },
            "model": result.model,
            "days_elapsed": result.days_elapsed,
            "days_total": result.days_total,
        }
        return Response(SpendProjectionSerializer(body).data)


# --- anomalies -------------------------------------------------------------------------------------------
class RootCauseSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    key = serializers.CharField(allow_blank=True)
    name = serializers.CharField(allow_blank=True, default="", help_text="Readable name of the key, where known.")
    actual = serializers.CharField()
    baseline = serializers.CharField()
    delta = serializers.CharField()
    share = serializers.FloatField(allow_null=True)


class FeedbackSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Anomaly.Verdict.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class BulkFeedbackSerializer(FeedbackSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=BULK_FEEDBACK_LIMIT,
        help_text=f"Ids of the anomalies to give the verdict (at most {BULK_FEEDBACK_LIMIT}).",
    )


class BulkFeedbackOutSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    feedback = serializers.ListField(child=serializers.DictField())


class FeedbackOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    anomaly = serializers.IntegerField(source="anomaly_id")
    username = serializers.CharField(source="user.username")
    verdict = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class AnomalySerializer(serializers.ModelSerializer):
    expected = Money()
    actual = Money()
    lower = Money()
    upper = Money()
    impact = Money()
    root_cause = RootCauseSerializer(many=True, read_only=True)
    baseline_days = serializers.ListField(child=serializers.DateField(), read_only=True)
    feedback = FeedbackOutSerializer(many=True, read_only=True)

    class Meta:
        model = Anomaly
        fields = [
            "id",
            "run",
            "metric",
            "currency",
            "dimension",
            "key",
            "day",
            "expected",
            "actual",
            "lower",
            "upper",
            "impact",
            "impact_pct",
            "direction",
            "model",
            "root_cause",
            "baseline_days",
            "top_dimension",
            "top_key",
            "verdict",
            "suppressed_by",
            "feedback",
            "created_at",
        ]


class AnomalyQuerySerializer(serializers.Serializer):
    dimension = serializers.ChoiceField(choices=Dimension.choices, required=False)
    key = serializers.CharField(required=False, allow_blank=True)
    metric = serializers.ChoiceField(choices=METRIC_CHOICES, required=False)
    start = serializers.DateField(required=False, help_text="First anomaly day, inclusive.")
    end = serializers.DateField(required=False, help_text="Last anomaly day, inclusive.")
    suppressed = serializers.BooleanField(
        required=False, default=False, help_text='Include anomalies suppressed by "expected" feedback.'
    )


class AnomalyViewSet(TenantReadOnlyViewSet):
    """Detected cost anomalies, newest first, with root cause and feedback; POST feedback to give a verdict."""

    queryset = Anomaly.objects.prefetch_related("feedback__user")
    serializer_class = AnomalySerializer
    pagination_class = NewestFirstPagination

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset & anomalies_visible(self.tenant, include_suppressed=True)  # by id: every visible one

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action != "list":
            return queryset
        query = AnomalyQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        queryset = queryset & anomalies_visible(self.tenant, include_suppressed=data.pop("suppressed"))
        start, end = data.pop("start", None), data.pop("end", None)
        if start and end and start > end:
            raise ValidationError({"start": ["start is after end"]})
        if start:
            queryset = queryset.filter(day__gte=start)
        if end:
            queryset = queryset.filter(day__lte=end)
        return queryset.filter(**data)

    @extend_schema(parameters=[AnomalyQuerySerializer])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=FeedbackSerializer, responses={201: FeedbackOutSerializer})
    @action(detail=True, methods=["post"], url_path="feedback")
    def feedback(self, request: Request, pk: str | None = None) -> Response:
        """Record your verdict (expected, not_an_anomaly, confirmed) and an optional note."""
        anomaly = self.get_object()
        data = FeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            feedback = anomaly_feedback_set(
                anomaly=anomaly,
                user=request.user,
                verdict=data.validated_data["verdict"],
                note=data.validated_data["note"],
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(FeedbackOutSerializer(feedback).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="anomalies_feedback_bulk_create",
        request=BulkFeedbackSerializer,
        responses={201: BulkFeedbackOutSerializer},
    )
    @action(detail=False, methods=["post"], url_path="feedback")
    def bulk_feedback(self, request: Request) -> Response:
        """Give one verdict to several anomalies at once (e.g. dismiss them as not_an_anomaly). Ids you cannot
        see are refused, and then nothing is recorded."""
        data = BulkFeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            anomalies = anomalies_chosen(self.tenant, data.validated_data["ids"])
        except DjangoValidationError as error:
            raise ValidationError({"ids": error.message_dict["anomalies"]}) from error
        try:
            feedback = anomaly_feedback_bulk_set(
                anomalies=anomalies,
                user=request.user,
                verdict=data.validated_data["verdict"],
                note=data.validated_data["note"],
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        body = {"count": len(feedback), "feedback": FeedbackOutSerializer(feedback, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)
