"""Optimizer endpoints: commitment optimization runs (start, list, results, purchases, backtest, what-if) and
rightsizing recommendations (the latest run's; start a run).

Runs cover the organization's whole compute usage, so engineers (who see only their teams' costs) cannot
read them; starting work is for finance and admins. A what-if writes nothing: whoever reads runs may ask one.
Rightsizing recommendations carry a team: engineers see their teams' rows. The optimizer's result JSON is passed
through as stored (money as decimal strings).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from finops.accounts.access import BILLING_MANAGERS, SEE_ALL_TEAMS
from finops.api.errors import Conflict
from finops.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from finops.api.idempotency import idempotent
from finops.api.pagination import NewestFirstPagination
from finops.api.tenancy import TenantAPIView, TenantMixin
from optimizer.models import OptimizationRun
from optimizer.rightsizing.fleet import FleetConstraints
from optimizer.rightsizing.models import RightsizingRecommendation, RightsizingRun
from optimizer.rightsizing.policy import RightsizingPolicy
from optimizer.rightsizing.selectors import (
    UNALLOCATED,
    RightsizingFilter,
    RightsizingFilterError,
    rightsizing_latest_run,
    rightsizing_payload,
)
from optimizer.rightsizing.services import RightsizingError, rightsizing_recommend
from optimizer.selectors import optimization_run_detail
from optimizer.services import LOOKBACK_DAYS, ParametersError, optimization_run_start
from optimizer.whatif import MAX_COUNT, WhatIfError
from optimizer.whatif_selectors import WhatIfUnavailable, optimization_run_what_if

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    description="A retry with the same key and body returns the first response and starts no new run.",
)


# --- serializers (documentation of the shapes; the bodies come from optimizer.selectors) -----------------
class RunOptionsSerializer(serializers.Serializer):
    """Options of a run (``optimizer.services.RunParameters``); validated by the optimizer's service."""

    lookback_days = serializers.ChoiceField(choices=list(LOOKBACK_DAYS), required=False, default=30)
    term = serializers.ChoiceField(choices=["1y", "3y"], required=False, default="1y")
    payment = serializers.ChoiceField(
        choices=["no", "partial", "all", "no_upfront", "partial_upfront", "all_upfront"], required=False
    )
    max_spot_share = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.2)
    upfront_budget = serializers.CharField(
        required=False, allow_null=True, help_text="USD, decimal string; null = no limit."
    )
    accounts = serializers.ListField(child=serializers.CharField(), required=False, help_text="Sub account ids.")
    regions = serializers.ListField(child=serializers.CharField(), required=False)
    teams = serializers.ListField(child=serializers.CharField(), required=False, help_text="Team slugs.")
    backtest = serializers.BooleanField(required=False, default=False)
    rightsize = serializers.BooleanField(required=False, default=False)
    allow_stale_spot = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Plan spot even from samples older than FINOPS_SPOT_MAX_AGE_DAYS (default 30); results.price_age "
        "reports the age of every price the run used.",
    )
    time_limit = serializers.FloatField(required=False, default=120.0, help_text="Seconds per solve, (0, 3600].")


class SolverStatsSerializer(serializers.Serializer):
    status = serializers.CharField(allow_null=True)
    objective = serializers.CharField(allow_null=True, help_text="Decimal string.")
    bound = serializers.CharField(allow_null=True)
    gap = serializers.FloatField(allow_null=True)
    build_seconds = serializers.FloatField(allow_null=True)
    solve_seconds = serializers.FloatField(allow_null=True)
    solver = serializers.CharField(allow_null=True)


class PurchaseSerializer(serializers.Serializer):
    offer_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=["reservation", "savings_plan"])
    sku = serializers.CharField(allow_null=True)
    family = serializers.CharField(allow_null=True)
    region = serializers.CharField(allow_null=True)
    term = serializers.CharField()
    payment = serializers.CharField()
    offering_class = serializers.CharField(allow_null=True)
    plan_type = serializers.CharField(allow_null=True)
    quantity = serializers.CharField(allow_null=True, help_text="Units (reservations) or USD/hour (plans).")
    quantity_unit = serializers.CharField()
    upfront = serializers.CharField(allow_null=True)
    monthly_cost = serializers.CharField(allow_null=True)
    monthly_savings = serializers.CharField(allow_null=True)
    break_even_month = serializers.IntegerField(allow_null=True)
    expected_utilization = serializers.FloatField(allow_null=True)
    coverage = serializers.FloatField(allow_null=True)
    derived_price = serializers.BooleanField()
    provenance = serializers.CharField(allow_blank=True)


class RunSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    organization = serializers.CharField()
    status = serializers.CharField(help_text="pending, running, succeeded or failed.")  # no enum name clash
    parameters = serializers.DictField()
    created_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    solver = SolverStatsSerializer()


class RunDetailSerializer(RunSummarySerializer):
    purchases = PurchaseSerializer(many=True)
    results = serializers.DictField(
        help_text="Windows, totals, breakdown, utilisation, explanation; price_age (how old the prices used are, "
        "stale spot left out or used), sunk_by_commitment and stranded_by_commitment (instance-hours); plan_window, "
        "expiring_commitments (existing commitments ending before the plan window ends: id, end, sunk_until, "
        "sunk_hours, released_instance_hours) and post_expiry_instance_hours (the usage they leave to serve)."
    )
    backtest = serializers.DictField(allow_null=True)


class RunBacktestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    backtest = serializers.DictField(
        allow_null=True,
        help_text="Null when the run was started without backtest. rows: per strategy, its test-window cost and "
        "regret (test cost minus hindsight_cost, regret_pct, regret_max against the proven bound), savings_vs each "
        "baseline; hindsight: the optimum solved on the test window itself (cost, bound, gap, purchases).",
    )


class WhatIfReservationSerializer(serializers.Serializer):
    offer = serializers.CharField(help_text="A reservation offer id of the run (results.offers).")
    count = serializers.IntegerField(min_value=0, max_value=MAX_COUNT, help_text="Whole reservation units.")


class WhatIfSavingsPlanSerializer(serializers.Serializer):
    offer = serializers.CharField(help_text="A savings-plan offer id of the run (results.offers).")
    hourly_commitment = serializers.CharField(
        help_text="USD per hour: a decimal string (a JSON number is accepted too), at most 6 decimal places."
    )


class WhatIfDocumentSerializer(serializers.Serializer):
    """The what-if document; validated by ``optimizer.whatif.parse_what_if`` (every bad field by JSON path)."""

    reservations = WhatIfReservationSerializer(many=True, required=False)
    savings_plans = WhatIfSavingsPlanSerializer(many=True, required=False)


class WhatIfRowSerializer(serializers.Serializer):
    strategy = serializers.CharField(help_text="what_if, optimizer, p10_reserved or console_savings_plan.")
    description = serializers.CharField()
    purchases = serializers.DictField(child=serializers.CharField(), help_text="Offer id -> units or USD/hour.")
    hours = serializers.IntegerField()
    cost = serializers.CharField(help_text="Exact cost over the run's window (evaluator), decimal string.")
    all_on_demand = serializers.CharField()
    no_commitment = serializers.CharField()
    savings = serializers.CharField(help_text="Against all on-demand.")
    savings_pct = serializers.FloatField()
    savings_vs_no_commitment = serializers.CharField()
    monthly_cost = serializers.CharField()
    monthly_savings = serializers.CharField()
    breakdown = serializers.DictField(child=serializers.CharField())
    utilization = serializers.FloatField(allow_null=True)
    utilization_by_offer = serializers.DictField(child=serializers.FloatField(allow_null=True))
    coverage = serializers.FloatField(allow_null=True, help_text="Share of the demand's instance-hours committed.")
    coverage_on_demand_equivalent = serializers.FloatField(allow_null=True)
    upfront = serializers.CharField()
    commitment_per_hour = serializers.CharField(help_text="Amortised USD per hour.")
    recurring_per_hour = serializers.CharField()
    break_even_hours = serializers.IntegerField(allow_null=True, help_text="Null: never within the term.")
    break_even_month = serializers.IntegerField(allow_null=True)


class WhatIfPurchasesSerializer(WhatIfRowSerializer):
    purchases = serializers.ListField(
        child=serializers.DictField(), help_text="Per purchase, as the run's results.purchases."
    )


class WhatIfSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    organization = serializers.CharField()
    window = serializers.DictField()
    prices_at = serializers.CharField()
    term = serializers.CharField()
    payment = serializers.CharField()
    what_if = WhatIfPurchasesSerializer()
    rows = WhatIfRowSerializer(many=True)
    best = serializers.CharField()
    differences = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()), help_text="What-if minus each strategy."
    )
    consistent_with_run = serializers.BooleanField(
        help_text="False when usage, commitments or rightsizing changed since the run (see notes)."
    )
    notes = serializers.ListField(child=serializers.CharField())
    seconds = serializers.FloatField()


SUMMARY_KEYS = [name for name in RunSummarySerializer().fields]


def run_body(run: OptimizationRun, request: Request, *, full: bool = True) -> dict[str, Any]:
    body = optimization_run_detail(run)
    body["url"] = reverse("optimizer-run-detail", args=[run.pk], request=request)
    return body if full else {k: body[k] for k in SUMMARY_KEYS}


class OptimizationRunViewSet(
    TenantMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Commitment optimization runs. POST starts one (202 + its URL; poll ``status``)."""

    queryset = OptimizationRun.objects.select_related("organization").prefetch_related("recommendations")
    serializer_class = RunDetailSerializer
    pagination_class = NewestFirstPagination
    read_roles = SEE_ALL_TEAMS
    write_roles = BILLING_MANAGERS

    def check_permissions(self, request: Request) -> None:
        if self.action == "what_if":  # a read that carries a document: the readers' roles
            self.write_roles = self.read_roles
        super().check_permissions(request)

    @extend_schema(responses=RunSummarySerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([run_body(run, request, full=False) for run in page])

    @extend_schema(responses=RunDetailSerializer)
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(run_body(self.get_object(), request))

    @extend_schema(
        request=RunOptionsSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: OpenApiResponse(RunDetailSerializer, description="Accepted; poll the run's url.")},
    )
    def create(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError("Expected a JSON object of run options.")
        options = dict(request.data)
        return idempotent(request, self.tenant, lambda: self._start(request, options))

    def _start(self, request: Request, options: dict) -> Response:
        try:
            run = optimization_run_start(policy=self.tenant, parameters=options)
        except ParametersError as error:
            raise ValidationError({name: [message] for name, message in error.errors.items()}) from error
        body = run_body(run, request)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})

    @extend_schema(responses=PurchaseSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def purchases(self, request: Request, pk: str | None = None) -> Response:
        """The run's recommended purchases (empty until it succeeded)."""
        return Response(optimization_run_detail(self.get_object())["purchases"])

    @extend_schema(responses=RunBacktestSerializer)
    @action(detail=True, methods=["get"])
    def backtest(self, request: Request, pk: str | None = None) -> Response:
        """The backtest table of a run started with ``backtest: true`` (null otherwise, or until it ran)."""
        run = self.get_object()
        return Response({"id": run.pk, "status": run.status, "backtest": run.backtest})

    @extend_schema(
        request=WhatIfDocumentSerializer,
        responses={200: WhatIfSerializer},
        description="Price your own purchase list on the run's window with the run's exact evaluator, next to "
        "the run's optimal plan and the baselines (p10_reserved, console_savings_plan). Writes nothing. 409 when "
        "the run has not succeeded or its problem cannot be built again.",
    )
    @action(detail=True, methods=["post"], url_path="what-if", pagination_class=None)
    def what_if(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        try:
            body = optimization_run_what_if(policy=self.tenant, run_id=run.pk, document=request.data)
        except WhatIfError as error:
            raise ValidationError({field: [message] for field, message in error.errors.items()}) from error
        except WhatIfUnavailable as error:
            raise Conflict(str(error)) from error
        return Response(body)


# --- rightsizing -----------------------------------------------------------------------------------------
class RightsizingOptionsSerializer(serializers.Serializer):
    lookback_days = serializers.IntegerField(min_value=1, max_value=366, default=14)
    allow_cross_architecture = serializers.BooleanField(default=False)
    max_changes_per_team = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    max_changes = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    keep_within_family = serializers.BooleanField(default=False)


class RightsizingQuerySerializer(serializers.Serializer):
    team = serializers.CharField(required=False, help_text=f"A team slug, or {UNALLOCATED!r} for untagged resources.")
    account = serializers.CharField(required=False, help_text="A sub account id.")
    action = serializers.ChoiceField(choices=RightsizingRecommendation.Action.values, required=False)


class RightsizingRowSerializer(serializers.Serializer):
    resource_id = serializers.CharField()
    resource_name = serializers.CharField(allow_blank=True)
    team = serializers.CharField(allow_null=True)
    account = serializers.CharField(allow_null=True, help_text="Sub account id; null: unknown.")
    region = serializers.CharField()
    operating_system = serializers.CharField()
    instances = serializers.FloatField()
    current_type = serializers.CharField()
    recommended_type = serializers.CharField(allow_null=True)
    action = serializers.ChoiceField(choices=RightsizingRecommendation.Action.choices)
    p95_cpu = serializers.FloatField(allow_null=True)
    max_cpu = serializers.FloatField(allow_null=True)
    p95_memory = serializers.FloatField(allow_null=True)
    memory_evidence = serializers.BooleanField()
    hours_observed = serializers.IntegerField()
    current_monthly_cost = serializers.CharField(allow_null=True)
    new_monthly_cost = serializers.CharField(allow_null=True)
    monthly_savings = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    migration_effort = serializers.BooleanField()


class RightsizingSerializer(serializers.Serializer):
    run = serializers.IntegerField(allow_null=True, help_text="Null: no rightsizing run yet.")
    window_start = serializers.DateTimeField(allow_null=True)
    window_end = serializers.DateTimeField(allow_null=True)
    parameters = serializers.DictField()
    solver = serializers.DictField()
    recommendations = RightsizingRowSerializer(many=True)
    total_monthly_savings = serializers.CharField(help_text="Of the rows shown (decimal string).")


EMPTY_RIGHTSIZING = {
    "run": None,
    "window_start": None,
    "window_end": None,
    "parameters": {},
    "solver": {},
    "recommendations": [],
    "total_monthly_savings": "0.00",
}


class RightsizingApi(TenantAPIView):
    """Keep / resize / stop per EC2 resource from the latest successful rightsizing run (engineers: their
    teams' resources). POST runs a new one (inline: there is no rightsizing task; it takes seconds)."""

    write_roles = BILLING_MANAGERS

    def _payload(self, run: RightsizingRun | None, filters: RightsizingFilter | None = None) -> dict:
        if run is None:
            return dict(EMPTY_RIGHTSIZING)
        try:
            return rightsizing_payload(run, policy=self.tenant, filters=filters)
        except RightsizingFilterError as error:
            raise ValidationError({"team": [str(error)]}) from error

    @extend_schema(parameters=[RightsizingQuerySerializer], responses=RightsizingSerializer)
    def get(self, request: Request) -> Response:
        query = RightsizingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        filters = RightsizingFilter(
            team=data.get("team", ""),
            account=data.get("account", ""),
            actions=(data["action"],) if data.get("action") else (),
        )
        return Response(self._payload(rightsizing_latest_run(organization=self.tenant.organization), filters))

    @extend_schema(request=RightsizingOptionsSerializer, responses={201: RightsizingSerializer})
    def post(self, request: Request) -> Response:
        options = RightsizingOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        data = options.validated_data
        try:
            policy = RightsizingPolicy(
                lookback_days=data["lookback_days"], allow_cross_architecture=data["allow_cross_architecture"]
            )
            constraints = FleetConstraints(
                max_changes_per_team=data.get("max_changes_per_team"),
                max_changes=data.get("max_changes"),
                keep_within_family=data["keep_within_family"],
            )
        except ValueError as error:
            raise ValidationError(str(error)) from error
        try:
            with transaction.atomic():
                run = rightsizing_recommend(
                    organization=self.tenant.organization, policy=policy, constraints=constraints
                )
        except RightsizingError as error:
            raise Conflict(str(error)) from error  # the organization's data does not allow it yet
        return Response(self._payload(run), status=status.HTTP_201_CREATED)
