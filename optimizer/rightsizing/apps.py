from django.apps import AppConfig


class RightsizingConfig(AppConfig):
    name = "optimizer.rightsizing"
    label = "rightsizing"
    default_auto_field = "django.db.models.BigAutoField"
