"""The enrolment import: the running benefits of an export become participants.

Eligibility and strata are decided exactly as in :func:`fiptrial.services.participants.register`
(through :func:`~fiptrial.services.eligibility.assess` and ``stratum_key``), but the import does
not call ``register`` per row: that would pseudonymise twice, query once per row and commit per
row, where the issue asks for one pseudonym per row and one transaction per file. BSNs already
in the trial are counted and skipped; ended benefits are not enrolled; bad rows are listed.

Counting: ``rows == registered + already_registered + ended_benefits_skipped + len(rejected)``;
``ineligible`` counts the registered participants who are not eligible (they are registered,
as the core does, so that the caseload is complete; allocation leaves them out).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from fiptrial.errors import Unprocessable
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Participant, Site
from fiptrial.plugins.manager import SitePlugin
from fiptrial.plugins.rows import ExportRow
from fiptrial.services import audit
from fiptrial.services.eligibility import assess, stratum_key
from fiptrial.services.imports.common import INSERT_CHUNK, pseudonymiser, run_import
from fiptrial.services.pseudonyms import trial_key


def empty_report() -> dict[str, Any]:
    return {
        "batch": None,
        "rows": 0,
        "registered": 0,
        "already_registered": 0,
        "ineligible": 0,
        "rejected": [],
        "ended_benefits_skipped": 0,
        "duplicate_of": None,
    }


def import_participants(
    site: Site, source: BinaryIO | str | os.PathLike[str], *, actor: str
) -> dict[str, Any]:
    """Register the running benefits of ``site``'s export; returns the report.

    Raises:
        ExportFormatError: the file cannot be read (422); nothing is changed.
    """

    def body(plugin: SitePlugin, batch: ImportBatch, path: Path) -> dict[str, Any]:
        return _Enrolment(site, batch, actor).run(plugin.read_export(path))

    report, _created = run_import(
        site, source, kind="participants", actor=actor, body=body, empty_report=empty_report
    )
    return report


class _Enrolment:
    def __init__(self, site: Site, batch: ImportBatch, actor: str) -> None:
        self.site = site
        self.trial = site.trial
        self.batch = batch
        self.actor = actor
        self.pseudonym = pseudonymiser(trial_key(self.trial.code))
        self.today = date.today()
        self.members = set(site.municipalities or ())
        self.known: set[str] = set(
            db.session.execute(
                select(Participant.pseudonym).where(Participant.trial_id == self.trial.id)
            ).scalars()
        )
        self.report = empty_report()
        self.report["batch"] = batch.id
        self.pending: list[Participant] = []

    def run(self, rows: Iterable[ExportRow]) -> dict[str, Any]:
        for row in rows:
            self.report["rows"] += 1
            participant = self.decide(row)
            if participant is not None:
                self.pending.append(participant)
                if len(self.pending) >= INSERT_CHUNK:
                    self.flush()
        self.flush()
        return self.report

    def reject(self, line: int, reason: str) -> None:
        self.report["rejected"].append({"line": line, "reason": reason})

    def decide(self, row: ExportRow) -> Participant | None:
        if row.errors:
            self.reject(row.line, "; ".join(row.errors))
            return None
        if row.benefit_end is not None:
            self.report["ended_benefits_skipped"] += 1
            return None
        assert row.bsn and row.birth_date and row.benefit_start and row.sex
        pseudonym = self.pseudonym(row.bsn)
        if pseudonym in self.known:
            self.report["already_registered"] += 1
            return None
        if self.members and row.municipality not in self.members:
            self.reject(
                row.line,
                f"municipality {row.municipality} is not a member of site {self.site.code}",
            )
            return None
        try:
            assessment = assess(
                self.trial,
                birth_date=row.birth_date,
                benefit_start=row.benefit_start,
                registered_on=self.today,
            )
        except Unprocessable as error:
            self.reject(row.line, error.message)
            return None
        self.known.add(pseudonym)
        self.report["registered"] += 1
        self.report["ineligible"] += not assessment.eligible
        return Participant(
            trial_id=self.trial.id,
            site_id=self.site.id,
            pseudonym=pseudonym,
            birth_date=row.birth_date,
            sex=row.sex,
            benefit_start=row.benefit_start,
            municipality=row.municipality,
            registered_on=self.today,
            age_band=assessment.age_band,
            benefit_duration_band=assessment.benefit_duration_band,
            stratum=stratum_key(
                self.trial,
                self.site,
                age_band=assessment.age_band,
                duration_band=assessment.benefit_duration_band,
                sex=row.sex,
            ),
            eligible=assessment.eligible,
            ineligible_reasons=assessment.reasons,
            pension_age_date=assessment.pension_age_date,
            registered_by=self.actor,
        )

    def flush(self) -> None:
        """Insert a chunk, then audit each registration as the core's ``register`` does."""
        if not self.pending:
            return
        db.session.add_all(self.pending)
        db.session.flush()
        for participant in self.pending:
            audit.record(
                "participant.registered",
                actor=self.actor,
                entity="participant",
                entity_id=participant.id,
                site=self.site.code,
                data={
                    "stratum": participant.stratum,
                    "eligible": participant.eligible,
                    "ineligible_reasons": participant.ineligible_reasons,
                    "import_batch": self.batch.id,
                },
            )
        self.pending = []
