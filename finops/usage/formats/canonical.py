"""Assembly of a canonical chunk from converted columns: nulls for what a source lacks, the extras
JSON, and the check that REQUIRED_VALUES columns have no nulls.

Pure module: no Django imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from finops.usage.formats.convert import Where, first_null, json_object_columns
from finops.usage.formats.schema import CANONICAL_SCHEMA, FOCUS_NAMES, REQUIRED_VALUES


def canonical_table(
    num_rows: int,
    columns: Mapping[str, pa.Array],
    extra_names: Sequence[str],
    extra_values: Sequence[pa.Array],
    sources: Mapping[str, str],
    where: Where,
) -> pa.Table:
    """A table with exactly CANONICAL_SCHEMA.

    ``columns``: converted canonical columns (absent ones become null); ``extra_names``/``extra_values``:
    the source columns kept in ``extras`` (string arrays); ``sources``: canonical column -> the source
    column it came from, to name in errors.
    """
    for name in REQUIRED_VALUES:
        column = columns.get(name)
        if column is None or column.null_count:
            source = sources.get(name, FOCUS_NAMES.get(name, name))
            if column is None:
                raise where.error("missing value (required)", index=0, column=source)
            raise where.error("missing value (required)", index=first_null(column), column=source)
    arrays = []
    for field in CANONICAL_SCHEMA:
        if field.name == "extras":
            arrays.append(
                json_object_columns(extra_names, extra_values) if extra_names else pa.nulls(num_rows, pa.string())
            )
            continue
        column = columns.get(field.name)
        arrays.append(pa.nulls(num_rows, field.type) if column is None else column)
    return pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA)
