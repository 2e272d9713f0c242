from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "finops.usage"
    label = "usage"
