"""Celery app. Broker from settings: Redis when REDIS_URL is set, kombu's filesystem transport otherwise."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")

app = Celery("finops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
