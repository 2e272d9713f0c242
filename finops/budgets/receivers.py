"""How budgets react to events of other apps (connected in ``BudgetsConfig.ready``)."""

from __future__ import annotations

from finops.budgets.tasks import evaluate_org


def evaluate_after_ingest(*, organization_id: int, inline: bool = False, **kwargs: object) -> None:
    """New costs can cross a budget threshold: re-evaluate the organization's budgets."""
    if inline:
        evaluate_org(organization_id)
    else:
        evaluate_org.delay(organization_id)
