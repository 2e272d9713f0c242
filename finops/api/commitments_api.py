"""``commitments/``: the organization's reservations and savings plans, the JSON of ``commitments --json``.

Organization-wide, like the optimizer runs and the carbon summary: admins, finance and viewers read it; engineers,
who see only their teams' costs, are refused (403).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from finops.accounts.access import SEE_ALL_TEAMS
from finops.api.tenancy import TenantAPIView
from finops.commitments.selectors import commitment_inventory_for


class CommitmentQuerySerializer(serializers.Serializer):
    today = serializers.DateField(
        required=False, help_text="Count the days to each end from this day (default today, UTC)."
    )


class CommitmentScopeSerializer(serializers.Serializer):
    billing_account_id = serializers.CharField(allow_null=True)
    sub_account_id = serializers.CharField(allow_null=True)
    region_id = serializers.CharField(
        allow_null=True, help_text="Null: every region (a Compute savings plan) or unknown."
    )
    family = serializers.CharField(
        allow_null=True, help_text="Instance family a reservation or EC2 Instance plan covers."
    )
    instance_type = serializers.CharField(allow_null=True)


class CommitmentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="ARN (CUR) or CommitmentDiscountId (FOCUS).")
    kind = serializers.ChoiceField(choices=["reservation", "savings_plan"])
    provider = serializers.CharField(allow_null=True)
    type = serializers.CharField(allow_null=True, help_text="CommitmentDiscountType.")
    category = serializers.CharField(allow_null=True, help_text="CommitmentDiscountCategory: Spend or Usage.")
    name = serializers.CharField(allow_null=True)
    offering_class = serializers.CharField(allow_null=True)
    term = serializers.CharField(allow_null=True)
    payment = serializers.CharField(allow_null=True)
    plan_type = serializers.CharField(allow_null=True)
    scope = CommitmentScopeSerializer()
    start = serializers.DateTimeField(allow_null=True, help_text="Null when the data does not carry it.")
    end = serializers.DateTimeField(
        allow_null=True, help_text="Null when neither the data (FOCUS has none) nor an imported inventory carries it."
    )
    end_known = serializers.BooleanField()
    days_to_end = serializers.IntegerField(allow_null=True)
    end_source = serializers.ChoiceField(
        choices=["billing", "import"],
        allow_null=True,
        help_text="Where the end comes from: the billing data, or the imported provider inventory "
        "(import_commitment_terms); null when unknown.",
    )
    imported_end = serializers.DateTimeField(
        allow_null=True, help_text="The matching imported term's end (shown also when the billing data's end wins)."
    )
    units = serializers.CharField(allow_null=True, help_text="Reservations: instances reserved, when known.")
    hourly_commitment = serializers.CharField(allow_null=True, help_text="Amortised cost per hour in force (decimal).")
    currency = serializers.CharField(allow_null=True)
    used_cost = serializers.CharField(help_text="Effective cost of the usage it covered in the window (decimal).")
    unused_cost = serializers.CharField(help_text="Effective cost of its unused part in the window (decimal).")
    utilization = serializers.FloatField(allow_null=True, help_text="used / (used + unused), 0..1.")
    covered_list_cost = serializers.CharField()
    eligible_list_cost = serializers.CharField(allow_null=True)
    coverage = serializers.FloatField(
        allow_null=True, help_text="Share of eligible usage (on-demand equivalent) covered."
    )
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class CommitmentWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)
    days = serializers.IntegerField()


class CommitmentInventorySerializer(serializers.Serializer):
    organization = serializers.CharField()
    today = serializers.DateField()
    window = CommitmentWindowSerializer()
    expiry_thresholds_days = serializers.ListField(child=serializers.IntegerField())
    unknown_end = serializers.IntegerField(help_text="Commitments whose end the data does not carry.")
    note = serializers.CharField()
    commitments = CommitmentSerializer(many=True)


class CommitmentListApi(TenantAPIView):
    """Reservations and savings plans seen in the last 30 days of data: scope, end, hourly commitment,
    utilization and coverage; ending soonest first."""

    read_roles = SEE_ALL_TEAMS

    @extend_schema(parameters=[CommitmentQuerySerializer], responses=CommitmentInventorySerializer)
    def get(self, request: Request) -> Response:
        query = CommitmentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        inventory = commitment_inventory_for(self.tenant, today=query.validated_data.get("today"))
        return Response(inventory.document())
