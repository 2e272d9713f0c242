"""The numbers the pages show, against independent pandas/Decimal computations over the fixture files."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from finops.accounts.services import membership_set
from finops.usage.models import DailyCost, IngestJob
from finops.web.cache import dashboard_cache_bump
from finops.web.models import BusinessMetric
from tests.conftest import FOCUS_SAMPLE
from tests.usage.helpers import read_rows, write_csv
from tests.web.conftest import PASSWORD, focus_frame

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def csv_rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def expected_groups(frame, key, metric: str) -> dict[tuple, Decimal]:
    out: dict[tuple, Decimal] = {}
    for k, part in frame.groupby(key, sort=False):
        out[k if isinstance(k, tuple) else (k,)] = sum(part[metric], Decimal(0)).quantize(CENT)
    return out


def test_overview_month_to_date_follows_the_metric_toggle(tenants):
    ann = login("ann")
    frame = tenants["frame"]
    september = frame[frame["day"].str.startswith("2024-09")]
    assert max(frame["day"]) == "2024-09-30"  # the last day of data is the dashboards' "today"
    billed = ann.get("/?metric=billed")
    effective = ann.get("/?metric=effective")
    assert billed.context["as_of"] == date(2024, 9, 30)
    assert billed.context["mtd"] == sum(september["BilledCost"], Decimal(0))
    assert effective.context["mtd"] == sum(september["EffectiveCost"], Decimal(0))
    assert billed.context["mtd"] != effective.context["mtd"]
    assert billed.context["previous"] == Decimal(0)  # nothing in August
    assert "$20.52" in billed.content.decode()  # currency format, 2 places
    # 13-month chart: one trace per service (8 largest + Other), summing to the month's total.
    figure = billed.context["spend_figure"]
    totals = sum(sum(trace["y"]) for trace in figure["data"])
    assert totals == pytest.approx(
        float(sum(september["BilledCost"], Decimal(0)))
        + float(sum(frame.loc[frame["day"].str.startswith("2024-10"), "BilledCost"], Decimal(0))),
        abs=0.05,
    )
    assert len(figure["data"]) == min(9, september["ServiceName"].nunique())


def test_overview_stack_switch_and_movers_link_into_explore(tenants):
    ann = login("ann")
    page = ann.get("/?stack=team&metric=effective")
    assert page.context["stack"] == "team"
    movers = page.context["movers"]
    frame = tenants["frame"]
    september = frame[frame["day"].str.startswith("2024-09")]
    by_team = expected_groups(september.assign(t=september["team_value"]), "t", "EffectiveCost")
    top = max(by_team.items(), key=lambda kv: (abs(kv[1]), kv[0]))
    assert movers[0]["mover"].current.quantize(CENT) == top[1]
    link = movers[0]["url"]
    assert link.startswith("/explore/?") and "group=team" in link and "metric=effective" in link
    assert ann.get(link).status_code == 200


def test_explore_csv_equals_the_table_and_a_pandas_group_by(tenants):
    ann = login("ann")
    url = "/explore/?metric=effective&group=service&granularity=day&start=2024-09-01&end=2024-10-31"
    page = ann.get(url)
    table = [(r["period"].isoformat(), r["group"], r["currency"], r["cost"]) for r in page.context["rows"]]
    exported = [
        (r["period"], r["group"], r["currency"], Decimal(r["cost"])) for r in csv_rows(ann.get(url + "&format=csv"))
    ]
    assert exported == table
    frame = tenants["frame"].copy()
    frame["group"] = frame["ServiceName"].replace("", "(none)")
    expected = expected_groups(frame, ["day", "group", "BillingCurrency"], "EffectiveCost")
    assert {(p, g, c): v for p, g, c, v in exported} == expected


def test_explore_weekly_monthly_filters_and_tags(tenants):
    ann = login("ann")
    frame = tenants["frame"].copy()
    frame["week"] = [
        (date.fromisoformat(d) - timedelta(days=date.fromisoformat(d).weekday())).isoformat() for d in frame["day"]
    ]
    weekly = csv_rows(
        ann.get("/explore/?group=charge_category&granularity=week&start=2024-09-01&end=2024-09-30&format=csv")
    )
    expected = expected_groups(frame, ["week", "ChargeCategory"], "BilledCost")
    assert {(r["period"], r["group"]): Decimal(r["cost"]) for r in weekly} == expected

    services = sorted(frame["ServiceName"].unique())[:2]
    query = "&".join(f"service={s}" for s in services)
    filtered = csv_rows(
        ann.get(
            f"/explore/?group=service&granularity=month&metric=list&start=2024-09-01&end=2024-10-31&{query}&format=csv"
        )
    )
    subset = frame[frame["ServiceName"].isin(services)].assign(month=lambda f: f["day"].str.slice(0, 7) + "-01")
    assert {(r["period"], r["group"]): Decimal(r["cost"]) for r in filtered} == expected_groups(
        subset, ["month", "ServiceName"], "ListCost"
    )

    def env(tags: str) -> str:
        return (json.loads(tags).get("environment") or "(none)") if tags not in ("", "NULL") else "(none)"

    frame["env"] = frame["Tags"].map(env)
    frame["month"] = frame["day"].str.slice(0, 7) + "-01"
    tagged = csv_rows(
        ann.get("/explore/?group=tag:environment&granularity=month&start=2024-09-01&end=2024-10-31&format=csv")
    )
    assert {(r["period"], r["group"]): Decimal(r["cost"]) for r in tagged} == expected_groups(
        frame, ["month", "env"], "BilledCost"
    )
    # The form's "Tag key" choice is the same view.
    same = ann.get("/explore/?group=tag&tag_key=environment&granularity=month&start=2024-09-01&end=2024-10-31")
    assert same.context["query"].group == "tag:environment"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("metric=bogus", "metric: unknown 'bogus'"),
        ("group=colour", "group: unknown 'colour'"),
        ("granularity=hour", "granularity: unknown 'hour'"),
        ("start=2024-13-01", "start: '2024-13-01' is not a date"),
        ("start=2024-10-01&end=2024-09-01", "start 2024-10-01 is after end 2024-09-01"),
        ("group=tag&tag_key=", "group: choose a tag key"),
    ],
)
def test_explore_refuses_bad_parameters_by_name(tenants, query, message):
    response = login("ann").get(f"/explore/?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())


def _commitment_file(tmp_path):
    """The FOCUS sample plus one Unused commitment row (a copy of a Used row, as the FOCUS spec shows it)."""
    rows = read_rows(FOCUS_SAMPLE)
    used = next(r for r in rows if r["CommitmentDiscountStatus"] == "Used")
    unused = dict(
        used,
        CommitmentDiscountStatus="Unused",
        BilledCost="0",
        EffectiveCost="0.0123",
        ListCost="0",
        ContractedCost="0",
        ResourceId="unused-1",
    )
    return write_csv(tmp_path / "focus_with_unused.csv", [*rows, unused]), [*rows, unused]


def test_commitment_coverage_utilisation_and_savings(tenants, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    path, rows = _commitment_file(tmp_path)
    call_command("ingest_usage", str(path), "--org", "gamma", "--json", stdout=StringIO())
    from finops.accounts.models import Organization

    membership_set(username="ann", organization=Organization.objects.get(slug="gamma"), role="finance")
    page = login("ann").get("/?org=gamma")
    months = {row["month"]: row for row in page.context["commitments"]}
    september = [r for r in rows if r["ChargePeriodStart"].startswith("2024-09") and r["ChargeCategory"] == "Usage"]

    def total(column, status=None):
        return sum(
            (Decimal(r[column] or 0) for r in september if status is None or r["CommitmentDiscountStatus"] == status),
            Decimal(0),
        )

    row = months[date(2024, 9, 1)]
    used_list, used_eff, unused_eff = (
        total("ListCost", "Used"),
        total("EffectiveCost", "Used"),
        total("EffectiveCost", "Unused"),
    )
    assert unused_eff == Decimal("0.0123")
    assert row["coverage"] == pytest.approx(float(used_list / (total("ListCost") - total("ListCost", "Unused"))))
    assert row["utilisation"] == pytest.approx(float(used_eff / (used_eff + unused_eff)))
    assert row["savings"] == used_list - used_eff
    assert page.context["savings_total"] == used_list - used_eff
    assert len(page.context["commitment_figure"]["data"]) == 2


def test_team_unit_cost_from_uploaded_metrics(tenants):
    eve = login("eve")
    team = tenants["team"]
    frame = tenants["frame"]
    days = sorted(frame.loc[frame["team_value"] == team.tag_value, "day"].unique())[:3]
    values = [Decimal("1000"), Decimal("2500"), Decimal("0")]  # a zero day is dropped from unit cost
    body = "date,metric,value\n" + "".join(f"{d},requests,{v}\n" for d, v in zip(days, values, strict=True))
    response = eve.post(f"/teams/{team.slug}/metrics", {"file": SimpleUploadedFile("m.csv", body.encode())})
    assert response.status_code == 302
    assert BusinessMetric.objects.filter(team=team).count() == 3
    page = eve.get(f"/teams/{team.slug}/")
    assert "Stored 3 business-metric rows" in page.content.decode()
    team_rows = frame[frame["team_value"] == team.tag_value]
    daily = {d: sum(team_rows.loc[team_rows["day"] == d, "BilledCost"], Decimal(0)) for d in days}
    by_day = {r["period"].isoformat(): r["cost_per_unit"] for r in page.context["unit_daily"]}
    assert by_day == {d: daily[d] / v for d, v in zip(days, values, strict=True) if v > 0}
    [month] = page.context["unit_monthly"]
    assert month["cost_per_unit"] == (daily[days[0]] + daily[days[1]] + daily[days[2]]) / Decimal(3500)
    # Uploading the same day again replaces it.
    eve.post(
        f"/teams/{team.slug}/metrics",
        {"file": SimpleUploadedFile("m.csv", f"date,metric,value\n{days[0]},requests,4\n".encode())},
    )
    assert BusinessMetric.objects.get(team=team, date=days[0]).value == Decimal(4)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"day,metric,value\n2024-09-01,r,1\n", "row 1: the header must be exactly date,metric,value"),
        (
            b"date,metric,value\n2024-09-01,r,1\n2024-09-31,r,2\n",
            "m.csv, row 3, field date: '2024-09-31' is not YYYY-MM-DD",
        ),
        (b"date,metric,value\n2024-09-01,r,lots\n", "row 2, field value: 'lots' is not a number"),
        (b"date,metric,value\n2024-09-01,r,-1\n", "row 2, field value: '-1' must be >= 0"),
        (b"date,metric,value\n2024-09-01,r,1\n2024-09-01,r,2\n", "row 3: r on 2024-09-01 appears twice"),
        (b"date,metric,value\n", "m.csv: no data rows"),
    ],
)
def test_bad_metric_file_is_refused_by_row_and_field_and_nothing_written(tenants, body, message):
    eve = login("eve")
    slug = tenants["team"].slug
    eve.post(f"/teams/{slug}/metrics", {"file": SimpleUploadedFile("m.csv", b"date,metric,value\n2024-09-01,keep,7\n")})
    response = eve.post(f"/teams/{slug}/metrics", {"file": SimpleUploadedFile("m.csv", body)}, follow=True)
    assert message in html.unescape(response.content.decode())
    assert list(BusinessMetric.objects.values_list("metric", "value")) == [("keep", Decimal(7))]


def test_data_upload_creates_a_job_enqueued_on_commit_and_progress_reaches_100(
    tenants, monkeypatch, django_capture_on_commit_callbacks
):
    from finops.usage.tasks import ingest_job_run_task

    queued = []
    monkeypatch.setattr(ingest_job_run_task, "delay", queued.append)
    bob = login("bob")  # beta finance: the FOCUS sample is new there
    with django_capture_on_commit_callbacks(execute=True):
        response = bob.post("/data/", {"files": SimpleUploadedFile("focus_sample.csv", FOCUS_SAMPLE.read_bytes())})
    job = IngestJob.objects.get(pk=queued[0])
    assert response.status_code == 302 and response["Location"] == f"/data/?job={job.pk}"
    assert job.source == "upload" and job.status == "pending" and job.created_by.username == "bob"
    pending = bob.get(f"/data/jobs/{job.pk}/progress").json()
    assert pending["status"] == "pending" and pending["percent"] == 0 and pending["done"] is False
    ingest_job_run_task.run(job.pk)  # what the worker does
    done = bob.get(f"/data/jobs/{job.pk}/progress").json()
    rows = len(read_rows(FOCUS_SAMPLE))
    assert done["status"] == "succeeded" and done["percent"] == 100 and done["done"] is True
    assert done["rows"] == rows == 1000
    history = bob.get(f"/data/?job={job.pk}").content.decode()
    assert f'data-job="{job.pk}"' in history and "1,000" in history


def test_empty_upload_is_refused(tenants):
    ann = login("ann")
    jobs = IngestJob.objects.count()
    response = ann.post("/data/", {})
    assert response.status_code == 400 and "choose at least one billing file" in response.content.decode()
    assert IngestJob.objects.count() == jobs


def test_cached_aggregates_are_invalidated_by_the_bump(tenants):
    ann = login("ann")
    before = ann.get("/").context["mtd"]
    # Change the rollups behind the cache's back (as an ingest would, before its hook runs).
    DailyCost.objects.filter(organization=tenants["alpha"], day=date(2024, 9, 30)).delete()
    assert ann.get("/").context["mtd"] == before  # still the cached answer
    dashboard_cache_bump(tenants["alpha"].pk)
    frame = focus_frame()
    assert ann.get("/").context["mtd"] == sum(
        frame.loc[frame["day"].str.startswith("2024-09") & (frame["day"] != "2024-09-30"), "BilledCost"], Decimal(0)
    )


def test_refresh_task_bumps_and_warms_the_default_views(tenants):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from finops.web.tasks import dashboard_refresh_task

    result = dashboard_refresh_task.run(tenants["alpha"].pk)
    assert result["warmed"] == ["overview metric=billed", "overview metric=effective", "explore default", "teams"]
    ann = login("ann")
    for url in ("/", "/?metric=effective", "/explore/", "/teams/"):
        with CaptureQueriesContext(connection) as queries:
            assert ann.get(url).status_code == 200
        # Served from the warmed cache: no aggregate over the rollups or line items.
        assert not [q["sql"] for q in queries if "usage_dailycost" in q["sql"] or "usage_lineitem" in q["sql"]], url
