"""``Idempotency-Key`` for POSTs that start work (uploads now; optimizer runs later).

The first response to (organization, caller, key) is stored with a SHA-256 of the request (method, path,
query, form fields and the content of uploaded files). A retry with the same key and the same request gets
the stored status and body back (header ``Idempotent-Replayed: true``) and starts nothing; the same key with
a different request is a 409 ``conflict``. Only 2xx responses are stored, so a corrected retry of a refused
request may reuse its key. Keys live ``FINOPS_IDEMPOTENCY_TTL_HOURS`` (default 24) hours, then count as new.

Usage in a view::

    return idempotent(request, self.tenant, lambda: self._start_the_work(...))
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from finops.accounts.access import AccessPolicy
from finops.api.errors import Conflict
from finops.api.services import idempotency_find, idempotency_record

HEADER = "Idempotency-Key"


def request_fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    for name, values in sorted(request.query_params.lists()):
        digest.update(f"q {name}={values!r}\n".encode())
    files = getattr(request, "FILES", {}) or {}
    for name in sorted(request.data.keys()) if hasattr(request.data, "keys") else []:
        if name in files:
            continue
        value = request.data.getlist(name) if hasattr(request.data, "getlist") else request.data[name]
        digest.update(f"d {name}={value!r}\n".encode())
    for name in sorted(files.keys()):
        for upload in files.getlist(name):
            content = hashlib.sha256()
            for chunk in upload.chunks():
                content.update(chunk)
            upload.seek(0)
            digest.update(f"f {name}={upload.name!r}:{content.hexdigest()}\n".encode())
    return digest.hexdigest()


def idempotent(request: Request, tenant: AccessPolicy, work: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return work()
    if not key or len(key) > 255 or not key.isprintable():
        raise exceptions.ValidationError({HEADER: ["Expected 1-255 printable characters."]})
    fingerprint = request_fingerprint(request)
    with transaction.atomic():
        record = idempotency_find(organization=tenant.organization, caller=tenant.caller, key=key)
        if record is not None:
            if record.request_sha256 != fingerprint:
                raise Conflict(f"{HEADER} {key!r} was already used with a different request.")
            headers = {"Idempotent-Replayed": "true"}
            if isinstance(record.response_body, dict) and record.response_body.get("url"):
                headers["Location"] = str(record.response_body["url"])
            return Response(record.response_body, status=record.response_status, headers=headers)
        response = work()
        if 200 <= response.status_code < 300:
            try:
                with transaction.atomic():
                    idempotency_record(
                        organization=tenant.organization,
                        user=request.user,
                        token_id=tenant.token_id,
                        caller=tenant.caller,
                        key=key,
                        request_sha256=fingerprint,
                        status=response.status_code,
                        body=response.data,
                    )
            except IntegrityError as error:
                # A concurrent request with the same key won: undo this one's work (the whole block).
                raise Conflict(f"A request with {HEADER} {key!r} is already in progress.") from error
    return response
