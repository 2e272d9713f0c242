from django.contrib import admin

from optimizer.models import OptimizationRun, Recommendation


class RecommendationInline(admin.TabularInline):
    model = Recommendation
    extra = 0
    can_delete = False
    fields = (
        "offer_id",
        "quantity",
        "upfront",
        "monthly_cost",
        "monthly_savings",
        "break_even_month",
        "expected_utilization",
        "coverage",
    )
    readonly_fields = fields


@admin.register(OptimizationRun)
class OptimizationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "organization", "status", "solver_status", "gap", "created_at", "finished_at")
    list_filter = ("status", "organization")
    readonly_fields = ("created_at", "started_at", "finished_at")
    inlines = [RecommendationInline]
