"""Explore answers questions: its default view, its table cap, its error handling, names for accounts, tag keys
from the data, filter chips and zero-filled periods, against pandas sums over the ingested FOCUS sample."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
from django.test import Client

from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")


def login(username: str = "ann") -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def explore(client: Client, query: str = ""):
    return client.get(f"/explore/?org=alpha&{query}")


def table_row_count(body: str) -> int:
    table = body[body.index('id="explore-table"') : body.index("</table>", body.index('id="explore-table"'))]
    return table.count("<tr>") - 1  # minus the header row


def test_default_is_three_months_by_service_monthly_with_top_ten_and_other(tenants):
    frame = tenants["frame"]
    response = explore(login())
    query = response.context["query"]
    assert (query.group, query.granularity, query.metric) == ("service", "month", "billed")
    # The data ends 2024-09-30: the window is July to September, whole months.
    assert (query.start.isoformat(), query.end.isoformat()) == ("2024-07-01", "2024-09-30")
    traces = response.context["figure"]["data"]
    by_service = frame.groupby("ServiceName")["BilledCost"].apply(lambda s: sum(s, Decimal(0)))
    ranked = by_service.abs().sort_values(ascending=False, kind="stable")
    assert len(by_service) > 10  # so "Other" is really needed
    assert [t["name"] for t in traces] == [*ranked.index[:10], "Other"]
    other = sum(by_service[ranked.index[10:]], Decimal(0))
    september = [t["x"].index("2024-09-01") for t in traces]
    assert traces[-1]["y"][september[-1]] == pytest.approx(float(other), abs=0.01)
    # Top 10 + Other is the whole total.
    total = sum(frame["BilledCost"], Decimal(0))
    assert sum(sum(t["y"]) for t in traces) == pytest.approx(float(total), abs=0.05)
    assert response.context["total"].quantize(CENT) == total.quantize(CENT)  # exact in the context, rounded on the page


def test_the_table_shows_fifty_rows_and_links_to_all(tenants):
    frame = tenants["frame"]
    client = login()
    base = "group=service&granularity=day&start=2024-09-01&end=2024-09-30"
    expected_rows = frame.groupby(["day", "ServiceName"]).ngroups
    assert expected_rows > 50
    body = explore(client, base).content.decode()
    assert table_row_count(body) == 50
    link = html.unescape(re.search(r'id="show-all"|href="([^"]+)" id="show-all"', body).group(1))
    assert "rows=all" in link
    full = client.get(link)
    assert table_row_count(full.content.decode()) == expected_rows
    assert 'id="show-all"' not in full.content.decode()
    # The CSV is every row whatever the table shows.
    csv_lines = explore(client, base + "&format=csv").content.decode().strip().splitlines()
    assert len(csv_lines) - 1 == expected_rows


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2021-01-01&end=2024-10-31", "end", "at most three years"),
        ("start=2024-13-01&end=2024-10-31", "start", "start: '2024-13-01' is not a date"),
        ("start=2024-10-01&end=2024-09-01", "start", "start 2024-10-01 is after end 2024-09-01"),
        ("start=2024-09-01&end=2024-09-30&granularity=hour", "granularity", "granularity: unknown 'hour'"),
    ],
)
def test_an_error_keeps_every_field_and_names_the_field(tenants, query, field, message):
    kept = "metric=effective&group=tag&tag_key=environment&service=Virtual+Machines&region=eastus"
    granularity = "" if "granularity" in query else "&granularity=week"
    response = explore(login(), f"{kept}{granularity}&{query}")
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert message in body
    assert response.context["field_errors"].keys() == {field}
    form = response.context["form"]
    submitted = dict(part.split("=") for part in query.split("&"))
    assert form["metric"] == "effective"
    assert form["group"] == "tag" and form["tag_key"] == "environment"
    assert form["granularity"] == submitted.get("granularity", "week")
    assert (form["start"], form["end"]) == (submitted["start"], submitted["end"])
    assert form["filters"] == {"service": ["Virtual Machines"], "region": ["eastus"]}
    # And the page shows them: selected options and input values, the bad field marked.
    assert '<option value="effective" selected>' in body
    assert 'id="f-tag" name="tag_key" value="environment"' in body
    assert f'value="{submitted["start"]}"' in body and f'value="{submitted["end"]}"' in body
    assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', body)


def test_accounts_show_names_with_ids_and_the_csv_keeps_ids(tenants):
    frame = tenants["frame"]
    client = login()
    names = dict(zip(frame["SubAccountId"], frame["SubAccountName"], strict=True))
    query = "group=sub_account&granularity=month&start=2024-09-01&end=2024-09-30"
    rows = explore(client, query).context["rows"]
    assert {r["group"]: r["group_text"] for r in rows} == {i: f"{n} ({i})" for i, n in names.items()}
    sums = frame.groupby("SubAccountId")["BilledCost"].apply(lambda s: sum(s, Decimal(0)).quantize(CENT))
    assert {r["group"]: r["cost"] for r in rows} == sums.to_dict()
    body = explore(client, query).content.decode()
    some_id, some_name = next(iter(names.items()))
    assert f'<option value="{some_id}">{some_name} ({some_id})</option>' in body  # the filter picker
    csv_groups = {
        line.split(",")[1] for line in explore(client, query + "&format=csv").content.decode().splitlines()[1:]
    }
    assert csv_groups == set(names)


def test_tag_keys_are_chosen_from_the_data(tenants):
    frame = tenants["frame"]
    keys = set()
    for tags in frame["Tags"]:
        if tags not in ("", "NULL"):
            keys |= {k for k, v in json.loads(tags).items() if k and v not in (None, "")}  # tagged: a value
    body = explore(login()).content.decode()
    # The key field offers the organization's keys (a datalist: typing stays possible) and suggests one of them.
    offered = body[body.index('<datalist id="tag-keys">') : body.index("</datalist>")]
    assert set(re.findall(r'<option value="([^"]+)"', offered)) == keys
    assert re.search(r'id="f-tag"[^>]*list="tag-keys"', body)
    assert re.search(r'placeholder="e.g. ([^"]+)"', body).group(1) in keys
    # A key that is not in the data says so, naming the keys there are.
    unknown = explore(login(), "group=tag&tag_key=colour").content.decode()
    assert "colour is not a tag key in this data" in html.unescape(unknown)


def test_active_filters_are_chips_that_remove_themselves(tenants):
    client = login()
    query = "group=region&granularity=month&start=2024-09-01&end=2024-09-30&service=Virtual+Machines&region=eastus"
    response = explore(client, query)
    chips = response.context["chips"]
    assert [(c["name"], c["value"]) for c in chips] == [("service", "Virtual Machines"), ("region", "eastus")]
    without_service = client.get(chips[0]["remove_url"] + "&org=alpha")
    assert without_service.context["query"].filters == {"region": ("eastus",)}
    assert 'class="chip"' in response.content.decode()


def test_empty_months_are_zero_bars_at_month_starts(tenants):
    frame = tenants["frame"]
    response = explore(login(), "group=service&granularity=month&start=2023-11-01&end=2024-10-31")
    figure = response.context["figure"]
    months = [f"{y}-{m:02d}-01" for y, m in [(2023, 11), (2023, 12)] + [(2024, m) for m in range(1, 11)]]
    assert all(t["x"] == months for t in figure["data"])  # 12 bars, each at its month
    totals = [sum(t["y"][i] for t in figure["data"]) for i in range(12)]
    september = float(sum(frame["BilledCost"], Decimal(0)))
    assert totals[months.index("2024-09-01")] == pytest.approx(september, abs=0.05)
    assert [round(v, 2) for i, v in enumerate(totals) if months[i] != "2024-09-01"] == [0.0] * 11
    assert figure["layout"]["xaxis"]["tickformat"] == "%b %Y"
    assert figure["layout"]["xaxis"]["type"] == "date"


@pytest.mark.parametrize(
    ("start", "end", "previous"),
    [
        ("2024-07-01", "2024-09-30", ("2024-04-01", "2024-06-30")),  # whole months: the three months before
        ("2024-02-01", "2024-02-29", ("2024-01-01", "2024-01-31")),
        ("2024-09-16", "2024-09-30", ("2024-09-01", "2024-09-15")),  # otherwise the same number of days
    ],
)
def test_previous_period_has_equal_length(start, end, previous):
    from datetime import date

    from finops.web.selectors import previous_period

    got = previous_period(date.fromisoformat(start), date.fromisoformat(end))
    assert tuple(d.isoformat() for d in got) == previous


def test_period_over_period_change_per_group_and_in_total(tenants):
    frame = tenants["frame"]
    response = explore(login(), "group=service&granularity=day&start=2024-09-16&end=2024-09-30&compare=previous")
    comparison = response.context["comparison"]
    assert (comparison["previous_start"].isoformat(), comparison["previous_end"].isoformat()) == (
        "2024-09-01",
        "2024-09-15",
    )
    late = frame[frame["day"] >= "2024-09-16"].groupby("ServiceName")["BilledCost"].apply(lambda s: sum(s, Decimal(0)))
    early = frame[frame["day"] <= "2024-09-15"].groupby("ServiceName")["BilledCost"].apply(lambda s: sum(s, Decimal(0)))
    got = {r["comparison"].group: r["comparison"] for r in comparison["rows"]}
    assert set(got) == set(late.index) | set(early.index)
    for service, row in got.items():
        current, previous = late.get(service, Decimal(0)), early.get(service, Decimal(0))
        assert row.current == current and row.previous == previous
        assert row.change == current - previous
        if previous:
            assert row.change_percent == pytest.approx(float((current - previous) / abs(previous)))
        else:
            assert row.change_percent is None
    changes = [abs(r["comparison"].change) for r in comparison["rows"]]
    assert changes == sorted(changes, reverse=True)
    total = comparison["total"]
    assert total.current == sum(late, Decimal(0)) and total.previous == sum(early, Decimal(0))
    assert 'id="explore-compare-table"' in response.content.decode()
    assert "compare=previous" in response.context["canonical_url"]


def test_pivot_is_groups_by_periods(tenants):
    from datetime import date, timedelta

    frame = tenants["frame"].copy()
    frame["week"] = [
        (date.fromisoformat(d) - timedelta(days=date.fromisoformat(d).weekday())).isoformat() for d in frame["day"]
    ]
    response = explore(login(), "group=service&granularity=week&start=2024-09-01&end=2024-09-30&view=pivot")
    pivot = response.context["pivot"]
    weeks = sorted(frame["week"].unique())
    assert [p.isoformat() for p in pivot["periods"]] == weeks
    sums = frame.groupby(["ServiceName", "week"])["BilledCost"].apply(lambda s: sum(s, Decimal(0)).quantize(CENT))
    assert pivot["groups"] == frame["ServiceName"].nunique() == len(pivot["rows"])
    for row in pivot["rows"]:
        assert row["cells"] == [sums.get((row["group"], w), Decimal(0)) for w in weeks]
        assert row["total"] == sum(row["cells"], Decimal(0))
    totals = [abs(r["total"]) for r in pivot["rows"]]
    assert totals == sorted(totals, reverse=True)
    body = response.content.decode()
    assert 'id="explore-pivot"' in body and 'id="explore-table"' not in body
    # The CSV stays the rows export whatever the page shows.
    assert explore(login(), "group=service&granularity=week&start=2024-09-01&end=2024-09-30&view=pivot&format=csv")[
        "Content-Type"
    ].startswith("text/csv")


def test_saved_view_round_trip_shared_in_the_organization_and_404_elsewhere(tenants):
    from finops.usage.models import SavedView

    ann = login("ann")
    query = "metric=effective&group=region&granularity=week&start=2024-09-01&end=2024-09-30&service=Virtual+Machines"
    original = explore(ann, query)
    saved_query = original.context["saved_query"]
    response = ann.post("/explore/views/?org=alpha", {"name": "VM by region", "query": saved_query + "&org=beta"})
    saved = SavedView.objects.get(name="VM by region")
    assert (saved.organization, saved.owner.username) == (tenants["alpha"], "ann")
    assert "org=" not in saved.query  # a view never pins an organization
    assert response.status_code == 302 and response["Location"] == f"/explore/views/{saved.pk}/"
    # Another member of alpha (a viewer) opens it and sees the same numbers.
    vic = login("vic")
    opened = vic.get(f"/explore/views/{saved.pk}/?org=alpha", follow=True)
    assert opened.context["query"] == original.context["query"]
    assert opened.context["rows"] == original.context["rows"]
    assert "VM by region" in opened.content.decode()  # listed on the page
    listed = vic.get("/api/v1/saved-views/?org=alpha").json()
    assert [(v["id"], v["name"], v["query"], v["owner"]) for v in listed["results"]] == [
        (saved.pk, "VM by region", saved.query, "ann")
    ]
    assert vic.get(f"/api/v1/saved-views/{saved.pk}/?org=alpha").json()["url"] == f"/explore/views/{saved.pk}/"
    # Another organization: not found, on the page and in the API.
    bob = login("bob")
    assert bob.get(f"/explore/views/{saved.pk}/").status_code == 404
    assert bob.get(f"/api/v1/saved-views/{saved.pk}/").status_code == 404
    assert bob.get("/api/v1/saved-views/").json()["results"] == []
    assert ann.get(f"/explore/views/{saved.pk}/?org=beta").status_code == 404


def test_a_view_with_a_bad_query_or_no_name_is_not_saved(tenants):
    from finops.usage.models import SavedView

    ann = login("ann")
    bad = ann.post("/explore/views/?org=alpha", {"name": "x", "query": "granularity=hour"}, follow=True)
    assert "granularity: unknown &#x27;hour&#x27;" in bad.content.decode()
    nameless = ann.post("/explore/views/?org=alpha", {"name": "  ", "query": "group=service"}, follow=True)
    assert "name: give the view a name" in nameless.content.decode()
    assert not SavedView.objects.exists()


def test_tag_filter_offers_the_data_pairs_and_keeps_only_that_value(tenants):
    from collections import Counter

    frame = tenants["frame"]
    tags = [json.loads(t) if t not in ("", "NULL") else {} for t in frame["Tags"]]
    pairs = Counter((k, v) for t in tags for k, v in t.items() if k and isinstance(v, str) and v)
    (key, value), _ = pairs.most_common(1)[0]
    client = login()
    query = f"group=service&granularity=month&start=2024-09-01&end=2024-09-30&tag={key}={value}"
    response = explore(client, query)
    subset = frame[[t.get(key) == value for t in tags]]
    expected = subset.groupby("ServiceName")["BilledCost"].apply(lambda s: sum(s, Decimal(0)).quantize(CENT))
    assert {r["group"]: r["cost"] for r in response.context["rows"]} == expected.to_dict()
    assert response.context["query"].tag == (key, value)
    assert [c["label"] for c in response.context["chips"]] == [f"Tag: {key}={value}"]
    body = html.unescape(response.content.decode())
    assert f'<option value="{key}={value}" selected>' in body
    assert explore(client, "tag=novalue").context["field_errors"] == {"tag": "tag: 'novalue' is not KEY=VALUE"}
