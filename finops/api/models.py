"""API tokens and idempotency records. Both belong to one organization."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.accounts.models import Organization


class ApiToken(models.Model):
    """A bearer token acting for ``user`` in ``organization`` only.

    The key (``finops_<prefix>_<secret>``) is shown once at creation; only its SHA-256 is stored. The
    prefix identifies the token in lists and logs and finds the row; the hash is compared in constant time.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, unique=True)
    key_sha256 = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name}) for {self.user} in {self.organization}"


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed for retries of the same request.

    ``caller`` is ``token:<id>`` or ``user:<id>``: a key is private to one token (or one session user) in one
    organization. Records older than ``FINOPS_IDEMPOTENCY_TTL_HOURS`` no longer count and are replaced when
    their key is reused.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    caller = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "caller", "key"], name="idempotency_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.caller} {self.key} -> {self.response_status}"
