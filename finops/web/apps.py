from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "finops.web"
    label = "web"
