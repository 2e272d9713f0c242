"""The account menu's pages: your API tokens (create with a scope and an expiry, the key shown once; list;
revoke) and your alert emails (weekly spend digest, anomaly alerts, commitment expiry alerts).

Every role may use them (they change only the caller's own settings); the services the API and the commands
use decide what each role may choose: a viewer gets read tokens only, an engineer no organization-wide
commitment alerts, and an engineer's anomaly emails carry their teams' series only."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from finops.accounts.access import AccessPolicy
from finops.api.models import ApiToken
from finops.api.selectors import tokens_visible
from finops.api.services import TokenError, token_create, token_revoke
from finops.budgets.selectors import digest_subscribed
from finops.budgets.services import digest_subscribe
from finops.commitments.selectors import commitment_alert_subscribed
from finops.commitments.services import commitment_alert_subscribe
from finops.forecasting.models import AnomalySubscription
from finops.forecasting.selectors import anomaly_subscription_of
from finops.forecasting.services import anomaly_subscription_set
from finops.web.access import org_page, render_page

EXPIRY_CHOICES = (("30", "30 days"), ("7", "7 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never"))
NO_ANOMALY_EMAILS = "off"


class TokenForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="What the token is for, e.g. the script that uses it.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False, initial="30", label="Expires after"
    )

    def __init__(self, *args, scope: AccessPolicy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not scope.can_write:  # the service refuses a viewer's write token; do not offer it
            self.fields["scope"].choices = [(ApiToken.Scope.READ, ApiToken.Scope.READ.label)]


def _token_rows(scope: AccessPolicy, user) -> list[dict]:
    now = timezone.now()
    rows = []
    for token in tokens_visible(scope, user).order_by("-created_at", "-id"):
        if token.revoked_at is not None:
            state = "Revoked"
        elif token.expires_at is not None and token.expires_at <= now:
            state = "Expired"
        else:
            state = "Active"
        rows.append({"token": token, "state": state, "mine": token.user_id == user.pk})
    return rows


@org_page(personal=True)
@require_http_methods(["GET", "POST"])
def account_tokens(request: HttpRequest) -> HttpResponse:
    scope = request.scope
    form = TokenForm(request.POST or None, scope=scope)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = token_create(
                    user=request.user,
                    organization=scope.organization,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    expires_in_days=form.cleaned_data["expires_in_days"],
                )
            except TokenError as error:
                form.add_error(None, str(error))
        if created is None:
            status = 400
        else:
            form = TokenForm(scope=scope)
    context = {"form": form, "created": created, "rows": _token_rows(scope, request.user)}
    response = render_page(request, "web/account_tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page that shows a new key is never kept by the browser
    return response


@org_page(personal=True)
@require_POST
def account_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = tokens_visible(request.scope, request.user).filter(pk=token_id).first()
    if token is None:  # another organization's, another member's (unless admin), or none: no such token
        raise Http404("No such token.")
    token_revoke(token=token)
    messages.success(request, f"Token {token.name} (finops_{token.prefix}_…) revoked: it no longer works.")
    return redirect(reverse("web:account_tokens"))


class AlertsForm(forms.Form):
    digest = forms.BooleanField(required=False, label="Weekly spend digest (Mondays)")
    anomaly_mode = forms.ChoiceField(
        choices=[
            (NO_ANOMALY_EMAILS, "No anomaly emails"),
            (AnomalySubscription.Mode.IMMEDIATE, "Each anomaly as it is found"),
            (AnomalySubscription.Mode.DAILY_DIGEST, "A daily digest"),
        ],
        label="Cost anomaly emails",
    )
    anomaly_min_impact = forms.DecimalField(
        min_value=0, max_digits=18, decimal_places=2, initial=0, label="Only anomalies with an impact of at least"
    )
    commitments = forms.BooleanField(required=False, label="Commitment expiry alerts (90, 30 and 7 days before)")

    def __init__(self, *args, scope: AccessPolicy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not scope.sees_all_teams:  # organization-wide: not for a member who reads only their teams
            del self.fields["commitments"]


def _alerts_initial(scope: AccessPolicy, user) -> dict:
    anomaly = anomaly_subscription_of(user=user, organization=scope.organization)
    initial = {
        "digest": digest_subscribed(user=user, organization=scope.organization),
        "anomaly_mode": anomaly.mode if anomaly else NO_ANOMALY_EMAILS,
        "anomaly_min_impact": anomaly.min_impact.quantize(Decimal("0.01")) if anomaly else Decimal("0.00"),
    }
    if scope.sees_all_teams:
        initial["commitments"] = commitment_alert_subscribed(user=user, organization=scope.organization)
    return initial


@org_page(personal=True)
@require_http_methods(["GET", "POST"])
def account_alerts(request: HttpRequest) -> HttpResponse:
    scope, user = request.scope, request.user
    form = AlertsForm(request.POST or None, scope=scope, initial=_alerts_initial(scope, user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        mode = None if data["anomaly_mode"] == NO_ANOMALY_EMAILS else data["anomaly_mode"]
        try:
            with transaction.atomic():  # all three choices or none
                digest_subscribe(user=user, organization=scope.organization, active=data["digest"])
                anomaly_subscription_set(
                    user=user, organization=scope.organization, mode=mode, min_impact=data["anomaly_min_impact"]
                )
                if "commitments" in form.fields:
                    commitment_alert_subscribe(user=user, organization=scope.organization, active=data["commitments"])
        except (ValueError, ValidationError) as error:
            form.add_error(None, "; ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, "Your alert emails are saved.")
            return redirect(reverse("web:account_alerts"))
    status = 400 if request.method == "POST" else 200
    context = {"form": form}
    return render_page(request, "web/account_alerts.html", context, status=status)
