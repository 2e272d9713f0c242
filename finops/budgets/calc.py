"""Budget evaluation math. Pure: no Django imports; dates, Decimals and numpy in, frozen dataclasses out.

Given the scoped daily cost series of one budget, ``evaluate_budget`` computes for the period containing
``today``:

- ``actual``: the exact (Decimal) sum of the days of the period that have data (up to ``as_of``, the last
  day with data for the organization);
- ``forecast``: actual + the forecast of the remaining days of the period: the product's one projection,
  ``finops.forecasting.calc.projection.project_spend`` (the last 182 days of the scope's history, model chosen
  by backtest, 80%/95% interval), so a budget forecasts what the overview and the API project for the same
  scope and metric;
- ``probability_of_breach`` = P(period total > amount). **Distribution assumption**: the period total is
  actual + R with R ~ Normal(forecast remainder, sd), sd = the standard deviation of the summed forecast errors
  (``projection.window_sum_sd``, monthly charges included; the same Gaussian the projection's intervals come
  from). When the history had no negative day the remainder is floored at 0 (as the projection's lower bound
  is), which changes nothing for amounts >= actual. With no remaining days (or sd = 0) the probability is 1 or 0.
- ``status``: ``breached`` when actual > amount; otherwise ``at_risk`` when the probability of breach is at
  least ``at_risk_probability`` (0.5 by default, i.e. the point forecast reaches the amount); else ``ok``.
- the thresholds crossed: ``actual`` thresholds compare the exact actual, ``forecast`` thresholds the
  point forecast (rounded to cents), each against amount x percent / 100 (reached = crossed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from finops.core.amounts import quantize_money
from finops.core.normal import norm
from finops.forecasting.calc.projection import SpendProjection, project_spend

PERIODS = ("monthly", "quarterly", "annual")
KINDS = ("actual", "forecast")
LEVELS = (0.8, 0.95)


@dataclass(frozen=True)
class Threshold:
    percent: Decimal  # of the budget amount, 0 < percent <= 1000
    kind: str  # "actual" or "forecast"


@dataclass(frozen=True)
class BudgetEvaluation:
    period_start: date
    period_end: date
    as_of: date | None  # last day with data (None: no data at all)
    amount: Decimal
    actual: Decimal  # exact
    forecast: Decimal  # period-end point projection (actual + forecast remainder), rounded to cents
    lower: Mapping[float, Decimal]  # period-end interval per level (0.8, 0.95), cents
    upper: Mapping[float, Decimal]
    forecast_sd: float  # sd of the forecast remainder (0 when nothing is left to forecast)
    probability_of_breach: float
    status: str  # ok, at_risk, breached
    crossed: tuple[Threshold, ...]
    days_elapsed: int  # days of the period up to as_of
    days_total: int
    model: str  # the forecast model chosen ("" when nothing was forecast)

    @property
    def days_remaining(self) -> int:
        return self.days_total - self.days_elapsed

    @property
    def used_fraction(self) -> float:
        return float(self.actual / self.amount) if self.amount else math.inf

    @property
    def elapsed_fraction(self) -> float:
        return self.days_elapsed / self.days_total

    @property
    def daily_run_rate(self) -> Decimal:
        """Average actual spend per elapsed day of the period."""
        return quantize_money(self.actual / self.days_elapsed) if self.days_elapsed else Decimal(0)

    @property
    def exhaustion_date(self) -> date | None:
        """The day the amount is used up at the period's daily run rate (None: not within the period)."""
        if self.as_of is None or self.actual >= self.amount:
            return None
        rate = self.daily_run_rate
        if rate <= 0:
            return None
        day = min(self.as_of, self.period_end) + timedelta(days=math.ceil((self.amount - self.actual) / rate))
        return day if day <= self.period_end else None

    @property
    def remaining_daily_allowance(self) -> Decimal | None:
        """What may be spent per remaining day to land on the amount (None when no day is left)."""
        if self.days_remaining <= 0:
            return None
        return quantize_money((self.amount - self.actual) / self.days_remaining)


# ---------------------------------------------------------------------------------------------------------
# Periods


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """First and last day (inclusive) of the ``period`` containing ``day``."""
    if period == "monthly":
        start = day.replace(day=1)
        months = 1
    elif period == "quarterly":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        months = 3
    elif period == "annual":
        start = date(day.year, 1, 1)
        months = 12
    else:
        raise ValueError(f"unknown period {period!r}; choose one of {', '.join(PERIODS)}")
    return start, _add_months(start, months) - timedelta(days=1)


def previous_periods(period: str, day: date, count: int) -> list[tuple[date, date]]:
    """The ``count`` complete periods before the one containing ``day``, most recent first."""
    out = []
    start, _ = period_bounds(period, day)
    for _ in range(count):
        start, end = period_bounds(period, start - timedelta(days=1))
        out.append((start, end))
    return out


def period_label(period: str, start: date) -> str:
    if period == "monthly":
        return f"{start:%Y-%m}"
    if period == "quarterly":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# ---------------------------------------------------------------------------------------------------------
# Evaluation


def auto_amount(period_totals: Sequence[Decimal]) -> Decimal | None:
    """The auto-adjusted amount: the average of the given complete periods' actual spend, in cents.

    None when there is no period or the average is not positive (the configured amount then stands)."""
    if not period_totals:
        return None
    average = quantize_money(sum(period_totals, Decimal(0)) / len(period_totals))
    return average if average > 0 else None


def breach_probability(actual: float, remainder: float, sd: float, amount: float, nonnegative: bool) -> float:
    """P(actual + R > amount), R ~ Normal(remainder, sd), floored at 0 when ``nonnegative``."""
    gap = amount - actual
    if gap < 0:
        return 1.0
    if nonnegative and gap == 0:
        # R >= 0 but R > 0 only with the normal's mass above 0.
        return float(norm.sf(0.0, loc=remainder, scale=sd)) if sd > 0 else float(remainder > 0)
    if sd <= 0:
        return float(remainder > gap)
    return float(norm.sf(gap, loc=remainder, scale=sd))


def evaluate_projection(
    projection: SpendProjection,
    *,
    amount: Decimal,
    thresholds: Sequence[Threshold] = (),
    at_risk_probability: float = 0.5,
) -> BudgetEvaluation:
    """A budget's state from the projection of its scope over its period (``project_spend``)."""
    if amount <= 0:
        raise ValueError(f"budget amount must be positive, got {amount}")
    actual, forecast = projection.actual, projection.total
    probability = breach_probability(
        float(actual), projection.remainder, projection.sd, float(amount), projection.nonnegative
    )
    if actual > amount:
        status = "breached"
    elif probability >= at_risk_probability:
        status = "at_risk"
    else:
        status = "ok"
    crossed = tuple(t for t in thresholds if (actual if t.kind == "actual" else forecast) >= limit(amount, t))
    return BudgetEvaluation(
        period_start=projection.period_start,
        period_end=projection.period_end,
        as_of=projection.as_of,
        amount=amount,
        actual=actual,
        forecast=forecast,
        lower=dict(projection.lower),
        upper=dict(projection.upper),
        forecast_sd=projection.sd,
        probability_of_breach=probability,
        status=status,
        crossed=crossed,
        days_elapsed=projection.days_elapsed,
        days_total=projection.days_total,
        model=projection.model,
    )


def evaluate_budget(
    *,
    daily: Mapping[date, Decimal],
    amount: Decimal,
    period: str,
    today: date,
    as_of: date | None,
    thresholds: Sequence[Threshold] = (),
    at_risk_probability: float = 0.5,
) -> BudgetEvaluation:
    """Evaluate one budget for the period containing ``today``.

    ``daily``: the scoped cost per day (days without an entry cost 0 once the scope's first entry is seen),
    covering at least [history_start(period_start, as_of), as_of]. ``as_of``: the last day with data for the
    organization (None when it has none); days after it are forecast (``project_spend``). A scope with no cost
    forecasts 0 with no spread.
    """
    if amount <= 0:
        raise ValueError(f"budget amount must be positive, got {amount}")
    period_start, period_end = period_bounds(period, today)
    projection = project_spend(daily, period_start=period_start, period_end=period_end, as_of=as_of, levels=LEVELS)
    return evaluate_projection(
        projection, amount=amount, thresholds=thresholds, at_risk_probability=at_risk_probability
    )


def limit(amount: Decimal, threshold: Threshold) -> Decimal:
    """The spend at which ``threshold`` is reached."""
    return amount * threshold.percent / Decimal(100)
