"""Every API error has one shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from fiptrial.errors import PlatformError


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


class PlatformApi(Api):
    """flask-smorest's Api with the platform's error shape."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        if not request.path.startswith("/api/"):
            return error
        data = getattr(error, "data", None) or {}
        fields = _flatten_messages(data.get("messages") or data.get("errors"))
        message = data.get("message") or error.description or error.name
        if fields:
            message = "invalid input: " + "; ".join(
                f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()
            )
        code = "validation_failed" if error.code == 422 else error.name.lower().replace(" ", "_")
        body = {"error": {"code": code, "status": error.code, "message": message, "fields": fields}}
        return body, error.code, data.get("headers", {})


def platform_error_response(error: PlatformError) -> Any:
    response = jsonify(error.to_dict())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fiptrial"'
    return response
