from django.apps import AppConfig


class CarbonConfig(AppConfig):
    name = "finops.carbon"
    label = "carbon"
    default_auto_field = "django.db.models.BigAutoField"
