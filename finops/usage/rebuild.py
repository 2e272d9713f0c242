"""Rebuild the daily rollups (DailyCost, DailyTagCost) of an organization from its line items.

Ingest writes the rollups; this recomputes them when their definition changes (a migration adding a
dimension calls it) or when an operator suspects drift (``rebuild_rollups``). Line items of a job are
exactly the rows of the slices it still owns, so each job's rollups are replaced by those of its rows.
Models are passed in so that a migration can use its historical models.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from typing import Any

import pyarrow as pa
from django.db import transaction

from finops.core.bulk import bulk_insert
from finops.usage.formats.schema import DECIMAL, TIMESTAMP
from finops.usage.rollup import TAG_ROLLUP_DIMENSIONS, RollupAccumulator, rollup_chunk, tag_rollup_chunk
from finops.usage.services import _rollup_table

_TEXT_COLUMNS = (
    "provider_name",
    "billing_account_id",
    "sub_account_id",
    "service_name",
    "service_category",
    "region_id",
    "region_name",
    "charge_category",
    "charge_class",
    "pricing_category",
    "billing_currency",
    "commitment_discount_status",
)
_MONEY_COLUMNS = ("billed_cost", "effective_cost", "list_cost", "pricing_quantity")
_COLUMNS = ("charge_period_start", "billing_period_start", *_TEXT_COLUMNS, *_MONEY_COLUMNS, "tags", "team_tag_value")
_BATCH_ROWS = 50_000


def _batches(rows: Iterator[tuple]) -> Iterator[pa.Table]:
    while batch := list(islice(rows, _BATCH_ROWS)):
        columns = list(zip(*batch, strict=True))
        data: dict[str, pa.Array] = {}
        for name, values in zip(_COLUMNS, columns, strict=True):
            if name in ("charge_period_start", "billing_period_start"):
                data[name] = pa.array(values, TIMESTAMP)
            elif name in _MONEY_COLUMNS:
                data[name] = pa.array(values, DECIMAL)
            elif name == "tags":
                data[name] = pa.array([json.dumps(v) if v else None for v in values], pa.string())
            else:
                data[name] = pa.array(values, pa.string())
        yield pa.table(data)


def _team_ids(rollup: pa.Table, team_ids: dict[str, int | None]) -> pa.Array:
    """Team id per rollup row from its team tag value (the teams the ingest created; none are created here)."""
    return pa.array([team_ids.get(v) for v in rollup["team_value"].to_pylist()], pa.int64())


def rollups_rebuild(*, organization_id: int, models: dict[str, Any] | None = None) -> dict[str, int]:
    """Replace the organization's DailyCost and DailyTagCost rows with ones recomputed from its line items,
    in one transaction. ``models`` maps LineItem, DailyCost, DailyTagCost and Team to model classes
    (the current ones by default; LineItemPrune optional). Returns the number of rows written per rollup."""
    if models is None:
        from finops.accounts.models import Team
        from finops.usage.models import DailyCost, DailyTagCost, LineItem, LineItemPrune

        models = {
            "LineItem": LineItem,
            "DailyCost": DailyCost,
            "DailyTagCost": DailyTagCost,
            "Team": Team,
            "LineItemPrune": LineItemPrune,
        }
    line_items, daily, tagged = models["LineItem"], models["DailyCost"], models["DailyTagCost"]
    team_ids = dict(models["Team"].objects.filter(organization_id=organization_id).values_list("tag_value", "pk"))
    written = {"DailyCost": 0, "DailyTagCost": 0}
    # Rollups of periods whose line items retention removed are all that is left of them: they stay.
    pruned = models.get("LineItemPrune")
    horizon = pruned.objects.order_by("-before").values_list("before", flat=True).first() if pruned else None
    kept = {"billing_period_start__gte": horizon} if horizon else {}
    with transaction.atomic():
        daily.objects.filter(organization_id=organization_id, **kept).delete()
        tagged.objects.filter(organization_id=organization_id, **kept).delete()
        job_ids = (
            line_items.objects.filter(organization_id=organization_id, **kept)
            .values_list("ingest_job_id", flat=True)
            .distinct()
            .order_by()
        )
        for job_id in sorted(job_ids):
            rows = (
                line_items.objects.filter(organization_id=organization_id, ingest_job_id=job_id, **kept)
                .values_list(*_COLUMNS)
                .order_by()
                .iterator(chunk_size=_BATCH_ROWS)
            )
            parts, tag_parts = RollupAccumulator(), RollupAccumulator(TAG_ROLLUP_DIMENSIONS)  # flat memory
            for table in _batches(rows):
                values = table["team_tag_value"].combine_chunks()
                parts.add(rollup_chunk(table, values))
                tag_parts.add(tag_rollup_chunk(table, values))
            for model, accumulator in ((daily, parts), (tagged, tag_parts)):
                merged = accumulator.result()
                if merged.num_rows:
                    table = _rollup_table(merged, organization_id, job_id, _team_ids(merged, team_ids))
                    written[model.__name__] += bulk_insert(model, table)
    return written
