"""The one error the importers raise on bad input. It names the file, the row and the field."""

from __future__ import annotations


class PriceImportError(Exception):
    """Bad input: the catalog cannot be imported as it is.

    ``row`` is the 1-based data row (the header and, in AWS CSV files, the 5-line preamble are not
    counted; in JSON files, the 1-based position of the item or price dimension, see each importer).
    ``str()`` reads ``"file X, row N, field F: message"``, leaving out the parts that are unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.field = field
        super().__init__(message)

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def __reduce__(self):  # picklable (Celery results, multiprocessing) with its keyword arguments
        return (_rebuild, (self.message, self.file, self.row, self.field))


def _rebuild(message: str, file: str | None, row: int | None, field: str | None) -> PriceImportError:
    return PriceImportError(message, file=file, row=row, field=field)
