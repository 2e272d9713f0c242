"""How the carbon app reacts to events of other apps (connected in ``CarbonConfig.ready``)."""

from __future__ import annotations

from finops.carbon.tasks import refresh_org
from finops.usage.followups import period_days


def refresh_ingested_days(
    *, organization_id: int, billing_periods: list[str], inline: bool = False, **kwargs: object
) -> None:
    """Rebuild the carbon rollup over the whole months the ingest covered."""
    days = period_days(billing_periods)
    if days is not None:
        if inline:
            refresh_org(organization_id, *days)
        else:
            refresh_org.delay(organization_id, *days)
