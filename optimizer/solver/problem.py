"""Commitment-mix problem: frozen dataclasses and JSON parsing with validation errors that name the field.

Pure module: no Django. The JSON shape (PROBLEM.json)::

    {"hours": H,
     "skus": [{"id": "m5.large", "on_demand": 0.096, "spot": 0.036, "spot_max_share": 0.2}],
     "demand": {"m5.large": [H non-negative numbers]},
     "reservations": [{"id": "m5-1y-nu", "hourly_cost": 0.060, "upfront": 0.0, "covers": {"m5.large": 1}}],
     "savings_plans": [{"id": "compute-1y-nu", "rates": {"m5.large": 0.068}}],
     "upfront_budget": null}

``covers[k]`` is the number of reservation units one unit of SKU ``k`` consumes; ``rates[k]`` is the
commitment dollars per hour one unit of ``k`` consumes under the plan. A SKU missing from ``demand`` has
zero demand. ``spot`` absent means no spot; when ``spot`` is given, ``spot_max_share`` is required.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


class ProblemError(ValueError):
    """An invalid problem; ``field`` is the JSON path of the offending value (e.g. ``demand["m5.large"][3]``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Sku:
    id: str
    on_demand: float
    spot: float | None = None
    spot_max_share: float = 0.0


@dataclass(frozen=True)
class Reservation:
    id: str
    hourly_cost: float
    covers: Mapping[str, float]
    upfront: float = 0.0


@dataclass(frozen=True)
class SavingsPlan:
    id: str
    rates: Mapping[str, float]


@dataclass(frozen=True)
class Problem:
    hours: int
    skus: tuple[Sku, ...]
    demand: Mapping[str, tuple[float, ...]]  # every SKU id present, length ``hours``
    reservations: tuple[Reservation, ...] = ()
    savings_plans: tuple[SavingsPlan, ...] = ()
    upfront_budget: float | None = None

    def sku(self, sku_id: str) -> Sku:
        for sku in self.skus:
            if sku.id == sku_id:
                return sku
        raise KeyError(sku_id)

    def all_on_demand_cost(self) -> float:
        """Cost of serving every unit of demand at the on-demand price."""
        return sum(sku.on_demand * sum(self.demand[sku.id]) for sku in self.skus)

    def offer_ids(self) -> set[str]:
        return {r.id for r in self.reservations} | {s.id for s in self.savings_plans}

    def restricted(self, ids: set[str]) -> Problem:
        """The same problem with only the offers in ``ids`` (an unbought offer changes no cost)."""
        return replace(
            self,
            reservations=tuple(r for r in self.reservations if r.id in ids),
            savings_plans=tuple(s for s in self.savings_plans if s.id in ids),
        )

    def to_dict(self) -> dict[str, Any]:
        """The PROBLEM.json document of this problem (:func:`parse_problem` reads it back to an equal one)."""
        skus = []
        for sku in self.skus:
            row: dict[str, Any] = {"id": sku.id, "on_demand": sku.on_demand}
            if sku.spot is not None:
                row |= {"spot": sku.spot, "spot_max_share": sku.spot_max_share}
            skus.append(row)
        return {
            "hours": self.hours,
            "skus": skus,
            "demand": {sku_id: list(series) for sku_id, series in self.demand.items()},
            "reservations": [
                {"id": r.id, "hourly_cost": r.hourly_cost, "upfront": r.upfront, "covers": dict(r.covers)}
                for r in self.reservations
            ],
            "savings_plans": [{"id": s.id, "rates": dict(s.rates)} for s in self.savings_plans],
            "upfront_budget": self.upfront_budget,
        }


def _number(value: Any, field: str, *, minimum: float | None = 0.0, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProblemError(field, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ProblemError(field, f"must be finite, got {value!r}")
    if minimum is not None and number < minimum:
        raise ProblemError(field, f"must be >= {minimum:g}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ProblemError(field, f"must be <= {maximum:g}, got {value!r}")
    return number


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProblemError(field, f"must be an object, got {type(value).__name__}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProblemError(field, f"must be a list, got {type(value).__name__}")
    return value


def _id(value: Any, field: str, seen: set[str]) -> str:
    if not isinstance(value, str) or not value:
        raise ProblemError(field, f"must be a non-empty string, got {value!r}")
    if value in seen:
        raise ProblemError(field, f"duplicate id {value!r}")
    seen.add(value)
    return value


def _sku_map(value: Any, field: str, sku_ids: set[str]) -> dict[str, float]:
    mapping = _object(value, field)
    if not mapping:
        raise ProblemError(field, "must name at least one SKU")
    out = {}
    for sku_id, amount in mapping.items():
        if sku_id not in sku_ids:
            raise ProblemError(f"{field}[{sku_id!r}]", f"unknown SKU {sku_id!r}")
        out[sku_id] = _number(amount, f"{field}[{sku_id!r}]")
        if out[sku_id] <= 0:
            raise ProblemError(f"{field}[{sku_id!r}]", f"must be > 0, got {amount!r}")
    return out


def parse_problem(data: Any) -> Problem:
    """Validate a decoded PROBLEM.json document and return a :class:`Problem`; raise :class:`ProblemError`."""
    root = _object(data, "problem")
    unknown = set(root) - {"hours", "skus", "demand", "reservations", "savings_plans", "upfront_budget"}
    if unknown:
        raise ProblemError(sorted(unknown)[0], "unknown key")
    hours = root.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
        raise ProblemError("hours", f"must be a positive integer, got {hours!r}")

    skus: list[Sku] = []
    seen: set[str] = set()
    for i, raw in enumerate(_list(root.get("skus"), "skus")):
        raw = _object(raw, f"skus[{i}]")
        sku_id = _id(raw.get("id"), f"skus[{i}].id", seen)
        on_demand = _number(raw.get("on_demand"), f"skus[{i}].on_demand")
        spot = raw.get("spot")
        share = 0.0
        if spot is not None:
            spot = _number(spot, f"skus[{i}].spot")
            if "spot_max_share" not in raw:
                raise ProblemError(f"skus[{i}].spot_max_share", "required when spot is given")
            share = _number(raw["spot_max_share"], f"skus[{i}].spot_max_share", maximum=1.0)
        skus.append(Sku(sku_id, on_demand, spot, share))
    if not skus:
        raise ProblemError("skus", "must list at least one SKU")
    sku_ids = {sku.id for sku in skus}

    demand_raw = _object(root.get("demand"), "demand")
    demand: dict[str, tuple[float, ...]] = {sku.id: (0.0,) * hours for sku in skus}
    for sku_id, series in demand_raw.items():
        if sku_id not in sku_ids:
            raise ProblemError(f"demand[{sku_id!r}]", f"unknown SKU {sku_id!r}")
        series = _list(series, f"demand[{sku_id!r}]")
        if len(series) != hours:
            raise ProblemError(f"demand[{sku_id!r}]", f"must have {hours} values (hours), got {len(series)}")
        demand[sku_id] = tuple(_number(v, f"demand[{sku_id!r}][{h}]") for h, v in enumerate(series))

    reservations = []
    seen = set()
    for i, raw in enumerate(_list(root.get("reservations", []), "reservations")):
        raw = _object(raw, f"reservations[{i}]")
        reservations.append(
            Reservation(
                id=_id(raw.get("id"), f"reservations[{i}].id", seen),
                hourly_cost=_number(raw.get("hourly_cost"), f"reservations[{i}].hourly_cost"),
                covers=_sku_map(raw.get("covers"), f"reservations[{i}].covers", sku_ids),
                upfront=_number(raw.get("upfront", 0.0), f"reservations[{i}].upfront"),
            )
        )

    plans = []
    seen = set()
    for i, raw in enumerate(_list(root.get("savings_plans", []), "savings_plans")):
        raw = _object(raw, f"savings_plans[{i}]")
        plans.append(
            SavingsPlan(
                id=_id(raw.get("id"), f"savings_plans[{i}].id", seen),
                rates=_sku_map(raw.get("rates"), f"savings_plans[{i}].rates", sku_ids),
            )
        )

    budget = root.get("upfront_budget")
    if budget is not None:
        budget = _number(budget, "upfront_budget")
    return Problem(hours, tuple(skus), demand, tuple(reservations), tuple(plans), budget)


def load_problem(path: str | Path) -> Problem:
    """Read and validate PROBLEM.json; invalid JSON is reported as a :class:`ProblemError` on ``problem``."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ProblemError("problem", f"invalid JSON: {exc}") from exc
    return parse_problem(data)
