"""Build the plugin manager and check what the site plugins hand back.

Order, as in Datasette and pytest: the hook specifications, then the platform's own defaults,
then the plugins installed under the entry-point group ``fiptrial.plugins``, then
``check_pending()`` so that a misspelt hook fails at once. After that :class:`PluginHost` asks
every site plugin who it is and checks its answers; a plugin with an unknown shared code, a
duplicate local code or an invalid municipality code stops start-up with a
:class:`SitePluginError` that names the plugin and the code.

Flask code reaches the host through ``app.extensions["fiptrial.plugins"]`` (or the functions at
the bottom); the CLI check and the pytest helpers build one without Flask.
"""

from __future__ import annotations

import importlib
import inspect
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO, Any

import pluggy
from flask import Flask, current_app

from fiptrial.plugins import defaults, hookspecs
from fiptrial.plugins.info import SitePluginInfo, is_municipality_code
from fiptrial.plugins.mapping import MappedReason, ReasonMapping, shared_codes
from fiptrial.plugins.rows import ExportRow

__all__ = [
    "DEFAULTS_NAME",
    "ENTRY_POINT_GROUP",
    "EXTENSION_KEY",
    "PluginHost",
    "Problem",
    "SitePlugin",
    "SitePluginError",
    "SitePluginInfo",
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
#: Hooks that take ``site_plugin`` first; a site plugin must answer them for itself only.
PER_SITE_HOOKS = (
    "reason_mapping",
    "read_export",
    "map_reason",
    "sample_export",
    "write_export",
)
#: A site name no plugin may answer for; used to catch a forgotten ``site_plugin`` check.
PROBE_SITE = "fiptrial-probe:no-such-site"
#: Stand-in members for a plugin whose members come from the site settings.
PROBE_MUNICIPALITIES = ("GM9998", "GM9999")


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
) -> pluggy.PluginManager:
    """The pluggy manager with specs, defaults, extra plugins and installed plugins.

    Args:
        entry_points: ``True`` loads every plugin of the ``fiptrial.plugins`` group, a name
            loads only that one (what ``fiptrial plugins check NAME`` does, so another broken
            plugin does not hide the result), ``False`` loads none (tests).
        plugins: extra plugins by name -- a module, an object, or a dotted module path --
            registered after the defaults and before the installed ones. Tests use it for the
            fixture plugins in ``tests/plugins/fixtures``.

    Raises:
        SitePluginError: a plugin cannot be imported, its hook arguments do not match the
            specification, or it implements a hook that does not exist (misspelt).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name=DEFAULTS_NAME)
    for name, plugin in (plugins or {}).items():
        with _loading(name):
            module = importlib.import_module(plugin) if isinstance(plugin, str) else plugin
            pm.register(module, name)
    if entry_points is True:
        _entry_point_names()  # refuses one name claimed by two distributions
        try:  # one scan of the installed distributions: app start-up in tests stays quick
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception:
            _load_one_by_one(pm, _entry_point_names())  # to name the plugin that fails
            raise
    elif entry_points:
        _load_one_by_one(pm, [n for n in _entry_point_names() if n == entry_points])
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        name = pm.get_name(error.plugin) or repr(error.plugin)
        raise SitePluginError.one(name, str(error)) from error
    return pm


def _load_one_by_one(pm: pluggy.PluginManager, names: Iterable[str]) -> None:
    for name in names:
        if not pm.has_plugin(name):
            with _loading(name):
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name)


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
    return sorted(
        {
            ep.name
            for dist in metadata.distributions()
            for ep in dist.entry_points
            if ep.group == ENTRY_POINT_GROUP
        }
    )


@contextmanager
def _loading(name: str) -> Iterator[None]:
    """Turn an error while importing or registering a plugin into one that names it."""
    try:
        yield
    except pluggy.PluginValidationError as error:
        raise SitePluginError.one(name, str(error)) from error
    except (ImportError, AttributeError, SyntaxError) as error:
        raise SitePluginError.one(name, f"cannot be loaded: {error!r}") from error


def build_plugin_host(
    *,
    entry_points: bool | str = True,
    plugins: Mapping[str, object] | None = None,
    strict: bool = True,
) -> PluginHost:
    """A checked :class:`PluginHost` without Flask (CLI, pytest helpers, benchmarks)."""
    return PluginHost(build_plugin_manager(entry_points=entry_points, plugins=plugins), strict)


# --- the host and one site ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SitePlugin:
    """One checked site plugin, with the calls the importer needs.

    It carries the attributes the core reads (``name``, ``version``, ``site_name``,
    ``municipalities``, ``mapping_version``) and calls the hooks with its own name, so no
    caller has to know the ``site_plugin`` convention.
    """

    info: SitePluginInfo
    mapping: ReasonMapping
    pm: pluggy.PluginManager = field(repr=False)
    distribution: str | None = None

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

    def members(self, site_municipalities: Iterable[str] | None = None) -> tuple[str, ...]:
        """The site's members: its settings win, the plugin's own list is the fallback."""
        members = tuple(site_municipalities or ())
        return members or self.info.municipalities

    def read_export(self, source: IO[bytes] | str | os.PathLike[str]) -> Iterator[ExportRow]:
        """Stream the rows of an export (a binary file object, or a path the host opens).

        Raises:
            ExportFormatError: at once for a wrong header, or while iterating.
        """
        if isinstance(source, (str, os.PathLike)):
            # Not a with-block: the file must stay open while the caller iterates; _closing
            # closes it when the rows are exhausted or abandoned.
            handle = Path(source).open("rb")  # noqa: SIM115
            try:
                rows = self._read(handle)
            except BaseException:
                handle.close()
                raise
            return _closing(rows, handle)
        return self._read(source)

    def _read(self, source: IO[bytes]) -> Iterator[ExportRow]:
        rows = self.pm.hook.read_export(site_plugin=self.name, source=source)
        if rows is None:
            raise SitePluginError.one(self.name, "read_export returned nothing")
        return rows

    def map_reason(
        self,
        local_code: str,
        new_municipality: str | None = None,
        site_municipalities: Iterable[str] | None = None,
    ) -> MappedReason:
        """What a local code means, for a site with these members (default: the plugin's)."""
        result = self.pm.hook.map_reason(
            site_plugin=self.name,
            local_code=local_code,
            new_municipality=new_municipality,
            site_municipalities=self.members(site_municipalities),
            mapping=self.mapping,
        )
        if not isinstance(result, MappedReason):
            raise SitePluginError.one(self.name, f"map_reason returned {result!r}")
        if result.kind == "exit" and result.bus_code not in shared_codes():
            raise SitePluginError.one(
                self.name, f"map_reason gave unknown shared code {result.bus_code!r}"
            )
        return result

    def reason_mapper(
        self, site_municipalities: Iterable[str] | None = None
    ) -> Callable[[str, str | None], MappedReason]:
        """A memoised ``map_reason`` for one import: a file has few distinct codes but may have
        a million rows, and a hook call per row would dominate the import time."""
        members = self.members(site_municipalities)
        cache: dict[tuple[str, str | None], MappedReason] = {}

        def mapped(local_code: str, new_municipality: str | None = None) -> MappedReason:
            key = (local_code, new_municipality)
            try:
                return cache[key]
            except KeyError:
                if len(cache) > 10_000:  # a file of junk codes must not grow memory
                    cache.clear()
                result = cache[key] = self.map_reason(local_code, new_municipality, members)
                return result

        return mapped

    def sample_export(self) -> Traversable | None:
        """The synthetic sample export the plugin ships, if any."""
        return self.pm.hook.sample_export(site_plugin=self.name)

    def write_export(self, rows: Iterable[ExportRow], out: IO[bytes]) -> int:
        """Write ``rows`` in the site's own format (synthetic exports); the rows written.

        Raises:
            SitePluginError: the plugin cannot write its format.
        """
        written = self.pm.hook.write_export(site_plugin=self.name, rows=rows, out=out)
        if written is None:
            raise SitePluginError.one(self.name, "the plugin cannot write its export format")
        return int(written)


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


def _call_only(pm: pluggy.PluginManager, plugin_name: str, hook: str, **kwargs: Any) -> Any:
    """Call one hook on one plugin alone, through pluggy's public ``subset_hook_caller``."""
    others = [p for n, p in pm.list_name_plugin() if n != plugin_name and p is not None]
    return pm.subset_hook_caller(hook, others)(**kwargs)


def inspect_site_plugin(
    pm: pluggy.PluginManager, name: str
) -> tuple[SitePlugin | None, list[Problem]]:
    """Ask one site plugin who it is and check every answer the start-up depends on.

    Returns the checked :class:`SitePlugin` (``None`` if it could not even be built) and the
    problems found; a plugin with problems must not be used.
    """
    problems: list[Problem] = []
    try:
        answers = _call_only(pm, name, "site_plugin_info")
    except Exception as error:
        return None, [Problem("info", f"site_plugin_info raised {error!r}")]
    info = answers[0] if answers else None
    if not isinstance(info, SitePluginInfo):
        return None, [Problem("info", f"site_plugin_info returned {info!r}, not SitePluginInfo")]
    problems += _info_problems(name, info)
    problems += _own_answer_problems(pm, name)
    try:
        mapping = pm.hook.reason_mapping(site_plugin=name)
    except Exception as error:
        return None, [*problems, Problem("mapping", f"reason_mapping raised {error!r}")]
    if not isinstance(mapping, ReasonMapping):
        return None, [*problems, Problem("mapping", f"reason_mapping returned {mapping!r}")]
    problems += mapping_problems(mapping, info)
    site = SitePlugin(info, mapping, pm, _distribution(pm, name))
    return site, problems


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


def mapping_problems(mapping: ReasonMapping, info: SitePluginInfo) -> list[Problem]:
    """Problems in a reason table: unknown shared codes, duplicates, a version mismatch."""
    problems = []
    known = shared_codes()
    if not mapping.version:
        problems.append(Problem("mapping_version", "the mapping has no version"))
    elif mapping.version != info.mapping_version:
        problems.append(
            Problem(
                "mapping_version",
                f"info says mapping version {info.mapping_version!r} but the table is "
                f"{mapping.version!r}",
            )
        )
    seen: set[str] = set()
    for entry in mapping.entries:
        code = entry.local_code
        if not code:
            problems.append(Problem("local_codes_unique", "the table has an empty local code"))
        elif code in seen:
            problems.append(Problem("local_codes_unique", f"duplicate local code {code!r}"))
        seen.add(code)
        if entry.action == "map" and entry.bus_code not in known:
            problems.append(
                Problem(
                    "shared_codes",
                    f"local code {code!r} maps to unknown shared code {entry.bus_code!r}",
                )
            )
        if entry.action == "reject" and entry.bus_code:
            problems.append(
                Problem("shared_codes", f"local code {code!r} is rejected yet has a shared code")
            )
    return problems


def _own_answer_problems(pm: pluggy.PluginManager, name: str) -> list[Problem]:
    """A site plugin must answer the per-site hooks for its own name only."""
    probes: dict[str, dict[str, Any]] = {
        "reason_mapping": {"site_plugin": PROBE_SITE},
        "read_export": {"site_plugin": PROBE_SITE, "source": io.BytesIO(b"")},
        "map_reason": {
            "site_plugin": PROBE_SITE,
            "local_code": "X",
            "new_municipality": None,
            "site_municipalities": PROBE_MUNICIPALITIES,
            "mapping": ReasonMapping("probe", ()),
        },
        "sample_export": {"site_plugin": PROBE_SITE},
        "write_export": {"site_plugin": PROBE_SITE, "rows": (), "out": io.BytesIO()},
    }
    problems = []
    implemented = {
        hook: [i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin_name == name]
        for hook in PER_SITE_HOOKS
    }
    for hook in ("reason_mapping", "read_export"):
        if not implemented[hook]:
            problems.append(Problem("hooks", f"does not implement {hook}"))
    for hook, impls in implemented.items():
        if not impls:
            continue
        if any(inspect.isgeneratorfunction(i.function) for i in impls):
            problems.append(
                Problem(
                    "hooks",
                    f"{hook} is a generator function, so it answers for every site; "
                    "check site_plugin and then return a generator",
                )
            )
            continue
        try:
            answer = _call_only(pm, name, hook, **probes[hook])
        except Exception as error:
            answer = error
        if answer is not None:
            problems.append(
                Problem(
                    "hooks",
                    f"{hook} answers for another site ({answer!r}); "
                    "return None unless site_plugin is the plugin's own name",
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
    # list_plugin_distinfo rather than 1.7's list_plugin_distributions: setup.cfg allows 1.3.
    for loaded, dist in pm.list_plugin_distinfo():
        if loaded is plugin:
            return f"{dist.project_name} {dist.version}"
    return None


# --- Flask --------------------------------------------------------------------------------


def init_plugins(app: Flask) -> None:
    """Build and check the plugins at start-up; a broken plugin stops the application.

    ``PLUGINS_LOAD_ENTRY_POINTS`` (default true) and ``PLUGINS_EXTRA`` (name -> module or dotted
    path) in the configuration let tests run with fixture plugins only.
    """
    app.extensions[EXTENSION_KEY] = build_plugin_host(
        entry_points=app.config.get("PLUGINS_LOAD_ENTRY_POINTS", True),
        plugins=app.config.get("PLUGINS_EXTRA") or None,
    )


def get_plugin_host(app: Flask | None = None) -> PluginHost:
    """The application's checked plugin host."""
    host: PluginHost = (app or current_app).extensions[EXTENSION_KEY]
    return host


def get_site_plugin(name: str) -> SitePlugin | None:
    """The site plugin registered as ``name``, or ``None``."""
    return get_plugin_host().get(name)


def list_site_plugins() -> list[SitePlugin]:
    """All site plugins, by name."""
    return list(get_plugin_host())
