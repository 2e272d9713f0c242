"""``carbon/summary``: energy and emissions per group from the daily carbon rollups, the JSON of
``carbon_report --format json`` (same parameters: group_by, start, end; same row shape).

Organization-wide (the rollups are not split by the caller's teams): engineers, who see only their teams'
costs, are refused.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from finops.accounts.access import SEE_ALL_TEAMS
from finops.api.tenancy import TenantAPIView
from finops.carbon.selectors import MEASURES, REPORT_GROUPS, CarbonReportError, carbon_summary
from finops.carbon.services import coefficient_set_current
from finops.core.money import money_str

QUANTUM = Decimal("0.000001")  # as carbon_report prints them


def _text(value: Decimal) -> str:
    return money_str(value.quantize(QUANTUM)) or "0"


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
                organization=self.tenant.organization, group_by=data["group_by"], start=start, end=end
            )
        except CarbonReportError as error:
            raise ValidationError({"start": [str(error)]} if start and end and start > end else str(error)) from error
        version = ",".join(report.versions) if report.versions else coefficient_set_current().version
        return Response(
            {
                "rows": [
                    {
                        "group": r.group,
                        **{m: _text(r.values[m]) for m in MEASURES},
                        "method": r.method,
                        "methods": {k: _text(v) for k, v in sorted(r.methods.items())},
                    }
                    for r in report.rows
                ],
                "coefficients": version,
                "group_by": data["group_by"],
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
                "grid_estimated_regions": report.grid_estimated_regions,
            }
        )
