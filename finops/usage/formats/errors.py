"""Errors raised by the pure parsers. They name the file, row and column so a user can fix the input."""

from __future__ import annotations

from finops.core.inputs import InputError


class IngestError(InputError):
    """Bad input: the file cannot be ingested as it is. Nothing is written when this is raised."""

    part_label = "column"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message, file=file, row=row, part=column)

    @property
    def column(self) -> str | None:
        return self.part


class UnknownFormatError(IngestError):
    """The header matches no known billing export format."""


class TooLargeError(IngestError):
    """The input is over a configured size limit (an upload, or what a compressed file expands to)."""
