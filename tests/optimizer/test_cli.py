"""The ``python -m optimizer solve`` command, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_KEYS = {
    "status", "objective", "bound", "gap", "reservations", "savings_plans", "breakdown", "all_on_demand",
    "savings_pct", "utilization", "build_seconds", "solve_seconds", "solver",
}  # fmt: skip
PROBLEM = {
    "hours": 4,
    "skus": [{"id": "a", "on_demand": 0.1}],
    "demand": {"a": [2, 2, 1, 0]},
    "reservations": [{"id": "r", "hourly_cost": 0.06, "covers": {"a": 1}}],
    "savings_plans": [],
    "upfront_budget": None,
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_cli_json_has_contract_keys(tmp_path, solver):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(PROBLEM))
    proc = run("solve", str(path), "--json", "--solver", solver, "--time-limit", "30")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # stdout is only the JSON: HiGHS's banner goes to stderr
    assert not CONTRACT_KEYS - set(result)
    assert set(result["breakdown"]) == {"reservations", "savings_plans", "spot", "on_demand"}
    assert result["status"] == "optimal"
    assert result["solver"] == solver
    assert result["reservations"] == {"r": 1}
    assert result["objective"] == pytest.approx(0.44)  # hand-computed in test_solver.py


def test_cli_text_output(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(PROBLEM))
    proc = run("solve", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "status       optimal" in proc.stdout
    assert "r=1" in proc.stdout


def test_cli_invalid_problem(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps({**PROBLEM, "demand": {"a": [1, -2, 0, 0]}}))
    proc = run("solve", str(path), "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "demand['a'][1]" in proc.stderr and ">= 0" in proc.stderr


def test_cli_missing_file(tmp_path):
    proc = run("solve", str(tmp_path / "nope.json"))
    assert proc.returncode == 2
    assert "nope.json" in proc.stderr


def test_cli_weighted_formulation(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(PROBLEM))
    proc = run("solve", str(path), "--json", "--formulation", "weighted")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "optimal"
    assert result["objective"] == pytest.approx(0.44)


def test_cli_weighted_with_cbc_is_an_error(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(PROBLEM))
    proc = run("solve", str(path), "--formulation", "weighted", "--solver", "cbc")
    assert proc.returncode == 2
    assert "needs --solver highs" in proc.stderr
