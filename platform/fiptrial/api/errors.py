"""Every API error has one shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed

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
    """flask-smorest's Api with the platform's error shape, documented as it is sent."""

    # The schema of every error answer in the OpenAPI document (imported late: the schemas
    # need the models, which need this module's PlatformApi through fiptrial.extensions).
    @property  # type: ignore[override]
    def ERROR_SCHEMA(self) -> Any:
        from fiptrial.schemas import ErrorSchema

        return ErrorSchema

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
        return body, error.code, {**allow_header(error), **(data.get("headers") or {})}


def allow_header(error: HTTPException) -> dict[str, str]:
    """A 405 names the methods that the address does take (RFC 9110, section 15.5.6)."""
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        return {"Allow": ", ".join(sorted(error.valid_methods))}
    return {}


def platform_error_response(error: PlatformError) -> Any:
    response = jsonify(error.to_dict())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fiptrial"'
    return response
