"""Tenant isolation for the whole API, in one place.

Who is calling, for which organization, with which role:

- a **token** acts for its user in its organization only (``?org=`` is ignored);
- a **session** user acts in ``?org=SLUG`` when given (an organization they are not a member of is a 404,
  so existence does not leak), else in their only organization, else in the first by slug.

Roles: ``admin`` and ``finance`` see everything in their organization; ``engineer`` sees only the cost rows
of their teams (rows without a team are not theirs); ``viewer`` is read-only. A ``read`` token may only use
safe methods (GET, HEAD, OPTIONS), whatever its user's role. Objects of another organization are always 404.

Adding a tenant-scoped endpoint is a few lines::

    from finops.api.tenancy import TenantModelViewSet, Role

    class BudgetViewSet(TenantModelViewSet):          # or TenantReadOnlyViewSet / TenantAPIView
        queryset = Budget.objects.all()                # scoped to the caller's organization automatically
        serializer_class = BudgetSerializer
        write_roles = {Role.ADMIN, Role.FINANCE}       # who may POST/PUT/PATCH/DELETE (default: all but viewer)
        team_field = "team"                            # optional: engineers see only their teams' rows

        def perform_create(self, serializer):
            serializer.save(organization=self.tenant.organization)

    # finops/api/urls.py
    router.register("budgets", BudgetViewSet, basename="budget")

``organization_field`` names the path from the model to its Organization (default ``"organization"``).
A POST that starts work wraps its response in ``finops.api.idempotency.idempotent`` to honour
``Idempotency-Key``. Errors come out in the shape of ``finops.api.errors``; throttles are per token and per user.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions, generics, permissions, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.views import APIView

from finops.accounts.access import AccessPolicy, policy_for_token, policy_for_user
from finops.accounts.models import Membership, Role
from finops.api.authentication import TokenAuthentication
from finops.api.models import ApiToken
from finops.api.throttling import TokenRateThrottle, UserRateThrottle

ALL_ROLES = frozenset(Role.values)
WRITERS = frozenset({Role.ADMIN, Role.FINANCE, Role.ENGINEER})


def resolve_tenant(request: Request) -> AccessPolicy:
    """The caller's access policy: a token's in its organization, a session user's in ``?org=`` (else their
    first organization by slug)."""
    user = request.user
    if isinstance(request.auth, ApiToken):
        token = request.auth
        try:
            return policy_for_token(
                user=user,
                organization_id=token.organization_id,
                token_id=token.pk,
                read_only=token.scope != ApiToken.Scope.WRITE,
            )
        except Membership.DoesNotExist:  # checked at authentication too; a removed member's token stops working
            raise exceptions.AuthenticationFailed("Token's user is no longer a member of its organization.") from None
    wanted = request.query_params.get("org")
    try:
        policy = policy_for_user(user, organization_slug=wanted)
    except Http404:
        raise exceptions.NotFound(f"No organization {wanted!r}.") from None
    if policy is None:
        raise exceptions.PermissionDenied("You are not a member of any organization.")
    return policy


class ReadScopeIsSafeOnly(permissions.BasePermission):
    message = "This token is read-only."

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if isinstance(token, ApiToken) and token.scope != ApiToken.Scope.WRITE:
            return request.method in permissions.SAFE_METHODS
        return True


class TenantPermission(permissions.BasePermission):
    """Authenticated, a member of the resolved organization, in a role the view allows for this method."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF turns this into 401 not_authenticated
        tenant = resolve_tenant(request)
        request.tenant = tenant
        safe = request.method in permissions.SAFE_METHODS
        allowed: Collection[str] = getattr(view, "read_roles" if safe else "write_roles", ALL_ROLES)
        if tenant.role not in allowed:
            raise exceptions.PermissionDenied(f"Your role ({tenant.role}) may not do this.")
        return True


class ApiViewMixin:
    """What every API view shares: token then session authentication, throttles, NUL-free query strings."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, ReadScopeIsSafeOnly]
    throttle_classes = [TokenRateThrottle, UserRateThrottle]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL: refuse it as bad input rather than fail in the database.
        bad = sorted(k for k, values in request.query_params.lists() if "\x00" in k or any("\x00" in v for v in values))
        if bad:
            raise exceptions.ValidationError({name: ["NUL characters are not allowed."] for name in bad})
        data = request.data if request.method not in permissions.SAFE_METHODS else None
        if isinstance(data, dict | list) and _has_nul(data):
            names = (
                sorted(str(k) for k, v in data.items() if _has_nul(k) or _has_nul(v)) if isinstance(data, dict) else []
            )
            message = "NUL characters are not allowed."
            raise exceptions.ValidationError({name: [message] for name in names} if names else message)


def _has_nul(value: object) -> bool:
    """A NUL anywhere in a JSON value (PostgreSQL text and jsonb cannot hold it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class TenantMixin(ApiViewMixin):
    permission_classes = [permissions.IsAuthenticated, ReadScopeIsSafeOnly, TenantPermission]
    read_roles: Collection[str] = ALL_ROLES
    write_roles: Collection[str] = WRITERS
    organization_field = "organization"
    team_field: str | None = None  # path to a Team FK: engineers see only rows of their teams

    @property
    def tenant(self) -> AccessPolicy:
        return self.request.tenant

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        """Every row outside the caller's organization (and, for engineers, their teams) disappears."""
        return self.tenant.scope(queryset, organization_field=self.organization_field, team_field=self.team_field)

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            return queryset.none()
        return self.scope_queryset(queryset)


class TenantAPIView(TenantMixin, APIView):
    pass


class TenantGenericAPIView(TenantMixin, generics.GenericAPIView):
    pass


class TenantReadOnlyViewSet(TenantMixin, viewsets.ReadOnlyModelViewSet):
    pass


class TenantModelViewSet(TenantMixin, viewsets.ModelViewSet):
    pass
