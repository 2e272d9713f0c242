from django.contrib import admin

from finops.budgets.models import Budget, BudgetAlert, DigestDelivery, DigestSubscription


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "period", "amount", "currency", "cost_metric", "active", "last_status")
    list_filter = ("organization", "period", "active", "last_status")
    search_fields = ("name",)
    readonly_fields = ("last_evaluation", "last_status", "last_evaluated_at")


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    list_display = ("budget", "period_start", "threshold_percent", "kind", "status", "sent_at", "attempts")
    list_filter = ("status", "kind", "organization")
    readonly_fields = [f.name for f in BudgetAlert._meta.fields]


@admin.register(DigestSubscription)
class DigestSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "active")


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "week_start", "status", "sent_at")
    readonly_fields = [f.name for f in DigestDelivery._meta.fields]
