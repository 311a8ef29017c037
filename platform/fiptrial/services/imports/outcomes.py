"""The monthly outcome import: exits, transfers within the site, re-entries and corrections.

Rules (issue 3, "Enrolment and outcome imports", and issue 10, "Benefit spells"):

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
- Mapping versions (issue 12): an import uses the site's current table unless it is asked for
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

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from sqlalchemy import select, update

from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    ConsentEvent,
    HeldRow,
    ImportBatch,
    OutcomeEvent,
    Participant,
    Site,
)
from fiptrial.plugins.manager import SitePlugin
from fiptrial.plugins.mapping import MOVED_MUNICIPALITY, MappedReason, ReasonMapping
from fiptrial.plugins.parsing import redacted
from fiptrial.plugins.rows import SKIPPED, ExportRow
from fiptrial.services.imports.common import (
    INSERT_CHUNK,
    PROGRESS_ROWS,
    row_rejection,
    run_import,
)
from fiptrial.services.moments import as_moment
from fiptrial.services.pseudonyms import pseudonymiser, trial_key
from fiptrial.timezone import local_date

WITHDRAWN_REASON = "dated after the participant withdrew consent: no data are collected after it"


def _decision_order(matched: tuple[int, date, int, Any]) -> tuple[int, date, int]:
    return matched[0], matched[1], matched[2]


def _line(rejection: dict[str, Any]) -> int:
    return int(rejection["line"])


def empty_report() -> dict[str, Any]:
    return {
        "batch": None,
        "rows": 0,
        "matched": 0,
        "not_in_trial": 0,
        "exits": 0,
        "exits_by_code": {},
        "transfers_within_site": 0,
        "reentries": 0,
        "corrections": 0,
        "transfers_linked": 0,
        "other_benefits": 0,
        "remapped": 0,
        "remap_conflicts": 0,
        "mapping_version": None,
        "rejected": [],
        "unmapped": {},
        "duplicate_of": None,
    }


def import_outcomes(
    site: Site,
    source: BinaryIO | str | os.PathLike[str],
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    mapping_version: str | None = None,
    received_at: datetime | date | None = None,
) -> dict[str, Any]:
    """Import one outcome export of ``site``; returns the report (see the module docstring).

    ``received_at`` dates an export imported after it arrived (see
    :func:`~fiptrial.services.imports.common.checked_received_at`): the batch and its events
    carry it, and the follow-up round of its day is the one marked received.

    ``progress`` (optional) is called with the number of rows read so far every
    ``PROGRESS_ROWS`` rows, from inside the import's transaction: it must not write through
    the import's session (the web's background imports keep a status page up to date with it).

    The same file under the same mapping version again returns an empty report whose
    ``duplicate_of`` names the earlier batch, without parsing the file. ``mapping_version``
    reads the file under an earlier version of the site's table (see the module docstring).

    Raises:
        ExportFormatError: the file cannot be read (422); nothing is changed.
    """

    moment = None if received_at is None else as_moment(received_at)

    def body(
        plugin: SitePlugin, mapping: ReasonMapping, batch: ImportBatch, path: Path
    ) -> dict[str, Any]:
        report = OutcomeImport(site, plugin, batch, mapping, moment).run(path, progress)
        _notify_followup(site, batch.id, local_date(moment) if moment else date.today())
        return report

    report, _created = run_import(
        site, source, kind="outcomes", actor=actor, body=body, empty_report=empty_report,
        mapping_version=mapping_version, received_at=moment,
    )  # fmt: skip
    return report


def _notify_followup(site: Site, batch_id: int, received_on: date) -> None:
    """Close the site's waiting follow-up round (issue 5), in the import's own transaction, so
    that the import and the mark commit together. A no-op while that module is absent."""
    try:
        from fiptrial.services import followup
    except ImportError:
        return
    mark = getattr(followup, "mark_export_received", None)
    if mark is not None:
        mark(site, received_on, str(batch_id))


def participant_outcomes(participant: Participant) -> list[OutcomeEvent]:
    """A participant's outcome events in the order they happened and were recorded."""
    return (
        db.session.query(OutcomeEvent)
        .filter_by(participant_id=participant.id)
        .order_by(OutcomeEvent.event_date, OutcomeEvent.id)
        .all()
    )


class _Participant:
    """Which participant a BSN is, asked by the reader first (``wanted``: read the record
    further?) and by the importer right after for the same row: the answer for the last BSN
    asked is kept, so that each BSN is pseudonymised once."""

    __slots__ = ("_bsn", "_lookup", "_pid", "_pseudonym")

    def __init__(self, lookup: Callable[[str], int | None], pseudonym: Callable[[str], str]):
        self._lookup, self._pseudonym = lookup, pseudonym
        self._bsn: str | None = None
        self._pid: int | None = None

    def wanted(self, bsn: str) -> bool:
        self._bsn, self._pid = bsn, self._lookup(self._pseudonym(bsn))
        return self._pid is not None

    def of(self, bsn: str) -> int | None:
        if bsn == self._bsn:
            return self._pid
        return self._lookup(self._pseudonym(bsn))


class End(NamedTuple):
    """A recorded end of a benefit spell, as the importer tracks it.

    ``bus`` is ``None`` when the end turned out to be a move within the site (the spell goes
    on); ``start`` is the benefit start of the row that ended (``None`` for events recorded
    before migration 0008_spells, which did not keep it).
    """

    day: date
    bus: str | None
    local: str
    municipality: str | None
    start: date | None


class OutcomeImport:
    """One outcome import: the state it needs is loaded once, rows are decided one by one, and
    events are written in chunks with executemany.

    A participant's rows are decided after the whole file was read, in the order of their
    benefit starts (rows of the same benefit stay in file order): an export lists the new
    municipality's benefit before or after the old one's end, as its sorting happens to be,
    and a move or re-entry must be recognised either way.
    """

    def __init__(
        self,
        site: Site,
        plugin: SitePlugin,
        batch: ImportBatch,
        mapping: ReasonMapping | None = None,
        at: datetime | None = None,
    ) -> None:
        self.site = site
        self.plugin = plugin
        self.batch = batch
        self.mapping = mapping or plugin.mapping
        #: Only the current table corrects what earlier versions recorded.
        self.remap = self.mapping is plugin.mapping
        trial = site.trial
        self.trial_code = trial.code
        self.key = trial_key(self.trial_code)
        self.benefit_codes = frozenset(trial.benefit_statistic_codes or ())
        self.move_gap = trial.move_gap_days
        self.members = frozenset(site.municipalities or ())
        self.map_reason = plugin.reason_mapper(site.municipalities or None, self.mapping)
        self.now = at or datetime.now(UTC)
        self.participants: dict[str, int] = dict(
            db.session.execute(
                select(Participant.pseudonym, Participant.id)
                .join(Allocation, Allocation.participant_id == Participant.id)
                .where(Participant.site_id == site.id)
            ).all()
        )
        self.withdrawn: dict[int, date] = {}
        for pid, day in db.session.execute(
            select(ConsentEvent.participant_id, ConsentEvent.date)
            .join(Participant, Participant.id == ConsentEvent.participant_id)
            .where(Participant.site_id == site.id, ConsentEvent.status == "withdrawn")
            .order_by(ConsentEvent.id)
        ):
            self.withdrawn.setdefault(pid, day)
        # The end of each participant's latest spell (gone after a re-entry), and every recorded
        # end by the benefit start of its row, so a row of an earlier spell corrects that one.
        self.exits: dict[int, End] = {}
        self.ends: dict[int, dict[date, End]] = {}
        self.recorded: set[tuple[int, str, date, str]] = set()
        self._load_events()
        self.held: dict[tuple[int, str, date], int | None] = {
            (pid, code, end): held_id
            for held_id, pid, code, end in db.session.execute(
                select(
                    HeldRow.id, HeldRow.participant_id, HeldRow.local_code, HeldRow.benefit_end
                ).where(HeldRow.site_id == site.id, HeldRow.released_batch_id.is_(None))
            )
        }
        self.pending_events: list[dict[str, Any]] = []
        self.pending_held: list[dict[str, Any]] = []
        self.released: list[int] = []
        self.counts: Counter[str] = Counter()
        if self.remap:
            self.remap_recorded_exits()
        self.exits_by_code: Counter[str] = Counter()
        self.unmapped: Counter[str] = Counter()
        self.rejected: list[dict[str, Any]] = []

    def _load_events(self) -> None:
        """Replay the site's events in order to know each participant's recorded ends."""
        rows = db.session.execute(
            select(
                OutcomeEvent.participant_id,
                OutcomeEvent.kind,
                OutcomeEvent.event_date,
                OutcomeEvent.bus_code,
                OutcomeEvent.local_code,
                OutcomeEvent.municipality,
                OutcomeEvent.spell_start,
                OutcomeEvent.previous_date,
                OutcomeEvent.previous_bus_code,
            )
            .where(OutcomeEvent.site_id == self.site.id)
            .order_by(OutcomeEvent.id)
        )
        for pid, kind, day, bus, local, municipality, start, prev_day, prev_bus in rows:
            self.recorded.add((pid, kind, day, local))
            if kind == "reentry":
                self.exits.pop(pid, None)
            elif kind == "correction" and bus is None:
                self._moved(pid, prev_day, prev_bus)
            elif kind in ("exit", "correction"):
                self._ended(pid, End(day, bus, local, municipality, start))
            elif kind == "transfer_within_site" and start is not None:
                self.ends.setdefault(pid, {})[start] = End(day, None, local, municipality, start)

    def remap_recorded_exits(self) -> None:
        """Correct each recorded exit whose local code the current table maps to another BUS
        code (see the module docstring): one correction per end, the old code kept."""
        ends: dict[tuple[int, date, str], End] = {}
        for pid, by_start in self.ends.items():
            for end in by_start.values():
                ends.setdefault((pid, end.day, end.local), end)
        for pid, end in self.exits.items():
            ends.setdefault((pid, end.day, end.local), end)
        for (pid, day, local), end in sorted(ends.items()):
            if end.bus is None or not local:
                continue  # a move within the site, or nothing to look up
            mapped = self.map_reason(local, None)
            if mapped.kind != "exit" or mapped.bus_code == end.bus:
                continue
            key = (pid, "correction", day, local)
            if key in self.recorded:
                self.counts["remap_conflicts"] += 1
                continue
            self.recorded.add(key)
            self.pending_events.append(
                {
                    "participant_id": pid, "site_id": self.site.id, "kind": "correction",
                    "event_date": day, "bus_code": mapped.bus_code, "local_code": local,
                    "new_municipality": None, "previous_date": day,
                    "previous_bus_code": end.bus, "previous_local_code": local,
                    "municipality": end.municipality, "spell_start": end.start,
                    "mapping_version": self.mapping.version, "batch_id": self.batch.id,
                    "line": 0, "created_at": self.now,
                }
            )  # fmt: skip
            self.counts["remapped"] += 1
            self._ended(pid, end._replace(bus=mapped.bus_code))

    def _ended(self, pid: int, end: End) -> None:
        if end.start is not None:
            self.ends.setdefault(pid, {})[end.start] = end
        current = self.exits.get(pid)
        if (
            current is None
            or end.start is None
            or current.start is None
            or (
                end.start >= current.start  # an end of an earlier benefit leaves the latest one
            )
        ):
            self.exits[pid] = end

    def _moved(self, pid: int, day: date | None, bus: str | None) -> None:
        """The end (``day``, ``bus``) turned out to be a move within the site."""
        for start, end in list(self.ends.get(pid, {}).items()):
            if (end.day, end.bus) == (day, bus):
                self.ends[pid][start] = end._replace(bus=None)
        current = self.exits.get(pid)
        if current is not None and (current.day, current.bus) == (day, bus):
            del self.exits[pid]

    # --- the rows ---------------------------------------------------------------------------

    def run(self, path: Path, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Read every row, then decide the matched ones; the loop is kept tight because most
        rows are not in the trial."""
        lookup = self.participants.get
        pseudonym = pseudonymiser(self.key)
        participant = _Participant(lookup, pseudonym)
        benefit_codes = self.benefit_codes
        # (participant, benefit start, line, the row's fields): plain tuples of atoms, which the
        # garbage collector stops tracking; held ExportRows would slow every collection.
        matched: list[tuple[int, date, int, tuple[Any, ...]]] = []
        keep = matched.append
        rows = not_in_trial = other_benefits = 0
        report_at = PROGRESS_ROWS if progress is not None else -1  # one compare per row
        with path.open("rb") as handle:  # an open handle: the plugin streams it directly
            for row in self.plugin.read_export(handle, participant.wanted):
                rows += 1
                if rows == report_at:
                    progress(rows)  # type: ignore[misc]  # set whenever report_at > 0
                    report_at += PROGRESS_ROWS
                if row is SKIPPED:
                    not_in_trial += 1  # read no further than the BSN
                    continue
                if row.errors:
                    self.rejected.append(row_rejection(row))
                    continue
                if row.statistic_code is not None and row.statistic_code not in benefit_codes:
                    other_benefits += 1  # special assistance, Bbz, ...: never a spell
                    continue
                pid = participant.of(row.bsn)  # type: ignore[arg-type]  # no errors: BSN valid
                if pid is None:
                    not_in_trial += 1  # dropped here: nothing of this row is kept
                    continue
                keep((pid, row.benefit_start, row.line, tuple(row)))  # type: ignore[arg-type]
        matched.sort(key=_decision_order)  # rows of one benefit keep their file order
        decide = self.decide
        pending = self.pending_events
        for pid, _start, _line, fields in matched:
            decide(pid, ExportRow._make(fields))
            if len(pending) >= INSERT_CHUNK:
                self.flush()
        self.flush()
        self.counts["rows"] = rows
        self.counts["not_in_trial"] = not_in_trial
        self.counts["other_benefits"] = other_benefits
        return self.report()

    def decide(self, pid: int, row: ExportRow) -> None:
        """One row of an allocated participant."""
        assert row.benefit_start is not None  # a row without errors has its start date
        end = row.benefit_end
        withdrawn = self.withdrawn.get(pid)
        if withdrawn is not None and (end or row.benefit_start) > withdrawn:
            self.reject(row.line, WITHDRAWN_REASON)
            return
        if end is None:
            self.counts["matched"] += 1
            self.new_spell_after_exit(pid, row)
            return
        if not row.local_reason:
            self.reject(row.line, "the benefit ended but the export gives no reason")
            return
        mapped = self.map_reason(row.local_reason, row.new_municipality)
        if mapped.kind == "rejected":
            self.reject(row.line, mapped.reason or f"local code {mapped.local_code} is refused")
            return
        self.counts["matched"] += 1
        if mapped.kind == "unmapped":
            self.unmapped[redacted(row.local_reason)] += 1
            self.hold(pid, row, end)
            return
        held_id = self.held.pop((pid, row.local_reason, end), None)
        if held_id is not None:
            self.released.append(held_id)
        self.new_spell_after_exit(pid, row)
        if mapped.kind == "transfer":
            self.transfer(pid, row, end, mapped)
        else:
            self.exit(pid, row, end, mapped)

    def reject(self, line: int, reason: str) -> None:
        """List a rejected line; the reason passes through ``redacted`` (no BSN, no date)."""
        self.rejected.append({"line": line, "reason": redacted(reason)})

    def new_spell_after_exit(self, pid: int, row: ExportRow) -> None:
        """A benefit that starts after the participant's last recorded end: either the move
        inside the site that end was (linked, see :meth:`linked_move`) or a re-entry."""
        current = self.exits.get(pid)
        assert row.benefit_start is not None
        if current is None or row.benefit_start <= current.day:
            return
        if self.linked_move(current, row):
            added = self.add(
                pid, "correction", row.benefit_start, row, bus_code=None,
                local_code=current.local, previous_date=current.day,
                previous_bus_code=current.bus, previous_local_code=current.local,
                new_municipality=row.municipality,
            )  # fmt: skip
            if added:
                self.counts["transfers_linked"] += 1
                self._moved(pid, current.day, current.bus)
                return
        if self.add(pid, "reentry", row.benefit_start, row):
            self.counts["reentries"] += 1
        self.exits.pop(pid, None)

    def linked_move(self, current: End, row: ExportRow) -> bool:
        """Was the end ``current`` a move inside the site, now that ``row`` shows the benefit
        after it? Yes when it ended with BUS 32 and ``row`` is a benefit in *another* member
        municipality starting within the trial's move gap -- whatever the export said about
        the new municipality. Recorded as a correction of the exit, keeping both."""
        assert row.benefit_start is not None
        return (
            current.bus == MOVED_MUNICIPALITY
            and row.municipality in self.members
            and row.municipality != current.municipality
            and (row.benefit_start - current.day).days <= self.move_gap
        )

    def recorded_end(self, pid: int, row: ExportRow) -> End | None:
        """The recorded end of the benefit this row is about, if any: the end recorded for its
        benefit start, else the latest end unless that one belongs to another benefit."""
        assert row.benefit_start is not None
        end = self.ends.get(pid, {}).get(row.benefit_start)
        if end is not None:
            return end
        current = self.exits.get(pid)
        if current is None or current.start not in (None, row.benefit_start):
            return None
        return current

    def exit(self, pid: int, row: ExportRow, end: date, mapped: MappedReason) -> None:
        local = mapped.local_code
        if (pid, "exit", end, local) in self.recorded:
            return  # seen before: the export repeats ends of earlier months
        new = End(end, mapped.bus_code, local, row.municipality, row.benefit_start)
        current = self.recorded_end(pid, row)
        if current is not None and current.bus is None:
            return  # this benefit's end was a move within the site: the spell went on
        if current is not None and current[:3] == new[:3]:
            return
        if current is None:
            self.add(pid, "exit", end, row, bus_code=mapped.bus_code, local_code=local,
                     mapping_version=mapped.mapping_version)  # fmt: skip
            self._ended(pid, new)
            self.counts["exits"] += 1
            self.exits_by_code[mapped.bus_code or ""] += 1
        else:
            self.correct(pid, row, current, new, mapped.mapping_version)

    def transfer(self, pid: int, row: ExportRow, end: date, mapped: MappedReason) -> None:
        local = mapped.local_code
        if (pid, "transfer_within_site", end, local) in self.recorded:
            return
        current = self.recorded_end(pid, row)
        if current is not None and current.bus is None:
            return  # already known as a move
        if current is not None:
            # The same spell was recorded as an exit: the move stayed inside the site after all.
            new = End(end, None, local, row.municipality, row.benefit_start)
            self.correct(pid, row, current, new, mapped.mapping_version)
            return
        if self.add(pid, "transfer_within_site", end, row, local_code=local,
                    mapping_version=mapped.mapping_version):  # fmt: skip
            self.counts["transfers_within_site"] += 1
            self.ends.setdefault(pid, {})[row.benefit_start] = End(  # type: ignore[index]
                end, None, local, row.municipality, row.benefit_start
            )

    def correct(self, pid: int, row: ExportRow, previous: End, new: End, mapping_version: str
                ) -> None:  # fmt: skip
        added = self.add(
            pid, "correction", new.day, row, bus_code=new.bus, local_code=new.local,
            previous_date=previous.day, previous_bus_code=previous.bus,
            previous_local_code=previous.local, mapping_version=mapping_version,
            new_municipality=row.new_municipality if new.bus is None else None,
        )  # fmt: skip
        if added:
            self.counts["corrections"] += 1
            if new.bus is None:
                self._moved(pid, previous.day, previous.bus)
            else:
                self._ended(pid, new)

    def add(self, pid: int, kind: str, day: date, row: ExportRow, **values: Any) -> bool:
        """Queue an event unless this participant already has it; True when queued."""
        key = (pid, kind, day, values.get("local_code", ""))
        if key in self.recorded:
            return False
        self.recorded.add(key)
        event = {
            "participant_id": pid,
            "site_id": self.site.id,
            "kind": kind,
            "event_date": day,
            "bus_code": None,
            "local_code": "",
            "new_municipality": row.new_municipality if kind == "transfer_within_site" else None,
            "previous_date": None,
            "previous_bus_code": None,
            "previous_local_code": None,
            "municipality": row.municipality,
            "spell_start": row.benefit_start,
            "mapping_version": self.mapping.version,
            "batch_id": self.batch.id,
            "line": row.line,
            "created_at": self.now,
        }
        event.update(values)
        self.pending_events.append(event)
        return True

    def hold(self, pid: int, row: ExportRow, end: date) -> None:
        key = (pid, row.local_reason or "", end)
        if key in self.held:
            return
        self.held[key] = None
        assert row.benefit_start is not None
        self.pending_held.append(
            {
                "site_id": self.site.id,
                "participant_id": pid,
                "batch_id": self.batch.id,
                "line": row.line,
                "local_code": row.local_reason,
                "new_municipality": row.new_municipality,
                "benefit_start": row.benefit_start,
                "benefit_end": end,
                "mapping_version": self.mapping.version,
                "created_at": self.now,
            }
        )

    # --- writing ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the queued rows with one executemany per table (Core, not ORM objects)."""
        if self.pending_events:
            db.session.execute(OutcomeEvent.__table__.insert(), self.pending_events)
            self.pending_events.clear()
        if self.pending_held:
            db.session.execute(HeldRow.__table__.insert(), self.pending_held)
            self.pending_held.clear()
        if self.released:
            db.session.execute(
                update(HeldRow)
                .where(HeldRow.id.in_(self.released))
                .values(released_batch_id=self.batch.id)
            )
            self.released = []

    def report(self) -> dict[str, Any]:
        report = empty_report()
        report.update(
            batch=self.batch.id,
            rows=self.counts["rows"],
            matched=self.counts["matched"],
            not_in_trial=self.counts["not_in_trial"],
            exits=self.counts["exits"],
            exits_by_code=dict(sorted(self.exits_by_code.items())),
            transfers_within_site=self.counts["transfers_within_site"],
            reentries=self.counts["reentries"],
            corrections=self.counts["corrections"],
            transfers_linked=self.counts["transfers_linked"],
            other_benefits=self.counts["other_benefits"],
            remapped=self.counts["remapped"],
            remap_conflicts=self.counts["remap_conflicts"],
            mapping_version=self.mapping.version,
            rejected=sorted(self.rejected, key=_line),
            unmapped=dict(sorted(self.unmapped.items())),
        )
        return report
