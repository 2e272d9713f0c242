"""Errors raised by the pure parsers. They name the file, row and column so a user can fix the input."""

from __future__ import annotations


class IngestError(Exception):
    """Bad input: the file cannot be ingested as it is. Nothing is written when this is raised."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class UnknownFormatError(IngestError):
    """The header matches no known billing export format."""
