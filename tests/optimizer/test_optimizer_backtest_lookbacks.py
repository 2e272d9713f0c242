"""Backtest for several lookbacks against one held-back window (service and ``backtest_commitments``): the same
numbers as a run's own backtest for the same windows, regret against the window's hindsight optimum."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from optimizer.services import (
    ParametersError,
    commitment_backtest_lookbacks,
    optimization_run_create,
    optimization_run_execute,
)
from tests.optimizer.optruns_helpers import DAYS
from tests.optimizer.test_optimizer_runs import _assert_money_strings

pytestmark = pytest.mark.django_db


def test_lookbacks_match_the_runs_own_backtest(org):
    # The fixture has 14 days: a 7-day lookback before the last 7 days fits, a 30-day one does not.
    result = commitment_backtest_lookbacks(org, {}, lookbacks=(7, 30), test_days=7)
    run = optimization_run_execute(
        optimization_run_create(organization=org, parameters={"lookback_days": 7, "backtest": True}, enqueue=False)
    )
    assert run.status == "succeeded", run.error
    seven, thirty = result["lookbacks"]
    assert thirty == {
        "lookback_hours": 720,
        "error": f"not enough history: {(DAYS - 7) * 24} hours before the test window",
    }
    assert result["test_window"]["start"] == run.backtest["test_window"]["start"]
    assert seven["train_hours"] == 168 and result["test_hours"] == 168
    # The run reads each window's demand on its own; the lookbacks slice one read: same costs to the cent.
    stored = {r["strategy"]: r for r in run.backtest["rows"]}
    for row in seven["rows"]:
        assert abs(Decimal(str(row["test"]["cost"])) - Decimal(stored[row["strategy"]]["test"]["cost"])) <= Decimal(
            "0.01"
        )
        assert abs(Decimal(str(row["regret"])) - Decimal(stored[row["strategy"]]["regret"])) <= Decimal("0.01")
        assert row["regret"] >= -Decimal(str(result["hindsight"]["gap"])) * result["hindsight"]["cost"] - Decimal(
            "0.01"
        )
    assert abs(Decimal(str(result["hindsight"]["cost"])) - Decimal(run.backtest["hindsight"]["cost"])) <= Decimal(
        "0.01"
    )


@pytest.mark.parametrize(
    ("lookbacks", "test_days", "field"),
    [((14,), 7, "lookbacks"), ((), 7, "lookbacks"), ((7,), 0, "test_days"), ((7,), 365, "test_days")],
)
def test_bad_lookbacks_are_named(org, lookbacks, test_days, field):
    with pytest.raises(ParametersError) as error:
        commitment_backtest_lookbacks(org, {}, lookbacks=lookbacks, test_days=test_days)
    assert set(error.value.errors) == {field}


def test_command_prints_one_table_and_json(org):
    out = StringIO()
    call_command("backtest_commitments", "--org", "acme", "--lookbacks", "7", "--test-days", "7", stdout=out)
    text = out.getvalue()
    assert "| lookback | strategy | test cost |" in text
    for name in ("optimizer", "p10_reserved", "console_savings_plan"):
        assert f"| 7 d | {name} |" in text
    out = StringIO()
    call_command("backtest_commitments", "--org", "acme", "--lookbacks", "7", "--test-days", "7", "--json", stdout=out)
    document = json.loads(out.getvalue())
    rows = document["lookbacks"][0]["rows"]
    assert [r["strategy"] for r in rows] == ["optimizer", "p10_reserved", "console_savings_plan"]
    assert {"hindsight_cost", "hindsight_gap", "regret", "regret_pct", "regret_max", "savings_vs"} <= set(rows[0])
    _assert_money_strings(document)  # money as decimal strings, as in a run's backtest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nope"], "unknown organization 'nope'"),
        (["--org", "acme", "--lookbacks", "7,x"], "lookbacks"),
        (["--org", "acme", "--lookbacks", "5"], "lookbacks: each must be one of 7, 30, 60, 90, got \\[5\\]"),
        (["--org", "acme", "--term", "2y"], "term: must be 1y or 3y"),
    ],
)
def test_command_bad_input_exits_2(org, args, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("backtest_commitments", *args, stdout=StringIO())
    assert error.value.returncode == 2
