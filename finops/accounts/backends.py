"""Authentication backends: the login lockout (django-axes) in front of Django's model backend."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses a login from a client or for a user locked out after too many failures. A login made by code
    without a request (a shell, a test client's ``login``) has no client to count and passes through."""

    def authenticate(self, request: HttpRequest | None = None, *args, **kwargs) -> AbstractBaseUser | None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
