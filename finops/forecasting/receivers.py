"""How forecasting reacts to events of other apps (connected in ``ForecastingConfig.ready``)."""

from __future__ import annotations

from finops.forecasting.tasks import refresh_org


def refresh_after_ingest(*, organization_id: int, **kwargs: object) -> None:
    """New costs change the forecasts and the anomalies: refresh the organization's."""
    refresh_org.delay(organization_id)
