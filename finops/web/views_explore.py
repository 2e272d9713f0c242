"""Explore: any cost breakdown (cost_breakdown through web.selectors) as a chart, a table and its CSV export.

The default answers a question on its own (the last three months by service, monthly, the ten largest services
plus "Other"); the table shows its first rows with a link to all of them; the CSV is always every row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html_join
from django.views.decorators.http import require_GET, require_POST

from finops.accounts.access import AccessPolicy
from finops.core.amounts import exact_add, quantize_money
from finops.core.spreadsheet import SpreadsheetSafeWriter
from finops.usage.saved_views import SavedViewError, saved_view_create, saved_views_visible
from finops.usage.selectors import ReportError
from finops.web import figures, selectors
from finops.web.access import cache_prefix, org_page, render_page
from finops.web.cache import cached
from finops.web.templatetags.finops_format import format_money

METRIC_LABELS = {"billed": "Billed", "effective": "Amortized (effective)", "list": "List (on-demand)"}
TABLE_ROWS = 50  # rows of the table before "Show all"
CHART_GROUPS = 10  # groups drawn before the rest is summed as "Other"
LABELLED_DIMENSIONS = ("account", "sub_account", "team")  # accounts as "name (id)", teams by name


def _params(request: HttpRequest) -> dict[str, list[str]]:
    return {key: request.GET.getlist(key) for key in request.GET}


def _query_pairs(query: selectors.ExploreQuery) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = [
        ("metric", query.metric),
        ("group", query.group),
        *([("group2", query.group2)] if query.group2 else []),
        ("granularity", query.granularity),
        ("start", query.start.isoformat()),
        ("end", query.end.isoformat()),
    ]
    for name in selectors.FILTER_DIMENSIONS:
        pairs.extend((name, value) for value in query.filters.get(name, ()))
    if query.tag:
        pairs.append(("tag", "=".join(query.tag)))
    if query.view != "table":
        pairs.append(("view", query.view))
    if query.compare:
        pairs.append(("compare", "previous"))
    return pairs


def _url(pairs: list[tuple[str, str]]) -> str:
    return f"{reverse('web:explore')}?{urlencode(pairs)}"


def explore_canonical_query(query: selectors.ExploreQuery) -> str:
    """The query string that reproduces ``query`` (what a saved view stores)."""
    return urlencode(_query_pairs(query))


def _chips(query: selectors.ExploreQuery, names: dict[str, dict[str, str]]) -> list[dict]:
    """The active filters, each with the URL of this view without it."""
    pairs = _query_pairs(query)
    labels = dict(selectors.FILTER_DIMENSIONS)
    chips = []
    for name in selectors.FILTER_DIMENSIONS:
        for value in query.filters.get(name, ()):
            chips.append(
                {
                    "name": name,
                    "value": value,
                    "label": f"{labels[name][1]}: {selectors.labelled(name, value, names)}",
                    "remove_url": _url([p for p in pairs if p != (name, value)]),
                }
            )
    if query.tag:
        text = "=".join(query.tag)
        chips.append(
            {
                "name": "tag",
                "value": text,
                "label": f"Tag: {text}",
                "remove_url": _url([p for p in pairs if p != ("tag", text)]),
            }
        )
    return chips


def _choices(scope: AccessPolicy, start: date, end: date, names: dict[str, dict[str, str]]) -> dict[str, list]:
    values = selectors.explore_choices(scope, start=start, end=end)
    return {name: [(v, selectors.labelled(name, v, names)) for v in vs] for name, vs in values.items()}


def _form_context(scope: AccessPolicy, form: dict, start: date, end: date) -> dict:
    names = selectors.explore_names(scope)
    dimensions = [(k, v[1]) for k, v in selectors.DIMENSIONS.items()] + list(selectors.LINE_ITEM_DIMENSIONS.items())
    tag_keys = selectors.explore_tag_keys(scope)
    # The second group-by names its tag key in the option (tag:KEY), one option per key of the data.
    second = [("", "(nothing)"), *dimensions, *((f"tag:{key}", f"Tag {key}") for key in tag_keys)]
    if form.get("group2") and form["group2"] not in dict(second):
        second.append((form["group2"], form["group2"]))
    return {
        "form": form,
        "metric_labels": METRIC_LABELS,
        "dimensions": dimensions,
        "second_dimensions": second,
        "filter_dimensions": [(k, v[1]) for k, v in selectors.FILTER_DIMENSIONS.items()],
        "granularities": list(selectors.GRANULARITIES),
        "tag_keys": tag_keys,
        "tag_values": selectors.explore_tag_values(scope),
        "choices": _choices(scope, start, end, names),
        "names": names,
    }


@org_page()
@require_GET
def explore(request: HttpRequest) -> HttpResponse:
    scope: AccessPolicy = request.scope
    last = selectors.as_of(scope) or date.today()
    params = _params(request)
    try:
        query = selectors.explore_query_parse(params, default_end=last)
    except ReportError as error:
        # Every field keeps what was submitted; the message and the field itself say which field is wrong.
        field_errors = error.errors if isinstance(error, selectors.ExploreQueryError) else {}
        context = _form_context(
            scope, selectors.explore_form_values(params), selectors.explore_default_start(last), last
        )
        context.update({"error": str(error), "field_errors": field_errors})
        return render_page(request, "web/explore.html", context, status=400)
    data = cached(cache_prefix(scope), "page:explore", query.params(), lambda: explore_data(scope, query))
    rows = data["rows"]
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        groups = "-".join(g.replace(":", "-") for g in query.group_by)
        name = f"explore-{scope.organization.slug}-{groups}-{query.start}-{query.end}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = SpreadsheetSafeWriter(response, lineterminator="\n")
        # A second group-by adds its column after the first; one group-by keeps the four columns.
        second = ["group2"] if query.group2 else []
        writer.writerow(["period", "group", *second, "currency", "cost"])
        for row in rows:
            values = [row["group2"]] if query.group2 else []
            writer.writerow([row["period"].isoformat(), row["group"], *values, row["currency"], f"{row['cost']:f}"])
        return response
    pairs = _query_pairs(query)
    canonical = _url(pairs)
    show_all = request.GET.get("rows") == "all"
    if query.view == "pivot":
        periods = selectors.period_starts(query.start, query.end, query.granularity)
        pivot = _pivot(rows, data["currency"], periods, limit=None if show_all else TABLE_ROWS)
        more = pivot["groups"] > len(pivot["rows"])
    else:
        pivot, more = None, len(rows) > TABLE_ROWS and not show_all
    context = _form_context(scope, selectors.explore_form_values(params, query), query.start, query.end)
    context.update(
        {
            **data,
            "query": query,
            "field_errors": {},
            "table_body": _table_body(rows if show_all else rows[:TABLE_ROWS], two=bool(query.group2)),
            "shown_rows": len(rows) if show_all else min(len(rows), TABLE_ROWS),
            "show_all_url": f"{canonical}&rows=all#explore-{'pivot' if pivot else 'table'}" if more else None,
            "pivot": pivot,
            "comparison": _comparison(scope, query, data["currency"]) if query.compare else None,
            "chips": _chips(query, context["names"]),
            "canonical_url": canonical,
            "csv_url": f"{canonical}&format=csv",
            "saved_query": explore_canonical_query(query),
            "saved_views": list(saved_views_visible(scope)),
            "has_data": selectors.as_of(scope) is not None,
        }
    )
    return render_page(request, "web/explore.html", context)


def _pivot(rows: list[dict], currency: str, periods: list[date], *, limit: int | None) -> dict:
    """Groups (pairs of groups with two group-bys) as rows, every period of the window as a column (0 without
    cost), one currency; largest total first; ``limit`` rows at most."""
    cells: dict[tuple[str, str], dict[date, Decimal]] = {}
    texts: dict[tuple[str, str], tuple[str, str]] = {}
    for r in rows:
        if r["currency"] == currency:
            key = (r["group"], r["group2"])
            cells.setdefault(key, {})[r["period"]] = r["cost"]
            texts[key] = (r["group_text"], r["group2_text"])
    totals = {g: sum(by_period.values(), Decimal(0)) for g, by_period in cells.items()}
    order = sorted(cells, key=lambda g: (-abs(totals[g]), g))
    return {
        "periods": periods,
        "groups": len(order),
        "rows": [
            {
                "group": g[0],
                "group2": g[1],
                "group_text": texts[g][0],
                "group2_text": texts[g][1],
                "cells": [cells[g].get(p, Decimal(0)) for p in periods],
                "total": totals[g],
            }
            for g in (order if limit is None else order[:limit])
        ],
    }


def _comparison(scope: AccessPolicy, query: selectors.ExploreQuery, currency: str) -> dict:
    names = selectors.explore_names(scope)
    previous_start, previous_end, rows = selectors.explore_comparison(scope, query, currency=currency)
    current = sum((r.current for r in rows), Decimal(0))
    previous = sum((r.previous for r in rows), Decimal(0))
    shown = []
    for r in rows[:TABLE_ROWS]:
        group, group2 = r.group if query.group2 else (r.group, "")
        shown.append(
            {
                "comparison": r,
                "group": group,
                "group2": group2,
                "group_text": selectors.labelled(query.group, group, names),
                "group2_text": selectors.labelled(query.group2, group2, names) if query.group2 else "",
            }
        )
    return {
        "previous_start": previous_start,
        "previous_end": previous_end,
        "rows": shown,
        "total": selectors.Comparison(group="Total", current=current, previous=previous),
        "groups": len(rows),
    }


def _table_body(rows: list[dict], *, two: bool = False) -> str:
    # Cells carry the raw value in data-value (what the CSV has) and the display text (names, formatted money).
    texts = ((r["period"].isoformat(), format_money(r["cost"], r["currency"])) for r in rows)
    if two:
        return format_html_join(
            "",
            '<tr><td>{}</td><td data-value="{}">{}</td><td data-value="{}">{}</td><td>{}</td>'
            '<td class="num" data-value="{}">{}</td></tr>',
            (
                (
                    period_text,
                    r["group"],
                    r["group_text"],
                    r["group2"],
                    r["group2_text"],
                    r["currency"],
                    r["cost"],
                    cost_text,
                )
                for r, (period_text, cost_text) in zip(rows, texts, strict=True)
            ),
        )
    return format_html_join(
        "",
        '<tr><td>{}</td><td data-value="{}">{}</td><td>{}</td><td class="num" data-value="{}">{}</td></tr>',
        (
            (period_text, r["group"], r["group_text"], r["currency"], r["cost"], cost_text)
            for r, (period_text, cost_text) in zip(rows, texts, strict=True)
        ),
    )


def _group_label(group: str) -> str:
    kind, _, key = group.partition(":")
    if kind == "tag" and key:
        return f"tag {key}"
    if kind == "allocated_tag" and key:
        return f"allocated tag {key}"
    return selectors.DIMENSIONS[group][1] if group in selectors.DIMENSIONS else selectors.LINE_ITEM_DIMENSIONS[group]


def explore_data(scope: AccessPolicy, query: selectors.ExploreQuery) -> dict:
    """The numbers, rows and figure of one Explore query (cached whole by the view)."""
    frame = selectors.explore_rows(scope, query)
    names = selectors.explore_names(scope) if set(query.group_by) & set(LABELLED_DIMENSIONS) else {}
    rows = []
    # One currency total each, never one number across currencies (exact sums of the unrounded costs, rounded
    # once); the chart shows one currency: the main one when the rows hold it, else the first of theirs.
    totals: dict[str, Decimal] = {}
    # Columns as lists (not itertuples over the frame's Arrow-backed strings). Display texts of the period and
    # cost are made for the rows shown only (_table_body), not for every row of a long day-by-day table.
    columns = [frame[name].tolist() for name in ("period", "group", "group2", "currency", "cost")]
    for period, group, group2, currency, cost in zip(*columns, strict=True):
        totals[currency] = exact_add(totals.get(currency, Decimal(0)), cost)
        rows.append(
            {
                "period": period,
                "group": group,
                "group_text": selectors.labelled(query.group, group, names),
                "group2": group2,
                "group2_text": selectors.labelled(query.group2, group2, names) if query.group2 else "",
                "currency": currency,
                "cost": quantize_money(cost),
            }
        )
    main = selectors.main_currency(scope)
    currency = main if main in totals or not totals else sorted(totals)[0]
    group_label = _group_label(query.group)
    group2_label = _group_label(query.group2) if query.group2 else ""
    chart_frame = frame[frame["currency"] == currency] if not frame.empty else frame
    if not chart_frame.empty and (names or query.group2):
        # A pair is one series, named as the API names it (BreakdownRow.group: "first / second").
        labels = [
            " / ".join(
                [selectors.labelled(query.group, g, names)]
                + ([selectors.labelled(query.group2, g2, names)] if query.group2 else [])
            )
            for g, g2 in zip(chart_frame["group"], chart_frame["group2"], strict=True)
        ]
        chart_frame = chart_frame.assign(group=labels)
    by = f"{group_label.lower()}, then {group2_label.lower()}" if group2_label else group_label.lower()
    figure = figures.stacked_bars(
        chart_frame,
        x="period",
        group="group",
        value="cost",
        title=f"{METRIC_LABELS[query.metric]} cost by {query.granularity} and {by} ({currency})",
        currency=currency,
        x_title=query.granularity.capitalize(),
        keep=CHART_GROUPS,
        x_values=selectors.period_starts(query.start, query.end, query.granularity),
        period=query.granularity,
    )
    return {
        "rows": rows,
        "total": totals.get(currency, Decimal(0)),  # exact; the page rounds
        "totals": [{"currency": c, "total": totals[c]} for c in sorted(totals)],  # exact; the page rounds
        "currency": currency,
        "figure": figure,
        "group_label": group_label,
        "group2_label": group2_label,
    }


def explore_warm(scope: AccessPolicy, last: date) -> None:
    """Compute and cache what the default Explore page reads (the dashboard refresh task calls this)."""
    query = selectors.explore_query_parse({}, default_end=last)
    cached(cache_prefix(scope), "page:explore", query.params(), lambda: explore_data(scope, query))
    _form_context(scope, selectors.explore_form_values({}, query), query.start, query.end)


@org_page(personal=True)
@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the Explore view of ``query`` as ``name`` (every role may: a view is a bookmark, not a change)."""
    scope: AccessPolicy = request.scope
    query_text = request.POST.get("query", "")
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_text.lstrip("?")):
        params.setdefault(key, []).append(value)
    try:
        query = selectors.explore_query_parse(params, default_end=selectors.as_of(scope) or date.today())
        saved = saved_view_create(policy=scope, name=request.POST.get("name", ""), query=explore_canonical_query(query))
    except (ReportError, SavedViewError) as error:
        messages.error(request, f"The view was not saved: {error}")
        return redirect(f"{reverse('web:explore')}?{query_text.lstrip('?')}")
    messages.success(request, f"Saved the view {saved.name!r}; its link works for everyone in the organization.")
    return redirect("web:saved_view", pk=saved.pk)


@org_page()
@require_GET
def saved_view_open(request: HttpRequest, pk: int) -> HttpResponse:
    """A saved view's shareable URL: Explore with its query, in the caller's organization (another's is a 404)."""
    saved = saved_views_visible(request.scope).filter(pk=pk).first()
    if saved is None:
        raise Http404("No such saved view in this organization.")
    return redirect(f"{reverse('web:explore')}?{saved.query}")
