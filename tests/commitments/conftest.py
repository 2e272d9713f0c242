"""Fixtures of the commitment tests: the budget tests' real SMTP server (aiosmtpd on loopback)."""

from tests.budgets.budget_helpers import smtp_server  # noqa: F401
