"""The declarative reader's one set of messages: every code has its sentence in the web's
catalogue, with the same placeholders, and no message quotes an identifying value."""

from __future__ import annotations

import re

import pytest

from fiptrial.plugins.messages import FILE_MESSAGES, ROW_MESSAGES, row_error

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("code", sorted({*ROW_MESSAGES, *FILE_MESSAGES, "mapping_version_unknown"}))
def test_every_reader_code_is_in_the_web_catalogue(code: str) -> None:
    from fiptrial.web.messages import ERRORS

    assert code in ERRORS, f"add {code!r} to fiptrial.web.messages.ERRORS (Dutch) and the .po"
    english = {**ROW_MESSAGES, **FILE_MESSAGES}.get(code)
    if english is not None:
        dutch = str(ERRORS[code]._args[0]) if hasattr(ERRORS[code], "_args") else str(ERRORS[code])
        assert set(PLACEHOLDER.findall(dutch)) == set(PLACEHOLDER.findall(english)), code


def test_a_row_error_is_a_string_with_its_code_field_and_params() -> None:
    error = row_error("row_invalid_date", "birth_date", column="Geboortedatum", format="jjjjmmdd")
    assert error == "Geboortedatum is not a valid date (jjjjmmdd)"
    assert (error.code, error.field, dict(error.params)) == (
        "row_invalid_date", "birth_date", {"column": "Geboortedatum", "format": "jjjjmmdd"},
    )  # fmt: skip
    assert "; ".join([error, error]).count("Geboortedatum") == 2
