from django.apps import AppConfig

from finops.core.signals import ingest_committed, organization_data_changed


class WebConfig(AppConfig):
    name = "finops.web"
    label = "web"

    def ready(self) -> None:
        from finops.web.receivers import dashboards_invalidate, dashboards_refresh_after_ingest

        ingest_committed.connect(dashboards_refresh_after_ingest, dispatch_uid="web.dashboards_refresh_after_ingest")
        organization_data_changed.connect(dashboards_invalidate, dispatch_uid="web.dashboards_invalidate")
