from django.apps import AppConfig

from finops.core.signals import ingest_committed


class ForecastingConfig(AppConfig):
    name = "finops.forecasting"
    label = "forecasting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from finops.forecasting.receivers import refresh_after_ingest

        ingest_committed.connect(refresh_after_ingest, dispatch_uid="forecasting.refresh_after_ingest")
