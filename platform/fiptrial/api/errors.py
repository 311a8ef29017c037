"""Every API error has one shape: {"error": {"code", "message", "fields"}} (``http_errors``)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from fiptrial.errors import PlatformError
from fiptrial.http_errors import api_error_response


class PlatformApi(Api):
    """flask-smorest's Api with the platform's error shape (web pages keep their own)."""

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
