"""Celery app. Broker from settings: Redis when REDIS_URL is set, kombu's filesystem transport otherwise."""

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")

# A worker or beat (`celery ...` or `python -m celery ...`): fail with one line on a bad setting.
if "celery" in (os.path.basename(sys.argv[0]), os.path.basename(os.path.dirname(sys.argv[0]))):
    from finops.core.startup import load_settings_or_exit

    load_settings_or_exit()

app = Celery("finops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
