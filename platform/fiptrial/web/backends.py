"""The pages' view of back ends that land in other issues (imports, conversations, analysis).

Each function asks whether its back end is installed; when it is not, the page shows a clearly
marked placeholder instead of a broken link. This keeps the rest of the web package free of
``try: import`` blocks and gives one place to connect a back end when it lands.
"""

from __future__ import annotations

import csv
import importlib
import logging
import threading
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import func

from fiptrial.extensions import db
from fiptrial.models import Participant, Site, User


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def site_fip_capacity(site: Site) -> int:
    """FIP places of a site: the sum of its active client managers' capacities (issue 5)."""
    caseload = _module("fiptrial.services.caseload")
    if caseload is not None:
        return int(caseload.site_capacity(site.id))
    total = (
        db.session.query(func.coalesce(func.sum(User.capacity), 0))
        .filter(User.site_id == site.id, User.role == "client_manager", User.active.is_(True))
        .scalar()
    )
    return int(total or 0)


def imports_available() -> bool:
    return _module("fiptrial.services.imports") is not None


def import_context(site: Site) -> dict[str, Any]:
    """The upload page's recent batches of both kinds, newest first."""
    imports = _module("fiptrial.services.imports")
    if imports is None:
        return {"imports_available": False}
    return {
        "imports_available": True,
        "caseload_batches": imports.list_batches(site, "participants")[:10],
        "outcome_batches": imports.list_batches(site, "outcomes")[:10],
    }


def run_import(site: Site, kind: str, stream: Any, *, actor: str) -> dict[str, Any]:
    """Run the caseload ("participants") or outcome import of issue 3 on an uploaded file."""
    imports = _module("fiptrial.services.imports")
    if imports is None:
        raise LookupError("imports are not installed")
    run = imports.import_participants if kind == "participants" else imports.import_outcomes
    return run(site, stream, actor=actor)  # type: ignore[no-any-return]


def import_batch(site: Site, batch_id: int) -> Any | None:
    """One of the site's import batches (None when it belongs to another site)."""
    from fiptrial.models import ImportBatch

    batch = db.session.get(ImportBatch, batch_id)
    return batch if batch is not None and batch.site_id == site.id else None


def participant_outcomes(participant: Participant) -> list[Any] | None:
    """A participant's outcome events, or None while outcome collection is not installed."""
    imports = _module("fiptrial.services.imports")
    if imports is None:
        return None
    return imports.participant_outcomes(participant)  # type: ignore[no-any-return]


def conversations_available() -> bool:
    return _module("fiptrial.services.conversations") is not None


def agenda(manager_id: int | None, first: date, last: date) -> list[Any]:
    from fiptrial.services import planning

    return planning.agenda(manager_id or 0, first, last)  # type: ignore[no-any-return]


def overdue(manager_id: int | None, today: date) -> list[Any]:
    """Open conversations of one client manager whose date has passed, oldest first."""
    from fiptrial.models import PlannedConversation
    from fiptrial.models.conversations import OPEN_STATUSES

    return (
        db.session.query(PlannedConversation)
        .filter(PlannedConversation.client_manager_id == (manager_id or 0),
                PlannedConversation.status.in_(OPEN_STATUSES),
                PlannedConversation.planned_date < today)
        .order_by(PlannedConversation.planned_date, PlannedConversation.id)
        .all()
    )


def conversation_history(participant: Participant) -> dict[str, Any]:
    """Records (newest first), the plan, open agreements and running interventions."""
    from fiptrial.models import Agreement, PlannedConversation
    from fiptrial.models.conversations import OPEN_STATUSES
    from fiptrial.services import conversations

    records = list(reversed(conversations.records(participant)))
    plan = (
        db.session.query(PlannedConversation)
        .filter_by(participant_id=participant.id)
        .order_by(PlannedConversation.sequence)
        .all()
    )
    open_agreements = (
        db.session.query(Agreement)
        .filter_by(participant_id=participant.id, followup_record_id=None)
        .order_by(Agreement.id)
        .all()
    )
    interventions = conversations.interventions_of(participant.id)
    return {
        "records": records,
        "plan": plan,
        "next_planned": next((p for p in plan if p.status in OPEN_STATUSES), None),
        "open_agreements": open_agreements,
        "interventions": interventions,
        "running_interventions": [i for i in interventions if i.ended_on is None],
    }


def record_conversation(participant: Participant, data: dict[str, Any], *, actor: str) -> Any:
    from fiptrial.services import conversations

    return conversations.record(participant, data, actor=actor)


def _labels(filename: str) -> dict[str, str]:
    """Code -> label in the page's language, from the platform's data files."""
    from flask_babel import get_locale

    text = resources.files("fiptrial.data").joinpath(filename).read_text(encoding="utf-8")
    column = "label_en" if str(get_locale() or "nl").startswith("en") else "label_nl"
    return {row["code"]: row[column] for row in csv.DictReader(text.splitlines())}


def life_domains() -> tuple[str, ...]:
    from fiptrial.services import conversations

    return conversations.life_domains()  # type: ignore[no-any-return]


def life_domain_labels() -> dict[str, str]:
    return _labels("life_domains.csv")


def intervention_labels() -> dict[str, str]:
    return _labels("intervention_types.csv")


def analysis_available() -> bool:
    return (_module("fiptrial.services.exports") is not None
            and _module("fiptrial_analysis") is not None)


REPORT_FIGURES = ("consort", "exits", "forest", "survival", "incidence")
_report_cache: dict[tuple[str, str, int], dict[str, Any]] = {}
# The page's figures arrive as parallel requests: compute the report once, and keep pyplot
# (which fiptrial_analysis draws with, and which is not thread-safe) to one thread at a time.
_report_lock = threading.Lock()


def pooled_report(trial_code: str) -> dict[str, Any]:
    """The trial's pooled report (issue 4) on today's data, with what was analysed.

    The report is cached per trial, day and audit-chain head: every change to the data appends
    to the audit chain, so a new head means new data and a fresh report. The page and its five
    figures then cost one analysis, not six.
    """
    from fiptrial.models import AuditHead
    from fiptrial.services import exports, trials

    head = db.session.get(AuditHead, 1)
    key = (trial_code, date.today().isoformat(), head.last_id if head else 0)
    with _report_lock:
        if key not in _report_cache:
            export = exports.build_export(trials.get_trial(trial_code), None)
            _report_cache.clear()  # one trial's latest report is all the pages need
            _report_cache[key] = {**exports.analyse(export), "export": export.describe()}
        return _report_cache[key]


def report_figure_png(report: dict[str, Any], name: str) -> bytes:
    """One of the report's plots as PNG (fiptrial_analysis draws them; we only encode)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from fiptrial_analysis import html as report_html

    with _report_lock:
        try:
            figure = getattr(report_html, f"{name}_figure")(report)
        except (ArithmeticError, KeyError, TypeError, ValueError, IndexError):
            # Early in a trial some figures have nothing to show; say so instead of a 500.
            logging.getLogger(__name__).warning("report figure %s failed", name, exc_info=True)
            figure = pyplot.figure(figsize=(6, 1.5))
            figure.text(0.5, 0.5, "Figuur nog niet beschikbaar: te weinig gegevens",
                        ha="center", va="center")
        try:
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()
        finally:
            pyplot.close(figure)


# --- follow-up rounds and fidelity (issue 5) -------------------------------------------------


def followup_rounds(site: Site, limit: int = 12) -> list[Any] | None:
    """The site's follow-up rounds, newest first; None while the scheduler jobs are missing."""
    if _module("fiptrial.services.followup") is None:
        return None
    from fiptrial.models import FollowupRound

    return (
        db.session.query(FollowupRound)
        .filter_by(site_id=site.id)
        .order_by(FollowupRound.period.desc())
        .limit(limit)
        .all()
    )


def site_fidelity(site: Site) -> Any | None:
    fidelity = _module("fiptrial.services.fidelity")
    return fidelity.site_fidelity(site) if fidelity is not None else None


# --- analysis exports and data freezes (issue 4) -----------------------------------------------


def export_formats() -> tuple[str, ...]:
    exports = _module("fiptrial.services.exports")
    return tuple(exports.FORMATS) if exports is not None else ()


def export_zip(trial_code: str, fmt: str, *, actor: str) -> tuple[str, bytes]:
    """The analysis export with its codebook and CONSORT sidecar, zipped (audited)."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from fiptrial.services import exports, trials

    trial = trials.get_trial(trial_code)
    with tempfile.TemporaryDirectory(prefix="fiptrial-web-export-") as folder:
        name = f"{trial.code}-{date.today():%Y%m%d}.{fmt}"
        _export, written = exports.export_trial(trial, Path(folder) / name, fmt, actor=actor)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, arcname=path.name)
    return f"{trial.code}-{date.today():%Y%m%d}-{fmt}.zip", buffer.getvalue()


def list_freezes(trial_code: str) -> list[dict[str, Any]]:
    from fiptrial.services import freezes, trials

    return [freezes.describe(f) for f in freezes.list_freezes(trials.get_trial(trial_code))]


def freeze(trial_code: str, *, actor: str) -> dict[str, Any]:
    from fiptrial.services import freezes, trials

    return freezes.describe(freezes.freeze_trial(trials.get_trial(trial_code), actor))  # type: ignore[no-any-return]
