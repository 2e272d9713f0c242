"""Settings of the Celery worker started by the budget fault test: the real settings plus two test-only knobs
read from the environment (the pause point of budget evaluation, and a short Redis visibility timeout so the
message of a killed worker is redelivered within seconds instead of an hour)."""

import os

from finops.settings import *  # noqa: F403

FINOPS_BUDGETS_TEST_PAUSE_FILE = os.environ.get("FINOPS_BUDGETS_TEST_PAUSE_FILE", "")
if os.environ.get("FINOPS_TEST_VISIBILITY_TIMEOUT"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": float(os.environ["FINOPS_TEST_VISIBILITY_TIMEOUT"])}
