"""A multipart body read whole: its text fields and its files against one schema.

webargs reads ``form`` and ``files`` as separate locations, and flask-smorest documents one
body per operation, so an upload with a text field beside the file needs the location
``multipart``: :class:`MultipartBlueprint` parses it and documents it as one
``multipart/form-data`` requestBody.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

import marshmallow as ma
from flask import Request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from fiptrial.errors import Unprocessable

LOCATION = "multipart"


class MultipartParser(FlaskParser):
    """FlaskParser with the location ``multipart``: the files, then the form fields.

    Fields that the schema does not name are refused or left out as its ``Meta.unknown``
    says (as for ``form``). A refused body is a 422 naming its fields with the code
    ``invalid_field``, the platform's answer to a bad field (``errors.field_error``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The parser's own map: the class's dict is shared by every FlaskParser in the process.
        self.__location_map__ = {**self.__location_map__, LOCATION: "load_multipart"}

    def load_multipart(self, req: Request, schema: ma.Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)

    def handle_error(
        self,
        error: ma.ValidationError,
        req: Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ) -> NoReturn:
        # webargs files the messages under the location: {"multipart": {field: [message]}}
        messages = error.normalized_messages()
        located = messages.get(LOCATION, messages)
        fields = {str(name): _texts(texts) for name, texts in located.items()}
        message = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in fields.items())
        raise Unprocessable(message, code="invalid_field", fields=fields)


def _texts(messages: Any) -> list[str]:
    return [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]


class MultipartBlueprint(Blueprint):
    """A Blueprint whose ``arguments(..., location="multipart")`` reads a multipart body whole
    and documents it as a ``multipart/form-data`` requestBody."""

    ARGUMENTS_PARSER = MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        LOCATION: "multipart/form-data",
    }
