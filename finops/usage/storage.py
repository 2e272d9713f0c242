"""Where line items are stored, and how a delivery's rows replace older ones and old months are pruned.

The ingest, retention and rebuild call the same functions on both databases; only this module differs by vendor.

SQLite: ``usage_lineitem`` is a plain table. A delivery is loaded into it; replacing a slice deletes its rows;
retention deletes the rows of old billing periods.

PostgreSQL: ``usage_lineitem`` is partitioned by RANGE (billing_period_start), one partition per UTC month
(``usage_lineitem_y2026m01``, created on demand), each sub-partitioned by LIST (ingest_job_id), so that one
job table (``usage_lineitem_y2026m01_j42``) holds one delivery's rows of one month. A delivery loaded by one task
makes it a plain table; one loaded by several (its files in parts, one task each) makes it a table partitioned by
LIST (ingest_file_id), one leaf per part (``usage_lineitem_y2026m01_j42_p3``, for the part's files). Leaves are
made as plain tables without indexes (COPY, then the indexes are built) and attached when the delivery is
committed, so nothing is visible until then: the parts of a delivery are loaded by several processes at once,
each committing its own detached leaves, and made visible together by one transaction. Replacing the slices of a
job table whose every slice the new delivery restates drops that table; one that also holds slices staying
current (an older delivery covered accounts A and B, the new one only A) has the replaced slice's rows deleted
instead. Retention drops month partitions.
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
    """The job table: one delivery's rows of one month (plain, or partitioned by file when loaded in parts)."""
    return f"{month_table(month)}_j{job_id}"


@dataclass(frozen=True)
class Part:
    """A share of a delivery's files loaded by one task: its number in the delivery and its files' ids."""

    number: int
    file_ids: tuple[int, ...]


def part_leaf_table(month: date, job_id: int, part: Part) -> str:
    return f"{leaf_table(month, job_id)}_p{part.number}"


def _leaf(month: date, job_id: int, part: Part | None) -> str:
    return leaf_table(month, job_id) if part is None else part_leaf_table(month, job_id, part)


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
    """Loads line items of one delivery (all its files, or one ``part`` of them) inside the caller's transaction.
    ``prepare`` is pure and thread-safe (run it ahead in a producer thread); ``load`` feeds the database;
    ``finish`` ends the load and indexes what was loaded. On PostgreSQL the loaded leaves stay detached, invisible
    to readers, until ``leaves_attach``: in this transaction, or (a part) in the transaction that commits the
    delivery. While a load is under way (between the first ``load`` and ``finish``) run no other query on the
    connection: a COPY is open."""

    job_id: int
    columns: list[str]
    part: Part | None = None
    rows: int = 0
    _encoder: TableLoader = field(init=False)
    _loader: TableLoader | None = field(default=None, init=False)
    _month: date | None = field(default=None, init=False)
    _months: list[date] = field(default_factory=list, init=False)
    _partitioned: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._encoder = TableLoader(TABLE, self.columns)
        self._partitioned = partitioned()  # read here: ``prepare`` runs in another thread

    @property
    def months(self) -> list[date]:
        """The months whose leaves were loaded (none on SQLite)."""
        return list(self._months)

    def prepare(self, table: pa.Table) -> list[tuple[date, tuple[int, object]]]:
        if not self._partitioned:
            return [(month_of(datetime.min), self._encoder.prepare(table))]
        return [(month, self._encoder.prepare(part)) for month, part in split_by_month(table)]

    def load(self, prepared: Iterable[tuple[date, tuple[int, object]]]) -> None:
        for month, payload in prepared:
            if self._loader is None or (self._partitioned and month != self._month):
                self._switch(month)
            self._loader.load(payload)
            self.rows += payload[0]

    def _switch(self, month: date) -> None:
        """Close the open COPY (one per connection) and open one into ``month``'s leaf, made on first use."""
        self._close()
        target = TABLE
        if self._partitioned:
            target = _leaf(month, self.job_id, self.part)
            if month not in self._months:
                _leaf_create(month, self.job_id, self.part)
                self._months.append(month)
        self._month = month
        self._loader = TableLoader(target, self.columns).__enter__()

    def _close(self, exc_info: tuple = (None, None, None)) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader.__exit__(*exc_info)

    def finish(self) -> None:
        """End the load and build the loaded leaves' indexes (those of the line-item table), so that attaching
        them finds the indexes in place instead of building them under the commit's locks."""
        self._close()
        if not self._months:
            return
        with connection.cursor() as cursor:
            for month in self._months:
                for statement in _index_statements(_leaf(month, self.job_id, self.part)):
                    cursor.execute(statement)

    def abort(self, exc_info: tuple) -> None:
        self._close(exc_info)


_INDEX_HEAD = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ")


def _index_statements(leaf: str) -> list[str]:
    """The line-item table's indexes (``pg_get_indexdef``: method, columns, INCLUDE, WHERE kept) as statements
    creating the same on ``leaf``, so that attaching it adopts them instead of building its own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass ORDER BY indexrelid",
            [TABLE],
        )
        definitions = [row[0] for row in cursor.fetchall()]
    statements = []
    for number, text in enumerate(definitions):
        head = _INDEX_HEAD.match(text)
        if head is None:
            raise RuntimeError(f"unexpected index definition on {TABLE}: {text}")
        statements.append(f"CREATE {head[1] or ''}INDEX {leaf}_i{number} ON {leaf} {text[head.end() :]}")
    return statements


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


def _leaf_create(month: date, job_id: int, part: Part | None) -> None:
    """A plain table shaped like the line items, without indexes, its CHECK equal to its partition constraint
    (attaching it then skips the scan that would prove it)."""
    leaf = _leaf(month, job_id, part)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relispartition FROM pg_class WHERE oid = to_regclass(%s)", [leaf])
        found = cursor.fetchone()
        if found and found[0]:
            raise RuntimeError(f"{leaf} is already part of the line-item table: job {job_id} was committed")
        # Left over (emptied) by a deleted job whose id a reset sequence handed out again (test databases).
        cursor.execute(f"DROP TABLE IF EXISTS {leaf}")
        bounds = (
            f"billing_period_start >= '{_bound(month)}' AND billing_period_start < '{_bound(_next_month(month))}'"
            f" AND ingest_job_id = {int(job_id)}"
        )
        if part is not None:
            files = ", ".join(str(int(f)) for f in part.file_ids)
            bounds += f" AND ingest_file_id IS NOT NULL AND ingest_file_id IN ({files})"
        cursor.execute(f"CREATE TABLE {leaf} ({', '.join(_columns_sql())}, CONSTRAINT {leaf}_bounds CHECK ({bounds}))")


def leaves_attach(job_id: int, leaves: Iterable[tuple[date, Part | None]]) -> None:
    """Make the loaded leaves (month, part; None: the delivery loaded by one task) of job ``job_id`` part of the
    line-item table, each month's joining its month partition (made when missing). A month loaded in parts gets a
    job table partitioned by file, which takes the parts' leaves. Their indexes already match the table's, so
    nothing is scanned or built. Call it in the transaction that swaps the delivery's slices, before the swap:
    the months are locked in ascending order, as by every commit, so no two commits wait on each other."""
    by_month: dict[date, list[Part | None]] = {}
    for month, part in leaves:
        by_month.setdefault(month, []).append(part)
    columns = _columns_sql() if any(p is not None for parts in by_month.values() for p in parts) else []
    for month in sorted(by_month):
        month_partition_ensure(month)
        job_table = leaf_table(month, job_id)
        parts = sorted((p for p in by_month[month] if p is not None), key=lambda p: p.number)
        with connection.cursor() as cursor:
            if parts:
                cursor.execute(f"CREATE TABLE {job_table} ({', '.join(columns)}) PARTITION BY LIST (ingest_file_id)")
                for part in parts:
                    files = ", ".join(str(int(f)) for f in part.file_ids)
                    cursor.execute(
                        f"ALTER TABLE {job_table} ATTACH PARTITION {part_leaf_table(month, job_id, part)} "
                        f"FOR VALUES IN ({files})"
                    )
            cursor.execute(
                f"ALTER TABLE {month_table(month)} ATTACH PARTITION {job_table} FOR VALUES IN ({int(job_id)})"
            )


def detached_leaves_drop(job_id: int) -> int:
    """Drop the loaded but never attached leaves of job ``job_id`` (its delivery failed, or a part's task committed
    its load before the delivery was refused). Returns how many were dropped. No-op on SQLite."""
    if not partitioned():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition AND relname ~ %s",
            [rf"^{TABLE}_y\d{{4}}m\d{{2}}_j{int(job_id)}(_p\d+)?$"],
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


def slices_q(slices: Iterable[Slice]) -> Q:
    """The rows (line items, rollups, slice records: they share the column names) of these slices."""
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
        removed += deleted.filter(slices_q(to_delete)).delete()[1].get(LineItem._meta.label, 0)
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
