"""Every API error has one shape: {"error": {"code", "message", "fields"}} (``http_errors``)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from fiptrial.errors import PlatformError
from fiptrial.http_errors import api_error_response


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
        return api_error_response(error)


def platform_error_response(error: PlatformError) -> Any:
    response = jsonify(error.to_dict())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fiptrial"'
    return response
