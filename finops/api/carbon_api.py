"""``carbon/summary``: energy and emissions per group from the daily carbon rollups, the JSON of
``carbon_report --format json`` (same parameters: group_by, start, end; same row shape).

An organization-wide report: engineers, who see only their teams' rows, are refused (the carbon page shows
them their teams' share).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from finops.accounts.access import SEE_ALL_TEAMS
from finops.api.tenancy import TenantAPIView
from finops.carbon.selectors import MEASURES, REPORT_GROUPS, CarbonReportError, carbon_summary


class CarbonQuerySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=list(REPORT_GROUPS), default="service")
    start = serializers.DateField(required=False, help_text="First day, inclusive (UTC).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive (UTC).")


class CarbonRowSerializer(serializers.Serializer):
    group = serializers.CharField()
    vcpu_hours = serializers.CharField()
    compute_kwh = serializers.CharField()
    memory_kwh = serializers.CharField()
    storage_kwh = serializers.CharField()
    network_kwh = serializers.CharField()
    kwh = serializers.CharField()
    operational_kgco2e = serializers.CharField()
    embodied_kgco2e = serializers.CharField()
    method = serializers.CharField(help_text="Estimation method, or mixed / unknown.")
    methods = serializers.DictField(child=serializers.CharField(), help_text="Method -> kWh.")


class CarbonSummarySerializer(serializers.Serializer):
    rows = CarbonRowSerializer(many=True)
    coefficients = serializers.CharField(help_text="Coefficient set version(s), comma-separated.")
    group_by = serializers.CharField()
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    grid_estimated_regions = serializers.ListField(child=serializers.CharField())
    as_of = serializers.DateField(allow_null=True, help_text="The last day with carbon estimates in the range.")
    pending = serializers.DictField(
        allow_null=True,
        help_text="Null, or ingested usage days without estimates yet: days, first, last, refresh (how to fill them).",
    )


assert set(CarbonRowSerializer().fields) == {"group", "method", "methods", *MEASURES}


class CarbonSummaryApi(TenantAPIView):
    """Energy (kWh) and emissions (kgCO2e, operational and embodied) per group, most emissions first."""

    read_roles = SEE_ALL_TEAMS

    @extend_schema(parameters=[CarbonQuerySerializer], responses=CarbonSummarySerializer)
    def get(self, request: Request) -> Response:
        query = CarbonQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        start, end = data.get("start"), data.get("end")
        try:
            report = carbon_summary(
                organization=self.tenant.organization,
                group_by=data["group_by"],
                start=start,
                end=end,
                team_ids=self.tenant.team_ids,
            )
        except CarbonReportError as error:
            raise ValidationError({"start": [str(error)]} if start and end and start > end else str(error)) from error
        return Response(report.as_json())
