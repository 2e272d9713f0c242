"""Forecasting settings with their defaults. Each can be overridden in Django settings under the same name."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings


@dataclass(frozen=True)
class ForecastConfig:
    # Metrics forecast per series: "effective" (amortized: commitments spread over the usage they cover, what
    # finance plans with) by default; add "billed" to also forecast invoice amounts.
    metrics: tuple[str, ...]
    # A series is forecast when its first day is at least this many days before the last day of data ...
    min_history_days: int
    # ... and it spent at least this much over the last ``spend_window_days`` days.
    min_spend: Decimal
    spend_window_days: int
    horizon_days: int
    chunk_size: int  # series per refresh_chunk task
    anomaly_floor_abs: float  # currency units per day
    anomaly_floor_pct: float  # of the expected cost
    anomaly_lookback_days: int  # the last N days of each refresh are checked (late and restated data)
    anomaly_suppress_days: int  # "expected" feedback suppresses the same pattern for this many days
    # A series' anomalies marked "not an anomaly" within this many days raise its absolute floor to the largest
    # such impact: a deviation no larger than one a user called a false alarm no longer alerts on that series.
    anomaly_feedback_days: int
    anomaly_digest_days: int  # a digest covers anomalies detected within this many days, not yet sent
    stale_run_hours: float  # a run still running after this long is marked failed


def forecast_config() -> ForecastConfig:
    return ForecastConfig(
        metrics=tuple(getattr(settings, "FINOPS_FORECAST_METRICS", ("effective",))),
        min_history_days=int(getattr(settings, "FINOPS_FORECAST_MIN_HISTORY_DAYS", 28)),
        min_spend=Decimal(str(getattr(settings, "FINOPS_FORECAST_MIN_SPEND", "10"))),
        spend_window_days=int(getattr(settings, "FINOPS_FORECAST_SPEND_WINDOW_DAYS", 28)),
        horizon_days=int(getattr(settings, "FINOPS_FORECAST_HORIZON_DAYS", 90)),
        chunk_size=int(getattr(settings, "FINOPS_FORECAST_CHUNK_SIZE", 50)),
        anomaly_floor_abs=float(getattr(settings, "FINOPS_ANOMALY_FLOOR_ABS", 50.0)),
        anomaly_floor_pct=float(getattr(settings, "FINOPS_ANOMALY_FLOOR_PCT", 0.10)),
        anomaly_lookback_days=int(getattr(settings, "FINOPS_ANOMALY_LOOKBACK_DAYS", 3)),
        anomaly_suppress_days=int(getattr(settings, "FINOPS_ANOMALY_SUPPRESS_DAYS", 30)),
        anomaly_feedback_days=int(getattr(settings, "FINOPS_ANOMALY_FEEDBACK_DAYS", 90)),
        anomaly_digest_days=int(getattr(settings, "FINOPS_ANOMALY_DIGEST_DAYS", 7)),
        stale_run_hours=float(getattr(settings, "FINOPS_FORECAST_STALE_RUN_HOURS", 6)),
    )
