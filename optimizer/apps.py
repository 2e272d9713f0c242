from django.apps import AppConfig


class OptimizerConfig(AppConfig):
    name = "optimizer"
    label = "optimizer"
    default_auto_field = "django.db.models.BigAutoField"
