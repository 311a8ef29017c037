"""What every command module shares: the operator's audit name and the error reporting.

A module of its own so that the command modules import it, and ``commands`` (which registers
them all) imports them, without a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from fiptrial.errors import PlatformError

#: The actor recorded in the audit trail for what an operator does on the command line.
OPERATOR = "cli:operator"


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a service's PlatformError into a clear message and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PlatformError as error:
            detail = "".join(f"\n  {k}: {' '.join(v)}" for k, v in error.fields.items())
            raise click.ClickException(error.message + detail) from None

    return wrapper
