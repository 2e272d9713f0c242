"""The one error the importers raise on bad input. It names the file, the row and the field."""

from __future__ import annotations

from finops.core.inputs import InputError


class PriceImportError(InputError):
    """Bad input: the catalog cannot be imported as it is.

    ``row`` is the 1-based data row (the header and, in AWS CSV files, the 5-line preamble are not
    counted; in JSON files, the 1-based position of the item or price dimension, see each importer).
    ``str()`` reads ``"file X, row N, field F: message"``, leaving out the parts that are unknown.
    """

    part_label = "field"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, file=file, row=row, part=field)

    @property
    def field(self) -> str | None:
        return self.part
