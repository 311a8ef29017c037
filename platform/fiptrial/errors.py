"""Errors that carry their HTTP meaning, raised by services and shown by API, web and CLI alike."""

from __future__ import annotations

from typing import Any


class PlatformError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "fields": self.fields,
        }
        body.update(self.extra)
        return {"error": body}


class Unauthorized(PlatformError):
    status = 401
    code = "unauthorized"


class Forbidden(PlatformError):
    status = 403
    code = "forbidden"


class NotFound(PlatformError):
    status = 404
    code = "not_found"


class Conflict(PlatformError):
    status = 409
    code = "conflict"


class Unprocessable(PlatformError):
    status = 422
    code = "unprocessable"


def field_error(
    field: str, message: str, *, code: str = "invalid_field", **params: Any
) -> Unprocessable:
    """A 422 that names the offending field, as every bad input should.

    ``code`` says what is wrong and ``params`` the values its message needs (never a value that
    could identify a person): the web pages show the message for ``code`` from their
    translation catalogue, the API returns both next to the English ``message``.
    """
    return Unprocessable(f"{field}: {message}", code=code, fields={field: [message]}, **params)
