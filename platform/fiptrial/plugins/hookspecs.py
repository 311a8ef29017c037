"""Every hook a FIP trial plugin can implement, in one place.

A municipality (or an inter-municipal service such as ISD Brabantse Wal) joins the trial with a
*site plugin*. Most sites need no code at all: a *declarative site* is a folder (or an installed
package) with three data files -- ``site.toml``, ``export.toml`` and ``mapping.csv`` -- which the
platform turns into a plugin that implements these hooks (``fiptrial.plugins.declarative``).
A site whose export a layout cannot describe writes a Python plugin that implements the hooks
itself. Either registers under the entry-point group ``fiptrial.plugins``; the entry-point name
is the plugin's name (``brabantse_wal``) and the site settings refer to it by that name.

Design: the platform calls the hooks through one pluggy ``PluginManager``, so several site
plugins are installed side by side, but it calls each site's hooks *on that site's plugin
only* (pluggy's ``subset_hook_caller``), with the platform's own defaults (``defaults.py``) as
the fallback. So no hook receives the name of the site it is asked about, a plugin never has to
check whose turn it is, and a plugin cannot answer for another municipality by mistake.

Interface version: :data:`PLUGIN_API_VERSION` (``major.minor``). A plugin says in its
``SitePluginInfo.api_version`` (a declarative site in ``site.toml``) which version it was
written for; the host refuses it at start-up unless the major versions are equal and the
plugin's minor version is not newer than the host's. Version 2 dropped the ``site_plugin``
argument of version 1 and replaced ``reason_mapping`` by ``reason_mappings`` (the whole
history of the table).

A plugin implements hooks with the marker from :mod:`fiptrial.plugins`::

    from fiptrial.plugins import hookimpl

    @hookimpl
    def read_export(source):
        return my_reader(source)   # an iterator of ExportRow; see read_export below

The reference page ``plugin-hooks.md`` beside this module is generated from these docstrings
(``python -m fiptrial.plugins.hookdocs``); a test fails when it is out of date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib.resources.abc import Traversable
from typing import BinaryIO

from pluggy import HookimplMarker, HookspecMarker

from fiptrial.plugins.info import SitePluginInfo
from fiptrial.plugins.mapping import MappedReason, ReasonMapping
from fiptrial.plugins.rows import ExportRow

PROJECT_NAME = "fiptrial"
#: The version of this interface (``major.minor``); see the module docstring.
PLUGIN_API_VERSION = "2.1"
hookspec = HookspecMarker(PROJECT_NAME)
hookimpl = HookimplMarker(PROJECT_NAME)


@hookspec
def site_plugin_info() -> SitePluginInfo:  # type: ignore[empty-body]
    """Say which site the plugin serves.

    Receives nothing. Returns a :class:`~fiptrial.plugins.info.SitePluginInfo`: the plugin's
    name (must equal its entry-point name), its version, the site's name, the member
    municipalities as CBS codes (``"GM0748"``; an empty tuple means the members come from the
    site's settings), the version of its current reason mapping, the plugin interface version
    it was written for (``api_version``) and the BUS statistiekcodes of the benefit it exports.

    All results are collected (not first-result): the host asks each site plugin alone, and
    every site plugin answers with its own info. A plugin that adds no site (say, a report
    format) does not implement this hook.
    """


@hookspec(firstresult=True)
def reason_mappings() -> Sequence[ReasonMapping] | None:  # type: ignore[empty-body]
    """Hand over the site's reason table, every version it ever had.

    Receives nothing. Returns the versions of the site's
    :class:`~fiptrial.plugins.mapping.ReasonMapping`, oldest first, each with its
    ``valid_from`` date (``load_mapping_history`` reads them from one data file); the last is
    the current table. The first non-``None`` result wins.

    The platform checks every version at start-up: each shared code must exist in the BUS list,
    no local code may appear twice in a version, versions are unique and in date order, and the
    current version must equal the info's ``mapping_version``. An import records the version it
    used, so that it can be re-read under that version, and a change of a code's meaning in a
    later version corrects the exits already recorded under an earlier one.
    """


@hookspec(firstresult=True)
def read_export(  # type: ignore[empty-body]
    source: BinaryIO, wanted: Callable[[str], bool] | None
) -> Iterator[ExportRow] | None:
    """Read the municipality's export into normalised rows, streaming.

    Receives ``source``, a binary file object positioned at the start of the export (the
    platform opens paths and uploads; the plugin never closes ``source``), and ``wanted``
    (since interface 2.1; a plugin that does not name it never gets it): ``None``, or the
    importer's question whether it wants a valid, normalised BSN -- an outcome import wants
    the trial's participants only. For a record whose BSN is valid and not wanted, the plugin
    may give :data:`~fiptrial.plugins.rows.SKIPPED` instead of reading the record further
    (data minimisation, and most of an import's time); a record whose BSN is invalid is read
    in full as always. Returns an iterator of :class:`~fiptrial.plugins.rows.ExportRow` in
    file order. The first non-``None`` result wins.

    The iterator must stream -- read one record at a time and never the whole file -- so that a
    million-row import uses as much memory as a thousand-row one. Check the header before
    returning when you can, so that a wrong file fails before the importer starts.

    A record the plugin cannot understand (invalid BSN, impossible date, unknown sex) becomes
    an ``ExportRow`` with ``errors`` and its line number, never an exception. Each error names
    the column and what is wrong; use :class:`~fiptrial.plugins.rows.RowError` (from
    :func:`~fiptrial.plugins.messages.row_error`) so that the pages can say it in the reader's
    language. A field value appears only through :func:`fiptrial.plugins.parsing.quoted` (a
    misaligned row puts a BSN or a birth date in any column), and the importer redacts what
    slips through. A problem with the whole file (wrong header, separator or encoding) raises
    :class:`~fiptrial.plugins.rows.ExportFormatError` with a message saying what is wrong,
    either at once or while iterating.
    """


@hookspec(firstresult=True)
def map_reason(  # type: ignore[empty-body]
    local_code: str,
    new_municipality: str | None,
    site_municipalities: tuple[str, ...],
    mapping: ReasonMapping,
) -> MappedReason | None:
    """Say what a local end-of-benefit code means for the trial.

    Receives ``local_code`` as the export gave it; ``new_municipality``, the ``"GM0851"``-form
    code the client moved to (or ``None``); ``site_municipalities``, the members of the site
    the row belongs to (from the site settings, else the plugin info); and ``mapping``, the
    version of the site's table that applies. Returns a
    :class:`~fiptrial.plugins.mapping.MappedReason` -- ``exit`` with a BUS code, ``transfer``
    (moved within the site, not an exit), ``rejected`` or ``unmapped`` -- or ``None`` to leave
    the decision to the platform. The first non-``None`` result wins.

    The platform's default answers from ``mapping``: a code mapped to 32 (moved to another
    municipality) with ``new_municipality`` among ``site_municipalities`` is a transfer, and
    an unknown code is unmapped. Implement this hook only for a rule the table cannot express;
    the answer must depend on the arguments only, because the importer caches it per (local
    code, new municipality, mapping version).
    """


@hookspec(firstresult=True)
def sample_export() -> Traversable | None:  # type: ignore[empty-body]
    """Point to a small sample export shipped with the plugin.

    Receives nothing. Returns a readable resource (an ``importlib.resources`` ``Traversable``
    or a ``pathlib.Path``) holding a synthetic export in the municipality's format -- never
    real client data. The first non-``None`` result wins.

    ``fiptrial plugins check NAME`` parses it when no ``--sample`` file is given, and the demo
    can import it.
    """


@hookspec(firstresult=True)
def write_export(rows: Iterable[ExportRow], out: BinaryIO) -> int | None:  # type: ignore[empty-body]
    """Write rows in the municipality's own export format: the inverse of ``read_export``.

    Receives ``rows`` (:class:`~fiptrial.plugins.rows.ExportRow` without errors; ``line`` is
    ignored, ``local_reason`` is the municipality's own code) and ``out``, a binary file object
    the plugin writes to and never closes. Returns the number of rows written. The first
    non-``None`` result wins.

    For synthetic exports only -- the demo's monthly files (``fiptrial demo-export``) and the
    tests -- so that a generated file goes through the same reader and importer as a real one;
    reading back what was written must give the same rows. A declarative site gets it from its
    layout (``fiptrial.plugins.declarative.writer``); a Python plugin may implement it. Optional:
    a site without it gets no demo exports.
    """
