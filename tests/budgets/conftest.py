"""Fixtures of the budget tests (defined in budget_helpers)."""

from tests.budgets.budget_helpers import smtp_server  # noqa: F401
