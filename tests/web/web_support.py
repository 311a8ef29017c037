"""Helpers shared by the web and browser tests (a uniquely named module, not a conftest)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

PASSWORD = "kalm-en-veilig-2027"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
BW_HEADER = (
    "Registratienummer;BSN;Geboortedatum;Geslacht;Gemeentecode;Aanvangsdatum uitkering;"
    "Einddatum uitkering;Reden beëindiging;Omschrijving reden;Nieuwe gemeentecode"
)


def trial_settings_form(name: str, **overrides: str) -> dict[str, str]:
    """The research admin's trial settings form as the demo's defaults fill it."""
    data = {
        "name": name,
        "method": "permuted_blocks",
        "consent_design": "consent_first",
        "fip_ratio": "1",
        "control_ratio": "4",
        "followup_years": "3",
        "cost_per_benefit_year": "14000",
        "conversations_per_year": "4",
        "intervention_years": "1",
        "conversations_per_day": "3",
        "first_conversation_minutes": "60",
        "later_conversation_minutes": "45",
        "working_day_minutes": "180",
    }
    data.update(overrides)
    return data


def dmy(day: date) -> str:
    """A date as the forms take it (dd-mm-jjjj)."""
    return day.strftime("%d-%m-%Y")


def record_conversation(web: Any, participant_id: int, **fields: str) -> Any:
    """The client manager's conversation form for the participant, posted: a conversation held
    today that took 45 minutes, unless ``fields`` say otherwise."""
    data = {"held_on": dmy(date.today()), "status": "held", "duration_minutes": "45", **fields}
    return web.post_form(f"/klantmanager/deelnemer/{participant_id}/gesprek", data)


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def valid_bsns(start: int = 100_000_000) -> Iterable[str]:
    """Valid BSNs (elfproef) from ``start`` upwards; synthetic, never real people."""
    from stdnum.nl import bsn

    number = start
    while True:
        number += 1
        candidate = str(number).zfill(9)
        if bsn.is_valid(candidate):
            yield candidate


@dataclass
class ExportRow:
    bsn: str
    birth: date = date(1980, 5, 17)
    sex: str = "V"
    municipality: str = "0748"
    start: date = date(2020, 1, 1)
    end: date | None = None
    reason: str = ""
    new_municipality: str = ""


def bw_export(rows: Iterable[ExportRow]) -> bytes:
    """A Brabantse Wal client export (';', Windows-1252, dd-mm-jjjj) with the given rows."""
    lines = [BW_HEADER]
    for number, row in enumerate(rows, start=1):
        lines.append(
            ";".join(
                [
                    str(number),
                    row.bsn,
                    f"{row.birth:%d-%m-%Y}",
                    row.sex,
                    row.municipality,
                    f"{row.start:%d-%m-%Y}",
                    f"{row.end:%d-%m-%Y}" if row.end else "",
                    row.reason,
                    "",
                    row.new_municipality,
                ]
            )
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def seed_daily_work() -> dict[str, int]:
    """The small demo plus a day of work, inside an app context: a held conversation with an
    agreement and an intervention, a corrected one, a withdrawal, participants waiting for
    paper consent, a failed and an interrupted upload, a data freeze, a site client number.

    Every page then has something to show (the language walk and the browser journeys).
    Returns the ids the tests refer to.
    """
    from datetime import timedelta

    from fiptrial.demo import create_demo
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask, Participant, PlannedConversation, User
    from fiptrial.services import consent, conversations, freezes
    from fiptrial.services.participants import register
    from fiptrial.services.trials import get_site, get_trial

    create_demo(participants=60)
    site = get_site("brabantse_wal")
    manager = db.session.query(User).filter_by(username="klantmanager").one()
    clients = (
        db.session.query(PlannedConversation.participant_id)
        .filter_by(client_manager_id=manager.id)
        .distinct()
        .order_by(PlannedConversation.participant_id)
        .all()
    )
    talked, corrected, withdrawn = (db.session.get_one(Participant, pid) for (pid,) in clients[:3])
    today = date.today()
    for person in (talked, corrected, withdrawn):
        person.client_number = f"BW-{4700 + person.id}"
    db.session.commit()
    conversations.record(
        talked,
        {
            "date": today - timedelta(days=2),
            "status": "held",
            "duration_minutes": 50,
            "domains": [{"domain": "work_activity", "moved_forward": True}],
            "agreements": [
                {
                    "description": "Sollicitatiebrief naar de bakker sturen",
                    "due_on": today + timedelta(days=12),
                    "responsible": "client",
                }
            ],
            "interventions_started": [
                {"type": "volunteering", "start": today - timedelta(days=2), "provider": None}
            ],
        },
        actor="user:klantmanager",
    )
    wrong = conversations.record(
        corrected,
        {"date": today - timedelta(days=3), "status": "missed", "missed_reason": "no_show"},
        actor="user:klantmanager",
    )
    conversations.correct_record(
        corrected,
        wrong.id,
        {"status": "held", "duration_minutes": 40},
        reason="typing_error",
        actor="user:klantmanager",
    )
    consent.record(
        withdrawn, status="withdrawn", version="2026-1", on=today, actor="user:coordinator"
    )
    bsns = valid_bsns(500_000_000)
    waiting = []
    for _ in range(3):
        person = register(
            site,
            {
                "bsn": next(bsns),
                "birth_date": date(1982, 6, 9),
                "sex": "female",
                "benefit_start": date(2021, 2, 1),
                "municipality": "GM0851",
                "registered_on": today,
            },
            actor="user:coordinator",
        )
        waiting.append(person.id)
    for status, code in (("failed", "file_too_large"), ("running", None)):
        db.session.add(
            ImportTask(
                site_id=site.id,
                kind="participants",
                status=status,
                rows_done=0,
                duplicate=False,
                filename=f"clienten-{status}.csv",
                spool_name=f"import-seed-{status}.upload",
                created_by="user:coordinator",
                error="file: is larger than 200 MB" if code else None,
                error_code=code,
                error_params={"max_mb": 200} if code else None,
                updated_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    db.session.commit()
    frozen = freezes.freeze_trial(get_trial("fip-demo"), "user:admin")
    ids = {
        "talked": talked.id,
        "corrected": corrected.id,
        "withdrawn": withdrawn.id,
        "waiting": waiting[0],
        "freeze": frozen.id,
        "manager": manager.id,
        "spare": clients[3][0],  # a client of the demo client manager nothing was recorded for
    }
    db.session.remove()
    return ids
