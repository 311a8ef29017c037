"""The monthly outcome import: exits, transfers within the site, re-entries and corrections.

Rules of the outcome import and of the benefit spells:

- A row is matched by the pseudonym of its BSN against the *allocated* participants of the
  site. Each BSN is pseudonymised once and looked up in a dict loaded once per import. Rows of
  anybody else count in ``not_in_trial`` and are dropped at once: their BSN and data are
  never stored, not even in the report. The reader is asked first (``wanted``, see the
  ``read_export`` hook): a declarative site's reader reads such a record no further than its
  BSN, so nothing else of a client outside the trial is even parsed (data minimisation; it is
  also four fifths of a typical export and most of an import's time). A plugin that reads
  every record in full gives the same report, except that the rejections and
  ``other_benefits`` below then also count records of clients outside the trial.
- A row of another kind of benefit than the trial's (its BUS statistiekcode is not in the
  trial's ``benefit_statistic_codes``, default ``01``: special assistance and Bbz, for instance)
  counts in ``other_benefits`` and is dropped. A row without a statistic code is taken to be
  the trial's benefit.
- A row the plugin could not read (``row.errors``) is rejected with its line number: every row
  whose BSN is invalid (it might be a participant's), and every unreadable row of a
  participant; the error texts never contain a BSN.
- An end with an unmapped local code is held back (``HeldRow``), not guessed; a re-import of
  the file under a newer mapping version records it. A code the table rejects on purpose (a
  2010 code) rejects the row.
- Rows dated after a participant's consent withdrawal are rejected: nothing is collected after
  a withdrawal.
- A participant's rows are decided in the order of their benefit starts, rows of one benefit
  in file order. History is never overwritten: an end date or reason that differs from the
  recorded end of the same benefit is a ``correction`` event carrying both values; a benefit
  start after the last recorded end is a ``reentry``; a move inside the site that the export
  names (the mapping's rule for BUS 32) is a ``transfer_within_site``.
- A move inside the site that the export does not name is recognised when the benefit after it
  appears: an end with BUS 32 followed, within the trial's ``move_gap_days`` (default 31), by a
  benefit of the same person in another member municipality. It is recorded as a
  ``correction`` of that exit with a NULL BUS code (both kept), dated on the first day of the
  new benefit, counted in ``transfers_linked``; in the same file or in any later one.
- Every event keeps the row's municipality and benefit start, so that the spells
  (``services.spells``) know which benefit it was about and where it was paid.
- Events are unique per participant, kind, date and local code, so a row seen again (the next
  month's export repeats last month's ends) adds nothing.
- Mapping versions: an import uses the site's current table unless it is asked for
  an earlier version (``mapping_version``: re-reading an old export as it was read). Under the
  current version, every exit already recorded is looked up again: when the current table
  gives its local code another BUS code than the one recorded, a ``correction`` of that exit is
  added (same date and local code, the new BUS code, the old one kept as the previous value,
  line 0: it comes from the table, not from a row), counted in ``remapped``. A code the current
  table no longer maps (unmapped or rejected) leaves the exit as it was. Re-reading under an
  earlier version never remaps. An end that already has a correction on its own date and
  local code cannot get a second one (the events' unique key): it is counted in
  ``remap_conflicts`` and left for a person to look at.

Counting: ``rows == matched + not_in_trial + other_benefits + len(rejected)``; ``matched``
includes running benefits, rows already recorded and held-back rows; ``exits``,
``transfers_within_site``, ``reentries``, ``corrections``, ``transfers_linked`` and
``remapped`` count the events this import added.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import (
    ImportBatch,
    OutcomeEvent,
    Participant,
    Site,
)
from fiptrial.plugins.manager import SitePlugin
from fiptrial.plugins.mapping import ReasonMapping
from fiptrial.services import followup
from fiptrial.services.imports.common import ExportImporter, ImportRequest
from fiptrial.services.imports.outcome_rows import (
    WITHDRAWN_REASON,
    End,
    OutcomeImport,
    empty_report,
)
from fiptrial.timezone import local_date, local_today

__all__ = [
    "WITHDRAWN_REASON",
    "End",
    "OutcomeImport",
    "empty_report",
    "import_outcomes",
    "participant_outcomes",
]


def _import_body(
    request: ImportRequest,
    plugin: SitePlugin,
    mapping: ReasonMapping,
    batch: ImportBatch,
    path: Path,
) -> dict[str, Any]:
    """Read the rows into events, then mark the follow-up round of the export's day received."""
    moment = request.moment
    report = OutcomeImport(request.site, plugin, batch, mapping, moment).run(path, request.progress)
    _notify_followup(request.site, batch.id, local_date(moment) if moment else local_today())
    return report


import_outcomes = ExportImporter("outcomes", _import_body, empty_report)
"""Import one outcome export of a site; returns the report (see the module docstring).

A late export's ``received_at`` dates the batch and its events, and the follow-up round of its
day is the one marked received. ``mapping_version`` reads the file under an earlier version of
the site's table (see the module docstring).
"""


def _notify_followup(site: Site, batch_id: int, received_on: date) -> None:
    """Close the site's waiting follow-up round (``services.followup``), in the import's own
    transaction, so that the import and the mark commit together."""
    followup.mark_export_received(site, received_on, str(batch_id))


def participant_outcomes(participant: Participant) -> list[OutcomeEvent]:
    """A participant's outcome events in the order they happened and were recorded."""
    return (
        db.session.query(OutcomeEvent)
        .filter_by(participant_id=participant.id)
        .order_by(OutcomeEvent.event_date, OutcomeEvent.id)
        .all()
    )
