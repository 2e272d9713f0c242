from django.contrib import admin

from finops.forecasting.models import (
    Anomaly,
    AnomalyAlert,
    AnomalyFeedback,
    AnomalySubscription,
    ForecastRun,
    SeriesForecast,
)


@admin.register(ForecastRun)
class ForecastRunAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "as_of", "attempt", "status", "trigger", "series_done", "series_total"]
    list_filter = ["status", "trigger", "organization"]
    readonly_fields = [f.name for f in ForecastRun._meta.fields]


@admin.register(SeriesForecast)
class SeriesForecastAdmin(admin.ModelAdmin):
    list_display = ["organization", "dimension", "key", "metric", "model", "backtest_mase", "history_end"]
    list_filter = ["organization", "dimension", "model", "metric"]
    exclude = ["points"]


@admin.register(Anomaly)
class AnomalyAdmin(admin.ModelAdmin):
    list_display = ["organization", "day", "dimension", "key", "direction", "impact", "top_key", "verdict"]
    list_filter = ["organization", "dimension", "verdict", "direction"]
    date_hierarchy = "day"


@admin.register(AnomalySubscription)
class AnomalySubscriptionAdmin(admin.ModelAdmin):
    list_display = ["organization", "user", "email", "mode", "min_impact"]
    list_filter = ["organization", "mode"]


admin.site.register(AnomalyFeedback)
admin.site.register(AnomalyAlert)
