"""OpenAPI post-processing: every operation documents the shared error responses (finops.api.errors)."""

from __future__ import annotations

ERROR_RESPONSES = {
    "400": "Bad input (code invalid or parse_error), with field-level messages.",
    "401": "Not authenticated: missing, unknown, expired or revoked token (code not_authenticated).",
    "403": "Authenticated but not allowed: role, or a read-only token on a write (code permission_denied).",
    "404": "No such object in your organization (code not_found).",
    "405": "Method not allowed (code method_not_allowed).",
    "406": "Cannot produce the requested media type (code not_acceptable).",
    "409": "Conflict, e.g. an Idempotency-Key reused with a different request (code conflict).",
    "415": "Unsupported request media type (code unsupported_media_type).",
    "429": "Throttled (code throttled); retry after Retry-After seconds.",
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                "retry_after": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method not in ("get", "post", "put", "patch", "delete", "head", "options"):
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                entry = {"description": description, "content": {"application/json": {"schema": reference}}}
                if code == "429":
                    entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}
                responses.setdefault(code, entry)
    return result
