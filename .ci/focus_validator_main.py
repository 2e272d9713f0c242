"""focus-validator 1.0.0's command line, with one change: its CSV loader reads as text the columns its own rules
declare as strings. As shipped it calls ``pandas.read_csv`` with type guessing, so a column of all-digit ids (AWS
account ids, an Azure EA enrollment number) is read as integers and fails ``BillingAccountId_IsString`` even though
the CSV holds them as text; such a type rule cannot be skipped through ``--override-file`` either (the override marks
the rule skipped, but pandera still checks the column's type). Every rule still runs, unchanged.

Run by .ci/focus-validate with the validator's virtualenv Python, from its site-packages folder."""

from __future__ import annotations

import os
import sys

import focus_validator
import pandas as pd
import yaml
from focus_validator import main as validator_main
from focus_validator.data_loaders import csv_data_loader


def _string_columns(version: str) -> set[str]:
    rules = os.path.join(os.path.dirname(focus_validator.__file__), "rules", "version_sets", version)
    columns = set()
    for name in os.listdir(rules):
        with open(os.path.join(rules, name)) as handle:
            rule = yaml.safe_load(handle)
        check = rule.get("check") if isinstance(rule, dict) else None
        if isinstance(check, dict) and check.get("data_type") == "string":
            columns.add(rule["column_id"])
    return columns


def _load_with_string_columns(columns: set[str]):
    def load(self) -> pd.DataFrame:
        header = pd.read_csv(self.data_filename, nrows=0).columns
        return pd.read_csv(self.data_filename, dtype={name: str for name in header if name in columns})

    return load


if __name__ == "__main__":
    version = sys.argv[sys.argv.index("--validate-version") + 1] if "--validate-version" in sys.argv else "1.0"
    csv_data_loader.CSVDataLoader.load = _load_with_string_columns(_string_columns(version))
    sys.exit(validator_main.main())
