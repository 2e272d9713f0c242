"""python manage.py carbon_regions --org SLUG [--start] [--end] [--at] [--regions R,...] [--top N]
[--pareto N] [--carbon-price USD_PER_KG | --carbon-cap KG] [--format table|json]

Carbon-aware region moves for region-movable workloads (EC2 compute): each alternative region's real
on-demand cost and its CCF carbon, against where the workload runs now; optionally the cost-vs-carbon Pareto
front over all workloads, and the placement under a carbon price or cap.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.carbon.calc import Coefficients
from finops.carbon.management.commands._common import day_range, organization_or_exit, parse_day
from finops.carbon.selectors import Alternative, MovableWorkload, carbon_region_alternatives
from finops.carbon.services import coefficient_set_current
from finops.carbon.tradeoff import RegionOption, TradeoffError, Workload, pareto_front, solve_placement
from finops.core.amounts import money_str, money_text


def _num(value: float | None, places: int = 6) -> str | None:
    return None if value is None else money_str(Decimal(f"{value:.{places}f}"))


def _alternative(a: Alternative) -> dict:
    return {
        "region": a.region,
        "on_demand_hourly": money_str(a.on_demand_hourly),
        "cost": money_text(a.cost),
        "cost_delta": money_text(a.cost_delta),
        "cost_delta_pct": _num(a.cost_delta_pct, 2),
        "kgco2e": _num(a.kgco2e),
        "carbon_delta": _num(a.carbon_delta),
        "carbon_delta_pct": _num(a.carbon_delta_pct, 2),
    }


def _workload(w: MovableWorkload, top: int) -> dict:
    lower = [a for a in w.alternatives if a.carbon_delta < 0]
    cheapest_lower = min(lower, key=lambda a: (a.cost, a.kgco2e), default=None)
    return {
        "workload": w.name,
        "sub_account": w.sub_account_id,
        "region": w.region_id,
        "instance_type": w.instance_type,
        "instance_hours": _num(w.instance_hours),
        "on_demand_hourly": money_str(w.current_on_demand_hourly) if w.current_on_demand_hourly else None,
        "cost": money_text(w.current_cost),
        "kgco2e": _num(w.current_kgco2e),
        "alternatives": [_alternative(a) for a in w.alternatives[:top]],
        "lowest_carbon": _alternative(w.alternatives[0]) if lower else None,
        "cheapest_lower_carbon": _alternative(cheapest_lower) if cheapest_lower else None,
    }


def _tradeoff_workloads(workloads: list[MovableWorkload]) -> list[Workload]:
    out = []
    for w in workloads:
        if w.current_on_demand_hourly is None or not w.instance_hours:
            continue
        hours = w.instance_hours
        options = [RegionOption(w.region_id, float(w.current_on_demand_hourly), w.current_kgco2e / hours)]
        options += [RegionOption(a.region, float(a.on_demand_hourly), a.kgco2e / hours) for a in w.alternatives]
        out.append(Workload(w.name, (w.instance_hours,), tuple(options), current_region=w.region_id))
    return out


class Command(BaseCommand):
    help = "Region moves for movable workloads with their cost and carbon deltas; optional Pareto front."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--start", type=str, help="first day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--end", type=str, help="last day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--at", type=str, help="price date, YYYY-MM-DD (default: --end, else today)")
        parser.add_argument(
            "--regions", type=str, help="comma-separated candidate regions (default: all with a grid factor)"
        )
        parser.add_argument("--top", type=int, default=5, help="alternatives listed per workload (default 5)")
        parser.add_argument("--pareto", type=int, default=0, help="trace a cost-vs-carbon front with N caps (>= 2)")
        parser.add_argument("--carbon-price", type=float, help="USD per kgCO2e: minimise cost + price x kg")
        parser.add_argument("--carbon-cap", type=float, help="kgCO2e: cheapest placement within this total")
        parser.add_argument("--format", default="table", choices=["table", "json"])

    def handle(self, *args, **options) -> None:
        organization = organization_or_exit(options["org"])
        start, end = day_range(options)
        at_day = parse_day(options["at"], "at")
        if options["top"] < 1:
            raise CommandError("--top must be at least 1", returncode=2)
        if options["pareto"] and options["pareto"] < 2:
            raise CommandError("--pareto needs at least 2 points", returncode=2)
        if options["carbon_price"] is not None and options["carbon_cap"] is not None:
            raise CommandError("give --carbon-price or --carbon-cap, not both", returncode=2)
        coefficient_set = coefficient_set_current()
        coefficients = Coefficients.from_dict(coefficient_set.data)
        regions = [r.strip() for r in options["regions"].split(",") if r.strip()] if options["regions"] else None
        unknown = [r for r in regions or [] if r not in coefficients.grid.get("aws", {})]
        if unknown:
            raise CommandError(f"--regions: no grid factor for {', '.join(unknown)}", returncode=2)
        at = datetime.combine(at_day, time(), UTC) if at_day else None
        workloads = carbon_region_alternatives(
            organization=organization, coefficients=coefficients, start=start, end=end, at=at, regions=regions
        )
        payload: dict = {
            "coefficients": coefficient_set.version,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "workloads": [_workload(w, options["top"]) for w in workloads],
        }
        model = _tradeoff_workloads(workloads)
        try:
            if options["pareto"] and model:
                payload["pareto"] = [
                    {
                        "cost": money_text(Decimal(f"{p.cost:.6f}")),
                        "kgco2e": _num(p.kgco2e),
                        "cost_pct_vs_cost_optimal": _num(p.cost_pct_vs_cost_optimal, 3),
                        "carbon_pct_vs_cost_optimal": _num(p.carbon_pct_vs_cost_optimal, 3),
                        "summary": p.summary(),
                        "moves": {k: v for k, v in p.regions.items() if v != k.split("/")[1]},
                    }
                    for p in pareto_front(model, points=options["pareto"])
                ]
            if (options["carbon_price"] is not None or options["carbon_cap"] is not None) and model:
                placement = solve_placement(
                    model, carbon_price=options["carbon_price"] or 0.0, carbon_cap=options["carbon_cap"]
                )
                payload["placement"] = {
                    "carbon_price": options["carbon_price"],
                    "carbon_cap": options["carbon_cap"],
                    "cost": money_text(Decimal(f"{placement.cost:.6f}")),
                    "kgco2e": _num(placement.kgco2e),
                    "moves": {k: v for k, v in placement.regions.items() if v != k.split("/")[1]},
                }
        except TradeoffError as error:
            raise CommandError(str(error), returncode=2) from error
        if options["format"] == "json":
            self.stdout.write(json.dumps(payload))
            return
        if not workloads:
            self.stdout.write("No movable compute in the carbon rollup for that range (run carbon_recompute?).")
            return
        for w in payload["workloads"]:
            self.stdout.write(
                f"{w['workload']}: {w['instance_hours']} instance-hours, ${w['cost']} on demand, {w['kgco2e']} kgCO2e"
            )
            for a in w["alternatives"]:
                self.stdout.write(
                    f"    {a['region']:<16} cost {a['cost_delta']:>12} ({a['cost_delta_pct']}%)  "
                    f"carbon {a['carbon_delta']:>14} kg ({a['carbon_delta_pct']}%)"
                )
        for p in payload.get("pareto", []):
            self.stdout.write(f"pareto: ${p['cost']}  {p['kgco2e']} kgCO2e  {p['summary']}")
        if "placement" in payload:
            self.stdout.write(f"placement: ${payload['placement']['cost']}  {payload['placement']['kgco2e']} kgCO2e")
