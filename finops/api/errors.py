"""One JSON shape for every API error, with a stable code:

    {"error": {"code": "invalid", "message": "...", "fields": {"field": ["message", ...]}}}

``fields`` is present for field-level input errors only. Codes: invalid, parse_error, not_authenticated,
permission_denied, not_found, method_not_allowed, not_acceptable, unsupported_media_type, conflict,
throttled, too_large, queue_unavailable, server_error. Throttled responses and queue_unavailable (503: the task
queue is out of reach, nothing was started) carry ``Retry-After`` (seconds). An unexpected failure is a 500
in the same shape (``server_error``); its traceback goes to the log, never to the caller.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from finops.core.tasks import QueueUnavailable

logger = logging.getLogger("finops.api")

CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is larger than allowed."
    default_code = "too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again later."
    default_code = "queue_unavailable"


CODES.append((Conflict, "conflict"))
CODES.append((PayloadTooLarge, "too_large"))
CODES.append((ServiceUnavailable, "queue_unavailable"))
# Seconds a client should wait before retrying work refused because the task queue was out of reach.
QUEUE_RETRY_AFTER_SECONDS = 30


def _code(exc: Exception, status_code: int) -> str:
    if isinstance(exc, Http404):
        return "not_found"
    if isinstance(exc, DjangoPermissionDenied):
        return "permission_denied"
    for klass, code in CODES:
        if isinstance(exc, klass):
            return code
    return "error" if status_code >= 500 else "invalid"


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [msg for value in detail.values() for msg in _flatten(value)]
    if isinstance(detail, list):
        return [msg for value in detail for msg in _flatten(value)]
    return [str(detail)]


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, QueueUnavailable):  # any endpoint that queues work: a 503 saying so, not a 500
        exc = ServiceUnavailable(f"Refused: {exc}.")
    response = exception_handler(exc, context)  # DRF sets status, WWW-Authenticate and Retry-After
    if response is None:  # not an API exception: a bug, logged with its traceback
        request = context.get("request")
        logger.error(
            "Internal server error: %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        return Response(
            {"error": {"code": "server_error", "message": "Internal server error."}},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = _code(exc, response.status_code)
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data.get("detail", str(exc))
    error: dict = {"code": code}
    if isinstance(exc, exceptions.ValidationError) and isinstance(detail, dict):
        fields = {str(name): _flatten(value) for name, value in detail.items() if name != "non_field_errors"}
        general = _flatten(detail.get("non_field_errors", []))
        error["message"] = "; ".join(general) or "Invalid input: " + ", ".join(
            f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()
        )
        if fields:
            error["fields"] = fields
    else:
        error["message"] = " ".join(_flatten(detail)) or code
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        error["retry_after"] = response.headers.get("Retry-After")
    if isinstance(exc, ServiceUnavailable):
        response.headers["Retry-After"] = str(QUEUE_RETRY_AFTER_SECONDS)
    response.data = {"error": error}
    return response
