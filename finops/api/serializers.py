"""Input and output serializers of the core API endpoints (separate per endpoint where they differ)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from finops.accounts.models import Membership, Organization, Role, Team
from finops.api.models import ApiToken
from finops.usage.export import DEFAULT_VERSION as DEFAULT_FOCUS_VERSION
from finops.usage.export import FOCUS_VERSIONS
from finops.usage.formats import FORMATS
from finops.usage.models import IngestJob, LineItem
from finops.usage.selectors import FILTER_FIELDS, GRANULARITIES, METRICS


# --- costs --------------------------------------------------------------------------------------------------
class FilterFieldsSerializer(serializers.Serializer):
    """The exact-match filters (``finops.usage.selectors.FILTER_FIELDS``); "" matches rows where it is not set."""

    account = serializers.CharField(required=False, allow_blank=True, help_text="Billing account id.")
    sub_account = serializers.CharField(required=False, allow_blank=True, help_text="Sub account id.")
    service = serializers.CharField(required=False, allow_blank=True, help_text="Service name.")
    service_category = serializers.CharField(required=False, allow_blank=True)
    region = serializers.CharField(required=False, allow_blank=True, help_text="Region id (else region name).")
    provider = serializers.CharField(required=False, allow_blank=True)
    charge_category = serializers.CharField(required=False, allow_blank=True)
    pricing_category = serializers.CharField(required=False, allow_blank=True)
    currency = serializers.CharField(required=False, allow_blank=True, help_text="Billing currency (ISO 4217).")

    def filters(self) -> dict[str, str]:
        assert set(FILTER_FIELDS) <= set(self.fields)
        return {name: self.validated_data[name] for name in FILTER_FIELDS if name in self.validated_data}


def _tag(value: str) -> tuple[str, str]:
    key, sep, tag_value = value.partition("=")
    if not sep or not key:
        raise serializers.ValidationError("Expected KEY=VALUE.")
    return key, tag_value


class CostQuerySerializer(FilterFieldsSerializer):
    """Query parameters of costs/summary and costs/timeseries (names as in ``cost_report``)."""

    metric = serializers.ChoiceField(choices=list(METRICS), default="billed")
    group_by = serializers.CharField(
        required=False,
        help_text="One or two comma-separated dimensions: service, account, sub_account, region, team, provider, "
        "charge_category, pricing_category, service_category, tag:KEY, or the FOCUS 1.3 split cost allocation's "
        "allocated_resource (AllocatedResourceId) and allocated_tag:KEY (AllocatedTags).",
    )
    start = serializers.DateField(required=False, help_text="First day, inclusive (UTC).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive (UTC).")
    team = serializers.CharField(required=False, help_text="Team slug.")
    tag = serializers.CharField(required=False, help_text="KEY=VALUE: only line items with that tag value.")

    def validate_tag(self, value: str) -> tuple[str, str]:
        return _tag(value)


class FocusExportQuerySerializer(serializers.Serializer):
    """Query parameters of focus-export (names as in ``export_focus``)."""

    version = serializers.ChoiceField(
        choices=list(FOCUS_VERSIONS), default=DEFAULT_FOCUS_VERSION, help_text="FOCUS version of the dataset."
    )
    start = serializers.DateField(required=False, help_text="First day, inclusive (UTC, by charge period start).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive (UTC).")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"start": ["start is after end"]})
        return attrs


class CostTimeseriesQuerySerializer(CostQuerySerializer):
    granularity = serializers.ChoiceField(choices=list(GRANULARITIES), default="day")


class CostRowSerializer(serializers.Serializer):
    group = serializers.CharField(help_text="The group's label; two dimensions are joined with ' / '.")
    groups = serializers.ListField(child=serializers.CharField(), help_text="One label per group-by dimension.")
    currency = serializers.CharField()
    cost = serializers.CharField(help_text="Decimal string, exact.")


class CurrencyTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    cost = serializers.CharField(help_text="Decimal string, exact: the rows of this currency summed.")


class CostSummarySerializer(serializers.Serializer):
    metric = serializers.CharField()
    group_by = serializers.CharField()
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    rows = CostRowSerializer(many=True)
    totals = CurrencyTotalSerializer(many=True, help_text="One total per currency; currencies are never added.")


class CostPointSerializer(CostRowSerializer):
    period = serializers.DateField(help_text="First day of the period (Monday for weeks).")


class CostTimeseriesSerializer(serializers.Serializer):
    metric = serializers.CharField()
    group_by = serializers.CharField(allow_blank=True)
    granularity = serializers.CharField()
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    rows = CostPointSerializer(many=True)


# --- line items ---------------------------------------------------------------------------------------------
LINE_ITEM_FIELDS = [
    "id",
    "provider_name",
    "billing_account_id",
    "sub_account_id",
    "billing_currency",
    "billing_period_start",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "charge_description",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "pricing_quantity",
    "pricing_unit",
    "pricing_category",
    "service_name",
    "service_category",
    "region_id",
    "resource_id",
    "sku_id",
    "instance_type",
    "commitment_discount_id",
    "team_tag_value",
    "tags",
]


class LineItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = LineItem
        fields = LINE_ITEM_FIELDS


class LineItemQuerySerializer(FilterFieldsSerializer):
    start = serializers.DateField(required=False, help_text="First day, inclusive (UTC, by charge period start).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive.")
    team = serializers.CharField(required=False, help_text="Team slug.")
    tag = serializers.CharField(required=False, help_text="KEY=VALUE.")

    def validate_tag(self, value: str) -> tuple[str, str]:
        return _tag(value)


# --- ingest jobs --------------------------------------------------------------------------------------------
class IngestProgressSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    bytes_done = serializers.IntegerField()
    bytes_total = serializers.IntegerField()
    fraction = serializers.FloatField()


class IngestJobSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="ingest-job-detail")
    progress = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()

    class Meta:
        model = IngestJob
        fields = [
            "id",
            "url",
            "status",
            "source",
            "requested_format",
            "format",
            "focus_version",
            "files",
            "rows_read",
            "rows_written",
            "rows_replaced",
            "billing_periods",
            "slice_count",
            "totals",
            "bytes_total",
            "duplicate_of",
            "error",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]

    @extend_schema_field(IngestProgressSerializer)
    def get_progress(self, job: IngestJob) -> dict:
        return job.progress()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_files(self, job: IngestJob) -> list[str]:
        return [f.name for f in job.files.all()]

    @extend_schema_field(
        serializers.DictField(child=serializers.DictField(child=serializers.CharField()), allow_null=True)
    )
    def get_totals(self, job: IngestJob) -> dict[str, dict[str, str]] | None:
        """Per currency totals of the delivery; hidden (null) from engineers, who see only their teams."""
        if self.context.get("hide_totals"):
            return None
        return job.totals


class IngestUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A billing export: FOCUS, AWS CUR, Azure cost details, Google Cloud billing export or OCI cost "
        "report (CSV, .gz, .zip, Parquet, newline-delimited JSON)."
    )
    format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")


# --- organizations, teams, members, tokens ------------------------------------------------------------------
class OrganizationSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "created_at", "role"]

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, organization: Organization) -> str | None:
        return self.context.get("roles", {}).get(organization.pk)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "slug", "name", "tag_value"]


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    role = serializers.ChoiceField(choices=Role.choices)
    teams = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "teams"]


class TokenSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    organization = serializers.CharField(source="organization.slug", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "username",
            "organization",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices, default=ApiToken.Scope.READ)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)


class TokenCreatedSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown once, never again.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]
        read_only_fields = fields
