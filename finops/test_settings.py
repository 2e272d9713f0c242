"""Settings for the test suite: the real settings, with development defaults for a bare `pytest`."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")

from finops.settings import *  # noqa: F403

# Queued follow-up tasks would outlive the test database they name; the follow-up tests turn this on.
FINOPS_INGEST_FOLLOWUPS = False

# The live server's threads would otherwise keep their connections open after the test, and PostgreSQL then
# refuses to drop the test database ("is being accessed by other users").
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# PBKDF2's deliberate slowness (about half a second per hash on a 2-core machine) is not what the tests test;
# every user created and every login would pay it. Production keeps Django's default hashers.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The shared fixtures (the FinOps Foundation FOCUS sample) allocate by business unit and cost center as well:
# their tests need teams. Production's default reads only the team/Team tags (see the README's team rules).
FINOPS_TEAM_TAG_KEYS = ["team", "Team", "cost_center", "CostCenter", "business_unit"]
