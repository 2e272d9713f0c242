"""Root cause of a cost anomaly: which sub-dimension values explain the day's delta.

Input: cost rows (one per day and combination of the sub-dimensions, e.g. resource, usage type, service, region,
account) for the anomalous day and for the baseline days (by default the same weekday in each of the previous 4
weeks). For each dimension and value:

    actual   = cost on the anomalous day
    baseline = mean cost over the baseline days (a baseline day without the value counts as 0)
    delta    = actual - baseline

Only the values that moved in the anomaly's direction are contributors (for a spike the ones that grew, for a drop
the ones that fell); a value moving against it never explains it. A contributor's share is its delta over the sum
of the deltas of every value of its dimension moving in that direction, so the shares of one dimension sum to 100%
(when no more than ``top_per_dimension`` values moved; the listed ones otherwise) and never exceed it. Values are
ranked by share, largest first. Across dimensions, a more specific dimension (resource before usage type before
service before region before account) ranks ahead of a less specific one when its share is within
``SPECIFICITY_TOLERANCE`` (5 points) of it or at least ``SPECIFICITY_RATIO`` (80%) of it: a spike on one resource
also moves its account by about the same amount (the account's other resources' noise moving with it inflates the
account's share), and the resource is the more useful answer.

Readable names: a ``<dimension>_name`` column (e.g. ``resource_name``, ``usage_type_name``) gives the value's name
where the data has one (the most frequent non-empty name of the key); the key stays the identifier.

Pure: pandas in, frozen dataclasses out; no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

# Most specific first: the tie-break order across dimensions.
DEFAULT_DIMENSIONS: tuple[str, ...] = ("resource", "usage_type", "service", "region", "account")
BASELINE_WEEKS = 4
SPECIFICITY_TOLERANCE = 0.05
SPECIFICITY_RATIO = 0.8


@dataclass(frozen=True)
class Contributor:
    dimension: str
    key: str
    actual: float
    baseline: float
    delta: float
    share: float  # of the dimension's movement in the anomaly's direction; a dimension's shares sum to 1
    name: str = ""  # readable name of the key where the data has one


@dataclass(frozen=True)
class RootCause:
    day: date
    baseline_days: tuple[date, ...]
    actual_total: float
    baseline_total: float
    delta: float
    contributors: tuple[Contributor, ...]  # ranked across dimensions, best explanation first

    @property
    def top(self) -> Contributor | None:
        return self.contributors[0] if self.contributors else None

    def by_dimension(self, dimension: str) -> list[Contributor]:
        return [c for c in self.contributors if c.dimension == dimension]


def baseline_days(day: date, weeks: int = BASELINE_WEEKS) -> tuple[date, ...]:
    """The same weekday in each of the previous ``weeks`` weeks, most recent first."""
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    return tuple(day - timedelta(days=7 * k) for k in range(1, weeks + 1))


def rank_root_cause(
    rows: pd.DataFrame,
    day: date,
    baseline: Sequence[date],
    *,
    dimensions: Sequence[str] = DEFAULT_DIMENSIONS,
    cost_column: str = "cost",
    top_per_dimension: int = 5,
) -> RootCause:
    """Rank the dimension values by their share of the delta between ``day`` and the mean of ``baseline``.

    ``rows`` has a ``day`` column (dates), one column per dimension (values as text; null means "") and
    ``cost_column``, and optionally ``<dimension>_name`` columns. Rows on other days are ignored. Only values that
    move in the direction of the total delta are listed, at most ``top_per_dimension`` per dimension. A zero total
    delta lists nothing.
    """
    baseline = tuple(baseline)
    if not baseline:
        raise ValueError("baseline needs at least one day")
    if day in baseline:
        raise ValueError(f"the anomalous day {day} cannot be one of its baseline days")
    missing = [c for c in ("day", cost_column, *dimensions) if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack column(s) {', '.join(missing)}")
    if top_per_dimension < 1:
        raise ValueError("top_per_dimension must be at least 1")
    name_columns = [f"{d}_name" for d in dimensions if f"{d}_name" in rows.columns]
    frame = rows[["day", cost_column, *dimensions, *name_columns]].copy()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame[cost_column] = frame[cost_column].astype("float64")
    for column in (*dimensions, *name_columns):
        frame[column] = frame[column].fillna("").astype(str)
    on_day = frame[frame["day"] == day]
    before = frame[frame["day"].isin(set(baseline))]
    actual_total = float(on_day[cost_column].sum())
    baseline_total = float(before[cost_column].sum()) / len(baseline)
    delta = actual_total - baseline_total

    ranked: list[tuple[int, Contributor]] = []
    if delta != 0.0:
        sign = 1.0 if delta > 0 else -1.0
        relevant = frame[frame["day"].isin({day, *baseline})]
        for rank, dimension in enumerate(dimensions):
            actual = on_day.groupby(dimension)[cost_column].sum()
            base = before.groupby(dimension)[cost_column].sum() / len(baseline)
            table = pd.concat([actual.rename("actual"), base.rename("baseline")], axis=1).fillna(0.0)
            table["delta"] = table["actual"] - table["baseline"]
            table = table[table["delta"] * sign > 0]
            moved = float(table["delta"].sum())
            if not moved:
                continue
            table = table.assign(share=table["delta"] / moved)
            table = table.sort_values(["share"], ascending=False, kind="stable")
            names = _names(relevant, dimension) if f"{dimension}_name" in name_columns else {}
            for key, row in table.head(top_per_dimension).iterrows():
                contributor = Contributor(
                    dimension=dimension,
                    key=str(key),
                    actual=float(row["actual"]),
                    baseline=float(row["baseline"]),
                    delta=float(row["delta"]),
                    share=float(row["share"]),
                    name=names.get(str(key), ""),
                )
                ranked.append((rank, contributor))
    ranked.sort(key=lambda item: (-item[1].share, item[0], item[1].key))
    # Move a more specific contributor ahead of less specific ones that explain not much more.
    changed = True
    while changed:
        changed = False
        for i in range(len(ranked) - 1):
            (rank_a, a), (rank_b, b) = ranked[i], ranked[i + 1]
            close = a.share - b.share <= SPECIFICITY_TOLERANCE or b.share >= SPECIFICITY_RATIO * a.share
            if rank_b < rank_a and close:
                ranked[i], ranked[i + 1] = ranked[i + 1], ranked[i]
                changed = True
    return RootCause(
        day=day,
        baseline_days=baseline,
        actual_total=actual_total,
        baseline_total=baseline_total,
        delta=delta,
        contributors=tuple(c for _, c in ranked),
    )


def _names(frame: pd.DataFrame, dimension: str) -> dict[str, str]:
    """Key -> its most frequent non-empty name (ties: the first in sort order)."""
    named = frame[frame[f"{dimension}_name"] != ""]
    if named.empty:
        return {}
    counts = named.groupby([dimension, f"{dimension}_name"]).size().reset_index(name="n")
    counts = counts.sort_values([dimension, "n", f"{dimension}_name"], ascending=[True, False, True], kind="stable")
    return dict(counts.drop_duplicates(dimension)[[dimension, f"{dimension}_name"]].itertuples(index=False))
