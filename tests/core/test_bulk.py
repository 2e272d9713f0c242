"""finops.core.bulk: what the COPY payload says about zoned timestamps, and that the database reads it back
as the same instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest
from django.db import connection

from finops.core.bulk import _csv_bytes, bulk_insert, create_staging_table

INSTANTS = [
    datetime(2024, 9, 1, tzinfo=UTC),
    datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
    None,
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


def test_zoned_timestamps_are_written_as_utc_text_and_nulls_stay_empty():
    table = pa.table({"at": pa.array(INSTANTS, pa.timestamp("us", tz="UTC")), "n": [1, 2, 3, 4]})
    expected = [
        f'"{value:%Y-%m-%d %H:%M:%S.%f}Z","{number}"' if value else f',"{number}"'
        for number, value in enumerate(INSTANTS, start=1)
    ]
    assert _csv_bytes(table).decode().splitlines() == expected


def test_a_zone_other_than_utc_is_written_as_the_same_instant_in_utc():
    paris = timezone(timedelta(hours=1))
    local = datetime(2024, 1, 15, 9, 30, tzinfo=paris)
    table = pa.table({"at": pa.array([local], pa.timestamp("us", tz="Europe/Paris"))})
    assert _csv_bytes(table) == b'"2024-01-15 08:30:00.000000Z"\n'


@pytest.mark.django_db
def test_bulk_written_timestamps_read_back_as_the_same_instants():
    """PostgreSQL: the COPY payload, whatever the session's zone. SQLite: Django's naive-UTC text."""
    table = pa.table({"at": pa.array(INSTANTS, pa.timestamp("us", tz="UTC")), "n": pa.array([1, 2, 3, 4], pa.int64())})
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            name = create_staging_table("bulk_instants", table.schema)
            bulk_insert(name, table)
            cursor.execute(f"SELECT at FROM {name} ORDER BY n")
            read = [None if row[0] is None else datetime.fromisoformat(row[0]).replace(tzinfo=UTC) for row in cursor]
            assert read == INSTANTS
            return
        cursor.execute("SET TIME ZONE 'America/New_York'")  # the payload must not depend on the session's zone
        try:
            name = create_staging_table("bulk_instants", table.schema)
            bulk_insert(name, table)
            # Epoch seconds: Django's reader takes the session's zone to be UTC, so read around it.
            cursor.execute(f"SELECT extract(epoch FROM at)::text FROM {name} ORDER BY n")
            read = [None if row[0] is None else Decimal(row[0]) for row in cursor.fetchall()]
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
    assert read == [None if value is None else Decimal(f"{value.timestamp():.6f}") for value in INSTANTS]


def test_a_table_whose_first_chunk_is_empty_is_written_as_its_rows_only():
    empty = pa.record_batch({"n": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    rows = pa.record_batch({"n": pa.array([1, 2], pa.int64()), "s": pa.array(["a", None], pa.string())})
    table = pa.Table.from_batches([empty, rows, empty])
    assert _csv_bytes(table) == b'"1","a"\n"2",\n'
    assert _csv_bytes(pa.Table.from_batches([empty])) == b""
