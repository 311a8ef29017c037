"""URL converters shared by the API and the pages."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

#: PostgreSQL's ``integer``: the largest id a row can have.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` for database ids: 0 to :data:`MAX_ID`; anything larger matches no route."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
