from django.contrib import admin

from finops.commitments.models import CommitmentAlertSubscription, CommitmentExpiryAlert


@admin.register(CommitmentExpiryAlert)
class CommitmentExpiryAlertAdmin(admin.ModelAdmin):
    list_display = ("commitment_id", "organization", "threshold_days", "ends_at", "status", "sent_at", "attempts")
    list_filter = ("status", "threshold_days", "organization")
    search_fields = ("commitment_id",)
    readonly_fields = [f.name for f in CommitmentExpiryAlert._meta.fields]


@admin.register(CommitmentAlertSubscription)
class CommitmentAlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "active", "updated_at")
    list_filter = ("active", "organization")
