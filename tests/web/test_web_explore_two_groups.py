"""Explore grouped by two dimensions (service, then region): table, pivot, comparison, CSV and chart keyed by
the pair, the same numbers as the API's costs/timeseries with ``group_by=service,region``, against pandas sums
over the ingested FOCUS sample; and teams shown by their names."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal

import pytest
from django.test import Client

from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")
SEPTEMBER = "granularity=month&start=2024-09-01&end=2024-09-30"
NULLS = ("", "NULL")


def login(username: str = "ann") -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def explore(client: Client, query: str = ""):
    return client.get(f"/explore/?org=alpha&{query}")


def region_of(region_id: str, region_name: str) -> str:
    """The documented region rule: the id, else the name, else "(none)"."""
    if region_id not in NULLS:
        return region_id
    return region_name if region_name not in NULLS else "(none)"


def pair_sums(frame, *, days=None) -> dict[tuple[str, str], Decimal]:
    """Billed cost per (service, region) over the sample (or the days given), exact."""
    sums: dict[tuple[str, str], Decimal] = {}
    for row in frame.itertuples():
        if days is not None and row.day not in days:
            continue
        key = (row.ServiceName or "(none)", region_of(row.RegionId, row.RegionName))
        sums[key] = sums.get(key, Decimal(0)) + row.BilledCost
    return sums


def test_rows_are_keyed_by_service_and_region(tenants):
    expected = pair_sums(tenants["frame"])
    services = {service for service, _ in expected}
    assert len(expected) > len(services)  # some service runs in several regions: the pair matters
    client = login()
    response = explore(client, f"group=service&group2=region&{SEPTEMBER}&rows=all")
    assert response.status_code == 200
    query = response.context["query"]
    assert (query.group, query.group2, query.group_by) == ("service", "region", ["service", "region"])
    rows = response.context["rows"]
    assert {(r["group"], r["group2"]): r["cost"] for r in rows} == {k: v.quantize(CENT) for k, v in expected.items()}
    assert response.context["total"].quantize(CENT) == sum(expected.values(), Decimal(0)).quantize(CENT)
    # The table has a column per dimension, the raw values in data-value.
    body = response.content.decode()
    assert '<th scope="col">Service</th><th scope="col">Region</th>' in body
    service, region = next(iter(expected))
    assert re.search(
        rf'<td data-value="{re.escape(html.escape(service))}">[^<]*</td><td data-value="{re.escape(region)}">', body
    )
    # The canonical link and the CSV keep the second dimension; the CSV adds its column after the first.
    assert "group2=region" in response.context["canonical_url"]
    exported = explore(client, f"group=service&group2=region&{SEPTEMBER}&format=csv")
    assert "explore-alpha-service-region-" in exported["Content-Disposition"]
    records = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert list(records[0]) == ["period", "group", "group2", "currency", "cost"]
    assert {(r["group"], r["group2"]): Decimal(r["cost"]) for r in records} == {
        k: v.quantize(CENT) for k, v in expected.items()
    }


def test_one_dimension_keeps_its_four_csv_columns(tenants):
    exported = explore(login(), f"group=service&{SEPTEMBER}&format=csv").content.decode()
    assert exported.splitlines()[0] == "period,group,currency,cost"


def test_pivot_rows_are_pairs_and_the_chart_names_each_pair(tenants):
    expected = pair_sums(tenants["frame"])
    response = explore(login(), f"group=service&group2=region&{SEPTEMBER}&view=pivot&rows=all")
    pivot = response.context["pivot"]
    assert pivot["groups"] == len(expected) == len(pivot["rows"])
    for row in pivot["rows"]:
        assert row["cells"] == [expected[(row["group"], row["group2"])].quantize(CENT)]
    totals = [abs(r["total"]) for r in pivot["rows"]]
    assert totals == sorted(totals, reverse=True)
    body = response.content.decode()
    assert '<th scope="col">Service</th><th scope="col">Region</th>' in body
    # The chart: the ten largest pairs as "service / region", the rest as "Other".
    names = [t["name"] for t in response.context["figure"]["data"]]
    largest = sorted(expected, key=lambda k: (-abs(expected[k]), k))[:10]
    assert set(names) == {f"{s} / {r}" for s, r in largest} | {"Other"}
    assert "service, then region" in response.context["figure"]["layout"]["title"]["text"]


def test_comparison_is_per_pair(tenants):
    frame = tenants["frame"]
    late_days = {d for d in frame["day"] if d >= "2024-09-16"}
    early_days = {d for d in frame["day"] if d <= "2024-09-15"}
    late, early = pair_sums(frame, days=late_days), pair_sums(frame, days=early_days)
    response = explore(
        login(), "group=service&group2=region&granularity=day&start=2024-09-16&end=2024-09-30&compare=previous"
    )
    comparison = response.context["comparison"]
    got = {(r["group"], r["group2"]): r["comparison"] for r in comparison["rows"]}
    pairs = set(late) | set(early)
    assert len(got) == min(len(pairs), 50) and comparison["groups"] == len(pairs)
    for pair, row in got.items():
        assert (row.current, row.previous) == (late.get(pair, Decimal(0)), early.get(pair, Decimal(0)))
    assert comparison["total"].current == sum(late.values(), Decimal(0))
    assert comparison["total"].previous == sum(early.values(), Decimal(0))


def test_explore_pairs_equal_the_api_two_dimension_timeseries(tenants):
    client = login("eve")  # an engineer: both see only the engineer's team
    page = explore(client, f"group=service&group2=region&{SEPTEMBER}&format=csv").content.decode()
    from_page = {
        (r["period"], r["group"], r["group2"], r["currency"], Decimal(r["cost"]))
        for r in csv.DictReader(io.StringIO(page))
    }
    api = client.get(
        "/api/v1/costs/timeseries",
        {
            "group_by": "service,region",
            "granularity": "month",
            "start": "2024-09-01",
            "end": "2024-09-30",
            "org": "alpha",
        },
    ).json()
    from_api = {(r["period"], *r["groups"], r["currency"], Decimal(r["cost"]).quantize(CENT)) for r in api["rows"]}
    assert from_page == from_api
    assert from_page  # the engineer's team has cost
    everyone = pair_sums(tenants["frame"])
    assert len(from_page) < len(everyone)  # and only theirs


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("group=service&group2=service", "group2: 'service' is already the first group-by"),
        ("group=service&group2=colour", "group2: unknown 'colour'"),
    ],
)
def test_a_bad_second_dimension_is_refused_and_the_form_keeps_it(tenants, query, message):
    response = explore(login(), f"{query}&{SEPTEMBER}&region=eastus")
    assert response.status_code == 400
    assert response.context["field_errors"].keys() == {"group2"}
    assert message in html.unescape(response.content.decode())
    form = response.context["form"]
    assert form["group2"] == query.split("group2=")[1] and form["filters"] == {"region": ["eastus"]}
    assert re.search(r'id="f-group2"[^>]*aria-invalid="true"', response.content.decode())


def test_the_second_dimension_offers_the_tag_keys_of_the_data(tenants):
    from finops.usage.models import DailyTagCost

    keys = sorted(set(DailyTagCost.objects.filter(organization=tenants["alpha"]).values_list("tag_key", flat=True)))
    assert keys
    body = explore(login()).content.decode()
    select = body[body.index('id="f-group2"') : body.index("</select>", body.index('id="f-group2"'))]
    offered = re.findall(r'<option value="([^"]*)"', select)
    assert offered[0] == "" and {f"tag:{k}" for k in keys} <= set(offered) and "region" in offered


def test_teams_are_shown_by_name_in_chips_pickers_and_rows(tenants):
    team = tenants["team"]
    team.name = "Checkout Squad"
    team.save()
    response = explore(login(), f"group=team&{SEPTEMBER}&team={team.slug}")
    assert [c["label"] for c in response.context["chips"]] == ["Team: Checkout Squad"]
    assert {r["group_text"] for r in response.context["rows"]} == {"Checkout Squad"}
    assert {r["group"] for r in response.context["rows"]} == {team.slug}  # the slug stays the value
    body = html.unescape(response.content.decode())
    assert f'<option value="{team.slug}" selected>Checkout Squad</option>' in body


def test_a_saved_view_keeps_the_second_dimension(tenants):
    from finops.usage.models import SavedView

    client = login()
    original = explore(client, f"group=service&group2=region&{SEPTEMBER}&view=pivot")
    response = client.post("/explore/views/?org=alpha", {"name": "by pair", "query": original.context["saved_query"]})
    saved = SavedView.objects.get(name="by pair")
    assert response.status_code == 302 and "group2=region" in saved.query
    opened = client.get(f"/explore/views/{saved.pk}/?org=alpha", follow=True)
    assert opened.context["query"] == original.context["query"]
    assert opened.context["pivot"]["rows"] == original.context["pivot"]["rows"]
