"""Writes for forecasting: refresh runs (plan -> chunks -> finish), anomalies with root causes, feedback, alerts.

Fan-out without a chord: a run's series are split into ``ForecastChunk`` rows, one ``forecasting.refresh_chunk``
task each (a Celery group). Each chunk commits its forecasts and marks its row done in one transaction that holds
the run row's lock, and counts the chunks still pending: the one that leaves none enqueues
``forecasting.refresh_finish``. A Celery chord would need a result backend, which the embedded mode (kombu
filesystem broker) does not have; the database counter works on every broker, survives a redelivered task (a
done chunk is skipped) and a rerun (a reset run deletes its chunks, so stale tasks find nothing to do).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from finops.accounts.models import Membership, Organization, Role
from finops.core import outbox
from finops.core.amounts import money_from_float, quantize_money
from finops.forecasting.calc.projection import (
    SPEND_LEVELS,
    SpendProjection,
    history_start,
    history_values,
    month_end,
    project_spend,
    quarter_end,
)
from finops.forecasting.calc.rootcause import DEFAULT_DIMENSIONS, baseline_days, rank_root_cause
from finops.forecasting.calc.select import forecast_series
from finops.forecasting.calc.series import SeriesAnalysis, analyse_series
from finops.forecasting.conf import ForecastConfig, forecast_config
from finops.forecasting.models import (
    Anomaly,
    AnomalyAlert,
    AnomalyFeedback,
    AnomalySubscription,
    ForecastChunk,
    ForecastRun,
    SeriesForecast,
    SeriesProjection,
)
from finops.forecasting.selectors import (
    SeriesKey,
    anomalies_visible_to_subscriber,
    anomaly_line_items,
    cost_as_of,
    series_dismissed_impacts,
    series_plan,
    series_values,
)

# Errors the forecasting math raises on data it cannot model: recorded per series, the run goes on.
SERIES_ERRORS = (ValueError, FloatingPointError, np.linalg.LinAlgError)


def _money_text(value: float) -> str:
    return format(money_from_float(value), "f")


# --------------------------------------------------------------------------------------------------------
# Refresh runs


@transaction.atomic
def forecast_run_start(
    *,
    organization: Organization,
    trigger: str = ForecastRun.Trigger.MANUAL,
    config: ForecastConfig | None = None,
) -> ForecastRun:
    """Plan a refresh: the run for (organization, last day of data) with its chunks of series.

    A run for the same day is reused: its attempt is bumped and the previous attempt's chunks and forecasts are
    deleted (anomalies are kept; they are unique per series and day and updated in place).
    """
    config = config or forecast_config()
    if trigger not in ForecastRun.Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}; choose one of {', '.join(ForecastRun.Trigger.values)}")
    Organization.objects.select_for_update().get(pk=organization.pk)  # one planner per organization at a time
    as_of = cost_as_of(organization=organization)
    series = series_plan(organization=organization, as_of=as_of, config=config) if as_of else []
    run = ForecastRun.objects.filter(organization=organization, as_of=as_of).first() if as_of else None
    if run is None:
        run = ForecastRun(organization=organization, as_of=as_of)
    else:
        run.attempt += 1
        run.chunks.all().delete()
        run.forecasts.all().delete()
    run.trigger = trigger
    run.metrics = list(config.metrics)
    run.status = ForecastRun.Status.PENDING
    run.series_total = len(series)
    run.series_done = 0
    run.anomalies_found = 0
    run.failures = []
    run.error = ""
    run.started_at = timezone.now()
    run.finished_at = None
    run.duration_seconds = None
    size = max(config.chunk_size, 1)
    run.chunks_total = (len(series) + size - 1) // size
    run.save()
    ForecastChunk.objects.bulk_create(
        ForecastChunk(run=run, index=i, series=[s.as_list() for s in series[i * size : (i + 1) * size]])
        for i in range(run.chunks_total)
    )
    if not series:
        _finish(run)  # nothing to forecast (no data yet, or every series under the thresholds)
    return run


@dataclass(frozen=True)
class _SeriesResult:
    key: SeriesKey
    first_day: date
    analysis: SeriesAnalysis
    root_causes: dict[date, list[dict]]
    projections: dict[str, SpendProjection]  # SeriesProjection.Period -> the period's projection


def _spend_projections(first: date, values: list[float]) -> dict[str, SpendProjection]:
    """Month and quarter of the first forecast day, through the product's one projection (``project_spend``, its
    history window, one fit for both periods): what the overview, budgets and the API compute for the same
    series and data day. The float values came from Decimal day sums; their shortest text form gives those
    Decimals back."""
    daily = {first + timedelta(days=i): Decimal(repr(v)) for i, v in enumerate(values)}
    as_of = first + timedelta(days=len(values) - 1)
    start = as_of + timedelta(days=1)
    quarter_first = date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    periods = {
        SeriesProjection.Period.MONTH: (start.replace(day=1), month_end(start)),
        SeriesProjection.Period.QUARTER: (quarter_first, quarter_end(start)),
    }
    history = history_values(daily, as_of, history_start(quarter_first, as_of))
    if history is None:  # no cost row in the window: nothing to project
        return {}
    # The quarter's window starts no later than the month's: both read HISTORY_DAYS before as_of.
    forecast = forecast_series(history[1], history[0], horizon=(quarter_end(start) - as_of).days, levels=SPEND_LEVELS)
    return {
        period: project_spend(daily, period_start=bounds[0], period_end=bounds[1], as_of=as_of, forecast=forecast)
        for period, bounds in periods.items()
    }


def _aligned(first: date, size: int, usage: tuple[date, list[float]] | None) -> list[float]:
    """The usage series on the days of the bill's series (first day ``first``, ``size`` days); 0 where none."""
    aligned = [0.0] * size
    if usage is not None:
        offset = (usage[0] - first).days
        for i, value in enumerate(usage[1]):
            if 0 <= offset + i < size:
                aligned[offset + i] = value
    return aligned


def _analyse(
    organization: Organization,
    key: SeriesKey,
    first: date,
    values: list[float],
    config: ForecastConfig,
    *,
    usage: list[float] | None = None,
    dismissed_impact: float = 0.0,
):
    """Forecast the series' bill and look for anomalies in its usage. ``dismissed_impact``: the largest impact
    users called "not an anomaly" on this series lately (series_dismissed_impacts) raises its absolute floor."""
    analysis = analyse_series(
        values,
        first,
        horizon=config.horizon_days,
        lookback=config.anomaly_lookback_days,
        floor_abs=max(config.anomaly_floor_abs, dismissed_impact),
        floor_pct=config.anomaly_floor_pct,
        usage=usage,
    )
    causes: dict[date, list[dict]] = {}
    for found in analysis.anomalies:
        baseline = baseline_days(found.day)
        rows = anomaly_line_items(organization=organization, series=key, days=[found.day, *baseline])
        # The series' own dimension explains all of its delta by definition: leave it out.
        dimensions = [d for d in DEFAULT_DIMENSIONS if d != key.dimension]
        cause = rank_root_cause(rows, found.day, baseline, dimensions=dimensions)
        causes[found.day] = [
            {
                "dimension": c.dimension,
                "key": c.key,
                "name": c.name,
                "actual": _money_text(c.actual),
                "baseline": _money_text(c.baseline),
                "delta": _money_text(c.delta),
                "share": round(c.share, 4),
            }
            for c in cause.contributors
        ]
    return _SeriesResult(key, first, analysis, causes, _spend_projections(first, values))


def _points(analysis: SeriesAnalysis) -> dict:
    forecast = analysis.forecast
    points: dict = {"start": forecast.start.isoformat(), "point": [_money_text(v) for v in forecast.point]}
    for level in sorted(forecast.lower):
        tag = f"{round(level * 100)}"
        points[f"lower_{tag}"] = [_money_text(v) for v in forecast.lower[level]]
        points[f"upper_{tag}"] = [_money_text(v) for v in forecast.upper[level]]
    return points


def _projection_row(forecast_row: SeriesForecast, period: str, projection: SpendProjection) -> SeriesProjection:
    return SeriesProjection(
        forecast=forecast_row,
        period=period,
        period_start=projection.period_start,
        period_end=projection.period_end,
        actual_to_date=quantize_money(projection.actual),
        forecast_remainder=money_from_float(projection.remainder),
        total=projection.total,
        lower_80=projection.lower[0.8],
        upper_80=projection.upper[0.8],
        lower_95=projection.lower[0.95],
        upper_95=projection.upper[0.95],
        actual_days=projection.days_elapsed,
        forecast_days=projection.forecast_days,
    )


def _save_anomalies(run: ForecastRun, result: _SeriesResult, config: ForecastConfig) -> int:
    """Upsert the series' anomalies; returns how many are new. "expected" feedback on an earlier anomaly of the
    same series with the same top root cause, within the suppression window, suppresses the new one."""
    new = 0
    key = result.key
    for found in result.analysis.anomalies:
        causes = result.root_causes.get(found.day, [])
        top = causes[0] if causes else {"dimension": "", "key": ""}
        model = next((s.model for s in result.analysis.checked if s.day == found.day), result.analysis.forecast.model)
        values = {
            "run": run,
            "expected": money_from_float(found.expected),
            "actual": money_from_float(found.value),
            "lower": money_from_float(found.lower),
            "upper": money_from_float(found.upper),
            "impact": money_from_float(found.impact),
            "impact_pct": found.impact / found.expected if found.expected else None,
            "direction": found.direction,
            "model": model,
            "root_cause": causes,
            "baseline_days": [d.isoformat() for d in baseline_days(found.day)],
            "top_dimension": top["dimension"],
            "top_key": top["key"],
        }
        lookup = {
            "organization": run.organization,
            "metric": key.metric,
            "currency": key.currency,
            "dimension": key.dimension,
            "key": key.key,
            "day": found.day,
        }
        existing = Anomaly.objects.filter(**lookup).first()
        if existing is not None:
            del values["run"]  # keeps the run that first found it
            for name, value in values.items():
                setattr(existing, name, value)
            existing.save()
            continue
        anomaly = Anomaly(**lookup, **values)
        anomaly.suppressed_by = _suppressing(anomaly, config)
        anomaly.save()
        new += 1
    return new


def _suppressing(anomaly: Anomaly, config: ForecastConfig) -> Anomaly | None:
    if not anomaly.top_dimension:
        return None
    return (
        Anomaly.objects.filter(
            organization=anomaly.organization,
            metric=anomaly.metric,
            currency=anomaly.currency,
            dimension=anomaly.dimension,
            key=anomaly.key,
            top_dimension=anomaly.top_dimension,
            top_key=anomaly.top_key,
            verdict=Anomaly.Verdict.EXPECTED,
            day__lt=anomaly.day,
            day__gte=anomaly.day - timedelta(days=config.anomaly_suppress_days),
        )
        .order_by("-day")
        .first()
    )


def forecast_chunk_run(*, chunk_id: int, config: ForecastConfig | None = None) -> int | None:
    """Forecast one chunk's series and store the results; returns the run id when this chunk was the run's last
    (the caller finishes the run), else None.

    A chunk that is gone (its run was reset by a rerun) or already done is a no-op. An unexpected error marks the
    chunk failed, finishes the run (failed) when it was the last chunk, and is raised again.
    """
    config = config or forecast_config()
    chunk = ForecastChunk.objects.select_related("run__organization").filter(pk=chunk_id).first()
    if chunk is None or chunk.status != ForecastChunk.Status.PENDING:
        return None
    run = chunk.run
    organization = run.organization
    ForecastRun.objects.filter(pk=run.pk, status=ForecastRun.Status.PENDING).update(status=ForecastRun.Status.RUNNING)
    keys = [SeriesKey(*item) for item in chunk.series]
    results: list[_SeriesResult] = []
    failures: list[dict] = []
    try:
        values = series_values(organization=organization, series=keys, end=run.as_of)
        usage = series_values(organization=organization, series=keys, end=run.as_of, usage_only=True)
        since = run.as_of - timedelta(days=config.anomaly_feedback_days)
        dismissed = series_dismissed_impacts(organization=organization, series=keys, since=since)
        for key in keys:
            if key not in values:
                failures.append({"series": key.label(), "error": "no cost rows"})
                continue
            first, daily = values[key]
            try:
                usage_daily = _aligned(first, len(daily), usage.get(key))
                results.append(
                    _analyse(
                        organization,
                        key,
                        first,
                        daily,
                        config,
                        usage=usage_daily,
                        dismissed_impact=dismissed.get(key, 0.0),
                    )
                )
            except SERIES_ERRORS as error:
                failures.append({"series": key.label(), "error": str(error)})
    except Exception as error:  # recorded on the run, then re-raised: a bug must still fail the task
        if _chunk_failed(chunk_id=chunk.pk, error=f"{type(error).__name__}: {error}"):
            forecast_run_finish(run_id=run.pk)
        raise
    last = _chunk_store(chunk_id=chunk.pk, results=results, failures=failures, config=config)
    return run.pk if last else None


@transaction.atomic
def _chunk_store(*, chunk_id: int, results: list[_SeriesResult], failures: list[dict], config: ForecastConfig) -> bool:
    chunk = ForecastChunk.objects.filter(pk=chunk_id).select_related("run").first()
    if chunk is None:
        return False
    run = ForecastRun.objects.select_for_update().get(pk=chunk.run_id)  # serialises the run's chunk commits
    chunk = ForecastChunk.objects.select_for_update().filter(pk=chunk_id, status=ForecastChunk.Status.PENDING).first()
    if chunk is None:  # a concurrent delivery of the same task got here first
        return False
    new_anomalies = 0
    rows = []
    for result in results:
        forecast = result.analysis.forecast
        rows.append(
            SeriesForecast(
                run=run,
                organization_id=run.organization_id,
                metric=result.key.metric,
                currency=result.key.currency,
                dimension=result.key.dimension,
                key=result.key.key,
                model=forecast.model,
                reason=forecast.reason,
                backtest_mase=forecast.chosen_mase,
                backtest=dict(forecast.backtest_mase),
                history_start=result.first_day,
                history_end=run.as_of,
                sigma=forecast.sigma,
                points=_points(result.analysis),
            )
        )
    saved = SeriesForecast.objects.bulk_create(rows)
    projections = []
    for row, result in zip(saved, results, strict=True):
        for period, projection in result.projections.items():
            projections.append(_projection_row(row, period, projection))
    SeriesProjection.objects.bulk_create(projections)
    for result in results:
        new_anomalies += _save_anomalies(run, result, config)
    chunk.status = ForecastChunk.Status.DONE
    chunk.finished_at = timezone.now()
    chunk.save(update_fields=["status", "finished_at"])
    run.series_done = F("series_done") + len(results)
    run.anomalies_found = F("anomalies_found") + new_anomalies
    run.failures = [*run.failures, *failures]
    run.save(update_fields=["series_done", "anomalies_found", "failures", "updated_at"])
    return not run.chunks.filter(status=ForecastChunk.Status.PENDING).exists()


@transaction.atomic
def _chunk_failed(*, chunk_id: int, error: str) -> bool:
    """Mark a pending chunk failed; True when no chunk of its run is pending any more."""
    chunk = ForecastChunk.objects.filter(pk=chunk_id).first()
    if chunk is None:
        return False
    run = ForecastRun.objects.select_for_update().get(pk=chunk.run_id)
    updated = ForecastChunk.objects.filter(pk=chunk_id, status=ForecastChunk.Status.PENDING).update(
        status=ForecastChunk.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    if updated:
        run.failures = [*run.failures, {"series": f"chunk {chunk.index} ({len(chunk.series)} series)", "error": error}]
        run.save(update_fields=["failures", "updated_at"])
    return not run.chunks.filter(status=ForecastChunk.Status.PENDING).exists()


def _finish(run: ForecastRun, *, error: str = "") -> None:
    failed_chunks = run.chunks.filter(status=ForecastChunk.Status.FAILED).exists()
    if error or failed_chunks or (run.series_total and run.series_done == 0):
        status = ForecastRun.Status.FAILED
    elif run.failures:
        status = ForecastRun.Status.PARTIAL
    else:
        status = ForecastRun.Status.SUCCEEDED
    now = timezone.now()
    run.status = status
    run.error = error or run.error
    run.finished_at = now
    run.duration_seconds = (now - run.started_at).total_seconds() if run.started_at else None
    run.save()


@transaction.atomic
def forecast_run_finish(*, run_id: int) -> ForecastRun:
    """Close a run whose chunks are all done or failed (idempotent: a finished run is returned as is)."""
    run = ForecastRun.objects.select_for_update().get(pk=run_id)
    if run.finished:
        return run
    if run.chunks.filter(status=ForecastChunk.Status.PENDING).exists():
        raise ValueError(f"forecast run {run.pk} still has pending chunks")
    _finish(run)
    return run


@transaction.atomic
def forecast_run_fail(*, run_id: int, error: str) -> ForecastRun:
    run = ForecastRun.objects.select_for_update().get(pk=run_id)
    if not run.finished:
        run.chunks.filter(status=ForecastChunk.Status.PENDING).update(status=ForecastChunk.Status.FAILED, error=error)
        _finish(run, error=error)
    return run


def forecast_runs_fail_stale(*, config: ForecastConfig | None = None) -> int:
    """Mark failed the runs with no progress for ``stale_run_hours`` (their worker died and the task was lost)."""
    config = config or forecast_config()
    cutoff = timezone.now() - timedelta(hours=config.stale_run_hours)
    stale = ForecastRun.objects.filter(
        status__in=[ForecastRun.Status.PENDING, ForecastRun.Status.RUNNING], updated_at__lt=cutoff
    ).values_list("pk", flat=True)
    count = 0
    for run_id in list(stale):
        forecast_run_fail(run_id=run_id, error=f"no progress for {config.stale_run_hours:g} hours (worker lost?)")
        count += 1
    return count


def forecast_refresh_inline(
    *,
    organization: Organization,
    trigger: str = ForecastRun.Trigger.MANUAL,
    config: ForecastConfig | None = None,
    send_alerts: bool = True,
) -> ForecastRun:
    """Plan, run every chunk and finish in this process (``--inline``, tests). A crash marks the run failed."""
    config = config or forecast_config()
    run = forecast_run_start(organization=organization, trigger=trigger, config=config)
    if run.finished:
        return run
    try:
        for chunk_id in run.chunks.order_by("index").values_list("pk", flat=True):
            forecast_chunk_run(chunk_id=chunk_id, config=config)
        run = forecast_run_finish(run_id=run.pk)
    except BaseException as error:  # KeyboardInterrupt too: never leave the run "running"; re-raised
        forecast_run_fail(run_id=run.pk, error=f"{type(error).__name__}: {error}")
        raise
    if send_alerts:
        anomaly_alerts_send(organization=organization, mode=AnomalySubscription.Mode.IMMEDIATE, config=config)
    return run


# --------------------------------------------------------------------------------------------------------
# Feedback


BULK_FEEDBACK_LIMIT = 500


@transaction.atomic
def anomaly_feedback_set(*, anomaly: Anomaly, user: AbstractBaseUser, verdict: str, note: str = "") -> AnomalyFeedback:
    """Record a user's verdict on one anomaly (``anomaly_feedback_bulk_set`` with one anomaly)."""
    return anomaly_feedback_bulk_set(anomalies=[anomaly], user=user, verdict=verdict, note=note)[0]


@transaction.atomic
def anomaly_feedback_bulk_set(
    *, anomalies: Sequence[Anomaly], user: AbstractBaseUser, verdict: str, note: str = ""
) -> list[AnomalyFeedback]:
    """Record a user's verdict on several anomalies of one organization at once (the web page's "dismiss
    selected" and the API's bulk feedback); the latest verdict is an anomaly's. "expected" suppresses later
    anomalies of the same series with the same top root cause within the suppression window; "not_an_anomaly"
    raises the series' floor for later refreshes to that impact (series_dismissed_impacts). Every bad field is
    reported at once and nothing is written."""
    errors: dict[str, list[str]] = {}
    anomalies = list({a.pk: a for a in anomalies}.values())
    organizations = {a.organization_id for a in anomalies}
    if not anomalies:
        errors["anomalies"] = ["choose at least one anomaly"]
    elif len(anomalies) > BULK_FEEDBACK_LIMIT:
        errors["anomalies"] = [f"at most {BULK_FEEDBACK_LIMIT} anomalies at once, got {len(anomalies)}"]
    elif len(organizations) > 1:
        errors["anomalies"] = ["the anomalies belong to more than one organization"]
    if verdict not in Anomaly.Verdict.values:
        errors["verdict"] = [f"unknown verdict {verdict!r}; choose one of {', '.join(Anomaly.Verdict.values)}"]
    if not getattr(user, "is_authenticated", False):
        errors["user"] = ["feedback needs a signed-in user"]
    elif len(organizations) == 1:
        organization_id = next(iter(organizations))
        membership = Membership.objects.filter(user=user, organization_id=organization_id).first()
        if membership is None:
            errors["user"] = [f"{user} is not a member of organization {anomalies[0].organization}"]
        elif membership.role == Role.VIEWER:
            errors["user"] = ["viewers cannot give feedback on anomalies"]
    if len(note) > 2000:
        errors["note"] = ["at most 2000 characters"]
    if errors:
        raise ValidationError(errors)
    feedback = AnomalyFeedback.objects.bulk_create(
        [AnomalyFeedback(anomaly=a, user=user, verdict=verdict, note=note) for a in anomalies]
    )
    Anomaly.objects.filter(pk__in=[a.pk for a in anomalies]).update(verdict=verdict, updated_at=timezone.now())
    for anomaly in anomalies:
        anomaly.verdict = verdict
    return feedback


# --------------------------------------------------------------------------------------------------------
# Alert emails


def _claim(anomalies: Sequence[Anomaly], recipient: str, mode: str) -> list[Anomaly]:
    """Insert the (anomaly, recipient, mode) alert rows this worker will send; return their anomalies.

    Rows that exist already (sent, or being sent by another worker) are skipped by the unique constraint. A
    failed send, or a claim older than an hour (its worker died before sending), is taken over by a conditional
    update that only one worker can win.
    """
    if not anomalies:
        return []
    batch = uuid.uuid4()
    now = timezone.now()
    with transaction.atomic():
        AnomalyAlert.objects.filter(
            Q(status=AnomalyAlert.Status.FAILED)
            | Q(status=AnomalyAlert.Status.CLAIMED, claimed_at__lt=now - timedelta(hours=1)),
            anomaly__in=anomalies,
            recipient=recipient,
            mode=mode,
        ).update(status=AnomalyAlert.Status.CLAIMED, batch=batch, claimed_at=now, error="")
        AnomalyAlert.objects.bulk_create(
            [AnomalyAlert(anomaly=a, recipient=recipient, mode=mode, batch=batch, claimed_at=now) for a in anomalies],
            ignore_conflicts=True,
        )
    mine = set(AnomalyAlert.objects.filter(batch=batch).values_list("anomaly_id", flat=True))
    return [a for a in anomalies if a.pk in mine]


def _render(template: str, context: dict) -> tuple[str, str]:
    return (
        render_to_string(f"forecasting/email/{template}.txt", context),
        render_to_string(f"forecasting/email/{template}.html", context),
    )


def _anomaly_context(anomaly: Anomaly) -> dict:
    return {
        "anomaly": anomaly,
        "series": anomaly.series_label,
        "impact_pct": None if anomaly.impact_pct is None else f"{anomaly.impact_pct * 100:+.0f}%",
        "causes": anomaly.root_cause[:5],
    }


def _send(recipient: str, subject: str, text: str, html: str, batch_anomalies: Sequence[Anomaly], mode: str) -> bool:
    """Send one email for the claimed rows; a failed send marks them failed (logged by the outbox), and the next
    ``anomaly_alerts_send`` (after a refresh, or the daily digest) claims and sends them again."""
    alerts = AnomalyAlert.objects.filter(anomaly__in=batch_anomalies, recipient=recipient, mode=mode)
    try:
        outbox.send(subject=subject, text=text, html=html, recipients=[recipient], kind=f"anomaly-{mode}")
    except outbox.SEND_ERRORS as error:
        alerts.update(status=AnomalyAlert.Status.FAILED, error=str(error)[:2000])
        return False
    alerts.update(status=AnomalyAlert.Status.SENT, sent_at=timezone.now())
    return True


def _candidates(organization: Organization, config: ForecastConfig) -> list[Anomaly]:
    since = timezone.now() - timedelta(days=config.anomaly_digest_days)
    return list(
        Anomaly.objects.filter(organization=organization, created_at__gte=since, suppressed_by__isnull=True)
        .exclude(verdict__in=[Anomaly.Verdict.EXPECTED, Anomaly.Verdict.NOT_AN_ANOMALY])
        .order_by("-day", "id")
    )


def anomaly_alerts_send(
    *, organization: Organization, mode: str, config: ForecastConfig | None = None
) -> list[tuple[str, list[int]]]:
    """Email the organization's recent anomalies not yet emailed to each subscriber of ``mode``: one email per
    anomaly (immediate) or one per recipient listing them all (daily_digest). Returns (recipient, anomaly ids)
    of the emails sent. Suppressed anomalies and ones marked expected / not an anomaly are not sent."""
    if mode not in AnomalySubscription.Mode.values:
        raise ValueError(f"unknown mode {mode!r}")
    config = config or forecast_config()
    subscriptions = AnomalySubscription.objects.filter(organization=organization, mode=mode).select_related("user")
    if not subscriptions:
        return []
    candidates = _candidates(organization, config)
    # One recipient with several subscriptions gets the lowest of their minimum impacts, and every anomaly one of
    # them may be emailed (an engineer's own subscription: their teams' series only).
    thresholds: dict[str, Decimal] = {}
    allowed: dict[str, set[int]] = {}
    for subscription in subscriptions:
        recipient = subscription.recipient
        if recipient:
            thresholds[recipient] = min(thresholds.get(recipient, subscription.min_impact), subscription.min_impact)
            visible = anomalies_visible_to_subscriber(subscription, candidates)
            allowed.setdefault(recipient, set()).update(a.pk for a in visible)
    sent: list[tuple[str, list[int]]] = []
    for recipient, minimum in sorted(thresholds.items()):
        wanted = [a for a in candidates if abs(a.impact) >= minimum and a.pk in allowed[recipient]]
        claimed = _claim(wanted, recipient, mode)
        if not claimed:
            continue
        if mode == AnomalySubscription.Mode.IMMEDIATE:
            for anomaly in claimed:
                context = {**_anomaly_context(anomaly), "organization": organization}
                text, html = _render("anomaly_immediate", context)
                subject = (
                    f"[finops] {organization.name}: cost {anomaly.direction} on {anomaly.series_label}, "
                    f"{anomaly.impact:+,.2f} {anomaly.currency} on {anomaly.day}"
                )
                if _send(recipient, subject, text, html, [anomaly], mode):
                    sent.append((recipient, [anomaly.pk]))
        else:
            context = {"organization": organization, "items": [_anomaly_context(a) for a in claimed]}
            text, html = _render("anomaly_digest", context)
            subject = f"[finops] {organization.name}: {len(claimed)} cost anomal{'y' if len(claimed) == 1 else 'ies'}"
            if _send(recipient, subject, text, html, claimed, mode):
                sent.append((recipient, [a.pk for a in claimed]))
    return sent


def anomaly_subscription_create(
    *,
    organization: Organization,
    user: AbstractBaseUser | None = None,
    email: str = "",
    mode: str = AnomalySubscription.Mode.IMMEDIATE,
    min_impact: Decimal = Decimal(0),
) -> AnomalySubscription:
    subscription = AnomalySubscription(
        organization=organization, user=user, email=email.strip(), mode=mode, min_impact=Decimal(min_impact)
    )
    errors: dict[str, list[str]] = {}
    if user is None and not subscription.email:
        errors["email"] = ["give a user or an email address"]
    if Decimal(min_impact) < 0:
        errors["min_impact"] = ["must be zero or more"]
    if errors:
        raise ValidationError(errors)
    subscription.full_clean()
    subscription.save()
    return subscription


@transaction.atomic
def anomaly_subscription_set(
    *, user: AbstractBaseUser, organization: Organization, mode: str | None, min_impact: Decimal = Decimal(0)
) -> AnomalySubscription | None:
    """A member's own anomaly emails: ``mode`` immediate or daily_digest above ``min_impact``, or None for none.
    Replaces the user's earlier subscriptions in the organization (addresses subscribed without a user stay)."""
    if not Membership.objects.filter(user=user, organization=organization).exists():
        raise ValidationError({"user": [f"{user} is not a member of organization {organization.slug}"]})
    if mode is not None and mode not in AnomalySubscription.Mode.values:
        raise ValidationError({"mode": [f"unknown mode {mode!r}"]})
    AnomalySubscription.objects.filter(user=user, organization=organization).delete()
    if mode is None:
        return None
    return anomaly_subscription_create(organization=organization, user=user, mode=mode, min_impact=min_impact)
