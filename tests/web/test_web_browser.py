"""The pages in a real browser: Debian's chromium driven by Playwright, against pytest-django's live server."""

from __future__ import annotations

import csv
import io
import threading
import time
from decimal import Decimal

import pytest

from finops.usage.models import IngestJob
from tests.conftest import FOCUS_SAMPLE
from tests.web.conftest import PASSWORD, focus_frame

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def table_rows(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.dataset.value || c.textContent.trim()))",
    )


def test_finance_overview_charts_and_metric_toggle(tenants, browser_page):
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    page.goto("/?org=alpha")
    traces = browser_page.plot_traces("#chart-spend")
    frame = focus_frame()
    assert len(traces) == min(9, frame.loc[frame["day"].str.startswith("2024-09"), "ServiceName"].nunique())
    assert all(t["type"] == "bar" for t in traces)
    months = sorted({d[:7] + "-01" for d in frame["day"]})
    assert all(sorted(t["x"]) == months for t in traces)  # one point per month with data
    billed = Decimal(page.get_attribute("#mtd-total", "data-value"))
    page.click("a[data-metric=effective]")
    page.wait_for_url("**metric=effective**")
    effective = Decimal(page.get_attribute("#mtd-total", "data-value"))
    september = frame[frame["day"].str.startswith("2024-09")]
    assert billed == sum(september["BilledCost"], Decimal(0))
    assert effective == sum(september["EffectiveCost"], Decimal(0))
    assert page.text_content("#mtd-total").strip() == f"${effective.quantize(Decimal('0.01')):,}"
    # Switch the stack to team: the chart changes.
    page.click("a[data-stack=team]")
    page.wait_for_url("**stack=team**")
    team_traces = browser_page.plot_traces("#chart-spend")
    assert {t["name"] for t in team_traces} != {t["name"] for t in traces}
    # The commitments chart draws coverage and utilisation.
    assert [t["name"].split(" ")[0] for t in browser_page.plot_traces("#chart-commitments")] == [
        "Coverage",
        "Utilisation",
    ]
    assert browser_page.errors == []


def test_explore_url_round_trips_filters_and_csv_equals_table(tenants, browser_page):
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    page.goto("/explore/?org=alpha")
    page.select_option("#f-metric", "effective")
    page.select_option("#f-group", "charge_category")
    page.select_option("#f-granularity", "month")
    page.fill("#f-start", "2024-09-01")
    page.fill("#f-end", "2024-10-31")
    page.select_option("#f-service", ["Amazon Elastic Compute Cloud", "Virtual Machines"])
    before = browser_page.plot_traces("#chart-explore")
    page.click("#explore-form button[type=submit]")
    page.wait_for_url("**group=charge_category**")
    url = page.url
    for part in (
        "metric=effective",
        "granularity=month",
        "start=2024-09-01",
        "end=2024-10-31",
        "service=Amazon+Elastic",
    ):
        assert part in url
    after = browser_page.plot_traces("#chart-explore")
    assert {t["name"] for t in after} != {t["name"] for t in before}  # the chart changed with the filter
    table = table_rows(page, "#explore-table")
    # The URL alone reproduces the view (a fresh page, same table, same selections).
    page.goto(url)
    assert table_rows(page, "#explore-table") == table
    assert page.eval_on_selector("#f-service", "s => Array.from(s.selectedOptions).map(o => o.value)") == [
        "Amazon Elastic Compute Cloud",
        "Virtual Machines",
    ]
    with page.expect_download() as download_info:
        page.click("#csv-link")
    with open(download_info.value.path(), encoding="utf-8") as handle:
        exported = list(csv.reader(io.StringIO(handle.read())))
    assert exported[0] == ["period", "group", "currency", "cost"]
    assert [[p, g, c, Decimal(v)] for p, g, c, v in exported[1:]] == [[p, g, c, Decimal(v)] for p, g, c, v in table]
    frame = focus_frame()
    subset = frame[frame["ServiceName"].isin(["Amazon Elastic Compute Cloud", "Virtual Machines"])]
    expected = {
        (month + "-01", category): sum(part["EffectiveCost"], Decimal(0)).quantize(Decimal("0.01"))
        for (month, category), part in subset.groupby([subset["day"].str.slice(0, 7), "ChargeCategory"])
    }
    assert {(p, g): Decimal(v) for p, g, _, v in exported[1:]} == expected
    # The REST API (same session) gives the same numbers: its filter takes one service, so two calls.
    from_api: dict[tuple[str, str], Decimal] = {}
    for service in ("Amazon Elastic Compute Cloud", "Virtual Machines"):
        response = page.request.get(
            "/api/v1/costs/timeseries",
            params={
                "org": "alpha",
                "granularity": "month",
                "group_by": "charge_category",
                "metric": "effective",
                "start": "2024-09-01",
                "end": "2024-10-31",
                "service": service,
            },
        )
        assert response.status == 200
        for row in response.json()["rows"]:
            key = (row["period"], row["group"])
            from_api[key] = from_api.get(key, Decimal(0)) + Decimal(row["cost"])
    assert {k: v.quantize(Decimal("0.01")) for k, v in from_api.items()} == {
        (p, g): Decimal(v) for p, g, _, v in exported[1:]
    }
    assert browser_page.errors == []


HISTORY_FOLLOWS_PROGRESS = """() => {
    const box = document.querySelector('#ingest-progress');
    const job = new URLSearchParams(location.search).get('job');
    new MutationObserver(() => {
        const badge = document.querySelector(`#history tr[data-job="${job}"] .status`);
        if (box.dataset.status === 'succeeded' || box.dataset.status === 'failed') {
            const shown = badge && badge.textContent.trim();
            sessionStorage.setItem('history-vs-progress', `${box.dataset.status} = ${shown}`);
        }
    }).observe(box, {attributes: true, attributeFilter: ['data-status']});
}"""


def test_data_upload_progress_reaches_100_and_history_shows_rows(tenants, browser_page, monkeypatch):
    from finops.usage.tasks import ingest_job_run_task

    # The worker: a thread of this process runs the real task while the page polls its progress.
    monkeypatch.setattr(
        ingest_job_run_task,
        "delay",
        # Started a moment late, so the page is polling when the job finishes.
        lambda job_id: threading.Thread(
            target=lambda: (time.sleep(1.5), ingest_job_run_task.run(job_id)), daemon=True
        ).start(),
    )
    browser_page.login("bob", PASSWORD)  # beta finance: beta has no FOCUS data yet, so this is a real ingest
    page = browser_page.page
    page.goto("/data/")
    page.set_input_files("#billing-files", str(FOCUS_SAMPLE))
    assert page.text_content("[data-filenames]") == "focus_sample.csv"
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/data/?job=*")
    # The moment the progress box turns final (polling, before the page reloads), the job's history row must
    # already say the same; the observation is kept in sessionStorage across that reload.
    page.evaluate(HISTORY_FOLLOWS_PROGRESS)
    page.wait_for_function(
        "() => { const p = document.querySelector('#progress-bar'); return p && p.value === 100; }", timeout=60_000
    )
    # When the job is done the page reloads once to show the final history; the reloaded page renders done.
    page.wait_for_selector("#ingest-progress[data-done=true]")
    assert page.get_attribute("#ingest-progress", "data-status") == "succeeded"
    assert page.get_attribute("#progress-bar", "value") == "100"
    job = IngestJob.objects.filter(source="upload").get()
    row = page.locator(f"#history tr[data-job='{job.pk}']")
    rows = len(focus_frame())
    assert row.locator("[data-rows]").get_attribute("data-rows") == str(rows) == "1000"
    assert row.locator(".status").text_content() == "succeeded"
    assert page.evaluate("() => sessionStorage.getItem('history-vs-progress')") == "succeeded = succeeded"
    assert "1,000" in row.text_content()
    assert browser_page.errors == []


def test_org_switcher_changes_organization(tenants, browser_page):
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    page.goto("/explore/?org=alpha&granularity=month")
    assert "Amazon Elastic Compute Cloud" in page.text_content("#explore-table")
    page.select_option("#org-select", "beta")  # submits on change (finops.js)
    page.wait_for_url("**org=beta**")
    assert page.eval_on_selector("#org-select", "s => s.value") == "beta"
    page.goto("/explore/?granularity=month")
    assert "Amazon Elastic Compute Cloud" not in page.text_content("main")
    assert browser_page.errors == []


def test_engineer_sees_only_their_teams_and_viewer_cannot_upload(tenants, browser_page):
    team, other = tenants["team"], tenants["other_team"]
    browser_page.login("eve", PASSWORD)
    page = browser_page.page
    page.goto("/teams/")
    links = page.eval_on_selector_all("#teams-table a", "as => as.map(a => a.getAttribute('href'))")
    assert links == [f"/teams/{team.slug}/"]
    page.goto(f"/teams/{team.slug}/")
    traces = browser_page.plot_traces("#chart-team-spend")
    assert traces and all(t["type"] == "bar" for t in traces)
    assert page.goto(f"/teams/{other.slug}/").status == 404
    assert page.goto(f"/teams/{tenants['beta_team'].slug}/").status == 404
    assert page.goto("/data/").status == 403
    # A viewer: no upload form, and a forged POST is refused.
    browser_page.context.clear_cookies()
    browser_page.login("vic", PASSWORD)
    page.goto("/data/")
    assert page.query_selector("#upload-form") is None
    assert page.query_selector("#unit-cost form") is None
    response = page.request.post(
        "/data/", multipart={"files": {"name": "f.csv", "mimeType": "text/csv", "buffer": b"x"}}
    )
    assert response.status == 403
    assert IngestJob.objects.filter(source="upload").count() == 0


def test_a_failed_upload_message_stays_inside_the_data_page(tenants, browser_page):
    """Issue 18: a failed upload's message (a long path, no spaces) stretched the data page to 1,648 px. It wraps
    in its cell (the history scrolls in its card at most), both in the history and in the progress box."""
    path = "/var/finops/ingest/uploads/" + "0123456789abcdef" * 40 + "/focus_export_with_a_very_long_name.csv"
    job = IngestJob.objects.create(
        organization=tenants["alpha"],
        source="upload",
        status=IngestJob.Status.FAILED,
        delivery_sha256="f" * 64,
        error=f"{path}: row 17, column BilledCost: 'n/a' is not a number",
    )
    browser_page.login("ann", PASSWORD)
    page = browser_page.page
    for width in (1280, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"/data/?job={job.pk}")
        assert path[:40] in page.text_content(f"#history tr[data-job='{job.pk}']")
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0, width
        cards = page.eval_on_selector_all(
            ".card", "cards => cards.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.id || c.className)"
        )
        assert cards == [], (width, cards)
    assert browser_page.errors == []
