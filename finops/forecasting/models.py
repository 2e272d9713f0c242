"""Forecast runs, per-series forecasts with their period projections, cost anomalies, feedback and alerts.

The math lives in ``calc`` (no Django); these tables store its results. Money is Decimal (``MoneyField``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from finops.accounts.models import Organization
from finops.core.money import MoneyField

METRIC_CHOICES = [("effective", "effective (amortized)"), ("billed", "billed")]


class Dimension(models.TextChoices):
    TOTAL = "total"
    SERVICE = "service"
    ACCOUNT = "account"  # the sub account (FOCUS SubAccountId: the AWS member account)
    REGION = "region"
    TEAM = "team"
    PROVIDER = "provider"  # FOCUS ProviderName; forecast only where a currency is billed by several providers


class ForecastRun(models.Model):
    """One refresh of an organization's forecasts for the data ending ``as_of``.

    (organization, as_of) is unique: a rerun for the same data day reuses the row, bumps ``attempt`` and
    replaces the forecasts of the earlier attempt, so forecasts are never duplicated.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        PARTIAL = "partial"  # finished, some series failed (see failures)
        FAILED = "failed"

    class Trigger(models.TextChoices):
        NIGHTLY = "nightly"
        INGEST = "ingest"
        MANUAL = "manual"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="forecast_runs")
    as_of = models.DateField(null=True, blank=True, help_text="Last day of cost data the run forecasts from.")
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    metrics = models.JSONField(default=list)
    series_total = models.PositiveIntegerField(default=0)
    series_done = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    anomalies_found = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list)  # [{"series": "...", "error": "..."}]
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "as_of"], name="forecast_run_unique_day")]
        indexes = [models.Index(fields=["organization", "status", "as_of"], name="forecast_run_latest_idx")]

    def __str__(self) -> str:
        return f"forecast run #{self.pk} {self.organization_id} {self.as_of} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.PARTIAL, self.Status.FAILED)


class ForecastChunk(models.Model):
    """A slice of a run's series, forecast by one ``forecasting.refresh_chunk`` task.

    The chunk rows are the run's completion counter (see ``services``): the last chunk to finish finishes the
    run. A chunk is done exactly once (a redelivered task finds it done and does nothing).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    series = models.JSONField()  # [[metric, currency, dimension, key], ...]
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="forecast_chunk_unique_index")]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id} {self.status}"


class SeriesForecast(models.Model):
    """The chosen model's daily forecast of one series.

    ``points`` is one compact JSON object of parallel arrays, not a child table: a forecast is always written and
    read whole (charts, projections, budgets), never queried by single day, and 1,000 series x 90 days would be
    90,000 rows per run. Shape: {"start": "YYYY-MM-DD", "point": ["12.34", ...], "lower_80": [...],
    "upper_80": [...], "lower_95": [...], "upper_95": [...], "lower_99": [...], "upper_99": [...]} with decimal
    strings (cents); element i is day start + i.
    """

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="forecasts")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=16, choices=METRIC_CHOICES)
    currency = models.CharField(max_length=8)
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    key = models.TextField(blank=True)  # "" for the total and for untagged / unnamed groups
    model = models.CharField(max_length=32)
    reason = models.CharField(max_length=32)  # backtest, short_history, sparse_history
    backtest_mase = models.FloatField(null=True, blank=True)  # of the chosen model; null without a backtest
    backtest = models.JSONField(default=dict)  # every candidate's MASE
    history_start = models.DateField()
    history_end = models.DateField()
    sigma = models.FloatField()
    points = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "metric", "dimension", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "metric", "currency", "dimension", "key"], name="series_forecast_unique_in_run"
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "metric", "dimension", "key", "history_end"], name="series_forecast_latest_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.key or '-'} {self.metric} {self.history_end} {self.model}"


class SeriesProjection(models.Model):
    """Month-end or quarter-end total: actual to date + forecast of the remainder, with intervals."""

    class Period(models.TextChoices):
        MONTH = "month"
        QUARTER = "quarter"

    forecast = models.ForeignKey(SeriesForecast, on_delete=models.CASCADE, related_name="projections")
    period = models.CharField(max_length=8, choices=Period.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    actual_to_date = MoneyField()
    forecast_remainder = MoneyField()
    total = MoneyField()
    lower_80 = MoneyField()
    upper_80 = MoneyField()
    lower_95 = MoneyField()
    upper_95 = MoneyField()
    actual_days = models.PositiveIntegerField()
    forecast_days = models.PositiveIntegerField()

    class Meta:
        ordering = ["forecast", "period"]
        constraints = [models.UniqueConstraint(fields=["forecast", "period"], name="series_projection_unique")]

    def __str__(self) -> str:
        return f"{self.period} to {self.period_end}: {self.total}"


class Anomaly(models.Model):
    """A day whose cost fell outside the series' one-step-ahead 99% interval by more than the floors."""

    class Verdict(models.TextChoices):
        EXPECTED = "expected"
        NOT_AN_ANOMALY = "not_an_anomaly"
        CONFIRMED = "confirmed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="anomalies")
    run = models.ForeignKey(ForecastRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="anomalies")
    metric = models.CharField(max_length=16, choices=METRIC_CHOICES)
    currency = models.CharField(max_length=8)
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    key = models.TextField(blank=True)
    day = models.DateField()
    expected = MoneyField()
    actual = MoneyField()
    lower = MoneyField()  # 99% interval
    upper = MoneyField()
    impact = MoneyField()  # actual - expected
    impact_pct = models.FloatField(null=True, blank=True)  # impact / expected; null when expected is 0
    direction = models.CharField(max_length=8)  # spike | drop
    model = models.CharField(max_length=32)
    # [{"dimension", "key", "actual", "baseline", "delta", "share"}], ranked; money as decimal strings.
    root_cause = models.JSONField(default=list)
    baseline_days = models.JSONField(default=list)
    top_dimension = models.CharField(max_length=16, blank=True)
    top_key = models.TextField(blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)  # latest feedback
    suppressed_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressed"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "organization", "dimension", "key"]
        verbose_name_plural = "anomalies"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "metric", "currency", "dimension", "key", "day"], name="anomaly_unique_day"
            )
        ]
        indexes = [models.Index(fields=["organization", "created_at"], name="anomaly_org_created_idx")]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.key or '-'} {self.day} {self.direction} {self.impact}"

    @property
    def series_label(self) -> str:
        return "total" if self.dimension == Dimension.TOTAL else f"{self.dimension} {self.key or '(none)'}"


class AnomalyFeedback(models.Model):
    anomaly = models.ForeignKey(Anomaly, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=16, choices=Anomaly.Verdict.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["anomaly", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.verdict} by {self.user_id} on anomaly {self.anomaly_id}"


class AnomalySubscription(models.Model):
    """Who gets anomaly emails for an organization, how (immediately or in a daily digest) and above what impact."""

    class Mode(models.TextChoices):
        IMMEDIATE = "immediate"
        DAILY_DIGEST = "daily_digest"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="anomaly_subscriptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    email = models.EmailField(blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.IMMEDIATE)
    min_impact = MoneyField(default=0)  # absolute impact, currency units
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(email=""), name="anomaly_subscription_has_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.mode}"

    @property
    def recipient(self) -> str:
        return (self.user.email if self.user_id and self.user.email else self.email).strip().lower()


class AnomalyAlert(models.Model):
    """One anomaly emailed to one recipient in one mode. The row is inserted (claimed) before the email is sent;
    the unique constraint makes the send happen at most once per (anomaly, recipient, mode) across retries and
    concurrent workers."""

    class Status(models.TextChoices):
        CLAIMED = "claimed"
        SENT = "sent"
        FAILED = "failed"

    anomaly = models.ForeignKey(Anomaly, on_delete=models.CASCADE, related_name="alerts")
    recipient = models.EmailField()
    mode = models.CharField(max_length=16, choices=AnomalySubscription.Mode.choices)
    batch = models.UUIDField()  # the claim that inserted it (one email may carry many rows: the digest)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CLAIMED)
    error = models.TextField(blank=True)
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-claimed_at", "id"]
        constraints = [models.UniqueConstraint(fields=["anomaly", "recipient", "mode"], name="anomaly_alert_once")]
        indexes = [models.Index(fields=["batch"], name="anomaly_alert_batch_idx")]

    def __str__(self) -> str:
        return f"anomaly {self.anomaly_id} to {self.recipient} ({self.mode}) {self.status}"
