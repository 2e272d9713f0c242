from django.apps import AppConfig

from finops.core.signals import ingest_committed


class CarbonConfig(AppConfig):
    name = "finops.carbon"
    label = "carbon"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from finops.carbon.receivers import refresh_ingested_days

        ingest_committed.connect(refresh_ingested_days, dispatch_uid="carbon.refresh_ingested_days")
