"""Ingest of billing exports: one delivery (the files of one call) replaces the billing slices it covers.

A slice is (organization, provider, billing account, billing period). Everything a delivery writes
(line items, daily rollups, slice records) happens in one transaction: a failure leaves the database
exactly as before. The same delivery ingested again while its slices are current is a ``duplicate``.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from finops.accounts.models import Organization
from finops.accounts.services import team_tag_mapping_values, teams_for_tag_values
from finops.core.amounts import money_str
from finops.core.bulk import bulk_insert
from finops.core.concurrency import prefetch
from finops.core.hashing import file_sha256
from finops.core.tasks import QueueUnavailable, enqueue_on_commit, queue_check
from finops.usage import formats
from finops.usage.followups import ingest_followups_enqueue
from finops.usage.formats.errors import IngestError, TooLargeError
from finops.usage.formats.readers import ExpansionLimits
from finops.usage.formats.schema import CANONICAL_COLUMNS
from finops.usage.models import (
    BillingSlice,
    DailyCost,
    DailyTagCost,
    IngestFile,
    IngestJob,
    IngestPart,
    LineItem,
    LineItemPrune,
)
from finops.usage.rollup import (
    TAG_ROLLUP_DIMENSIONS,
    DeliverySummary,
    RollupAccumulator,
    SumOutOfRange,
    first_currency_conflict,
    rollup_chunk,
    tables_from_ipc,
    tables_to_ipc,
    tag_rollup_chunk,
    team_values,
)
from finops.usage.storage import (
    LineItemWriter,
    Part,
    PruneResult,
    detached_leaves_drop,
    leaves_attach,
    line_items_prune,
    month_of,
    partitioned,
    slices_q,
    slices_replace,
)

ProgressCallback = Callable[[dict], None]
logger = logging.getLogger("finops.usage")
_ROLLUP_MERGE_EVERY = 16


def ingest_job_create(
    *,
    organization: Organization,
    paths: Sequence[Path],
    fmt: str = "auto",
    source: str = "cli",
    user: AbstractBaseUser | None = None,
) -> IngestJob:
    """Record a delivery (hashing its files) as a pending job. Missing files are refused here."""
    if fmt != "auto" and fmt not in formats.FORMATS:
        raise IngestError(f"unknown format {fmt!r}; choose auto or one of {', '.join(formats.FORMATS)}")
    if not paths:
        raise IngestError("no files given")
    described = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise IngestError("no such file", file=str(path))
        described.append((path, file_sha256(path), path.stat().st_size))
    delivery = hashlib.sha256("\n".join(sorted(h for _, h, _ in described)).encode()).hexdigest()
    with transaction.atomic():
        job = IngestJob.objects.create(
            organization=organization,
            created_by=user if user is not None and user.is_authenticated else None,
            source=source,
            requested_format=fmt,
            delivery_sha256=delivery,
            bytes_total=sum(size for _, _, size in described),
        )
        IngestFile.objects.bulk_create(
            IngestFile(job=job, name=path.name, path=str(path.resolve()), sha256=digest, size_bytes=size)
            for path, digest, size in described
        )
    return job


INGEST_TASK = "usage.ingest_job_run"
PART_LOAD_TASK = "usage.ingest_part_load"
COMMIT_TASK = "usage.ingest_job_commit"


def upload_size_check(size: int | str | None, *, name: str | None = None) -> None:
    """Refuse (TooLargeError) an upload over ``FINOPS_MAX_UPLOAD_BYTES``. Pages and the API call it with the
    request's Content-Length header as sent (absent or not a number: nothing to check yet), the upload
    service with the bytes that have arrived."""
    if isinstance(size, str):
        size = int(size) if size.isdigit() else None
    limit = settings.FINOPS_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        what = "larger" if name else "the upload is larger"
        raise TooLargeError(f"{what} than the upload limit of {limit:,} bytes (FINOPS_MAX_UPLOAD_BYTES)", file=name)


def billing_upload_create(
    *,
    organization: Organization,
    files: Iterable[UploadedFile],
    user: AbstractBaseUser | None,
    fmt: str = "auto",
    source: str = "upload",
) -> IngestJob:
    """Save uploaded billing files under ``FINOPS_INGEST_DIR/uploads/<uuid>/``, record their ingest job and
    enqueue it once the transaction commits. A refusal (no file, unknown format) raises IngestError, and a task
    queue out of reach QueueUnavailable (checked before the files are stored, and again when the job is
    queued); either leaves neither a job nor the folder behind."""
    queue_check()
    folder = Path(settings.FINOPS_INGEST_DIR) / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    try:
        paths, written = [], 0
        for upload in files:
            path = folder / (get_valid_filename(Path(upload.name).name) or "upload")
            if path.exists():  # two files of one upload with the same name: keep both
                path = path.with_name(f"{path.stem}-{len(paths) + 1}{path.suffix}")
            with path.open("wb") as handle:
                for chunk in upload.chunks():
                    written += len(chunk)
                    upload_size_check(written, name=Path(upload.name).name)
                    handle.write(chunk)
            paths.append(path)
        if not paths:
            raise IngestError("choose at least one billing file")
        job = ingest_job_create(organization=organization, paths=paths, fmt=fmt, source=source, user=user)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def refused() -> None:  # the queue went away after the check: no job waits for a task that never comes
        IngestJob.objects.filter(pk=job.pk).delete()
        shutil.rmtree(folder, ignore_errors=True)

    enqueue_on_commit(INGEST_TASK, job.pk, on_unavailable=refused)
    return job


@dataclass
class _Progress:
    job: IngestJob
    callback: ProgressCallback | None
    bytes_before: int = 0  # bytes of the files already finished
    rows: int = 0
    key: str = ""  # the cache key reported to: the job's, or (a fanned-out delivery's file) the file's

    def report(self, bytes_done: int) -> None:
        total = max(self.job.bytes_total, 1)
        state = {
            "rows": self.rows,
            "bytes_done": bytes_done,
            "bytes_total": self.job.bytes_total,
            "fraction": min(bytes_done / total, 1.0),
        }
        cache.set(self.key or self.job.progress_cache_key, state, timeout=24 * 3600)
        if self.callback:
            self.callback(state)


def _find_duplicate(job: IngestJob) -> IngestJob | None:
    """An earlier successful job with the same delivery whose slices are all still its own
    (re-sending it would change nothing). Once a later delivery replaced any of its slices,
    re-sending it is a real restatement and is ingested again."""
    earlier = (
        IngestJob.objects.filter(
            organization=job.organization,
            delivery_sha256=job.delivery_sha256,
            status=IngestJob.Status.SUCCEEDED,
        )
        .exclude(pk=job.pk)
        .order_by("-pk")
        .first()
    )
    if earlier is None or earlier.slice_count == 0:
        return None
    return earlier if BillingSlice.objects.filter(job=earlier).count() == earlier.slice_count else None


def _team_ids(organization: Organization, values: pa.Array | pa.ChunkedArray, known: dict[str, int | None]) -> pa.Array:
    """Team id per row from its team tag value; new values create their team."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    unseen = [v for v in distinct if v not in known]
    if unseen:
        teams = teams_for_tag_values(organization=organization, tag_values=unseen)
        known.update({v: (teams[v].pk if v else None) for v in unseen})
    return pc.take(pa.array([known[v] for v in distinct], pa.int64()), encoded.indices)


LINE_ITEM_COLUMNS = [*CANONICAL_COLUMNS, "organization_id", "ingest_job_id", "ingest_file_id", "team_tag_value"]


def _line_item_table(
    chunk: pa.Table, organization_id: int, job_id: int, file_id: int, team_value: pa.Array
) -> pa.Table:
    n = chunk.num_rows
    return (
        chunk.append_column("organization_id", pa.array(np.full(n, organization_id, dtype=np.int64)))
        .append_column("ingest_job_id", pa.array(np.full(n, job_id, dtype=np.int64)))
        .append_column("ingest_file_id", pa.array(np.full(n, file_id, dtype=np.int64)))
        .append_column("team_tag_value", team_value)
    )


def _rollup_table(rollup: pa.Table, organization_id: int, job_id: int, team_ids: pa.Array) -> pa.Table:
    n = rollup.num_rows
    table = rollup.drop_columns(["team_value"])
    table = table.append_column("team_id", team_ids)
    table = table.append_column("organization_id", pa.array(np.full(n, organization_id, dtype=np.int64)))
    return table.append_column("ingest_job_id", pa.array(np.full(n, job_id, dtype=np.int64)))


def ingest_job_run(
    job: IngestJob, *, progress: ProgressCallback | None = None, followups: bool = True, fan_out: bool = False
) -> IngestJob:
    """Parse, validate and write a pending job's delivery. Bad input marks the job failed and re-raises
    IngestError; the database is left exactly as it was. A new delivery then enqueues the organization's
    refreshes (finops.usage.followups) unless ``followups`` is false (a caller that does them itself).

    With ``fan_out`` (the ingest task), a delivery of several files of at least FINOPS_INGEST_FANOUT_MIN_BYTES on
    PostgreSQL is instead split into parts (its files in up to FINOPS_INGEST_FANOUT_PARTS groups of about equal
    bytes), each loaded by a task of its own (``ingest_part_load``, in parallel on as many workers as there are),
    and returned running; the last part's task queues ``ingest_job_commit``, which makes the whole delivery
    visible at once, or none of it."""
    unfinished = (IngestJob.Status.PENDING, IngestJob.Status.RUNNING)
    started = time.monotonic()
    now = timezone.now()
    # Conditional: a redelivered task (acks_late) must not touch a job another worker has finished, or fanned out.
    if not IngestJob.objects.filter(pk=job.pk, status__in=unfinished, fanned_out=False).update(
        status=IngestJob.Status.RUNNING, started_at=now
    ):
        job.refresh_from_db()
        return job
    job.status, job.started_at = IngestJob.Status.RUNNING, now
    tracker = _Progress(job=job, callback=progress)
    tracker.report(0)
    try:
        with transaction.atomic():
            # Serialise deliveries of one organization: slice replacement is read-modify-write.
            organization = Organization.objects.select_for_update().get(pk=job.organization_id)
            current = IngestJob.objects.get(pk=job.pk)
            if current.status not in unfinished or current.fanned_out:
                job.refresh_from_db()  # a worker that held the lock before us finished this job
                return job
            duplicate = _find_duplicate(job)
            files = list(job.files.all())
            if duplicate is not None:
                _mark_duplicate(job, duplicate)
            elif fan_out and _fans_out(job, files):
                return _fan_out(job, files)
            else:
                loaded = _files_load(job, files, files, organization, tracker, part=None)
                _delivery_commit(job, organization, files, loaded)
                job.status = IngestJob.Status.SUCCEEDED
            job.finished_at = timezone.now()
            job.duration_seconds = time.monotonic() - started
            job.save()
    except QueueUnavailable:  # the fan-out's tasks could not be queued: the job says so already
        job.refresh_from_db()
        raise
    except IngestError as error:
        _mark_failed(job, _stored_message(job, error), time.monotonic() - started)
        _uploads_remove(job)
        raise
    except Exception as error:
        _mark_failed(job, f"internal error: {type(error).__name__}: {error}", time.monotonic() - started)
        _uploads_remove(job)
        raise
    _uploads_remove(job)
    tracker.rows = job.rows_read
    tracker.report(job.bytes_total)
    if followups and job.status == IngestJob.Status.SUCCEEDED:
        ingest_followups_enqueue(organization_id=job.organization_id, billing_periods=job.billing_periods)
    return job


def _mark_duplicate(job: IngestJob, duplicate: IngestJob) -> None:
    job.status = IngestJob.Status.DUPLICATE
    job.duplicate_of = duplicate
    job.focus_version = duplicate.focus_version
    job.billing_periods = duplicate.billing_periods
    job.totals = duplicate.totals
    job.rows_read = duplicate.rows_read


def _fans_out(job: IngestJob, files: list[IngestFile]) -> bool:
    """Whether a delivery is loaded in parts, one task each: several files, large enough to be worth the tasks, on
    PostgreSQL (whose detached leaves keep loaded parts invisible until the commit; SQLite has one writer), and no
    Azure file (an Azure delivery's files are read together: each would read all the others)."""
    if len(files) < 2 or job.bytes_total < settings.FINOPS_INGEST_FANOUT_MIN_BYTES or not partitioned():
        return False
    return not any(formats.is_azure_file(Path(f.path)) for f in files)


def file_groups(sizes: Sequence[int], groups: int) -> list[list[int]]:
    """Indexes of ``sizes`` in at most ``groups`` groups of about equal total size (largest first, each into the
    lightest group so far), each group in the original order; no empty group (pure)."""
    count = max(1, min(groups, len(sizes)))
    buckets: list[list[int]] = [[] for _ in range(count)]
    totals = [0] * count
    for index in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        lightest = min(range(count), key=lambda g: (totals[g], g))
        buckets[lightest].append(index)
        totals[lightest] += sizes[index]
    return sorted((sorted(bucket) for bucket in buckets), key=lambda bucket: bucket[0])


def _fan_out(job: IngestJob, files: list[IngestFile]) -> IngestJob:
    """Split the delivery into parts and queue one load task per part once the caller's transaction commits;
    the job stays running."""
    job.fanned_out = True
    job.save(update_fields=["fanned_out"])
    groups = file_groups([f.size_bytes for f in files], settings.FINOPS_INGEST_FANOUT_PARTS)
    parts = IngestPart.objects.bulk_create(
        IngestPart(job=job, number=number, file_ids=[files[i].pk for i in group])
        for number, group in enumerate(groups, start=1)
    )

    def refused() -> None:  # the queue went away: no part task will come
        _fan_out_fail(job, "the task queue became unavailable while the delivery was queued; send it again")

    for part in parts:
        enqueue_on_commit(PART_LOAD_TASK, part.pk, on_unavailable=refused)
    return job


def ingest_part_load(part_id: int) -> None:
    """Load one part of a fanned-out delivery (a worker's share of it): parse and validate its files, COPY them
    into the part's detached leaves and index them, and keep what the commit needs on the part, all in one
    transaction. The task of the delivery's last part to finish queues the commit. Bad input fails the whole
    delivery (IngestError re-raised): the leaves other parts loaded are dropped, and parts still loading find the
    job failed when they finish and keep nothing. A database error (a lost connection, a deadlock victim) leaves
    the delivery running: recovery (``ingest_jobs_recover``) queues the part again."""
    # Marked at once, outside the load's transaction: a part a task took can be told from one still queued.
    IngestPart.objects.filter(pk=part_id, started_at__isnull=True).update(started_at=timezone.now())
    job = None
    try:
        with transaction.atomic():
            # Held until this load commits: recovery tells a live load from a lost one by it.
            part = IngestPart.objects.select_for_update().defer("loaded", "rollups").get(pk=part_id)
            job = IngestJob.objects.select_related("organization").get(pk=part.job_id)
            if job.status != IngestJob.Status.RUNNING or part.loaded_at is not None:
                return  # the delivery ended, or this part is loaded (a redelivered task)
            files = list(job.files.all())
            own = set(part.file_ids)
            mine = [f for f in files if f.pk in own]
            tracker = _Progress(job=job, callback=None, key=job.part_progress_cache_key(part.number))
            tracker.report(0)
            share = Part(number=part.number, file_ids=tuple(part.file_ids))
            loaded = _files_load(job, files, mine, job.organization, tracker, part=share)
            part.loaded = {"summary": loaded.summary.to_json(), "months": [m.isoformat() for m in loaded.months]}
            part.rollups = tables_to_ipc([t for t in (loaded.rollups, loaded.tag_rollups) if t is not None])
            part.loaded_at = timezone.now()
            part.save(update_fields=["loaded", "rollups", "loaded_at"])
            # Under the job's row lock, which a refusal takes before dropping the loaded leaves: either the delivery
            # is still running when this load commits, or nothing of it is kept.
            status = IngestJob.objects.select_for_update().values_list("status", flat=True).get(pk=job.pk)
            if status != IngestJob.Status.RUNNING:
                transaction.set_rollback(True)
                return
            if not IngestPart.objects.filter(job=job, loaded_at__isnull=True).exclude(pk=part.pk).exists():
                enqueue_on_commit(COMMIT_TASK, job.pk)
    except QueueUnavailable:
        logger.warning("ingest job %s is loaded but its commit could not be queued: recovery will", part_id)
    except OperationalError:
        logger.exception("part %s of an ingest lost its database work; recovery queues it again", part_id)
        raise
    except IngestError as error:
        if job is not None:
            _fan_out_fail(job, _stored_message(job, error))
        raise
    except Exception as error:
        if job is not None:
            _fan_out_fail(job, f"internal error: {type(error).__name__}: {error}")
        raise


def ingest_job_commit(job_id: int, *, followups: bool = True) -> IngestJob:
    """Make a fanned-out delivery whose parts are all loaded part of the organization's costs, in one transaction:
    merge the parts' summaries (one currency per account across parts) and rollups, attach the leaves, replace the
    slices it covers. A job not running, or with a part still loading, is left as it is; a database error leaves it
    running for recovery to queue the commit again."""
    job = IngestJob.objects.get(pk=job_id)
    try:
        with transaction.atomic():
            organization = Organization.objects.select_for_update().get(pk=job.organization_id)
            job = IngestJob.objects.select_for_update().get(pk=job_id)
            parts = job.parts.defer("loaded", "rollups")
            if job.status != IngestJob.Status.RUNNING or parts.filter(loaded_at__isnull=True).exists():
                return job
            files = list(job.files.all())
            duplicate = _find_duplicate(job)  # the same delivery may have committed while this one loaded
            if duplicate is not None:
                _mark_duplicate(job, duplicate)
                detached_leaves_drop(job.pk)
            else:
                _delivery_commit(job, organization, files, _parts_merge(job, files))
                job.status = IngestJob.Status.SUCCEEDED
            parts.update(loaded=None, rollups=None)
            job.finished_at = timezone.now()
            job.duration_seconds = (job.finished_at - job.started_at).total_seconds() if job.started_at else None
            job.save()
    except OperationalError:
        logger.exception("the commit of ingest job %s lost its database work; recovery queues it again", job_id)
        raise
    except IngestError as error:
        _fan_out_fail(job, _stored_message(job, error))
        raise
    except Exception as error:
        _fan_out_fail(job, f"internal error: {type(error).__name__}: {error}")
        raise
    _uploads_remove(job)
    if followups and job.status == IngestJob.Status.SUCCEEDED:
        ingest_followups_enqueue(organization_id=job.organization_id, billing_periods=job.billing_periods)
    return job


def _fan_out_fail(job: IngestJob, message: str) -> None:
    """Fail a fanned-out delivery: the job records ``message`` (the first refusal wins), and the leaves its parts
    loaded go, with their kept rollups (of the parts no load holds: one still loading rolls itself back), and its
    uploaded files."""
    with transaction.atomic():
        locked = IngestJob.objects.select_for_update().get(pk=job.pk)
        if locked.status in (IngestJob.Status.PENDING, IngestJob.Status.RUNNING):
            seconds = (timezone.now() - locked.started_at).total_seconds() if locked.started_at else None
            _mark_failed(job, message, seconds)
        detached_leaves_drop(job.pk)
        idle = IngestPart.objects.filter(job=job).select_for_update(skip_locked=True).values_list("pk", flat=True)
        IngestPart.objects.filter(pk__in=list(idle)).update(loaded=None, rollups=None)
    job.refresh_from_db()
    _uploads_remove(job)


def ingest_jobs_recover() -> list[int]:
    """Queue again the ingest work a dead worker left running; returns the jobs' ids.

    A worker killed outright (SIGKILL, OOM, a lost machine) cannot requeue its task: Redis hands the
    unacknowledged message out again only after the broker's visibility timeout (an hour), and until then the
    job shows "running" while its transaction is long rolled back. On PostgreSQL a live ingest holds its
    organization's row lock for its whole write, so a running job whose organization can be locked at once has
    no live worker (or is in the instant between its start and taking the lock: queuing it again is harmless,
    ``ingest_job_run`` lets one run finish a job and the others return). A fanned-out delivery holds that lock only
    while it commits; each part's load holds its part's row lock: a part a task took that no load holds is
    queued again, and the commit when every part is loaded. SQLite has no row locks that could tell a live ingest
    from a dead one: there a job waits for the broker's redelivery."""
    if connection.vendor != "postgresql":
        return []
    recovered = []
    for job_id, organization_id, fanned_out in IngestJob.objects.filter(status=IngestJob.Status.RUNNING).values_list(
        "pk", "organization_id", "fanned_out"
    ):
        with transaction.atomic():
            locked = Organization.objects.select_for_update(skip_locked=True).filter(pk=organization_id)
            if not list(locked.values_list("pk", flat=True)):
                continue  # an ingest of this organization is writing: the job is live or queued behind it
            if not IngestJob.objects.filter(pk=job_id, status=IngestJob.Status.RUNNING).exists():
                continue
            if fanned_out:
                if not _fanned_out_recover(job_id):
                    continue
            else:
                enqueue_on_commit(INGEST_TASK, job_id)
        logger.warning("ingest job %s was left running by a lost worker: queued again", job_id)
        recovered.append(job_id)
    return recovered


def _fanned_out_recover(job_id: int) -> bool:
    """Queue again the parts of a fanned-out delivery that a task took and no live load holds, or its commit once
    every part is loaded. A part no task took yet is still the broker's. Whether anything was queued."""
    waiting = IngestPart.objects.filter(job_id=job_id, loaded_at__isnull=True)
    if not waiting.exists():
        enqueue_on_commit(COMMIT_TASK, job_id)  # the commit's lock on the organization is free: it is not running
        return True
    lost = list(
        waiting.filter(started_at__isnull=False).select_for_update(skip_locked=True).values_list("pk", flat=True)
    )
    for part_id in lost:
        enqueue_on_commit(PART_LOAD_TASK, part_id)
    return bool(lost)


def _uploads_remove(job: IngestJob) -> None:
    """Delete an ended job's uploaded files (its folder under FINOPS_INGEST_DIR/uploads). Files the command line
    named stay where they are; a job still running keeps its files for the worker that picks it up again."""
    uploads = (Path(settings.FINOPS_INGEST_DIR) / "uploads").resolve()
    for folder in {Path(f.path).resolve().parent for f in job.files.all()}:
        if folder.parent == uploads:
            shutil.rmtree(folder, ignore_errors=True)


def _stored_message(job: IngestJob, error: IngestError) -> str:
    """The refusal as the job keeps it. An uploaded file is named as the uploader named it: the server's
    folder layout is nobody's business (the command line keeps the path the user typed)."""
    if job.source == "cli" or not error.file:
        return error.describe()
    names = {ingest_file.path: ingest_file.name for ingest_file in job.files.all()}
    shown = names.get(error.file) or names.get(str(Path(error.file).resolve())) or Path(error.file).name
    return type(error)(error.message, file=shown, row=error.row, column=error.column).describe()


def _mark_failed(job: IngestJob, message: str, seconds: float | None) -> None:
    IngestJob.objects.filter(pk=job.pk).update(
        status=IngestJob.Status.FAILED,
        error=message,
        finished_at=timezone.now(),
        duration_seconds=seconds,
        rows_written=0,
    )
    job.refresh_from_db()


def _prepare_delivery(
    job: IngestJob,
    delivery: list[Path],
    files: list[IngestFile],
    loader: LineItemWriter,
    summary: DeliverySummary,
    mapping: dict[str, str] | None = None,
) -> Iterator[tuple]:
    """The pure half of an ingest, run ahead in a thread: parse, map, summarise, roll up and encode each
    chunk of ``files`` (of the delivery whose files are ``delivery``) for the database. Yields (file, bytes read,
    prepared rows, (rollup, tag rollup)), then (file, None, None, None) at the end of each file. No database
    access here."""
    keys = settings.FINOPS_TEAM_TAG_KEYS
    limits = ExpansionLimits(
        max_bytes=settings.FINOPS_MAX_DECOMPRESSED_BYTES, max_ratio=settings.FINOPS_MAX_DECOMPRESSION_RATIO
    )
    for ingest_file in files:
        ingest_file.rows, ingest_file.format = 0, ""
        path = Path(ingest_file.path)
        chunk_rows = settings.FINOPS_INGEST_CHUNK_ROWS
        for parsed in formats.read_chunks(path, job.requested_format, chunk_rows, limits, delivery):
            ingest_file.format = parsed.fmt
            chunk = parsed.table
            if chunk.num_rows == 0:  # every row of this file belongs to another file of the delivery
                continue
            conflict = summary.currency_conflict(chunk, file=str(path), first_row=parsed.first_row)
            if conflict is not None:
                raise IngestError(
                    conflict.message(str(path)), file=str(path), row=conflict.row, column="BillingCurrency"
                )
            values = team_values(chunk["tags"], keys, mapping)
            prepared = loader.prepare(_line_item_table(chunk, job.organization_id, job.pk, ingest_file.pk, values))
            summary.add(chunk)
            ingest_file.rows += chunk.num_rows
            ingest_file.focus_version = parsed.focus_version
            # Only what the loader needs travels on: holding parsed tables in the queue doubled peak RSS.
            with _sums_in_range(file=str(path)):
                rollups = (rollup_chunk(chunk, values), tag_rollup_chunk(chunk, values))
            yield ingest_file, parsed.bytes_read, prepared, rollups
            del chunk, parsed, prepared
        if not ingest_file.format:
            raise IngestError("no data rows", file=str(path))
        yield ingest_file, None, None, None


@contextmanager
def _sums_in_range(file: str | None = None) -> Iterator[None]:
    """A daily sum too large to store exactly refuses the delivery, naming the column, day and currency."""
    try:
        yield
    except SumOutOfRange as error:
        raise IngestError(str(error), file=file, column=error.column) from error


@dataclass
class _Loaded:
    """What loading files leaves for the commit: their summary, rollups (None: no rows) and loaded leaves."""

    summary: DeliverySummary
    rollups: pa.Table | None
    tag_rollups: pa.Table | None
    leaves: list[tuple[date, Part | None]]

    @classmethod
    def of(
        cls,
        summary: DeliverySummary,
        rollups: RollupAccumulator,
        tag_rollups: RollupAccumulator,
        leaves: list[tuple[date, Part | None]],
    ) -> _Loaded:
        with _sums_in_range():
            return cls(
                summary=summary,
                rollups=rollups.result() if rollups.added else None,
                tag_rollups=tag_rollups.result() if tag_rollups.added else None,
                leaves=leaves,
            )

    @property
    def months(self) -> list[date]:
        return sorted({month for month, _ in self.leaves})


def _files_load(
    job: IngestJob,
    delivery: list[IngestFile],
    files: list[IngestFile],
    organization: Organization,
    tracker: _Progress,
    *,
    part: Part | None,
) -> _Loaded:
    """Load ``files`` (all of ``delivery``, or one ``part`` of it) into the line-item table's leaves, summed up and
    rolled up on the way; nothing is visible until ``_delivery_commit``."""
    summary = DeliverySummary()
    rollups = RollupAccumulator(merge_every=_ROLLUP_MERGE_EVERY)
    tag_rollups = RollupAccumulator(TAG_ROLLUP_DIMENSIONS, merge_every=_ROLLUP_MERGE_EVERY)
    loader = LineItemWriter(job_id=job.pk, columns=LINE_ITEM_COLUMNS, part=part)
    mapping = team_tag_mapping_values(organization)
    paths = [Path(f.path) for f in delivery]
    # While the loader's COPY is open, no other query may run on the connection.
    try:
        for ingest_file, bytes_read, prepared, chunk_rollups in prefetch(
            _prepare_delivery(job, paths, files, loader, summary, mapping), 1
        ):
            if bytes_read is None:
                tracker.bytes_before += ingest_file.size_bytes
                continue
            loader.load(prepared)
            del prepared
            with _sums_in_range():  # merged day by day as they come: memory flat however long the delivery
                rollups.add(chunk_rollups[0])
                tag_rollups.add(chunk_rollups[1])
            tracker.rows = loader.rows
            tracker.report(tracker.bytes_before + bytes_read)
    except BaseException as error:
        loader.abort((type(error), error, error.__traceback__))
        raise
    loader.finish()
    for ingest_file in files:
        ingest_file.save(update_fields=["rows", "format", "focus_version"])
    return _Loaded.of(summary, rollups, tag_rollups, [(month, part) for month in loader.months])


def _parts_merge(job: IngestJob, files: list[IngestFile]) -> _Loaded:
    """The loads of a fanned-out delivery's parts as one, read one part at a time. One currency per billing
    account is checked across the parts in delivery order (the conflict one task reading the files in order would
    report first, unless a part refused its own first)."""
    order = {f.path: position for position, f in enumerate(files)}
    summaries: list[DeliverySummary] = []
    rollups = RollupAccumulator(merge_every=_ROLLUP_MERGE_EVERY)
    tag_rollups = RollupAccumulator(TAG_ROLLUP_DIMENSIONS, merge_every=_ROLLUP_MERGE_EVERY)
    leaves: list[tuple[date, Part | None]] = []
    for part_id in job.parts.order_by("number").values_list("pk", flat=True):
        part = IngestPart.objects.get(pk=part_id)
        summaries.append(DeliverySummary.from_json(part.loaded["summary"]))
        share = Part(number=part.number, file_ids=tuple(part.file_ids))
        leaves += [(date.fromisoformat(month), share) for month in part.loaded["months"]]
        for table in tables_from_ipc(bytes(part.rollups or b"")):
            with _sums_in_range():
                (tag_rollups if "tag_key" in table.column_names else rollups).add(table)
        del part
    found = first_currency_conflict(summaries, order)
    if found is not None:
        file, conflict = found.file, found.conflict
        raise IngestError(conflict.message(file), file=file, row=conflict.row, column="BillingCurrency")
    summary = DeliverySummary()
    for each in summaries:
        summary.merge(each)
    return _Loaded.of(summary, rollups, tag_rollups, leaves)


def _delivery_commit(job: IngestJob, organization: Organization, files: list[IngestFile], loaded: _Loaded) -> None:
    """Replace the slices the loaded delivery covers with it: its leaves attached, old line items and rollups out,
    its rollups and slice records written, the job's figures set. In the caller's transaction, under the
    organization's lock. A slice that a later delivery (a job created after this one) already replaced stays that
    delivery's: this one's rows of it are removed again (a large delivery loaded in parts can commit after a
    smaller one sent later)."""
    summary = loaded.summary
    slices = slices_q(summary.slices)
    # Every current slice of the jobs that own a replaced one: a job's leaf goes whole only if all of it is replaced.
    current = BillingSlice.objects.filter(organization=organization)
    owners = {
        (provider, account, period): (job_id, rows)
        for provider, account, period, job_id, rows in current.filter(
            job__in=current.filter(slices).values("job")
        ).values_list("provider_name", "billing_account_id", "billing_period_start", "job_id", "rows")
    }
    newer = {key for key in summary.slices if key in owners and owners[key][0] > job.pk}
    kept = {key: rows for key, rows in summary.slices.items() if key not in newer}
    leaves_attach(job.pk, loaded.leaves)  # first: its months are locked in the order every commit locks them
    replaced = slices_replace(organization_id=organization.pk, replaced=kept, owners=owners)
    kept_filter = slices_q(kept)
    DailyCost.objects.filter(organization=organization).filter(kept_filter).delete()
    DailyTagCost.objects.filter(organization=organization).filter(kept_filter).delete()
    team_cache: dict[str, int | None] = {}
    for model, merged in ((DailyCost, loaded.rollups), (DailyTagCost, loaded.tag_rollups)):
        if merged is not None and merged.num_rows:
            team_ids = _team_ids(organization, merged["team_value"], team_cache)
            bulk_insert(model, _rollup_table(merged, organization.pk, job.pk, team_ids))
    if newer:  # this delivery's rows of them go again, line items and rollups alike
        for model in (LineItem, DailyCost, DailyTagCost):
            model.objects.filter(organization=organization, ingest_job=job).filter(slices_q(newer)).delete()
        logger.warning(
            "ingest job %s: %s slices stay with a later delivery that replaced them first", job.pk, len(newer)
        )
    for (provider, account, period), rows in kept.items():
        BillingSlice.objects.update_or_create(
            organization=organization,
            provider_name=provider,
            billing_account_id=account,
            billing_period_start=period,
            defaults={
                "job": job,
                "rows": rows,
                "account_names": summary.names.get((provider, account, period), {"account": {}, "sub_account": {}}),
            },
        )
    job.format = ",".join(sorted({f.format for f in files}))
    job.focus_version = ",".join(sorted({f.focus_version for f in files if f.focus_version}))
    job.rows_read = summary.rows
    job.rows_written = sum(kept.values())
    job.rows_replaced = replaced
    job.billing_periods = summary.billing_periods
    job.slice_count = len(kept)
    job.totals = {
        currency: {metric: money_str(amount) for metric, amount in metrics.items()}
        for currency, metrics in sorted(summary.totals.items())
    }


def retention_horizon(*, months: int, today: date) -> datetime:
    """The first billing period kept by a retention of ``months`` months: the start of the month ``months`` months
    before ``today``'s (12 on 2026-12-07 keeps 2025-12 onwards)."""
    first = month_of(today)
    index = first.year * 12 + first.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def line_items_retention_run(
    *, months: int | None = None, dry_run: bool = False, today: date | None = None
) -> PruneResult | None:
    """Remove the line items of billing periods older than ``months`` (default FINOPS_LINE_ITEM_RETENTION_MONTHS)
    months, keeping the daily rollups, and record the horizon (LineItemPrune) that pages reading line items
    check. None when retention is off (0). Takes the line-item table's exclusive lock until it commits."""
    months = settings.FINOPS_LINE_ITEM_RETENTION_MONTHS if months is None else months
    if months < 0:
        raise ValueError("retention months must be 0 (keep everything) or more")
    if months == 0:
        return None
    before = retention_horizon(months=months, today=today or timezone.now().date())
    with transaction.atomic():
        result = line_items_prune(before=before, dry_run=dry_run)
        if not dry_run:
            LineItemPrune.objects.create(before=before, months=len(result.months), rows=result.rows)
    if result.rows and not dry_run:
        logger.info("line items before %s pruned: %s rows, %s month partitions", before, result.rows, result.months)
    return result
