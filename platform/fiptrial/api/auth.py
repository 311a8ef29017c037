"""Bearer-token authentication for the JSON API; the rules are in services.access."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from fiptrial.services.access import Principal, authorise
from fiptrial.services.tokens import authenticate

OPEN_PATHS = ("/api/v1/openapi.json",)
F = TypeVar("F", bound=Callable[..., Any])


def load_principal() -> None:
    """before_request: every /api/ request except the OpenAPI document needs a valid token."""
    if not request.path.startswith("/api/") or request.path in OPEN_PATHS:
        return
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    g.principal = authenticate(token)


def principal() -> Principal:
    return g.principal


def requires(action: str) -> Callable[[F], F]:
    """Check the role before anything else, the request body included.

    Put it right under the route decorator: flask-smorest validates bodies in
    ``@blp.arguments``, and a caller without the right role must get 403, not a 422 that tells
    them what a valid body would look like.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            authorise(principal(), action)
            return view(*args, **kwargs)

        return cast(F, checked)

    return decorate
