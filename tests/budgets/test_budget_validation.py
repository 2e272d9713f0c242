"""Budget input is refused with field-level messages, and nothing is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from finops.budgets.models import Budget
from finops.budgets.services import budget_create, budget_update
from finops.budgets.validation import BudgetValidationError
from tests.budgets.budget_helpers import SERVICES, add_line_items, add_user, build_org, cost_frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    frame = cost_frame(first=cost_frame().day.max())  # one day of data is enough to know the values
    organization = build_org(frame)
    add_line_items(organization, frame)
    add_user(organization, "fin", "fin@example.com")
    return organization


GOOD = {
    "name": "EC2 prod",
    "amount": "1000.50",
    "period": "monthly",
    "scope": {
        "service_name": [SERVICES[0]],
        "region_id": ["us-east-1"],
        "team": ["checkout"],
        "tags": {"env": ["prod"]},
    },
    "thresholds": [{"percent": 80, "kind": "actual"}, {"percent": "100", "kind": "forecast"}],
    "recipient_users": ["fin"],
    "recipient_emails": ["ops@example.com"],
}


def refused(org, **changes) -> dict[str, list[str]]:
    with pytest.raises(BudgetValidationError) as info:
        budget_create(organization=org, data={**GOOD, **changes})
    assert Budget.objects.count() == 0
    return info.value.message_dict


def test_good_input_is_stored_normalised(org):
    budget = budget_create(organization=org, data=GOOD)
    assert str(budget.amount) == "1000.50"
    assert budget.thresholds == [{"percent": "80", "kind": "actual"}, {"percent": "100", "kind": "forecast"}]
    assert budget.scope["tags"] == {"env": ["prod"]}
    assert [u.username for u in budget.recipient_users.all()] == ["fin"]


@pytest.mark.parametrize("amount", ["0", "-5", "abc", 12.5, None, "NaN"])
def test_bad_amount(org, amount):
    errors = refused(org, amount=amount)
    assert list(errors) == ["amount"]


def test_zero_and_negative_amount_messages(org):
    assert refused(org, amount="0") == {"amount": ["Amount must be greater than zero, got 0."]}
    assert refused(org, amount="-1.5") == {"amount": ["Amount must be greater than zero, got -1.5."]}


def test_unknown_scope_values(org):
    errors = refused(
        org,
        scope={
            "service_name": ["Amazon Nonexistent"],
            "region_id": ["mars-1"],
            "team": ["nobody"],
            "tags": {"env": ["prod", "qa"]},
            "colour": ["red"],
        },
    )
    assert errors["scope.service_name"] == ["Unknown service_name value(s) in organization acme: Amazon Nonexistent."]
    assert errors["scope.region_id"] == ["Unknown region_id value(s) in organization acme: mars-1."]
    assert errors["scope.team"] == ["Unknown team value(s) in organization acme: nobody."]
    assert errors["scope.tags"] == ["Unknown value(s) of tag 'env' in organization acme: qa."]
    assert "Unknown scope filter(s) colour" in errors["scope"][0]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ([{"percent": 0, "kind": "actual"}], "Threshold 1: percent must be greater than 0 and at most 1000, got 0."),
        (
            [{"percent": "1000.5", "kind": "actual"}],
            "Threshold 1: percent must be greater than 0 and at most 1000, got 1000.5.",
        ),
        (
            [{"percent": -10, "kind": "forecast"}],
            "Threshold 1: percent must be greater than 0 and at most 1000, got -10.",
        ),
        ([{"percent": "x", "kind": "actual"}], "Threshold 1: percent must be a number, got 'x'."),
        ([{"percent": 50, "kind": "maybe"}], "Threshold 1: kind must be one of actual, forecast."),
        (
            [{"percent": 50, "kind": "actual"}, {"percent": "50.0", "kind": "actual"}],
            "Threshold 2: 50% on actual is listed twice.",
        ),
    ],
)
def test_bad_thresholds(org, thresholds, message):
    assert refused(org, thresholds=thresholds) == {"thresholds": [message]}


def test_threshold_limits_are_inclusive_of_1000(org):
    budget = budget_create(organization=org, data={**GOOD, "thresholds": [{"percent": 1000, "kind": "actual"}]})
    assert budget.thresholds == [{"percent": "1000", "kind": "actual"}]


def test_invalid_emails_and_unknown_users(org):
    outsider = get_user_model().objects.create(username="outsider", email="o@example.com")
    errors = refused(
        org, recipient_emails=["ok@example.com", "not-an-email", "a@b"], recipient_users=["fin", outsider.pk, "ghost"]
    )
    assert errors["recipient_emails"] == ["Invalid email address(es): not-an-email, a@b."]
    assert errors["recipient_users"] == [f"Not member(s) of organization acme: {outsider.pk}, ghost."]


def test_a_recipient_that_is_not_an_id_or_username_is_refused_not_a_crash(org):
    message = ["Recipient users must be a list of user ids or usernames."]
    assert refused(org, recipient_users=[{}])["recipient_users"] == message
    assert refused(org, recipient_users=["fin", ["nested"]])["recipient_users"] == message


def test_users_without_email_and_no_recipient(org):
    add_user(org, "noemail", "")
    assert refused(org, recipient_users=["noemail"], recipient_emails=[]) == {
        "recipient_users": ["User(s) without an email address: noemail."]
    }
    assert refused(org, recipient_users=[], recipient_emails=[]) == {
        "recipient_emails": ["Thresholds need at least one recipient (a user or an email address)."]
    }


def test_duplicate_name_is_refused_and_all_errors_come_together(org):
    budget_create(organization=org, data=GOOD)
    with pytest.raises(BudgetValidationError) as info:
        budget_create(organization=org, data={**GOOD, "amount": "0", "period": "weekly"})
    assert info.value.message_dict == {
        "name": ["A budget named 'EC2 prod' already exists in organization acme."],
        "period": ["Period must be one of monthly, quarterly, annual, got 'weekly'."],
        "amount": ["Amount must be greater than zero, got 0."],
    }
    assert Budget.objects.count() == 1


def test_update_validates_and_keeps_the_row_on_failure(org):
    budget = budget_create(organization=org, data=GOOD)
    with pytest.raises(BudgetValidationError):
        budget_update(budget=budget, data={**GOOD, "amount": "-1"})
    budget.refresh_from_db()
    assert budget.amount == Decimal("1000.50")
    budget_update(budget=budget, data={**GOOD, "amount": "2000"})  # its own name is not a duplicate
    budget.refresh_from_db()
    assert budget.amount == Decimal("2000")


def test_a_currency_the_scope_is_never_billed_in_is_refused(org):
    errors = refused(org, currency="NOK")
    assert errors["currency"] == [
        "No costs in this budget's scope are billed in NOK (they are billed in USD): a budget in NOK would "
        "never see any spend."
    ]
    # Lower case is the same currency, not a second one.
    assert budget_create(organization=org, data={**GOOD, "currency": "usd"}).currency == "USD"


def test_an_organization_without_data_may_choose_its_currency():
    from finops.accounts.models import Organization

    young = Organization.objects.create(slug="young", name="young")
    budget = budget_create(
        organization=young, data={"name": "first", "amount": "100", "currency": "EUR", "thresholds": []}
    )
    assert budget.currency == "EUR"
