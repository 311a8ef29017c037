"""Build the plugin manager and check what the site plugins hand back.

Order, as in Datasette and pytest: the hook specifications, then the platform's own defaults,
then the plugins given by the caller, the declarative site folders of ``site_dirs`` and the
plugins installed under the entry-point group ``fiptrial.plugins``, then ``check_pending()`` so
that a misspelt hook fails at once. An installed package that holds a ``site.toml`` and no hook
implementations is a declarative site: the host registers a
:class:`~fiptrial.plugins.declarative.DeclarativeSite` for it. After that :class:`PluginHost`
asks every site plugin who it is and checks its answers; a plugin with an unknown shared code,
a duplicate local code, an invalid municipality code or another interface version stops
start-up with a :class:`SitePluginError` that names the plugin and the problem.

Each site's hooks are called on that site's plugin alone (plus the platform's defaults), with
pluggy's ``subset_hook_caller``: no hook takes the site's name, and no plugin can answer for
another site.

This module does not import Flask (``fiptrial.plugins`` must stay light for a plugin's own
tests and ``fiptrial plugins check``): Flask code reaches the host through
``app.extensions["fiptrial.plugins"]`` or the functions at the bottom, which import it late.
"""

from __future__ import annotations

import importlib
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import metadata
from importlib.resources.abc import Traversable
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

import pluggy

from fiptrial.plugins import defaults, hookspecs
from fiptrial.plugins.info import SitePluginInfo, is_municipality_code
from fiptrial.plugins.mapping import MappedReason, ReasonMapping, shared_codes, version_on
from fiptrial.plugins.rows import ExportRow

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "DEFAULTS_NAME",
    "ENTRY_POINT_GROUP",
    "EXTENSION_KEY",
    "PluginHost",
    "Problem",
    "SitePlugin",
    "SitePluginError",
    "SitePluginInfo",
    "api_version_problem",
    "build_plugin_host",
    "build_plugin_manager",
    "get_plugin_host",
    "get_site_plugin",
    "init_plugins",
    "inspect_site_plugin",
    "installed_plugin_names",
    "list_site_plugins",
]

ENTRY_POINT_GROUP = "fiptrial.plugins"
DEFAULTS_NAME = "fiptrial.defaults"
EXTENSION_KEY = "fiptrial.plugins"
#: Hooks a site answers for itself; called on the site's plugin alone (plus the defaults).
PER_SITE_HOOKS = ("reason_mappings", "read_export", "map_reason", "sample_export", "write_export")
#: Stand-in members for a plugin whose members come from the site settings.
PROBE_MUNICIPALITIES = ("GM9998", "GM9999")
#: What pluggy says about a version-1 hook; the host explains it instead.
_OLD_ARGUMENT = "'site_plugin'"


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


# --- building -----------------------------------------------------------------------------


def build_plugin_manager(
    *,
    entry_points: bool | str = True,
    plugins: Mapping[str, object] | None = None,
    site_dirs: Iterable[str | os.PathLike[str]] = (),
) -> pluggy.PluginManager:
    """The pluggy manager with specs, defaults, extra plugins, site folders and installed plugins.

    Args:
        entry_points: ``True`` loads every plugin of the ``fiptrial.plugins`` group, a name
            loads only that one (what ``fiptrial plugins check NAME`` does, so another broken
            plugin does not hide the result), ``False`` loads none (tests).
        plugins: extra plugins by name -- a module, an object, a dotted module path, or a
            :class:`pathlib.Path` of a declarative site folder -- registered after the defaults
            and before the installed ones. Tests use it for their fixture plugins.
        site_dirs: folders holding declarative site folders (each a folder with a
            ``site.toml``, registered under the folder's name); a folder that is itself a site
            counts too. With ``entry_points`` a name, only that site is taken from them.

    Raises:
        SitePluginError: a plugin cannot be imported, a site folder cannot be read, its hook
            arguments do not match the specification, or it implements a hook that does not
            exist (misspelt).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name=DEFAULTS_NAME)
    only = entry_points if isinstance(entry_points, str) else None
    for name, plugin in (plugins or {}).items():
        with _loading(name):
            if isinstance(plugin, str):
                plugin = importlib.import_module(plugin)
            _register(pm, name, plugin)
    for name, folder in site_folders(site_dirs).items():
        if (only is None or name == only) and not pm.has_plugin(name):
            with _loading(name):
                _register(pm, name, folder)
    if entry_points:
        _entry_point_names()  # refuses one name claimed by two distributions
        for ep in _entry_points():
            if (only is None or ep.name == only) and not pm.has_plugin(ep.name):
                with _loading(ep.name):
                    _register(pm, ep.name, ep.load(), _dist_label(ep))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        name = pm.get_name(error.plugin) or repr(error.plugin)
        raise SitePluginError.one(name, _explain(str(error))) from error
    return pm


#: Where each registered plugin came from ("fiptrial-gouda 1.0", or a folder), by plugin object
#: (weakly: a plugin manager that is dropped takes its plugins' entries with it).
_ORIGINS: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def _register(pm: pluggy.PluginManager, name: str, plugin: object, origin: str = "") -> None:
    """Register a plugin; a site folder or a data-only package becomes a DeclarativeSite."""
    from fiptrial.plugins.declarative import DeclarativeSite, declarative_resources

    if isinstance(plugin, Path):
        origin = origin or str(plugin)
        plugin = DeclarativeSite.load(plugin, name)
    elif isinstance(plugin, ModuleType) and not _has_hookimpls(plugin):
        resources = declarative_resources(plugin)
        if resources is not None:
            plugin = DeclarativeSite.load(resources, name)
    pm.register(plugin, name)
    if origin:
        _ORIGINS[plugin] = origin


def _has_hookimpls(module: ModuleType) -> bool:
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    return any(hasattr(value, marker) for value in vars(module).values())


def site_folders(site_dirs: Iterable[str | os.PathLike[str]]) -> dict[str, Path]:
    """The declarative site folders under ``site_dirs``, by name (the folder's name)."""
    found: dict[str, Path] = {}
    for directory in site_dirs:
        root = Path(directory)
        candidates = [root] if (root / "site.toml").is_file() else sorted(root.glob("*/"))
        for folder in candidates:
            if (folder / "site.toml").is_file():
                found.setdefault(folder.name, folder)
    return found


def _explain(message: str) -> str:
    if _OLD_ARGUMENT in message:
        return (
            f"{message} -- the plugin was written for plugin interface 1; interface "
            f"{hookspecs.PLUGIN_API_VERSION} calls each site's hooks on its own plugin and "
            "drops the site_plugin argument (see plugin-hooks.md)"
        )
    return message


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _dist_label(ep: metadata.EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.metadata['Name']} {dist.version}" if dist is not None else ""


@cache
def _entry_point_names() -> tuple[str, ...]:
    """Installed plugin names, refusing one name claimed by two distributions.

    Cached: what is installed does not change while a process runs, and scanning every
    distribution's metadata costs as much as the rest of building the manager.
    """
    owners: dict[str, list[str]] = {}
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                owners.setdefault(ep.name, []).append(dist.metadata["Name"])
    clashes = {
        name: [f"registered by several distributions: {', '.join(sorted(set(dists)))}"]
        for name, dists in owners.items()
        if len(set(dists)) > 1
    }
    if clashes:
        raise SitePluginError(clashes)
    return tuple(sorted(owners))


def installed_plugin_names() -> list[str]:
    """Names of the plugins installed under the ``fiptrial.plugins`` entry-point group."""
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


@contextmanager
def _loading(name: str) -> Iterator[None]:
    """Turn an error while importing or registering a plugin into one that names it."""
    from fiptrial.plugins.declarative import SiteFileError

    try:
        yield
    except pluggy.PluginValidationError as error:
        raise SitePluginError.one(name, _explain(str(error))) from error
    except SiteFileError as error:
        raise SitePluginError.one(name, str(error)) from error
    except (ImportError, AttributeError, SyntaxError) as error:
        raise SitePluginError.one(name, f"cannot be loaded: {error!r}") from error


def build_plugin_host(
    *,
    entry_points: bool | str = True,
    plugins: Mapping[str, object] | None = None,
    site_dirs: Iterable[str | os.PathLike[str]] = (),
    strict: bool = True,
) -> PluginHost:
    """A checked :class:`PluginHost` without Flask (CLI, pytest helpers, benchmarks)."""
    pm = build_plugin_manager(entry_points=entry_points, plugins=plugins, site_dirs=site_dirs)
    return PluginHost(pm, strict)


def site_hook(pm: pluggy.PluginManager, name: str, hook: str, *, defaults: bool = False) -> Any:
    """A caller of ``hook`` on the plugin ``name`` alone (and the platform's defaults, if
    asked): pluggy's public ``subset_hook_caller`` with every other plugin removed."""
    keep = {name, DEFAULTS_NAME} if defaults else {name}
    others = [p for n, p in pm.list_name_plugin() if n not in keep and p is not None]
    return pm.subset_hook_caller(hook, others)


# --- the host and one site ----------------------------------------------------------------


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
        object.__setattr__(self, "mapping", version_on(self.history, date.today()))
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
        from fiptrial.plugins.declarative import DeclarativeSite

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
    return _ORIGINS.get(plugin) if plugin is not None else None


# --- Flask --------------------------------------------------------------------------------


def site_dirs_from_environment() -> list[str]:
    """The declarative site folders named by ``FIPTRIAL_SITES`` (os.pathsep-separated)."""
    value = os.environ.get("FIPTRIAL_SITES", "")
    return [part for part in value.split(os.pathsep) if part]


def init_plugins(app: Flask) -> None:
    """Build and check the plugins at start-up; a broken plugin stops the application.

    ``PLUGINS_LOAD_ENTRY_POINTS`` (default true), ``PLUGINS_EXTRA`` (name -> module, dotted
    path or site folder) and ``PLUGINS_SITE_DIRS`` (folders of declarative sites; default from
    the environment variable ``FIPTRIAL_SITES``) in the configuration say which plugins run.
    """
    dirs = app.config.get("PLUGINS_SITE_DIRS")
    app.extensions[EXTENSION_KEY] = build_plugin_host(
        entry_points=app.config.get("PLUGINS_LOAD_ENTRY_POINTS", True),
        plugins=app.config.get("PLUGINS_EXTRA") or None,
        site_dirs=site_dirs_from_environment() if dirs is None else dirs,
    )


def get_plugin_host(app: Flask | None = None) -> PluginHost:
    """The application's checked plugin host."""
    from flask import current_app

    host: PluginHost = (app or current_app).extensions[EXTENSION_KEY]
    return host


def get_site_plugin(name: str) -> SitePlugin | None:
    """The site plugin registered as ``name``, or ``None``."""
    return get_plugin_host().get(name)


def list_site_plugins() -> list[SitePlugin]:
    """All site plugins, by name."""
    return list(get_plugin_host())
