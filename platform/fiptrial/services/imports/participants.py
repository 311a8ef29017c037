"""The enrolment import: the running benefits of an export become participants.

Eligibility and strata are decided exactly as in :func:`fiptrial.services.participants.register`
(through :func:`~fiptrial.services.eligibility.assess` and ``stratum_key``), but the import does
not call ``register`` per row: that would pseudonymise twice, query once per row and commit per
row, where an import pseudonymises each row once and commits once per file. BSNs already in
the trial are counted and skipped; ended benefits are not enrolled; bad rows are listed.

Benefit spells: a row of another benefit than the trial's (its BUS statistiekcode not
in the trial's ``benefit_statistic_codes``: special assistance, Bbz, ...) is not enrolled and
counts in ``other_benefits``. The benefit's registration number, when the export has one, becomes
the participant's benefit-unit key (pseudonymised at once, like the BSN); education and region
of birth are stored when the export gives them.

Counting: ``rows == registered + already_registered + ended_benefits_skipped + other_benefits
+ len(rejected)``;
``ineligible`` counts the registered participants who are not eligible (they are registered,
as the core does, so that the caseload is complete; allocation leaves them out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fiptrial.errors import Unprocessable
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Participant, Site
from fiptrial.plugins.manager import SitePlugin
from fiptrial.plugins.mapping import ReasonMapping
from fiptrial.plugins.parsing import redacted
from fiptrial.plugins.rows import ExportRow
from fiptrial.services import audit
from fiptrial.services.imports.common import (
    INSERT_CHUNK,
    PROGRESS_ROWS,
    ExportImporter,
    ImportRequest,
    row_rejection,
)
from fiptrial.services.participants import check_baseline_codes, new_participant
from fiptrial.services.pseudonyms import pseudonymiser, trial_key, unit_pseudonymiser
from fiptrial.timezone import local_date, local_today


def empty_report() -> dict[str, Any]:
    return {
        "batch": None,
        "rows": 0,
        "registered": 0,
        "already_registered": 0,
        "ineligible": 0,
        "rejected": [],
        "ended_benefits_skipped": 0,
        "other_benefits": 0,
        "duplicate_of": None,
    }


def _import_body(
    request: ImportRequest,
    plugin: SitePlugin,
    _mapping: ReasonMapping,
    batch: ImportBatch,
    path: Path,
) -> dict[str, Any]:
    """Enrol the export's running benefits, on the export's (Dutch) day when it came late."""
    on = local_date(request.moment) if request.moment is not None else None
    enrolment = _Enrolment(request.site, batch, request.actor, request.progress, on)
    return enrolment.run(plugin.read_export(path))


import_participants = ExportImporter("participants", _import_body, empty_report)
"""Register the running benefits of a site's export; returns the report.

A late export's ``received_at`` dates the batch, and its clients are registered on its day.
"""


class _Enrolment:
    def __init__(
        self,
        site: Site,
        batch: ImportBatch,
        actor: str,
        progress: Callable[[int], None] | None = None,
        registered_on: date | None = None,
    ) -> None:
        self.progress = progress
        self.site = site
        self.trial = site.trial
        self.batch = batch
        self.actor = actor
        key = trial_key(self.trial.code)
        self.pseudonym = pseudonymiser(key)
        self.unit_pseudonym = unit_pseudonymiser(key, site.code)
        self.benefit_codes = frozenset(self.trial.benefit_statistic_codes or ())
        self.today = registered_on or local_today()
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
        report_at = PROGRESS_ROWS if self.progress is not None else -1
        for row in rows:
            self.report["rows"] += 1
            if self.report["rows"] == report_at:
                self.progress(report_at)  # type: ignore[misc]  # set whenever report_at > 0
                report_at += PROGRESS_ROWS
            participant = self.decide(row)
            if participant is not None:
                self.pending.append(participant)
                if len(self.pending) >= INSERT_CHUNK:
                    self.flush()
        self.flush()
        return self.report

    def reject(
        self, line: int, reason: str, code: str | None = None, params: dict[str, Any] | None = None
    ) -> None:
        """List a rejected line; ``code`` and ``params`` let the pages say it in Dutch.

        The reason and the params pass through ``redacted``: whatever a plugin wrote, no run of
        8+ digits and no date reaches the report (stored, answered by the API, shown)."""
        entry: dict[str, Any] = {"line": line, "reason": redacted(reason)}
        if code:
            entry["code"] = code
            entry["params"] = {
                k: redacted(v) if isinstance(v, str) else v for k, v in (params or {}).items()
            }
        self.report["rejected"].append(entry)

    def decide(self, row: ExportRow) -> Participant | None:
        if row.errors:
            self.report["rejected"].append(row_rejection(row))
            return None
        if row.statistic_code is not None and row.statistic_code not in self.benefit_codes:
            self.report["other_benefits"] += 1
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
                "municipality_not_member",
                {"municipality": row.municipality, "site": self.site.code},
            )
            return None
        try:
            check_baseline_codes(
                {"education": row.education, "country_of_birth_region": row.country_of_birth_region}
            )
            participant = new_participant(
                self.site,
                pseudonym=pseudonym,
                birth_date=row.birth_date,
                sex=row.sex,
                benefit_start=row.benefit_start,
                registered_on=self.today,
                actor=self.actor,
                municipality=row.municipality,
                education=row.education,
                country_of_birth_region=row.country_of_birth_region,
                unit_key=self.unit_pseudonym(row.unit_key) if row.unit_key else None,
            )
        except Unprocessable as error:
            self.reject(row.line, error.message, error.code, error.extra)
            return None
        participant.client_number = row.client_number
        self.known.add(pseudonym)
        self.report["registered"] += 1
        self.report["ineligible"] += not participant.eligible
        return participant

    def flush(self) -> None:
        """Insert a chunk, then audit each registration as the core's ``register`` does."""
        if not self.pending:
            return
        db.session.add_all(self.pending)
        db.session.flush()
        for participant in self.pending:
            audit.record_about(
                "participant.registered",
                participant,
                actor=self.actor,
                site=self.site.code,
                data={
                    "stratum": participant.stratum,
                    "eligible": participant.eligible,
                    "ineligible_reasons": participant.ineligible_reasons,
                    "import_batch": self.batch.id,
                },
            )
        self.pending = []
