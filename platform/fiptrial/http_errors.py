"""The JSON body of an HTTP error under /api/: {"error": {"code", "status", "message", "fields"}}.

Outside the API package so that the web's 404/405 handler, which sees every address, can answer
an /api/ address in the API's shape without importing the API.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed


def _flatten_messages(messages: Any) -> dict[str, list[str]]:
    """webargs nests errors by location ({"json": {"bsn": [...]}}); callers want field names."""
    fields: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            fields[prefix or "_body"] = list(value)
        else:
            fields[prefix or "_body"] = [str(value)]

    for location_errors in (messages or {}).values():
        walk("", location_errors)
    return fields


def api_error_response(error: HTTPException) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The body, status and headers for ``error`` (webargs' field messages named by field)."""
    data = getattr(error, "data", None) or {}
    fields = _flatten_messages(data.get("messages") or data.get("errors"))
    message = data.get("message") or error.description or error.name
    if fields:
        message = "invalid input: " + "; ".join(
            f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()
        )
    status = error.code or 500
    code = "validation_failed" if status == 422 else error.name.lower().replace(" ", "_")
    body = {"error": {"code": code, "status": status, "message": message, "fields": fields}}
    return body, status, {**allow_header(error), **(data.get("headers") or {})}


def allow_header(error: HTTPException) -> dict[str, str]:
    """A 405 names the methods that the address does take (RFC 9110, section 15.5.6)."""
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        return {"Allow": ", ".join(sorted(error.valid_methods))}
    return {}
