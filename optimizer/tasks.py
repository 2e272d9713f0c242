"""Celery tasks of the optimizer: thin shells that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from optimizer.models import OptimizationRun
from optimizer.services import EXECUTE_TASK, OptimizationError, optimization_run_execute


@shared_task(name=EXECUTE_TASK, acks_late=True, reject_on_worker_lost=True)
def optimization_run_execute_task(run_id: int) -> dict:
    run = OptimizationRun.objects.get(pk=run_id)
    try:
        run = optimization_run_execute(run)
    except OptimizationError:
        # Bad data is permanent: the run records the error; retrying cannot help.
        run.refresh_from_db()
    return {"run": run.pk, "status": run.status, "error": run.error}
