"""The plugin host and one site: each site plugin asked who it is, checked, and wrapped.

:class:`PluginHost` asks every site plugin of a plugin manager who it is and checks its answers;
a plugin with an unknown shared code, a duplicate local code, an invalid municipality code or
another interface version is refused with a :class:`SitePluginError` that names the plugin and
the problem (``fiptrial plugins check`` lists the problems per plugin instead). A
:class:`SitePlugin` is one checked site with the calls the importer needs.

Each site's hooks are called on that site's plugin alone (plus the platform's defaults), with
pluggy's ``subset_hook_caller`` (:func:`site_hook`): no hook takes the site's name, and no
plugin can answer for another site. Building the plugin manager is the business of
:mod:`fiptrial.plugins.manager`; like it, this module does not import Flask.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO, Any

import pluggy

from fiptrial.plugins import hookspecs
from fiptrial.plugins.declarative import DeclarativeSite
from fiptrial.plugins.info import SitePluginInfo, is_municipality_code
from fiptrial.plugins.mapping import MappedReason, ReasonMapping, shared_codes, version_on
from fiptrial.plugins.rows import ExportRow
from fiptrial.timezone import local_today

DEFAULTS_NAME = "fiptrial.defaults"
#: Hooks a site answers for itself; called on the site's plugin alone (plus the defaults).
PER_SITE_HOOKS = ("reason_mappings", "read_export", "map_reason", "sample_export", "write_export")


class SitePluginError(RuntimeError):
    """One or more plugins are broken; ``problems`` maps each plugin's name to its problems."""

    def __init__(self, problems: Mapping[str, Sequence[str]]) -> None:
        self.problems = {name: list(messages) for name, messages in problems.items()}
        lines = [
            f"site plugin {name!r}: {message}"
            for name, messages in self.problems.items()
            for message in messages
        ]
        super().__init__("\n".join(lines))

    @classmethod
    def one(cls, plugin: str, message: str) -> SitePluginError:
        return cls({plugin: [message]})


@dataclass(frozen=True)
class Problem:
    """A reason to refuse a site plugin; ``check`` groups problems for the conformance report."""

    check: str
    message: str


#: Where each registered plugin came from ("fiptrial-gouda 1.0", or a folder), by plugin object
#: (weakly: a plugin manager that is dropped takes its plugins' entries with it).
ORIGINS: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def site_hook(pm: pluggy.PluginManager, name: str, hook: str, *, defaults: bool = False) -> Any:
    """A caller of ``hook`` on the plugin ``name`` alone (and the platform's defaults, if
    asked): pluggy's public ``subset_hook_caller`` with every other plugin removed."""
    keep = {name, DEFAULTS_NAME} if defaults else {name}
    others = [p for n, p in pm.list_name_plugin() if n not in keep and p is not None]
    return pm.subset_hook_caller(hook, others)


# --- one site -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SitePlugin:
    """One checked site plugin, with the calls the importer needs.

    It carries the attributes the core reads (``name``, ``version``, ``site_name``,
    ``municipalities``, ``mapping_version``) and calls the hooks of its own plugin only.
    ``history`` holds every version of the reason table, oldest first; ``mapping`` is the
    current one (the newest whose ``valid_from`` is not in the future).
    """

    info: SitePluginInfo
    history: tuple[ReasonMapping, ...]
    pm: pluggy.PluginManager = field(repr=False)
    distribution: str | None = None
    mapping: ReasonMapping = field(init=False)
    _hooks: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mapping", version_on(self.history, local_today()))
        hooks = {hook: site_hook(self.pm, self.name, hook) for hook in PER_SITE_HOOKS}
        hooks["map_reason"] = site_hook(self.pm, self.name, "map_reason", defaults=True)
        object.__setattr__(self, "_hooks", hooks)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def site_name(self) -> str:
        return self.info.site_name

    @property
    def municipalities(self) -> tuple[str, ...]:
        return self.info.municipalities

    @property
    def mapping_version(self) -> str:
        return self.mapping.version

    @property
    def is_declarative(self) -> bool:
        return isinstance(self.pm.get_plugin(self.name), DeclarativeSite)

    def mapping_named(self, version: str) -> ReasonMapping | None:
        """The version ``version`` of the table, or ``None`` when the site never had it."""
        return next((m for m in self.history if m.version == version), None)

    def members(self, site_municipalities: Iterable[str] | None = None) -> tuple[str, ...]:
        """The site's members: its settings win, the plugin's own list is the fallback."""
        members = tuple(site_municipalities or ())
        return members or self.info.municipalities

    def read_export(
        self,
        source: IO[bytes] | str | os.PathLike[str],
        wanted: Callable[[str], bool] | None = None,
    ) -> Iterator[ExportRow]:
        """Stream the rows of an export (a binary file object, or a path the host opens).

        ``wanted``: see the ``read_export`` hook; a plugin may then give ``SKIPPED`` rows.

        Raises:
            ExportFormatError: at once for a wrong header, or while iterating.
        """
        if isinstance(source, (str, os.PathLike)):
            # Not a with-block: the file must stay open while the caller iterates; _closing
            # closes it when the rows are exhausted or abandoned.
            handle = Path(source).open("rb")  # noqa: SIM115
            try:
                rows = self._read(handle, wanted)
            except BaseException:
                handle.close()
                raise
            return _closing(rows, handle)
        return self._read(source, wanted)

    def _read(self, source: IO[bytes], wanted: Callable[[str], bool] | None) -> Iterator[ExportRow]:
        rows = self._hooks["read_export"](source=source, wanted=wanted)
        if rows is None:
            raise SitePluginError.one(self.name, "read_export returned nothing")
        return iter(rows)

    def map_reason(
        self,
        local_code: str,
        new_municipality: str | None = None,
        site_municipalities: Iterable[str] | None = None,
        mapping: ReasonMapping | None = None,
    ) -> MappedReason:
        """What a local code means, for a site with these members (default: the plugin's),
        under ``mapping`` (default: the current version)."""
        result = self._hooks["map_reason"](
            local_code=local_code,
            new_municipality=new_municipality,
            site_municipalities=self.members(site_municipalities),
            mapping=mapping or self.mapping,
        )
        if not isinstance(result, MappedReason):
            raise SitePluginError.one(self.name, f"map_reason returned {result!r}")
        if result.kind == "exit" and result.bus_code not in shared_codes():
            raise SitePluginError.one(
                self.name, f"map_reason gave unknown shared code {result.bus_code!r}"
            )
        return result

    def reason_mapper(
        self,
        site_municipalities: Iterable[str] | None = None,
        mapping: ReasonMapping | None = None,
    ) -> Callable[[str, str | None], MappedReason]:
        """A memoised ``map_reason`` for one import: a file has few distinct codes but may have
        a million rows, and a hook call per row would dominate the import time."""
        members = self.members(site_municipalities)
        table = mapping or self.mapping
        cache: dict[tuple[str, str | None], MappedReason] = {}

        def mapped(local_code: str, new_municipality: str | None = None) -> MappedReason:
            key = (local_code, new_municipality)
            try:
                return cache[key]
            except KeyError:
                if len(cache) > 10_000:  # a file of junk codes must not grow memory
                    cache.clear()
                result = cache[key] = self.map_reason(local_code, new_municipality, members, table)
                return result

        return mapped

    def sample_export(self) -> Traversable | None:
        """The synthetic sample export the plugin ships, if any."""
        result: Traversable | None = self._hooks["sample_export"]()
        return result

    def write_export(self, rows: Iterable[ExportRow], out: IO[bytes]) -> int:
        """Write ``rows`` in the site's own format (synthetic exports); the rows written.

        Raises:
            SitePluginError: the plugin cannot write its format.
        """
        written = self._hooks["write_export"](rows=rows, out=out)
        if written is None:
            raise SitePluginError.one(self.name, "the plugin cannot write its export format")
        return int(written)

    def field_labels(self) -> dict[str, str]:
        """What the export calls each ExportRow field (its column or XML path), for reports;
        a Python plugin's fields are called by their own names."""
        plugin = self.pm.get_plugin(self.name)
        labels = getattr(plugin, "field_labels", None)
        return dict(labels()) if callable(labels) else {}


def _closing(rows: Iterator[ExportRow], handle: IO[bytes]) -> Iterator[ExportRow]:
    with handle:
        yield from rows


# --- the host and its checks ----------------------------------------------------------------


class PluginHost:
    """All site plugins of one plugin manager, checked.

    With ``strict`` (the application), any problem raises :class:`SitePluginError`; without it
    (``fiptrial plugins check``), the good plugins are in ``sites`` and the problems of the
    others in ``problems``, so each can be reported.
    """

    def __init__(self, pm: pluggy.PluginManager, strict: bool = True) -> None:
        self.pm = pm
        self.sites: dict[str, SitePlugin] = {}
        self.problems: dict[str, list[Problem]] = {}
        for name in site_plugin_names(pm):
            site, problems = inspect_site_plugin(pm, name)
            if problems:
                self.problems[name] = problems
            elif site is not None:
                self.sites[name] = site
        self.problems.update(_shared_members(self.sites.values()))
        for name in self.problems:
            self.sites.pop(name, None)
        if strict and self.problems:
            raise SitePluginError(
                {name: [p.message for p in problems] for name, problems in self.problems.items()}
            )

    def get(self, name: str) -> SitePlugin | None:
        return self.sites.get(name)

    def __getitem__(self, name: str) -> SitePlugin:
        return self.sites[name]

    def __iter__(self) -> Iterator[SitePlugin]:
        return iter(sorted(self.sites.values(), key=lambda site: site.name))

    def __len__(self) -> int:
        return len(self.sites)


def site_plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins that implement ``site_plugin_info``."""
    return sorted({impl.plugin_name for impl in pm.hook.site_plugin_info.get_hookimpls()})


def inspect_site_plugin(
    pm: pluggy.PluginManager, name: str
) -> tuple[SitePlugin | None, list[Problem]]:
    """Ask one site plugin who it is and check every answer the start-up depends on.

    Returns the checked :class:`SitePlugin` (``None`` if it could not even be built) and the
    problems found; a plugin with problems must not be used.
    """
    problems: list[Problem] = []
    try:
        answers = site_hook(pm, name, "site_plugin_info")()
    except Exception as error:
        return None, [Problem("info", f"site_plugin_info raised {error!r}")]
    info = answers[0] if answers else None
    if not isinstance(info, SitePluginInfo):
        return None, [Problem("info", f"site_plugin_info returned {info!r}, not SitePluginInfo")]
    api = api_version_problem(info.api_version)
    if api:
        return None, [Problem("interface", api)]
    problems += _info_problems(name, info)
    for hook in ("reason_mappings", "read_export"):
        if not [i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin_name == name]:
            problems.append(Problem("hooks", f"does not implement {hook}"))
    try:
        history = site_hook(pm, name, "reason_mappings")()
    except Exception as error:
        return None, [*problems, Problem("mapping", f"reason_mappings raised {error!r}")]
    if isinstance(history, ReasonMapping):
        history = (history,)
    if (
        not isinstance(history, Sequence)
        or not history
        or not all(isinstance(m, ReasonMapping) for m in history)
    ):
        return None, [
            *problems,
            Problem("mapping", f"reason_mappings returned {history!r}, not ReasonMapping(s)"),
        ]
    site = SitePlugin(info, tuple(history), pm, _distribution(pm, name))
    problems += history_problems(site.history, site.mapping, info)
    return site, problems


def api_version_problem(declared: str) -> str:
    """Why a plugin written for interface ``declared`` cannot run here ("" when it can)."""
    have_major, have_minor = (int(part) for part in hookspecs.PLUGIN_API_VERSION.split("."))
    if not declared:
        return (
            "declares no plugin interface version: set api_version (site.toml: api_version) "
            f"to the version it was written for; this platform has {hookspecs.PLUGIN_API_VERSION}"
        )
    parts = str(declared).split(".")
    try:
        major, minor = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return f"api_version {declared!r} is not a version major.minor"
    if major != have_major or minor > have_minor:
        return (
            f"was written for plugin interface {declared}; this platform has "
            f"{hookspecs.PLUGIN_API_VERSION} (same major version and no newer minor needed)"
        )
    return ""


def _info_problems(name: str, info: SitePluginInfo) -> list[Problem]:
    problems = []
    if info.name != name:
        problems.append(
            Problem("info", f"is registered as {name!r} but its info says {info.name!r}")
        )
    if not info.version or not info.site_name:
        problems.append(Problem("info", "info lacks a version or a site name"))
    if not isinstance(info.municipalities, tuple):
        problems.append(Problem("municipalities", "municipalities must be a tuple of codes"))
    for code in info.municipalities:
        if not is_municipality_code(code):
            problems.append(
                Problem(
                    "municipalities",
                    f"invalid municipality code {code!r} (expected GM and 4 digits, e.g. GM0748)",
                )
            )
    for code in sorted({c for c in info.municipalities if info.municipalities.count(c) > 1}):
        problems.append(Problem("municipalities", f"municipality {code} is listed twice"))
    return problems


def history_problems(
    history: Sequence[ReasonMapping], current: ReasonMapping, info: SitePluginInfo
) -> list[Problem]:
    """Problems of a mapping history: each version's, duplicates, order, the info's version."""
    problems = []
    if current.version != info.mapping_version:
        problems.append(
            Problem(
                "mapping_version",
                f"info says mapping version {info.mapping_version!r} but the current table is "
                f"{current.version!r}",
            )
        )
    versions = [m.version for m in history]
    for version in sorted({v for v in versions if versions.count(v) > 1}):
        problems.append(Problem("mapping_version", f"mapping version {version!r} appears twice"))
    dated = [m.valid_from for m in history if m.valid_from is not None]
    if dated != sorted(dated) or len(set(dated)) != len(dated):
        problems.append(Problem("mapping_version", "the versions' valid_from dates must increase"))
    for mapping in history:
        problems += mapping_problems(
            mapping, prefix=f"{mapping.version}: " if len(history) > 1 else ""
        )
    return problems


def mapping_problems(mapping: ReasonMapping, prefix: str = "") -> list[Problem]:
    """Problems in one version of a reason table: unknown shared codes, duplicates, no version."""
    problems = []
    known = shared_codes()
    if not mapping.version:
        problems.append(Problem("mapping_version", "the mapping has no version"))
    seen: set[str] = set()
    for entry in mapping.entries:
        code = entry.local_code
        if not code:
            problems.append(
                Problem("local_codes_unique", f"{prefix}the table has an empty local code")
            )
        elif code in seen:
            problems.append(Problem("local_codes_unique", f"{prefix}duplicate local code {code!r}"))
        seen.add(code)
        if entry.action == "map" and entry.bus_code not in known:
            problems.append(
                Problem(
                    "shared_codes",
                    f"{prefix}local code {code!r} maps to unknown shared code {entry.bus_code!r}",
                )
            )
        if entry.action == "reject" and entry.bus_code:
            problems.append(
                Problem(
                    "shared_codes",
                    f"{prefix}local code {code!r} is rejected yet has a shared code",
                )
            )
    return problems


def _shared_members(sites: Iterable[SitePlugin]) -> dict[str, list[Problem]]:
    """Two site plugins claiming one municipality would make its rows ambiguous."""
    owners: dict[str, list[str]] = {}
    for site in sites:
        for code in site.municipalities:
            owners.setdefault(code, []).append(site.name)
    problems: dict[str, list[Problem]] = {}
    for code, names in owners.items():
        if len(names) > 1:
            for name in names:
                others = ", ".join(n for n in names if n != name)
                problems.setdefault(name, []).append(
                    Problem("municipalities", f"municipality {code} is also claimed by {others}")
                )
    return problems


def _distribution(pm: pluggy.PluginManager, name: str) -> str | None:
    plugin = pm.get_plugin(name)
    return ORIGINS.get(plugin) if plugin is not None else None
