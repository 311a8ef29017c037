"""The requests of the literal access matrix (tests/security/test_access_matrix_literal.py).

Each request names its path with ``{site}``, ``{participant}``, ``{allocation}``, ``{manager}``
and ``{trial}``, filled per scope: ``own`` is site bw (its FIP participant, in client manager
km's caseload) and trial t1, ``other`` the other site of t1 (its participant) and trial t2, in
which bw takes no part. Imported by module name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None

    @property
    def scoped(self) -> bool:
        return any(k in self.path for k in ("{site}", "{participant}", "{allocation}", "{trial}"))

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


NEW_PARTICIPANT = {
    "bsn": "999993653", "birth_date": "1980-01-01", "sex": "male", "benefit_start": "2020-01-01",
}  # fmt: skip

API = [
    Request("POST", "/api/v1/trials", {"code": "new-trial", "name": "New"}),
    Request("GET", "/api/v1/trials"),
    Request("GET", "/api/v1/trials/{trial}"),
    Request("POST", "/api/v1/trials/{trial}/sites",
            {"code": "third", "plugin": "template", "municipalities": ["GM0855"]}),
    Request("POST", "/api/v1/trials/{trial}/consent-forms",
            {"version": "v9", "valid_from": "2026-01-01"}),
    Request("GET", "/api/v1/trials/{trial}/consent-forms"),
    Request("GET", "/api/v1/sites/{site}"),
    Request("POST", "/api/v1/sites/{site}/participants", NEW_PARTICIPANT),
    Request("GET", "/api/v1/sites/{site}/participants"),
    Request("POST", "/api/v1/sites/{site}/cohort-allocation", {"fip": 999999}),
    Request("GET", "/api/v1/sites/{site}/allocations"),
    Request("GET", "/api/v1/participants/{participant}"),
    Request("POST", "/api/v1/participants/{participant}/consents",
            {"status": "given", "version": "nope", "date": "2026-11-02"}),
    Request("GET", "/api/v1/participants/{participant}/consents"),
    Request("POST", "/api/v1/participants/{participant}/allocation"),
    Request("GET", "/api/v1/participants/{participant}/allocation"),
    Request("POST", "/api/v1/allocations/{allocation}/corrections", {"reason": "x"}),
    Request("GET", "/api/v1/audit/verify"),
    Request("GET", "/api/v1/trials/{trial}/analysis"),
    Request("GET", "/api/v1/trials/{trial}/freezes"),
    Request("POST", "/api/v1/sites/{site}/participant-imports"),
    Request("POST", "/api/v1/sites/{site}/outcome-imports"),
    Request("GET", "/api/v1/sites/{site}/outcome-imports"),
    Request("GET", "/api/v1/sites/{site}/import-jobs/{job}"),
    Request("GET", "/api/v1/participants/{participant}/outcomes"),
    Request("GET", "/api/v1/participants/{participant}/spells"),
    Request("POST", "/api/v1/participants/{participant}/conversations",
            {"date": "2026-11-03", "duration_minutes": 30}),
    Request("GET", "/api/v1/participants/{participant}/conversations"),
    Request("GET", "/api/v1/participants/{participant}/plan"),
    Request("POST", "/api/v1/participants/{participant}/plan/moves",
            {"sequence": 99, "date": "2027-01-04"}),
    Request("GET", "/api/v1/client-managers/{manager}/agenda"),
    Request("GET", "/api/v1/client-managers/{manager}/notifications"),
    Request("GET", "/api/v1/sites/{site}/fidelity"),
    Request("GET", "/api/v1/read-log"),
]  # fmt: skip

PAGES = [
    Request("GET", "/locatie/{site}/deelnemers"),
    Request("GET", "/locatie/{site}/deelnemers/{participant}"),
    Request("GET", "/locatie/{site}/deelnemers/nieuw"),
    Request("GET", "/locatie/{site}/toestemming"),
    Request("GET", "/locatie/{site}/loting"),
    Request("GET", "/locatie/{site}/toewijzingen"),
    Request("GET", "/locatie/{site}/bestanden"),
    Request("GET", "/klantmanager/agenda"),
    Request("GET", "/klantmanager/achterstand"),
    Request("GET", "/klantmanager/deelnemer/{participant}"),
    Request("GET", "/klantmanager/deelnemer/{participant}/gesprek"),
    Request("GET", "/onderzoek/"),
    Request("GET", "/onderzoek/monitoring/{site}"),
    Request("GET", "/onderzoek/audit"),
    Request("GET", "/onderzoek/rapport"),
    Request("GET", "/onderzoek/exports"),
    Request("GET", "/beheer/"),
    Request("GET", "/beheer/locaties"),
    Request("GET", "/beheer/gebruikers"),
    Request("GET", "/beheer/onderzoek/{trial}"),
    Request("GET", "/wachtwoord"),
    Request("GET", "/privacy/leeslog"),
]

TOKEN_ROLES = ("research_admin", "site_coordinator", "client_manager", "analyst")
WEB_USERS = {
    "research_admin": "admin",
    "site_coordinator": "coord",
    "client_manager": "km",
    "analyst": "analist",
}


def fill(request: Request, world: Any, scope: str) -> str:
    from fiptrial.extensions import db
    from fiptrial.models import Allocation

    person = world.own if scope == "own" else world.foreign
    allocation = db.session.query(Allocation).filter_by(participant_id=person.id).one()
    return request.path.format(
        site=(world.bw if scope == "own" else world.other).code,
        participant=person.id,
        allocation=allocation.id,
        manager=world.users["km"].id,
        trial=world.trial.code if scope == "own" else "t2",
        job=world.jobs[scope],
    )
