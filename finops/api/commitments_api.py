"""``commitments/``: the organization's reservations and savings plans, the JSON of ``commitments --json``;
``commitments/terms/``: POST the provider's inventory exports (``import_commitment_terms``).

Organization-wide, like the optimizer runs and the carbon summary: admins, finance and viewers read it; engineers,
who see only their teams' costs, are refused (403). Admins and finance import terms.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from finops.accounts.access import BILLING_MANAGERS, SEE_ALL_TEAMS
from finops.api.tenancy import TenantAPIView
from finops.commitments.selectors import commitment_inventory_for
from finops.commitments.services import commitment_terms_import
from finops.commitments.terms import CommitmentTermsError

MAX_TERMS_FILE_BYTES = 10 * 1024 * 1024  # a describe output of thousands of commitments is a few MB


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


class CommitmentTermsUploadSerializer(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(max_length=200),
        min_length=1,
        max_length=20,
        help_text="`aws ec2 describe-reserved-instances --output json` and/or `aws savingsplans "
        "describe-savings-plans --output json` outputs (repeat the field for several files).",
    )


class CommitmentTermSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="ReservedInstancesId or savingsPlanId.")
    kind = serializers.ChoiceField(choices=["reservation", "savings_plan"])
    arn = serializers.CharField(allow_blank=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    units = serializers.CharField(allow_null=True)
    hourly_commitment = serializers.CharField(allow_null=True)
    state = serializers.CharField(allow_blank=True)


class CommitmentTermsImportSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    replaced = serializers.IntegerField(help_text="Ids imported before, their terms replaced.")
    terms = CommitmentTermSerializer(many=True)


class CommitmentTermsImportApi(TenantAPIView):
    """Import commitment terms (start, end, size) from the provider's inventory exports, for bills whose line items
    carry no commitment dates (FOCUS); all files are checked before anything is written."""

    read_roles = BILLING_MANAGERS
    write_roles = BILLING_MANAGERS
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": CommitmentTermsUploadSerializer}, responses=CommitmentTermsImportSerializer
    )
    def post(self, request: Request) -> Response:
        upload = CommitmentTermsUploadSerializer(data={"file": request.FILES.getlist("file")})
        upload.is_valid(raise_exception=True)
        files = upload.validated_data["file"]
        with tempfile.TemporaryDirectory(prefix="commitment-terms-") as folder:
            paths = []
            for index, file in enumerate(files):
                if file.size > MAX_TERMS_FILE_BYTES:
                    raise ValidationError({"file": [f"{file.name}: larger than {MAX_TERMS_FILE_BYTES:,} bytes"]})
                name = Path(file.name or "").name or f"file-{index}.json"
                path = Path(folder) / str(index) / name  # one folder each: two uploads may share a name
                path.parent.mkdir()
                with path.open("wb") as handle:
                    for chunk in file.chunks():
                        handle.write(chunk)
                paths.append(path)
            try:
                result = commitment_terms_import(self.tenant.organization, *paths)
            except CommitmentTermsError as error:
                raise ValidationError({"file": [str(error)]}) from error
        terms = [
            {
                "id": t.id,
                "kind": t.kind,
                "arn": t.arn,
                "start": t.start.isoformat(),
                "end": t.end.isoformat(),
                "units": None if t.units is None else str(t.units),
                "hourly_commitment": None if t.hourly_commitment is None else str(t.hourly_commitment),
                "state": t.state,
            }
            for t in result.terms
        ]
        return Response({"imported": len(terms), "replaced": result.replaced, "terms": terms})
