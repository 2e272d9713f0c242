"""The upload limit applied while a request body streams in, before its bytes reach a temporary file.

Two guards, one limit (``FINOPS_MAX_UPLOAD_BYTES``, checked by ``upload_size_check``):

- ``UploadLimitHandler``, first of ``FILE_UPLOAD_HANDLERS``: Django parses a multipart body wherever
  ``request.POST``/``FILES`` is first read, and that can be the CSRF middleware, before any view could look at
  the Content-Length. The handler refuses the file part of a body announced as too large before a byte of it
  is stored, and counts the bytes of a body without an honest length, stopping it at the limit.
- ``AsgiBodyLimit`` wraps the ASGI application: Django's ASGI handler writes the whole body to a temporary file
  before any of Django runs, so there the body is counted as it arrives.

A view then calls ``upload_request_check``, which raises the refusal (TooLargeError: 413).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from finops.usage.formats.errors import TooLargeError
from finops.usage.services import upload_size_check

_REFUSAL = "_finops_upload_refusal"


class UploadLimitHandler(FileUploadHandler):
    """Passes every chunk on to the next handler until the request's files pass the upload limit."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def handle_raw_input(
        self, input_data: Any, META: dict, content_length: int, boundary: bytes, encoding: str | None = None
    ) -> None:
        try:
            upload_size_check(content_length)
        except TooLargeError as error:
            # Parsing goes on so the form fields before the file (the CSRF token) are read; the file is not.
            self._refuse(error)

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if getattr(self.request, _REFUSAL, None) is not None:
            raise StopUpload(connection_reset=True)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        try:
            upload_size_check(self.received, name=self.file_name)
        except TooLargeError as error:
            self._refuse(error)
            raise StopUpload(connection_reset=True) from None  # read no more of the body
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler stores the file

    def _refuse(self, error: TooLargeError) -> None:
        if self.request is not None:
            setattr(self.request, _REFUSAL, error)


def upload_request_check(request: HttpRequest) -> None:
    """Refuse (TooLargeError) a request whose upload is over the limit: announced so by its Content-Length, or
    stopped by UploadLimitHandler while it streamed (its file is then missing from ``request.FILES``). Called
    before the body is parsed it checks the announced length only; after, both."""
    upload_size_check(request.META.get("CONTENT_LENGTH"))
    refusal = getattr(request, _REFUSAL, None)
    if refusal is not None:
        raise refusal


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _BodyTooLarge(Exception):
    pass


class AsgiBodyLimit:
    """An ASGI application refusing, with 413, a request body over ``FINOPS_MAX_UPLOAD_BYTES``: at once when its
    content-length says so, else as soon as the bytes received pass it (chunked, or a length that lies)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"").decode("latin-1")
        try:
            upload_size_check(declared)
        except TooLargeError as error:
            await _refuse(scope, send, error)
            return
        received = 0
        refusal: list[TooLargeError] = []

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                try:
                    upload_size_check(received)
                except TooLargeError as error:
                    refusal.append(error)
                    raise _BodyTooLarge from None
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            # Django reads the whole body before it starts a response, so none has been sent yet.
            await _refuse(scope, send, refusal[0])


async def _refuse(scope: Scope, send: Send, error: TooLargeError) -> None:
    message = error.describe()
    if scope.get("path", "").startswith("/api/"):
        body, content_type = json.dumps({"error": {"code": "too_large", "message": message}}), "application/json"
    else:
        body, content_type = message, "text/plain; charset=utf-8"
    data = body.encode()
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})
