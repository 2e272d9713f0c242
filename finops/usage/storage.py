"""Where line items are stored, and how a delivery's rows replace older ones and old months are pruned.

The ingest, retention and rebuild call the same functions on both databases; only this module differs by vendor.

SQLite: ``usage_lineitem`` is a plain table. A delivery is loaded into it; replacing a slice deletes its rows;
retention deletes the rows of old billing periods.

PostgreSQL: ``usage_lineitem`` is partitioned by RANGE (billing_period_start), one partition per UTC month
(``usage_lineitem_y2026m01``, created on demand), each sub-partitioned by LIST (ingest_job_id), so that one
job table (``usage_lineitem_y2026m01_j42``) holds one delivery's rows of one month; it is partitioned in turn by
LIST (ingest_file_id), one leaf per file (``usage_lineitem_y2026m01_j42_f7``). A file is loaded into leaves made
as plain tables without indexes (COPY, then the indexes are built), which are attached when the delivery is
committed, so nothing is visible until then. The files of one delivery can so be loaded by several processes at
once (each committing its own unattached leaves) and made visible together by one transaction. Replacing the
slices of a job table whose every slice the new delivery restates drops that table; one that also holds slices
staying current (an older delivery covered accounts A and B, the new one only A) has the replaced slice's rows
deleted instead. Job tables of deliveries loaded before files had leaves are plain tables. Retention drops month
partitions.
Default partitions (``usage_lineitem_default`` and ``<month>_default``) take rows written outside the ingest
(the ORM, the demo); replacing their slices deletes rows.

The parent's strong locks (creating a month partition, dropping a leaf) are taken only after the load, so
readers are never blocked for the length of a load, only from the swap to the commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection
from django.db.models import Q

from finops.core.bulk import TableLoader

TABLE = "usage_lineitem"
_MONTH_NAME = re.compile(rf"^{TABLE}_y(\d{{4}})m(\d{{2}})$")
_MONTH_PATTERN = rf"^{TABLE}_y\d{{4}}m\d{{2}}$"  # the same, as a PostgreSQL regular expression
_PARTITION_LOCK = 0x11E1  # advisory-lock namespace of month partition creation
# Line items of one (provider, billing account, billing period) of an organization: what a delivery replaces.
Slice = tuple[str, str, datetime]


def partitioned() -> bool:
    return connection.vendor == "postgresql"


def month_of(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


def month_table(month: date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def leaf_table(month: date, job_id: int) -> str:
    """The job table: one delivery's rows of one month (partitioned by file since files have leaves)."""
    return f"{month_table(month)}_j{job_id}"


def file_leaf_table(month: date, job_id: int, file_id: int) -> str:
    return f"{leaf_table(month, job_id)}_f{file_id}"


# A chunk's rows keep their order (ids follow it: "ingest order") unless its months alternate more often than
# this: then they are grouped by month (order kept within each), as one COPY per run would cost more than the rows.
_MAX_RUNS = 64


def split_by_month(table: pa.Table) -> list[tuple[date, pa.Table]]:
    """The rows of ``table`` per UTC month of their billing period start, as consecutive runs (pure)."""
    if table.num_rows == 0:
        return []
    months = pc.floor_temporal(table["billing_period_start"], unit="month").combine_chunks()
    first, last = pc.min_max(months).values()
    if first == last:
        return [(month_of(first.as_py()), table)]
    changes = pc.indices_nonzero(pc.not_equal(months[1:], months[:-1])).to_numpy() + 1
    if len(changes) < _MAX_RUNS:
        starts = [0, *changes.tolist()]
        ends = [*changes.tolist(), table.num_rows]
        return [(month_of(months[a].as_py()), table.slice(a, b - a)) for a, b in zip(starts, ends, strict=True)]
    return [(month_of(value.as_py()), table.filter(pc.equal(months, value))) for value in pc.unique(months).sort()]


@dataclass
class LineItemWriter:
    """Loads the line items of one delivery's files inside the caller's transaction. ``prepare`` is pure and
    thread-safe (run it ahead in a producer thread); ``load`` feeds the database the rows of ``file_id`` (the
    table's ``ingest_file_id``); ``finish`` ends the load and indexes what was loaded. On PostgreSQL the loaded
    leaves stay detached, invisible to readers, until ``leaves_attach`` (in this transaction or, once it is
    committed, in another one: the files of a delivery loaded by several workers). While a load is under way
    (between the first ``load`` and ``finish``) run no other query on the connection: a COPY is open."""

    job_id: int
    columns: list[str]
    rows: int = 0
    _encoder: TableLoader = field(init=False)
    _loader: TableLoader | None = field(default=None, init=False)
    _leaf: tuple[date, int] | None = field(default=None, init=False)
    _leaves: list[tuple[date, int]] = field(default_factory=list, init=False)
    _partitioned: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._encoder = TableLoader(TABLE, self.columns)
        self._partitioned = partitioned()  # read here: ``prepare`` runs in another thread

    @property
    def leaves(self) -> list[tuple[date, int]]:
        """(month, file id) of every leaf loaded so far."""
        return list(self._leaves)

    def prepare(self, table: pa.Table) -> list[tuple[date, tuple[int, object]]]:
        if not self._partitioned:
            return [(month_of(datetime.min), self._encoder.prepare(table))]
        return [(month, self._encoder.prepare(part)) for month, part in split_by_month(table)]

    def load(self, file_id: int, prepared: Iterable[tuple[date, tuple[int, object]]]) -> None:
        for month, payload in prepared:
            if self._loader is None or (self._partitioned and (month, file_id) != self._leaf):
                self._switch(month, file_id)
            self._loader.load(payload)
            self.rows += payload[0]

    def _switch(self, month: date, file_id: int) -> None:
        """Close the open COPY (one per connection) and open one into the leaf of (``month``, ``file_id``), made
        on first use."""
        self._close()
        target = TABLE
        if self._partitioned:
            target = file_leaf_table(month, self.job_id, file_id)
            if (month, file_id) not in self._leaves:
                _leaf_create(month, self.job_id, file_id)
                self._leaves.append((month, file_id))
        self._leaf = (month, file_id)
        self._loader = TableLoader(target, self.columns).__enter__()

    def _close(self, exc_info: tuple = (None, None, None)) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader.__exit__(*exc_info)

    def finish(self) -> None:
        """End the load and build the loaded leaves' indexes (those of the line-item table), so that attaching
        them later finds the indexes in place instead of building them under the swap's locks."""
        self._close()
        if not self._leaves:
            return
        definitions = _index_definitions()
        with connection.cursor() as cursor:
            for month, file_id in self._leaves:
                leaf = file_leaf_table(month, self.job_id, file_id)
                for number, (method, columns) in enumerate(definitions):
                    cursor.execute(f"CREATE INDEX {leaf}_i{number} ON {leaf} USING {method} ({columns})")

    def abort(self, exc_info: tuple) -> None:
        self._close(exc_info)


def _index_definitions() -> list[tuple[str, str]]:
    """(access method, column list) of each index of the line-item table, as ``pg_get_indexdef`` prints them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass ORDER BY indexrelid",
            [TABLE],
        )
        definitions = []
        for (text,) in cursor.fetchall():
            found = re.search(r" USING (\w+) \((.*)\)$", text)
            if found is None:
                raise RuntimeError(f"unexpected index definition on {TABLE}: {text}")
            definitions.append((found[1], found[2]))
    return definitions


def _columns_sql() -> list[str]:
    """The line-item table's column definitions, read from the catalog rather than with ``LIKE usage_lineitem``,
    which would hold a lock on the parent for the whole load and make other deliveries' swaps wait for it (or
    deadlock with it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [TABLE],
        )
        return [
            f"{name} {kind}{' NOT NULL' if not_null else ''}{f' DEFAULT {default}' if default else ''}"
            for name, kind, not_null, default in cursor.fetchall()
        ]


def _leaf_create(month: date, job_id: int, file_id: int) -> None:
    """A plain table shaped like the line items, without indexes, its CHECK equal to its partition constraint
    (attaching it then skips the scan that would prove it)."""
    leaf = file_leaf_table(month, job_id, file_id)
    with connection.cursor() as cursor:
        # Left over (emptied) by a deleted job whose id a reset sequence handed out again (test databases).
        cursor.execute(f"DROP TABLE IF EXISTS {leaf}")
        bounds = (
            f"billing_period_start >= '{_bound(month)}' AND billing_period_start < '{_bound(_next_month(month))}'"
            f" AND ingest_job_id = {int(job_id)} AND ingest_file_id IS NOT NULL AND ingest_file_id = {int(file_id)}"
        )
        cursor.execute(f"CREATE TABLE {leaf} ({', '.join(_columns_sql())}, CONSTRAINT {leaf}_bounds CHECK ({bounds}))")


def leaves_attach(job_id: int, leaves: Iterable[tuple[date, int]]) -> None:
    """Make loaded leaves (month, file id) of job ``job_id`` part of the line-item table: per month, the job table
    (made here) takes its files' leaves, then joins its month's partition (made when missing). Their indexes
    already match the table's, so nothing is scanned or built. Call it in the transaction that swaps the
    delivery's slices."""
    by_month: dict[date, list[int]] = {}
    for month, file_id in leaves:
        by_month.setdefault(month, []).append(file_id)
    if not by_month:
        return
    columns = _columns_sql()
    for month in sorted(by_month):  # one lock order for every delivery: none waits on another in a cycle
        month_partition_ensure(month)
        job_table = leaf_table(month, job_id)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {job_table}")  # see _leaf_create
            cursor.execute(f"CREATE TABLE {job_table} ({', '.join(columns)}) PARTITION BY LIST (ingest_file_id)")
            for file_id in sorted(by_month[month]):
                cursor.execute(
                    f"ALTER TABLE {job_table} ATTACH PARTITION {file_leaf_table(month, job_id, file_id)} "
                    f"FOR VALUES IN ({int(file_id)})"
                )
            cursor.execute(
                f"ALTER TABLE {month_table(month)} ATTACH PARTITION {job_table} FOR VALUES IN ({int(job_id)})"
            )


def detached_leaves_drop(job_id: int) -> int:
    """Drop the loaded but never attached leaves of job ``job_id`` (its delivery failed, or a file's worker
    committed its load before the delivery was refused). Returns how many were dropped. No-op on SQLite."""
    if not partitioned():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition AND relname ~ %s",
            [rf"^{TABLE}_y\d{{4}}m\d{{2}}_j{int(job_id)}_f\d+$"],
        )
        names = sorted(row[0] for row in cursor.fetchall())
        for name in names:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return len(names)


def month_partition_ensure(month: date) -> None:
    """Create ``month``'s partition (and its default sub-partition) unless it exists. Rows the default partition
    holds for that month (written outside the ingest) move into it."""
    name = month_table(month)
    with connection.cursor() as cursor:
        # Deliveries of other organizations may make the same month at once: one creates it, the others wait for
        # its commit and find it (the lock is released at commit).
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PARTITION_LOCK, month.year * 12 + month.month])
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return
        low, high = _bound(month), _bound(_next_month(month))
        in_month = f"billing_period_start >= '{low}' AND billing_period_start < '{high}'"
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {TABLE}_default WHERE {in_month})")
        strays = cursor.fetchone()[0]
        if strays:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {name}_moved ON COMMIT DROP AS "
                f"WITH moved AS (DELETE FROM {TABLE}_default WHERE {in_month} RETURNING *) SELECT * FROM moved"
            )
        cursor.execute(
            f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM ('{low}') TO ('{high}') "
            "PARTITION BY LIST (ingest_job_id)"
        )
        cursor.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
        if strays:
            cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {name}_moved")
            cursor.execute(f"DROP TABLE {name}_moved")


def _leaves() -> set[str]:
    """The job tables attached to month partitions (and their months' default partitions)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname ~ %s",
            [_MONTH_PATTERN],
        )
        return {row[0] for row in cursor.fetchall()}


def job_leaves_drop(job_id: int) -> int:
    """Drop the tables of a deleted ingest job, attached or not (its rows are gone with it; the empty tables would
    stay). Returns how many job tables and detached leaves were dropped. No-op on SQLite."""
    if not partitioned():
        return 0
    suffix = f"_j{int(job_id)}"
    names = sorted(name for name in _leaves() if name.endswith(suffix))
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return len(names) + detached_leaves_drop(job_id)


def month_partitions() -> list[date]:
    """The months that have a partition (PostgreSQL), oldest first."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(date(int(m[1]), int(m[2]), 1) for name in names if (m := _MONTH_NAME.match(name)))


def _slice_q(slices: Iterable[Slice]) -> Q:
    condition = Q(pk__in=[])
    for provider, account, period in slices:
        condition |= Q(provider_name=provider, billing_account_id=account, billing_period_start=period)
    return condition


def slices_replace(*, organization_id: int, replaced: Iterable[Slice], owners: dict[Slice, tuple[int, int]]) -> int:
    """Remove the line items of the ``replaced`` slices; ``owners`` maps every current slice of the organization
    (BillingSlice) to (job id, rows). Returns the number of rows removed.

    A job's rows of one month are one job table on PostgreSQL: when every current slice of that table is replaced,
    the table (with its files' leaves) is dropped; otherwise (and for rows in a default partition, and on SQLite)
    the replaced slices' rows are deleted."""
    from finops.usage.models import LineItem

    replaced = [s for s in replaced if s in owners]
    if not replaced:
        return 0
    removed = 0
    to_delete: list[Slice] = []
    if partitioned():
        leaves = _leaves()
        by_leaf: dict[tuple[date, int], list[Slice]] = {}
        for current, (job_id, _rows) in owners.items():
            by_leaf.setdefault((month_of(current[2]), job_id), []).append(current)
        wanted = set(replaced)
        dropped: set[tuple[date, int]] = set()
        with connection.cursor() as cursor:
            for (month, job_id), members in sorted(by_leaf.items()):
                name = leaf_table(month, job_id)
                if name in leaves and all(s in wanted for s in members):
                    cursor.execute(f"DROP TABLE {name}")
                    removed += sum(owners[s][1] for s in members)
                    dropped.add((month, job_id))
        to_delete = [s for s in replaced if (month_of(s[2]), owners[s][0]) not in dropped]
    else:
        to_delete = replaced
    if to_delete:
        jobs = sorted({owners[s][0] for s in to_delete})
        deleted = LineItem.objects.filter(organization_id=organization_id, ingest_job_id__in=jobs)
        removed += deleted.filter(_slice_q(to_delete)).delete()[1].get(LineItem._meta.label, 0)
    return removed


@dataclass(frozen=True)
class PruneResult:
    before: datetime
    months: tuple[date, ...]  # month partitions dropped (PostgreSQL)
    rows: int


def line_items_prune(*, before: datetime, dry_run: bool = False) -> PruneResult:
    """Remove every line item whose billing period starts before ``before`` (a month start). Call it inside a
    transaction. ``dry_run`` removes nothing and reports what would go (rows counted then)."""
    from finops.usage.models import LineItem

    months = tuple(m for m in month_partitions() if _next_month(m) <= month_of(before))
    old = LineItem.objects.filter(billing_period_start__lt=before)
    if dry_run:
        return PruneResult(before=before, months=months, rows=old.count())
    rows = 0
    with connection.cursor() as cursor:
        for month in months:
            cursor.execute(f"SELECT count(*) FROM {month_table(month)}")
            rows += cursor.fetchone()[0]
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {month_table(month)}")
            cursor.execute(f"DROP TABLE {month_table(month)}")
    rows += old.delete()[1].get(LineItem._meta.label, 0)
    return PruneResult(before=before, months=months, rows=rows)
