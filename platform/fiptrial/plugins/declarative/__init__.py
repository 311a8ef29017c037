"""Declarative sites: a municipality joins with three data files and no code.

A declarative site is a folder -- or an installed package, even one without any Python file --
holding:

``site.toml``
    who the site is::

        api_version = "2.0"          # the plugin interface the files were written for
        name = "gouda"               # the plugin's name (the folder or entry-point name)
        version = "1.0.0"
        site_name = "Gemeente Gouda"
        members = ["GM0513"]         # CBS codes; [] = from the site's settings
        benefit_statistic_codes = ["01"]
        sample = "sample_export.xml" # optional: a synthetic export in the site's format

``export.toml``
    the export's layout (:mod:`~fiptrial.plugins.declarative.layout`): ``csv`` or ``xml``, the
    separators and encodings, the header name or element path of each field, date formats,
    sex codes, and how a benefit unit and a partner are given.

``mapping.csv``
    the local end-of-benefit codes to BUS kenmerk 34, every version with its ``valid_from``
    (:func:`~fiptrial.plugins.mapping.load_mapping_history`).

:class:`DeclarativeSite` is the plugin the host registers for such a folder: it implements the
hooks of :mod:`fiptrial.plugins.hookspecs` from the files, and reads the export with the one
generic reader (:mod:`~fiptrial.plugins.declarative.reader`). A site whose export needs a rule
no layout can say subclasses it (or writes a plugin from scratch) and adds the hook it needs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from fiptrial.plugins.declarative.layout import ExportLayout, SiteFileError
from fiptrial.plugins.declarative.reader import read_export as read_declarative_export
from fiptrial.plugins.declarative.writer import write_export as write_layout_export
from fiptrial.plugins.hookspecs import hookimpl
from fiptrial.plugins.info import SitePluginInfo
from fiptrial.plugins.mapping import (
    MappingFileError,
    ReasonMapping,
    load_mapping_history,
    version_on,
)
from fiptrial.plugins.rows import ExportRow
from fiptrial.timezone import local_today

__all__ = [
    "LAYOUTS",
    "DeclarativeSite",
    "ExportLayout",
    "SiteFileError",
    "declarative_resources",
    "layout_files",
    "layouts_root",
]

SITE_FILE, EXPORT_FILE, MAPPING_FILE = "site.toml", "export.toml", "mapping.csv"
#: The layouts shipped with the platform, for ``fiptrial plugins new --from-layout``.
LAYOUTS = ("csv", "bus")


def layouts_root() -> Traversable:
    """The folder of the shipped layouts (and of the BUS mapping they share)."""
    return resources.files("fiptrial.plugins.declarative") / "layouts"


def layout_files(name: str) -> Traversable:
    """The folder of a shipped layout (its ``export.toml``)."""
    if name not in LAYOUTS:
        raise SiteFileError(f"unknown layout {name!r}: choose one of {', '.join(LAYOUTS)}")
    return layouts_root() / name


def declarative_resources(module: ModuleType) -> Traversable | None:
    """The files of a package that is a declarative site (it holds a ``site.toml``)."""
    try:
        files = resources.files(module)
    except (TypeError, ValueError, ModuleNotFoundError):
        return None
    return files if (files / SITE_FILE).is_file() else None


class DeclarativeSite:
    """The plugin of one declarative site, read from its files once, at start-up.

    Raises (from :meth:`load`):
        SiteFileError: a file is missing or wrong; the message names the file and the key.
    """

    def __init__(self, files: Traversable, expected_name: str = "") -> None:
        self.files = files
        settings = _read_toml(files / SITE_FILE, SITE_FILE)
        self.settings = settings
        name = settings.get("name") or expected_name
        if not isinstance(name, str) or not name:
            raise SiteFileError(f"{SITE_FILE}: name is required")
        self.name = name
        self.layout = ExportLayout.from_mapping(
            _read_toml(files / str(settings.get("export", EXPORT_FILE)), EXPORT_FILE),
            EXPORT_FILE,
        )
        mapping_file = files / str(settings.get("mapping", MAPPING_FILE))
        if not mapping_file.is_file():
            raise SiteFileError(f"{MAPPING_FILE}: the file is missing")
        try:
            self.history = load_mapping_history(mapping_file)
        except MappingFileError as error:
            raise SiteFileError(str(error)) from None
        members = settings.get("members", [])
        codes = settings.get("benefit_statistic_codes", ["01"])
        if not isinstance(members, list) or not isinstance(codes, list):
            raise SiteFileError(f"{SITE_FILE}: members and benefit_statistic_codes are lists")
        self.info = SitePluginInfo(
            name=name,
            version=str(settings.get("version", "")),
            site_name=str(settings.get("site_name", "")),
            municipalities=tuple(str(code) for code in members),
            mapping_version=str(settings.get("mapping_version", "")) or self.current.version,
            description=str(settings.get("description", "")) or _describe(self.layout),
            api_version=str(settings.get("api_version", "")),
            benefit_statistic_codes=tuple(str(code).zfill(2) for code in codes),
        )

    @classmethod
    def load(cls, files: Traversable | Path, expected_name: str = "") -> DeclarativeSite:
        return cls(files, expected_name)

    @cached_property
    def current(self) -> ReasonMapping:
        return version_on(self.history, local_today())

    # --- the hooks ----------------------------------------------------------------------------

    @hookimpl
    def site_plugin_info(self) -> SitePluginInfo:
        return self.info

    @hookimpl
    def reason_mappings(self) -> tuple[ReasonMapping, ...]:
        return self.history

    @hookimpl
    def read_export(
        self, source: BinaryIO, wanted: Callable[[str], bool] | None
    ) -> Iterator[ExportRow]:
        return read_declarative_export(self.layout, source, wanted)

    @hookimpl
    def sample_export(self) -> Traversable | None:
        name = self.settings.get("sample")
        if not name:
            return None
        sample = self.files / str(name)
        return sample if sample.is_file() else None

    @hookimpl
    def write_export(self, rows: Iterable[ExportRow], out: BinaryIO) -> int:
        return write_layout_export(self.layout, rows, out)

    # --- not hooks ----------------------------------------------------------------------------

    def field_labels(self) -> Mapping[str, str]:
        """What the export calls each field it has (header name or element path)."""
        return {name: self.layout.label(name) for name in self.layout.fields}

    def __repr__(self) -> str:
        return f"<DeclarativeSite {self.name} ({self.layout.format})>"


def _read_toml(path: Traversable, name: str) -> dict[str, Any]:
    if not path.is_file():
        raise SiteFileError(f"{name}: the file is missing")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SiteFileError(f"{name}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise SiteFileError(f"{name}: not UTF-8 text") from None


def _describe(layout: ExportLayout) -> str:
    if layout.format == "xml":
        nesting = f"{layout.record}/{layout.person}" if layout.person else layout.record
        return f"Declarative XML export ({nesting})"
    separators = " or ".join(repr(d) for d in layout.delimiters)
    return f"Declarative CSV export ({separators})"
