from django.contrib import admin

from finops.api.models import ApiToken, IdempotencyRecord


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "organization", "scope", "created_at", "expires_at", "revoked_at"]
    list_filter = ["organization", "scope"]
    readonly_fields = ["prefix", "key_sha256", "last_used_at", "created_at"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "caller", "organization", "response_status", "created_at"]
    list_filter = ["organization"]
