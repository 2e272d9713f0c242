"""How budgets react to events of other apps (connected in ``BudgetsConfig.ready``)."""

from __future__ import annotations

from finops.budgets.tasks import evaluate_org


def evaluate_after_ingest(*, organization_id: int, **kwargs: object) -> None:
    """New costs can cross a budget threshold: re-evaluate the organization's budgets."""
    evaluate_org.delay(organization_id)
