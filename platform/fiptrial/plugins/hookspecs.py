"""Every hook a FIP trial plugin can implement, in one place.

A municipality (or an inter-municipal service such as ISD Brabantse Wal) joins the trial by
installing a *site plugin*: a Python distribution that registers a module under the entry-point
group ``fiptrial.plugins``. The entry-point name is the plugin's name (``brabantse_wal``) and
the site settings refer to it by that name.

Design, after Datasette: the platform calls the hooks through one pluggy ``PluginManager``, so
several site plugins are installed side by side. Hooks that concern one site take the name of
the site plugin as their first argument, ``site_plugin``, and are ``firstresult``: every plugin
returns ``None`` unless the name is its own, and the first non-``None`` answer wins. Plugins are
called last-registered first and the platform registers its own defaults (``defaults.py``)
before anything else, so a default only answers when no plugin did. The manager checks at
start-up that each site plugin answers for itself only (a forgotten name check would let one
municipality read another's files), that no hook implementation is a generator function (it
would answer for every site), and that what the plugins return is valid.

``site_plugin_info`` is the one hook without ``site_plugin``: it is how the platform finds the
site plugins at all, so every site plugin answers it and all answers are collected.

A plugin implements hooks with the marker from :mod:`fiptrial.plugins`::

    from fiptrial.plugins import hookimpl

    @hookimpl
    def read_export(site_plugin, source):
        if site_plugin != "my_site":
            return None
        return my_reader(source)   # returns a generator; see read_export below

The reference page ``plugin-hooks.md`` beside this module is generated from these docstrings
(``python -m fiptrial.plugins.hookdocs``); a test fails when it is out of date.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources.abc import Traversable
from typing import BinaryIO

from pluggy import HookimplMarker, HookspecMarker

from fiptrial.plugins.info import SitePluginInfo
from fiptrial.plugins.mapping import MappedReason, ReasonMapping
from fiptrial.plugins.rows import ExportRow

PROJECT_NAME = "fiptrial"
hookspec = HookspecMarker(PROJECT_NAME)
hookimpl = HookimplMarker(PROJECT_NAME)


@hookspec
def site_plugin_info() -> SitePluginInfo:  # type: ignore[empty-body]
    """Say which site the plugin serves.

    Receives nothing. Returns a :class:`~fiptrial.plugins.info.SitePluginInfo`: the plugin's
    name (must equal its entry-point name), its version, the site's name, the member
    municipalities as CBS codes (``"GM0748"``; an empty tuple means the members come from the
    site's settings) and the version of its reason mapping.

    All results are collected (not first-result): every site plugin answers with its own info.
    A plugin that adds no site (say, a report format) does not implement this hook.
    """


@hookspec(firstresult=True)
def reason_mapping(site_plugin: str) -> ReasonMapping | None:  # type: ignore[empty-body]
    """Hand over the site's whole reason table.

    Receives ``site_plugin``, the name of the plugin asked. Returns a
    :class:`~fiptrial.plugins.mapping.ReasonMapping` (usually from
    :func:`~fiptrial.plugins.mapping.load_mapping_csv` on a data file in the package) if the
    name is the plugin's own, else ``None``. The first non-``None`` result wins.

    The platform checks the table at start-up: every shared code must exist in the BUS list,
    no local code may appear twice, and the version must equal the info's ``mapping_version``.
    The conformance checks also need it to see that the 2010 codes are handled on purpose.
    """


@hookspec(firstresult=True)
def read_export(  # type: ignore[empty-body]
    site_plugin: str, source: BinaryIO
) -> Iterator[ExportRow] | None:
    """Read the municipality's export into normalised rows, streaming.

    Receives ``site_plugin`` and ``source``, a binary file object positioned at the start of
    the export (the platform opens paths and uploads; the plugin never closes ``source``).
    Returns, for its own name, an iterator of :class:`~fiptrial.plugins.rows.ExportRow` in file
    order, else ``None``. The first non-``None`` result wins.

    The iterator must stream -- read one record at a time and never the whole file -- so that a
    million-row import uses as much memory as a thousand-row one. The implementation itself
    must therefore be a plain function that checks the name and then returns a generator, not
    a generator function (which would answer for every site). Check the header before
    returning, so that a wrong file fails before the importer starts.

    A record the plugin cannot understand (invalid BSN, impossible date, unknown sex) becomes
    an ``ExportRow`` with ``errors`` and its line number, never an exception. Each error names
    the column and what is wrong; a field value appears only through
    :func:`fiptrial.plugins.parsing.quoted` (a misaligned row puts a BSN or a birth date in any
    column), and the importer redacts what slips through. A problem with
    the whole file (wrong header, separator or encoding) raises
    :class:`~fiptrial.plugins.rows.ExportFormatError` with a message saying what is wrong,
    either at once or while iterating.
    """


@hookspec(firstresult=True)
def map_reason(  # type: ignore[empty-body]
    site_plugin: str,
    local_code: str,
    new_municipality: str | None,
    site_municipalities: tuple[str, ...],
    mapping: ReasonMapping,
) -> MappedReason | None:
    """Say what a local end-of-benefit code means for the trial.

    Receives ``site_plugin``; ``local_code`` as the export gave it; ``new_municipality``, the
    ``"GM0851"``-form code the client moved to (or ``None``); ``site_municipalities``, the
    members of the site the row belongs to (from the site settings, else the plugin info); and
    ``mapping``, the plugin's table as checked at start-up. Returns a
    :class:`~fiptrial.plugins.mapping.MappedReason` -- ``exit`` with a BUS code, ``transfer``
    (moved within the site, not an exit), ``rejected`` or ``unmapped`` -- or ``None`` to leave
    the decision to others. The first non-``None`` result wins.

    The platform's default answers for every site from ``mapping``: a code mapped to 32 (moved
    to another municipality) with ``new_municipality`` among ``site_municipalities`` is a
    transfer, and an unknown code is unmapped. Implement this hook only for a rule the table
    cannot express; the answer must depend on the arguments only, because the importer caches
    it per (local code, new municipality).
    """


@hookspec(firstresult=True)
def sample_export(site_plugin: str) -> Traversable | None:  # type: ignore[empty-body]
    """Point to a small sample export shipped with the plugin.

    Receives ``site_plugin``. Returns, for its own name, a readable resource (a
    ``importlib.resources`` ``Traversable`` or a ``pathlib.Path``) holding a synthetic export in
    the municipality's format -- never real client data -- else ``None``. The first
    non-``None`` result wins.

    ``fiptrial plugins check NAME`` parses it when no ``--sample`` file is given, and the demo
    can import it.
    """
