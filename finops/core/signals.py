"""Events that domain apps announce and other apps react to, so the announcing app never imports its listeners.

Receivers connect in their app's ``AppConfig.ready()`` and run in ``INSTALLED_APPS`` order.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent once an ingest's transaction has committed new billing data. Keyword arguments:
# ``organization_id: int`` and ``billing_periods: list[str]`` (ISO start dates of the monthly periods ingested).
# Receivers enqueue the refresh of whatever they derive from the organization's costs; with ``inline=True`` (a
# command asked for it) they compute it in the sending process instead.
ingest_committed = Signal()

# Sent after an organization's cost rollups were recomputed outside an ingest. Keyword argument:
# ``organization_id: int``. Receivers drop what they cached from the old rollups.
organization_data_changed = Signal()
