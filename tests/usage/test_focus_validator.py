"""The FinOps Foundation's validator (PyPI focus-validator 1.0.0, FOCUS 1.0 rules) on an export of the FOCUS sample
and a CUR: every rule passes but the ones .ci/focus-validator-overrides.yaml skips, which name pre-release columns
(tests/usage/test_focus_export.py checks the ratified names and the SkuPriceId rule instead).

The validator lives in its own virtualenv (``.ci/focus-validate install``, which `make test` and .ci/run run
first). Without it these tests fail, naming the install command."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from tests import factories
from tests.conftest import CUR_SAMPLE, FOCUS_SAMPLE, ROOT

SCRIPT = ROOT / ".ci" / "focus-validate"
OVERRIDES = ROOT / ".ci" / "focus-validator-overrides.yaml"
VENV = Path(os.environ.get("FINOPS_FOCUS_VENV", ROOT / ".venv-focus"))
RULES_IN_1_0 = 133  # focus-validator 1.0.0's FOCUS 1.0 rule set


def _validator_missing() -> str | None:
    if (VENV / ".installed").exists():
        return None
    return f"FOCUS validator not installed at {VENV} (run .ci/focus-validate install)"


def _results(report: Path) -> dict[str, str]:
    """Rule id -> passed / failed / skipped, from the validator's JUnit report."""
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        rule = case.get("name", "").split(" :: ")[0]
        if case.find("failure") is not None or case.find("error") is not None:
            results[rule] = "failed"
        elif case.find("skipped") is not None:
            results[rule] = "skipped"
        else:
            results[rule] = "passed"
    return results


def _validate(data: Path, report: Path) -> dict[str, str]:
    missing = _validator_missing()
    if missing:
        pytest.fail(f"{missing}; `make test` installs it")
    completed = subprocess.run(
        [str(SCRIPT), str(data), "--output-type", "unittest", "--output-destination", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FINOPS_FOCUS_VENV": str(VENV)},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return _results(report)


@pytest.mark.django_db
def test_the_foundations_validator_passes_the_export(tmp_path):
    factories.ingest_command("validated", FOCUS_SAMPLE, CUR_SAMPLE)
    export = tmp_path / "export.csv"
    call_command("export_focus", str(export), "--org", "validated", "--version", "1.0", stderr=StringIO())
    results = _validate(export, tmp_path / "report.xml")
    skipped = set(yaml.safe_load(OVERRIDES.read_text())["overrides"])
    assert len(results) == RULES_IN_1_0
    assert {rule for rule, result in results.items() if result == "failed"} == set()
    assert {rule for rule, result in results.items() if result == "skipped"} == skipped
    assert sum(result == "passed" for result in results.values()) == RULES_IN_1_0 - len(skipped)


def test_the_validator_fails_the_raw_sample(tmp_path):
    """The check can fail: the sample as published breaks the rules the export normalises."""
    results = _validate(FOCUS_SAMPLE, tmp_path / "report.xml")
    failed = {rule for rule, result in results.items() if result == "failed"}
    assert failed == {
        "BillingPeriodEnd_IsDateTime",
        "BillingPeriodStart_IsDateTime",
        "ChargePeriodEnd_IsDateTime",
        "ChargePeriodStart_IsDateTime",
        "ChargeFrequency_Enum",
        "ContractedCost_NotNull",
    }
