"""Build the plugin manager and check what the site plugins hand back.

Order, as in Datasette and pytest: the hook specifications, then the platform's own defaults,
then the plugins given by the caller, the declarative site folders of ``site_dirs`` and the
plugins installed under the entry-point group ``fiptrial.plugins``, then ``check_pending()`` so
that a misspelt hook fails at once. An installed package that holds a ``site.toml`` and no hook
implementations is a declarative site: the host registers a
:class:`~fiptrial.plugins.declarative.DeclarativeSite` for it. After that :class:`PluginHost`
(:mod:`fiptrial.plugins.host`) asks every site plugin who it is and checks its answers; a
plugin with an unknown shared code, a duplicate local code, an invalid municipality code or
another interface version stops start-up with a :class:`SitePluginError` that names the plugin
and the problem.

This module does not import Flask (``fiptrial.plugins`` must stay light for a plugin's own
tests and ``fiptrial plugins check``): Flask code reaches the host through
``app.extensions["fiptrial.plugins"]`` or the functions at the bottom, which import it late.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pluggy

from fiptrial.plugins import defaults, hookspecs
from fiptrial.plugins.declarative import DeclarativeSite, SiteFileError, declarative_resources
from fiptrial.plugins.host import (
    DEFAULTS_NAME,
    ORIGINS,
    PluginHost,
    Problem,
    SitePlugin,
    SitePluginError,
    api_version_problem,
    inspect_site_plugin,
    site_hook,
    site_plugin_names,
)
from fiptrial.plugins.info import SitePluginInfo

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
    "site_dirs_from_environment",
    "site_folders",
    "site_hook",
    "site_plugin_names",
]


ENTRY_POINT_GROUP = "fiptrial.plugins"
EXTENSION_KEY = "fiptrial.plugins"
#: Stand-in members for a plugin whose members come from the site settings.
PROBE_MUNICIPALITIES = ("GM9998", "GM9999")
#: What pluggy says about a version-1 hook; the host explains it instead.
_OLD_ARGUMENT = "'site_plugin'"


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


def _register(pm: pluggy.PluginManager, name: str, plugin: object, origin: str = "") -> None:
    """Register a plugin; a site folder or a data-only package becomes a DeclarativeSite."""
    if isinstance(plugin, Path):
        origin = origin or str(plugin)
        plugin = DeclarativeSite.load(plugin, name)
    elif isinstance(plugin, ModuleType) and not _has_hookimpls(plugin):
        resources = declarative_resources(plugin)
        if resources is not None:
            plugin = DeclarativeSite.load(resources, name)
    pm.register(plugin, name)
    if origin:
        ORIGINS[plugin] = origin


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
    # Flask only here: the plugin host builds and checks plugins without it.
    from flask import current_app

    host: PluginHost = (app or current_app).extensions[EXTENSION_KEY]
    return host


def get_site_plugin(name: str) -> SitePlugin | None:
    """The site plugin registered as ``name``, or ``None``."""
    return get_plugin_host().get(name)


def list_site_plugins() -> list[SitePlugin]:
    """All site plugins, by name."""
    return list(get_plugin_host())
