"""The package's own languages: its Dutch catalogue (``locale/nl``, compiled with Babel's
``pybabel compile``; English message ids, so ``en`` is the identity) and numbers in each
language's form (Babel). The figures and the HTML report share them."""

from __future__ import annotations

import gettext
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from babel.numbers import format_decimal

LANGUAGES = ("en", "nl")
NUMBER_LOCALES = {"en": "en_GB", "nl": "nl_NL"}


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The package's catalogue for ``language`` (English message ids: ``en`` is the identity)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    folder = resources.files("fiptrial_analysis") / "locale"
    return gettext.translation(
        "fiptrial_analysis", str(folder), languages=[language], fallback=True
    )


def number_format(language: str) -> Callable[..., str]:
    """``number(value, digits, sign=False)`` in the language's own form (Babel): 14,000.5 in
    English, 14.000,5 in Dutch; ``sign`` writes + before a positive number."""
    locale = NUMBER_LOCALES.get(language, "en_GB")

    def number(value: float, digits: int = 3, sign: bool = False) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        if sign:
            pattern = f"+{pattern};-{pattern}"
        return str(format_decimal(value, pattern, locale=locale))

    return number


@dataclass(frozen=True)
class Words:
    """What a figure writes, in one language: texts, texts with a count, numbers, and the
    sites by name (``site_names``: code to name; a site without one is shown by its code)."""

    language: str = "en"
    site_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        translations(self.language)  # refuses an unknown language at once

    def __call__(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def n(self, singular: str, plural: str, count: int) -> str:
        """The form for ``count`` with ``%(n)s`` filled in (the count in the language's form)."""
        text = translations(self.language).ngettext(singular, plural, count)
        return text % {"n": self.number(count, 0)}

    def site(self, code: str) -> str:
        return self.site_names.get(code, code)

    def number(self, value: float, digits: int = 3) -> str:
        return number_format(self.language)(value, digits)

    def plain(self, value: float) -> str:
        """A tick value as short as it can be (``0.5``, ``1``, ``1,000``; Dutch ``0,5``)."""
        locale = NUMBER_LOCALES.get(self.language, "en_GB")
        return str(format_decimal(value, "#,##0.####", locale=locale))
