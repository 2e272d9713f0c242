from django.apps import AppConfig

from finops.core.signals import ingest_committed


class BudgetsConfig(AppConfig):
    name = "finops.budgets"
    label = "budgets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from finops.budgets.receivers import evaluate_after_ingest

        ingest_committed.connect(evaluate_after_ingest, dispatch_uid="budgets.evaluate_after_ingest")
