"""Refresh runs end to end (inline): lifecycle, reruns that replace, crash handling, stored projections."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from finops.accounts.models import Organization
from finops.forecasting import services
from finops.forecasting.calc.select import forecast_series
from finops.forecasting.models import Anomaly, ForecastChunk, ForecastRun, SeriesForecast, SeriesProjection
from finops.forecasting.selectors import forecast_run_latest, series_forecast_latest, series_plan
from finops.forecasting.services import forecast_chunk_run, forecast_refresh_inline
from tests.forecasting.fc_fixtures import LAST_DAY, committed_usage, effective, usage_frame

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def _acme_loaded(django_db_setup, django_db_blocker):
    """The usage frame written once for the module (committed_usage)."""
    frame = usage_frame()
    with committed_usage(django_db_blocker, frame) as pk:
        yield pk, frame.assign(effective=effective(frame))


@pytest.fixture
def acme(settings, _acme_loaded):
    settings.FINOPS_FORECAST_CHUNK_SIZE = 4
    pk, frame = _acme_loaded
    return Organization.objects.get(pk=pk), frame.copy()


def test_run_lifecycle_and_rerun_replaces_without_duplicates(acme):
    organization, _ = acme
    planned = series_plan(organization=organization, as_of=LAST_DAY)
    run = forecast_refresh_inline(organization=organization)
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.SUCCEEDED, run.failures
    assert run.as_of == LAST_DAY and run.attempt == 1 and run.trigger == "manual"
    assert run.series_total == run.series_done == len(planned)
    assert run.chunks_total == -(-len(planned) // 4) == ForecastChunk.objects.filter(run=run).count()
    assert set(ForecastChunk.objects.filter(run=run).values_list("status", flat=True)) == {"done"}
    assert run.started_at <= run.finished_at and run.duration_seconds >= 0
    stored = {(f.metric, f.currency, f.dimension, f.key) for f in SeriesForecast.objects.filter(run=run)}
    assert stored == {(s.metric, s.currency, s.dimension, s.key) for s in planned}
    forecast = SeriesForecast.objects.get(run=run, dimension="total")
    assert forecast.points["start"] == (LAST_DAY + timedelta(days=1)).isoformat()
    # 90 days, stretched to the quarter end when that is further (here: 71 days to June 30, so 90).
    assert len(forecast.points["point"]) == 90
    for level in ("80", "95", "99"):
        lows, highs = forecast.points[f"lower_{level}"], forecast.points[f"upper_{level}"]
        triples = zip(lows, forecast.points["point"], highs, strict=True)
        assert all(Decimal(lo) <= Decimal(p) <= Decimal(hi) for lo, p, hi in triples)
    assert forecast.model in ("seasonal_naive", "ets", "fallback") and forecast.backtest_mase is not None
    assert forecast.backtest[forecast.model] == forecast.backtest_mase == min(forecast.backtest.values())

    counts = SeriesForecast.objects.count(), SeriesProjection.objects.count(), Anomaly.objects.count()
    again = forecast_refresh_inline(organization=organization, trigger="nightly")
    assert again.pk == run.pk and again.attempt == 2 and again.trigger == "nightly"
    assert ForecastRun.objects.filter(organization=organization).count() == 1
    assert (SeriesForecast.objects.count(), SeriesProjection.objects.count(), Anomaly.objects.count()) == counts
    assert not SeriesForecast.objects.filter(run=run).exclude(created_at__gte=again.started_at).exists()
    assert forecast_run_latest(organization=organization) == again
    latest = series_forecast_latest(organization=organization, dimension="total")
    assert latest.run_id == run.pk and latest.history_end == LAST_DAY


def test_redelivered_chunk_is_a_no_op(acme):
    organization, _ = acme
    run = forecast_refresh_inline(organization=organization)
    chunk = ForecastChunk.objects.filter(run=run).first()
    before = SeriesForecast.objects.count()
    assert forecast_chunk_run(chunk_id=chunk.pk) is None
    assert forecast_chunk_run(chunk_id=10**9) is None  # deleted by a rerun: nothing to do
    assert SeriesForecast.objects.count() == before


def test_crashed_run_is_marked_failed_and_the_error_kept(acme, monkeypatch):
    organization, _ = acme

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "analyse_series", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        forecast_refresh_inline(organization=organization)
    run = ForecastRun.objects.get(organization=organization)
    assert run.status == ForecastRun.Status.FAILED and run.finished_at is not None
    assert "disk on fire" in run.failures[0]["error"]
    assert not SeriesForecast.objects.exists()


def test_series_the_math_refuses_are_recorded_and_the_run_is_partial(acme, monkeypatch):
    organization, _ = acme
    real = services.analyse_series

    def picky(values, start, **kwargs):
        if len(values) and values[-1] > 1000:  # only the total exceeds 1,000 a day
            raise ValueError("cannot model this one")
        return real(values, start, **kwargs)

    monkeypatch.setattr(services, "analyse_series", picky)
    run = forecast_refresh_inline(organization=organization)
    assert run.status == ForecastRun.Status.PARTIAL
    assert run.failures == [{"series": "total [effective USD]", "error": "cannot model this one"}]
    assert run.series_done == run.series_total - 1
    assert not SeriesForecast.objects.filter(dimension="total").exists()


def test_month_end_projection_is_actual_to_date_plus_summed_forecast(acme):
    organization, frame = acme
    forecast_refresh_inline(organization=organization)
    stored = series_forecast_latest(organization=organization, dimension="service", key="Amazon Simple Storage Service")
    month = stored.projections.get(period="month")
    quarter = stored.projections.get(period="quarter")
    s3 = frame[frame["service"] == "Amazon Simple Storage Service"]
    april = s3[s3["day"] >= date(2026, 4, 1)]["effective"].sum()
    assert month.period_start == date(2026, 4, 1) and month.period_end == date(2026, 4, 30)
    assert month.actual_days == 20 and month.forecast_days == 10
    assert month.actual_to_date == april.quantize(Decimal("0.01"))
    ten_days = sum(Decimal(p) for p in stored.points["point"][:10])
    # Stored points are rounded to cents: the sum of 10 of them is within 10 x half a cent of the exact sum.
    assert abs(month.total - (april + ten_days)) <= Decimal("0.06")
    assert month.lower_95 <= month.lower_80 <= month.total <= month.upper_80 <= month.upper_95
    assert quarter.period_end == date(2026, 6, 30) and quarter.forecast_days == 71
    q_points = sum(Decimal(p) for p in stored.points["point"][:71])
    assert abs(quarter.total - (april + q_points)) <= Decimal("0.36")
    # Independently: the same model choice and numbers straight from the calc module on the pandas series.
    daily = s3.groupby("day")["effective"].sum()
    direct = forecast_series([float(v) for v in daily], min(daily.index), horizon=90)
    assert direct.model == stored.model
    assert abs(Decimal(repr(float(direct.point[:10].sum()))) - month.forecast_remainder) <= Decimal("0.01")


def test_command_inline_prints_the_table_and_unknown_org_exits_2(acme, capsys):
    organization, _ = acme
    out = StringIO()
    call_command("refresh_forecasts", "--org", "acme", "--inline", stdout=out)
    text = out.getvalue()
    run = ForecastRun.objects.get(organization=organization)
    assert f"run {run.pk} succeeded" in text
    total = SeriesForecast.objects.get(run=run, dimension="total")
    month = total.projections.get(period="month")
    line = next(row for row in text.splitlines() if row.strip().startswith("total"))
    assert total.model in line and f"{total.backtest_mase:.3f}" in line
    assert f"{month.total:,.2f} [{month.lower_80:,.2f} - {month.upper_80:,.2f}]" in line
    with pytest.raises(SystemExit) as exit_info:
        call_command("refresh_forecasts", "--org", "nope")
    assert exit_info.value.code == 2
    assert "unknown organization 'nope'" in capsys.readouterr().err
    assert ForecastRun.objects.count() == 1


def test_command_without_inline_enqueues(acme, settings, django_capture_on_commit_callbacks):
    organization, _ = acme
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from finops.celery import app

    app.conf.task_always_eager = True
    try:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("refresh_forecasts", "--org", "acme", stdout=out)
    finally:
        app.conf.task_always_eager = False
    run = ForecastRun.objects.get(organization=organization)
    assert f"run {run.pk} pending" in out.getvalue() and "enqueued" in out.getvalue()
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.SUCCEEDED and run.series_done == run.series_total > 0
