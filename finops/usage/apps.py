from django.apps import AppConfig
from django.db.models.signals import post_delete


class UsageConfig(AppConfig):
    name = "finops.usage"
    label = "usage"

    def ready(self) -> None:
        from finops.usage.models import IngestJob
        from finops.usage.storage import job_leaves_drop

        def drop_leaves(sender, instance: IngestJob, **kwargs) -> None:
            job_leaves_drop(instance.pk)

        # A job deleted (alone or with its organization) takes its line-item leaves with it.
        post_delete.connect(drop_leaves, sender=IngestJob, weak=False, dispatch_uid="usage.job_leaves_drop")
