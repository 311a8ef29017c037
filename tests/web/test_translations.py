"""Dutch is the source language; the committed English catalogue must be complete and compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "platform" / "fiptrial" / "translations"


def test_english_catalogue_is_complete_and_compiled() -> None:
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        po = read_po(handle)
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        mo = read_mo(handle)
    untranslated = [m.id for m in po if m.id and not m.string]
    assert untranslated == []

    def text(string: object) -> object:  # a plural's translations: a tuple in .po, a list in .mo
        return tuple(string) if isinstance(string, list | tuple) else string

    stale = [
        m.id for m in po if m.id and (m.id not in mo or text(mo[m.id].string) != text(m.string))
    ]
    assert stale == [], "run: python -m babel.messages.frontend compile -d translations -l en"


def test_every_message_in_the_templates_is_in_the_catalogue() -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        pot = read_po(handle)
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        po = read_po(handle)
    missing = [m.id for m in pot if m.id and m.id not in po]
    assert missing == []
