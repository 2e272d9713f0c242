"""Root cause of a cost anomaly: which sub-dimension values explain most of the day's delta.

Input: cost rows (one per day and combination of the sub-dimensions, e.g. account, region, usage type, resource)
for the anomalous day and for the baseline days (by default the same weekday in each of the previous 4 weeks).
For each dimension and value:

    actual   = cost on the anomalous day
    baseline = mean cost over the baseline days (a baseline day without the value counts as 0)
    delta    = actual - baseline
    share    = delta / (total actual - total baseline)

Within a dimension the deltas sum to the total delta, so the shares sum to 1. Values are ranked by share,
largest first: for a spike the values that grew most, for a drop the ones that fell most (the total delta is
negative, so a falling value has a positive share). Across dimensions, a more specific dimension (resource before
usage type before region before account) ranks ahead of a less specific one whose share is at most
``SPECIFICITY_TOLERANCE`` (5 points) larger: a spike on one resource also moves its region by about the same amount
(plus the region's other resources' noise), and the resource is the more useful answer.

Pure: pandas in, frozen dataclasses out; no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

# Most specific first: the tie-break order across dimensions.
DEFAULT_DIMENSIONS: tuple[str, ...] = ("resource", "usage_type", "region", "account")
BASELINE_WEEKS = 4
SPECIFICITY_TOLERANCE = 0.05


@dataclass(frozen=True)
class Contributor:
    dimension: str
    key: str
    actual: float
    baseline: float
    delta: float
    share: float  # of the total delta; the shares of one dimension sum to 1


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
    ``cost_column``. Rows on other days are ignored. Only values that move in the direction of the total delta
    (positive share) are listed, at most ``top_per_dimension`` per dimension. A zero total delta lists nothing.
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
    frame = rows[["day", cost_column, *dimensions]].copy()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame[cost_column] = frame[cost_column].astype("float64")
    for dimension in dimensions:
        frame[dimension] = frame[dimension].fillna("").astype(str)
    on_day = frame[frame["day"] == day]
    before = frame[frame["day"].isin(set(baseline))]
    actual_total = float(on_day[cost_column].sum())
    baseline_total = float(before[cost_column].sum()) / len(baseline)
    delta = actual_total - baseline_total

    ranked: list[tuple[int, Contributor]] = []
    if delta != 0.0:
        for rank, dimension in enumerate(dimensions):
            actual = on_day.groupby(dimension)[cost_column].sum()
            base = before.groupby(dimension)[cost_column].sum() / len(baseline)
            table = pd.concat([actual.rename("actual"), base.rename("baseline")], axis=1).fillna(0.0)
            table["delta"] = table["actual"] - table["baseline"]
            table["share"] = table["delta"] / delta
            table = table[table["share"] > 0].sort_values(["share"], ascending=False, kind="stable")
            for key, row in table.head(top_per_dimension).iterrows():
                contributor = Contributor(
                    dimension=dimension,
                    key=str(key),
                    actual=float(row["actual"]),
                    baseline=float(row["baseline"]),
                    delta=float(row["delta"]),
                    share=float(row["share"]),
                )
                ranked.append((rank, contributor))
    ranked.sort(key=lambda item: (-item[1].share, item[0], item[1].key))
    # Move a more specific contributor ahead of less specific ones that explain at most 5 points more.
    changed = True
    while changed:
        changed = False
        for i in range(len(ranked) - 1):
            (rank_a, a), (rank_b, b) = ranked[i], ranked[i + 1]
            if rank_b < rank_a and a.share - b.share <= SPECIFICITY_TOLERANCE:
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
