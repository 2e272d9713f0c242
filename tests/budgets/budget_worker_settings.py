"""Settings of the Celery worker started by the budget fault test: the real settings plus two test-only knobs
read from the environment (the pause point of budget evaluation, and a short Redis visibility timeout so the
message of a killed worker is redelivered within seconds instead of an hour)."""

import os

from finops.settings import *  # noqa: F403

FINOPS_BUDGETS_TEST_PAUSE_FILE = os.environ.get("FINOPS_BUDGETS_TEST_PAUSE_FILE", "")
if os.environ.get("FINOPS_TEST_VISIBILITY_TIMEOUT"):
    # kombu looks for expired unacknowledged messages every 10 s but scans Redis only on every 10th look: a
    # message not yet expired at the worker's start would come back only 100 s later. Here: every second.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": float(os.environ["FINOPS_TEST_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
