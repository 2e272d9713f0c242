"""CSV that is safe to open in a spreadsheet.

A text cell that starts with ``= + - @`` (or a tab or carriage return) is run as a formula by Excel, LibreOffice
and Google Sheets: a tag value such as ``=HYPERLINK(...)`` in an export would become a live link or a command.
Following OWASP's rule, such a cell is written with a leading apostrophe, which spreadsheets show as text.
Numbers, negative amounts included, stay numbers. The API's JSON keeps the raw values.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """``value``, or, for text a spreadsheet would run as a formula, the same text prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SpreadsheetSafeWriter:
    """``csv.writer`` whose every cell goes through ``spreadsheet_cell``."""

    def __init__(self, stream: Any, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([spreadsheet_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
