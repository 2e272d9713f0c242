"""Command line: ``python -m optimizer solve PROBLEM.json [--time-limit S] [--solver highs|cbc] [--json]``
(also ``--formulation decomposed|plain|weighted`` and ``--gap``).

Exit codes: 0 a plan was produced (see its status), 2 invalid problem or arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from optimizer.solver import FORMULATIONS, SOLVERS, ProblemError, load_problem, solve


def _text(result: dict) -> str:
    lines = [
        f"status       {result['status']} (solver {result['solver']}: {result['solver_status']})",
        f"objective    {result['objective']:.4f}",
        f"bound        {result['bound']:.4f}" if result["bound"] is not None else "bound        none proven",
        f"gap          {result['gap']:.4%}" if result["gap"] is not None else "gap          unknown",
        f"all on-demand {result['all_on_demand']:.4f}  savings {result['savings_pct']:.2f}%",
        "reservations " + ", ".join(f"{k}={v}" for k, v in result["reservations"].items()),
        "savings plans " + ", ".join(f"{k}={v:.6f}/h" for k, v in result["savings_plans"].items()),
        "breakdown    " + ", ".join(f"{k}={v:.4f}" for k, v in result["breakdown"].items()),
        f"build {result['build_seconds']:.3f}s  solve {result['solve_seconds']:.3f}s",
    ]
    lines += [f"note: {note}" for note in result["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer", description="FinOps commitment-mix optimizer")
    commands = parser.add_subparsers(dest="command", required=True)
    solve_cmd = commands.add_parser("solve", help="solve a PROBLEM.json")
    solve_cmd.add_argument("problem", help="path to PROBLEM.json")
    solve_cmd.add_argument("--time-limit", type=float, default=None, help="solver time limit in seconds")
    solve_cmd.add_argument("--solver", choices=SOLVERS, default=None, help="default: highs when available")
    solve_cmd.add_argument(
        "--formulation",
        choices=FORMULATIONS,
        default="decomposed",
        help="decomposed (default): cutting planes on the purchases, hourly costs in numpy (highs; with cbc it "
        "falls back to plain); plain: one PuLP variable set per SKU-hour; weighted: merge identical hours (highs)",
    )
    solve_cmd.add_argument("--gap", type=float, default=0.001, help="relative optimality tolerance (0.001)")
    solve_cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    try:
        problem = load_problem(args.problem)
    except (ProblemError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.formulation == "weighted" and args.solver == "cbc":
        parser.error("--formulation weighted needs --solver highs")
    result = solve(  # silences the HiGHS banner itself: --json stays one document
        problem, time_limit=args.time_limit, solver=args.solver, gap=args.gap, formulation=args.formulation
    ).to_dict()
    print(json.dumps(result, indent=2) if args.json else _text(result))
    return 0
