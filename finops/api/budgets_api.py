"""Budget endpoints: CRUD (validated by ``finops.budgets.validation`` through the budget services), the
alert history of a budget and its evaluation state.

Lists and details carry the *stored* state of the last evaluation (``status``, ``evaluation``, written by the
daily ``budget_evaluate``): cheap. ``budgets/{id}/state`` evaluates now (reads only; it fits the period's
forecast, so it costs a little more). Finance and admins write; who reads which budget is
``budgets_visible`` (as on the budget pages).
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from finops.accounts.access import BILLING_MANAGERS
from finops.api.fields import Money
from finops.api.pagination import IdCursorPagination
from finops.api.tenancy import TenantModelViewSet
from finops.budgets.models import Budget, BudgetAlert
from finops.budgets.selectors import budgets_visible
from finops.budgets.services import BudgetResult, budget_create, budget_state, budget_update
from finops.budgets.validation import MAX_AUTO_PERIODS

FIELDS = [
    "name",
    "scope",
    "period",
    "amount",
    "currency",
    "cost_metric",
    "thresholds",
    "recipient_users",
    "recipient_emails",
    "auto_adjust_periods",
    "active",
]


class ThresholdSerializer(serializers.Serializer):
    percent = serializers.CharField(help_text="Percent of the amount, decimal string, 0 < percent <= 1000.")
    kind = serializers.ChoiceField(choices=["actual", "forecast"])


class BudgetScopeSerializer(serializers.Serializer):
    """Every key optional; values OR-ed within a key, keys AND-ed; {} is the whole organization."""

    billing_account_id = serializers.ListField(child=serializers.CharField(), required=False)
    sub_account_id = serializers.ListField(child=serializers.CharField(), required=False)
    service_name = serializers.ListField(child=serializers.CharField(), required=False)
    region_id = serializers.ListField(child=serializers.CharField(), required=False)
    provider_name = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="FOCUS ProviderName: AWS, Microsoft, Google Cloud..."
    )
    team = serializers.ListField(child=serializers.CharField(), required=False, help_text="Team slugs.")
    tags = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class BudgetInputSerializer(serializers.Serializer):
    """Documentation of the body; the budget services validate it (every field's problems at once)."""

    name = serializers.CharField(max_length=200)
    scope = BudgetScopeSerializer(required=False)
    period = serializers.ChoiceField(choices=Budget.Period.choices, default="monthly")
    amount = serializers.CharField(help_text="Decimal string (floats are refused: not exact money).")
    currency = serializers.CharField(default="USD", help_text="ISO 4217.")
    cost_metric = serializers.ChoiceField(choices=Budget.Metric.choices, default="billed")
    thresholds = ThresholdSerializer(many=True, required=False)
    recipient_users = serializers.ListField(child=serializers.CharField(), required=False, help_text="Usernames.")
    recipient_emails = serializers.ListField(child=serializers.EmailField(), required=False)
    auto_adjust_periods = serializers.IntegerField(
        min_value=1,
        max_value=MAX_AUTO_PERIODS,
        required=False,
        allow_null=True,
        help_text="Amount = average actual spend of the last N complete periods; null = fixed amount.",
    )
    active = serializers.BooleanField(default=True)


class BudgetSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="budget-detail")
    amount = Money()
    recipient_users = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    status = serializers.CharField(source="last_status", read_only=True, help_text='ok, at_risk, breached or "".')
    evaluation = serializers.DictField(
        source="last_evaluation", read_only=True, help_text="The last stored evaluation ({} before the first)."
    )
    evaluated_at = serializers.DateTimeField(source="last_evaluated_at", read_only=True, allow_null=True)

    class Meta:
        model = Budget
        fields = ["id", "url", *FIELDS, "status", "evaluation", "evaluated_at", "created_at", "updated_at"]
        read_only_fields = fields


class BudgetAlertSerializer(serializers.ModelSerializer):
    threshold_percent = serializers.SerializerMethodField()

    class Meta:
        model = BudgetAlert
        fields = [
            "id",
            "period_start",
            "threshold_percent",
            "kind",
            "status",
            "recipients",
            "subject",
            "numbers",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ]

    def get_threshold_percent(self, alert: BudgetAlert) -> str:
        return format(alert.threshold_percent.normalize(), "f")


class BudgetStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    as_of = serializers.DateField(allow_null=True)
    currency = serializers.CharField()
    cost_metric = serializers.CharField()
    amount = serializers.CharField()
    amount_source = serializers.CharField()
    actual = serializers.CharField()
    forecast = serializers.CharField()
    forecast_interval = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    probability_of_breach = serializers.FloatField()
    status = serializers.CharField()
    model = serializers.CharField(allow_null=True)
    days_elapsed = serializers.IntegerField()
    days_total = serializers.IntegerField()
    thresholds_crossed = serializers.ListField(child=serializers.DictField())


def _current_data(budget: Budget) -> dict:
    """The budget's fields as service input (a PATCH changes some of them)."""
    return {
        "name": budget.name,
        "scope": budget.scope,
        "period": budget.period,
        "amount": str(budget.amount),
        "currency": budget.currency,
        "cost_metric": budget.cost_metric,
        "thresholds": budget.thresholds,
        "recipient_users": [u.pk for u in budget.recipient_users.all()],
        "recipient_emails": budget.recipient_emails,
        "auto_adjust_periods": budget.auto_adjust_periods,
        "active": budget.active,
    }


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError("Expected a JSON object.")
    unknown = sorted(set(request.data) - set(FIELDS))
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    users = request.data.get("recipient_users")
    if isinstance(users, list) and not all(isinstance(u, str | int) and not isinstance(u, bool) for u in users):
        raise ValidationError({"recipient_users": ["Recipient users must be a list of user ids or usernames."]})
    return dict(request.data)


class BudgetViewSet(TenantModelViewSet):
    """Budgets (finance and admins write). PUT replaces every field, PATCH the fields given."""

    queryset = Budget.objects.prefetch_related("recipient_users")
    serializer_class = BudgetSerializer
    pagination_class = IdCursorPagination
    write_roles = BILLING_MANAGERS

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset & budgets_visible(self.tenant)

    def _save(self, work) -> Budget:
        try:
            return work()
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error

    @extend_schema(request=BudgetInputSerializer, responses={201: BudgetSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = _body(request)
        budget = self._save(lambda: budget_create(organization=self.tenant.organization, data=data))
        body = self.get_serializer(budget).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": str(body["url"])})

    @extend_schema(request=BudgetInputSerializer, responses=BudgetSerializer)
    def update(self, request: Request, *args, **kwargs) -> Response:
        budget = self.get_object()
        data = _body(request)
        if kwargs.get("partial"):
            data = {**_current_data(budget), **data}
        budget = self._save(lambda: budget_update(budget=budget, data=data))
        budget = self.get_queryset().get(pk=budget.pk)
        return Response(self.get_serializer(budget).data)

    @extend_schema(request=BudgetInputSerializer(partial=True), responses=BudgetSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        budget = self.get_object()
        with transaction.atomic():  # its alerts go with it (CASCADE)
            budget.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=BudgetAlertSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def alerts(self, request: Request, pk: str | None = None) -> Response:
        """The budget's alert history, newest first (pending alerts are waiting to be sent)."""
        budget = self.get_object()
        alerts = BudgetAlert.objects.filter(budget=budget).order_by("-created_at", "-id")
        return Response(BudgetAlertSerializer(alerts, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("today", date, description="Evaluate as of this day (default: today, UTC).")],
        responses=BudgetStateSerializer,
    )
    @action(detail=True, methods=["get"])
    def state(self, request: Request, pk: str | None = None) -> Response:
        """Evaluate the budget now for the period containing ``today``: actual, forecast, intervals, status.
        Reads only (no alert is recorded or sent)."""
        budget = self.get_object()
        raw = request.query_params.get("today")
        try:
            today = serializers.DateField().run_validation(raw) if raw else None
        except ValidationError as error:
            raise ValidationError({"today": error.detail}) from error
        evaluation, source = budget_state(budget=budget, today=today)
        body = BudgetResult(budget=budget, evaluation=evaluation, amount_source=source).as_dict()
        body.pop("alerts_sent")
        return Response(body)
