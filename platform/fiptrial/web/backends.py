"""The pages' view of back ends that land in other issues (imports, conversations, analysis).

Each function asks whether its back end is installed; when it is not, the page shows a clearly
marked placeholder instead of a broken link. This keeps the rest of the web package free of
``try: import`` blocks and gives one place to connect a back end when it lands.
"""

from __future__ import annotations

import csv
import importlib
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
    return _module("fiptrial.services.analysis") is not None
