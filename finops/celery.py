"""Celery app. Broker from settings: Redis when REDIS_URL is set, kombu's filesystem transport otherwise."""

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")

if os.path.basename(sys.argv[0]) == "celery":  # a worker or beat: fail with one line on a bad setting
    from finops.core.startup import load_settings_or_exit

    load_settings_or_exit()

app = Celery("finops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
