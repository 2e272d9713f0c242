"""How forecasting reacts to events of other apps (connected in ``ForecastingConfig.ready``)."""

from __future__ import annotations

from finops.accounts.models import Organization
from finops.forecasting.models import ForecastRun
from finops.forecasting.services import forecast_refresh_inline
from finops.forecasting.tasks import refresh_org


def refresh_after_ingest(*, organization_id: int, inline: bool = False, **kwargs: object) -> None:
    """New costs change the forecasts and the anomalies: refresh the organization's."""
    if inline:
        organization = Organization.objects.get(pk=organization_id)
        forecast_refresh_inline(organization=organization, trigger=ForecastRun.Trigger.INGEST)
    else:
        refresh_org.delay(organization_id)
