"""Who may do what, and who may see which field, in one place.

A :class:`Principal` is whoever makes a request: an API token or a logged-in user. Every view
asks :func:`authorise` before acting, and loads sites and participants through
:func:`visible_site` and :func:`visible_participant`, which keep site roles inside their own
site (another site's records answer 404, so their existence is not revealed) and client
managers inside their own caseload: the participants whose current assignment
(``CaseloadAssignment`` without an end, written by ``services.caseload``) is to them.

What a role may *see* of a record it may read is :data:`FIELD_POLICY`: one literal table of the
fields of participants, conversations, consents, spells, notifications, fidelity figures and
the pooled export per role. The API schemas (``schemas.PolicySchema``), the web pages (the
template global ``shows``), the exports and the notifications all ask :func:`visible_fields`,
so a field hidden from a role is hidden everywhere. Analysts work on pooled study data: arm,
stratum, bands, age in whole years at allocation, outcomes; never a date of birth, never the
municipality, sex, education or country of birth of a participant, never free text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fiptrial.errors import Forbidden, NotFound
from fiptrial.extensions import db
from fiptrial.models import CaseloadAssignment, Participant, Site
from fiptrial.models.identity import ROLES

ADMIN = "research_admin"
COORDINATOR = "site_coordinator"
CLIENT_MANAGER = "client_manager"
ANALYST = "analyst"
PRIVACY_OFFICER = "privacy_officer"

# action -> roles that may perform it (site roles further restricted to their own site)
PERMISSIONS: dict[str, frozenset[str]] = {
    "trial.create": frozenset({ADMIN}),
    "trial.read": frozenset(ROLES),
    "site.create": frozenset({ADMIN}),
    "site.update": frozenset({ADMIN}),
    "site.read": frozenset(ROLES),
    "consent_form.create": frozenset({ADMIN}),
    "participant.register": frozenset({ADMIN, COORDINATOR}),
    "participant.list": frozenset({ADMIN, COORDINATOR, ANALYST, CLIENT_MANAGER}),
    "participant.read": frozenset(ROLES),
    "consent.record": frozenset({ADMIN, COORDINATOR, CLIENT_MANAGER}),
    "consent.read": frozenset({ADMIN, COORDINATOR, CLIENT_MANAGER, ANALYST}),
    "allocation.create": frozenset({ADMIN, COORDINATOR}),
    "allocation.read": frozenset({ADMIN, COORDINATOR, ANALYST, CLIENT_MANAGER}),
    "allocation.list": frozenset({ADMIN, COORDINATOR, ANALYST}),
    "allocation.correct": frozenset({ADMIN}),
    "cohort.create": frozenset({ADMIN, COORDINATOR}),
    "audit.verify": frozenset({ADMIN, ANALYST}),
    "audit.read": frozenset({ADMIN}),
    "token.manage": frozenset({ADMIN}),
    "import.create": frozenset({ADMIN, COORDINATOR}),
    "import.read": frozenset({ADMIN, COORDINATOR, ANALYST}),
    "outcome.read": frozenset({ADMIN, COORDINATOR, ANALYST, CLIENT_MANAGER}),
    "conversation.record": frozenset({ADMIN, COORDINATOR, CLIENT_MANAGER}),
    "conversation.read": frozenset({ADMIN, COORDINATOR, CLIENT_MANAGER, ANALYST}),
    "plan.read": frozenset({ADMIN, COORDINATOR, CLIENT_MANAGER, ANALYST}),
    "analysis.read": frozenset({ADMIN, ANALYST}),
    "export.create": frozenset({ADMIN, ANALYST}),
    # A client manager's stored notices: the manager and the site's staff, never analysts.
    "notification.read": frozenset({ADMIN, COORDINATOR, CLIENT_MANAGER}),
    # Consent forms of a trial: site roles only of trials their site takes part in.
    "consent_form.read": frozenset(ROLES),
    # Privacy: the read log and the privacy facts for the FG; decisions for the admin.
    "readlog.read": frozenset({ADMIN, PRIVACY_OFFICER}),
    "privacy.read": frozenset({ADMIN, PRIVACY_OFFICER}),
    "retention.manage": frozenset({ADMIN}),
    "export.approve": frozenset({ADMIN}),
    "export.request": frozenset({ANALYST}),
}

# --- Field-level visibility -------------------------------------------------------------------
# resource -> role -> the fields that role may see. Literal on purpose: a reviewer reads who sees
# what here, and tests/security compares it with what the API and the pages really show.

_PARTICIPANT_STUDY = frozenset(
    {
        "id",
        "site",
        "stratum",
        "age_band",
        "benefit_duration_band",
        "age_at_allocation",
        "registered_on",
        "eligible",
        "ineligible_reasons",
        "arm",
    }
)
_PARTICIPANT_ALL = _PARTICIPANT_STUDY | {
    "client_number",
    "birth_date",
    "sex",
    "benefit_start",
    "municipality",
    "education",
    "country_of_birth_region",
    "pension_age_date",
}
_CONVERSATION_STUDY = frozenset(
    {
        "id",
        "participant_id",
        "client_manager_id",
        "planned_conversation_id",
        "date",
        "status",
        "duration_minutes",
        "missed_reason",
        "domains",
        "agreements",
    }
)
_AGREEMENT_STUDY = frozenset({"id", "responsible", "due_on", "kept", "followup_record_id"})
_INTERVENTION_STUDY = frozenset({"id", "type", "started_on", "ended_on"})
_CORRECTION_STUDY = frozenset({"id", "action", "reason", "created_at"})
_CONSENT_STUDY = frozenset({"id", "participant", "status", "version", "date", "recorded_at"})
_SPELL_STUDY = frozenset(
    {"spell", "start", "end", "end_code", "transfers", "events", "corrections"}
)
_NOTIFICATION = frozenset({"id", "kind", "title", "data", "created_at"})
# Keys of a notification's data: the AOW notice names the month, never the day (the birth
# date follows from the AOW date).
_NOTIFICATION_DATA = frozenset(
    {"participant", "aow_month", "from", "to", "conversations", "period", "deadline", "batch_id",
     "on", "date", "sequence", "minutes"}
)  # fmt: skip
# The site's figures (planned, held, ... first_year_share) and those per client manager.
_FIDELITY_FIGURES = frozenset({"site", "window_days", "site_figures", "per_client_manager"})
_EXPORT_STUDY = frozenset(
    {"participant", "site", "arm", "allocated_on", "followup_end", "exit_date", "exit_code",
     "stratum", "age_band", "benefit_duration_band", "consent_status", "conversations_held",
     "client_manager", "unit", "age_at_allocation", "months_on_benefit_at_allocation",
     "aow_days_from_allocation"}
)  # fmt: skip
_EXPORT_BASELINE = frozenset({"sex", "education", "country_of_birth_region"})
_SPELL_EXPORT_STUDY = frozenset({"participant", "spell", "start", "end", "end_code", "transfers"})

NOBODY: frozenset[str] = frozenset()


def _staff_also(study: frozenset[str], site_only: set[str]) -> dict[str, frozenset[str]]:
    """The study fields for all; the site's staff also see ``site_only`` (free text, names)."""
    staff = study | site_only
    return {ADMIN: staff, COORDINATOR: staff, CLIENT_MANAGER: staff, ANALYST: study}


def _staff_only(fields: frozenset[str]) -> dict[str, frozenset[str]]:
    """Fields for the site's staff; the analyst sees none of them."""
    return {ADMIN: fields, COORDINATOR: fields, CLIENT_MANAGER: fields, ANALYST: NOBODY}


FIELD_POLICY: dict[str, dict[str, frozenset[str]]] = {
    "participant": {
        ADMIN: _PARTICIPANT_ALL,
        COORDINATOR: _PARTICIPANT_ALL,
        # The client manager talks to the client, but needs no dates that give the birth date.
        CLIENT_MANAGER: _PARTICIPANT_STUDY | {"client_number", "sex", "municipality"},
        ANALYST: _PARTICIPANT_STUDY,
    },
    "conversation": _staff_also(_CONVERSATION_STUDY, {"notes"}),
    "agreement": _staff_also(_AGREEMENT_STUDY, {"description"}),
    "intervention": _staff_also(_INTERVENTION_STUDY, {"provider"}),
    "conversation_correction": _staff_also(_CORRECTION_STUDY, {"reason_text", "corrected_by"}),
    "consent": _staff_also(_CONSENT_STUDY, {"recorded_by", "obtained_by"}),
    "spell": _staff_also(_SPELL_STUDY, {"municipality"}),
    "notification": _staff_only(_NOTIFICATION),
    "notification_data": _staff_only(_NOTIFICATION_DATA),
    "fidelity": {
        # manager_names: the user names of client managers other than oneself.
        ADMIN: _FIDELITY_FIGURES | {"per_participant", "manager_names"},
        COORDINATOR: _FIDELITY_FIGURES | {"per_participant", "manager_names"},
        CLIENT_MANAGER: _FIDELITY_FIGURES,
        ANALYST: _FIDELITY_FIGURES | {"per_participant"},
    },
    # The pooled analysis export (participant file and spells file), for those who may make it.
    "export": {
        ADMIN: _EXPORT_STUDY | _EXPORT_BASELINE,
        COORDINATOR: NOBODY,
        CLIENT_MANAGER: NOBODY,
        ANALYST: _EXPORT_STUDY,
    },
    "export_spells": {
        ADMIN: _SPELL_EXPORT_STUDY | {"municipality"},
        COORDINATOR: NOBODY,
        CLIENT_MANAGER: NOBODY,
        ANALYST: _SPELL_EXPORT_STUDY,
    },
}


@dataclass(frozen=True)
class Principal:
    role: str
    actor: str
    site_id: int | None = None
    user_id: int | None = None

    @property
    def site_bound(self) -> bool:
        return self.role in (COORDINATOR, CLIENT_MANAGER)


def visible_fields(who: Principal | str, resource: str) -> frozenset[str]:
    """The fields of ``resource`` that a principal (or a role) may see; nothing for unknowns."""
    role = who if isinstance(who, str) else who.role
    return FIELD_POLICY[resource].get(role, NOBODY)


def may_see(who: Principal | str, resource: str, field: str) -> bool:
    return field in visible_fields(who, resource)


def redact(who: Principal | str, resource: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the keys the policy hides from ``who`` (a new dict)."""
    allowed = visible_fields(who, resource)
    return {key: value for key, value in data.items() if key in allowed}


def authorise(principal: Principal, action: str) -> None:
    """403 when the role may never do ``action``."""
    if principal.role not in PERMISSIONS[action]:
        raise Forbidden(f"the role {principal.role} may not do {action}", code="forbidden_role")


def can_see_site(principal: Principal, site: Site) -> bool:
    return not principal.site_bound or principal.site_id == site.id


def visible_site(principal: Principal, site: Site | None, what: str = "site") -> Site:
    if site is None or not can_see_site(principal, site):
        raise NotFound(f"{what} does not exist")
    return site


def _current_caseload(user_id: int) -> Any:
    """The participants whose current (open) assignment is to client manager ``user_id``."""
    return select(CaseloadAssignment.participant_id).where(
        CaseloadAssignment.client_manager_id == user_id, CaseloadAssignment.ended_on.is_(None)
    )


def in_caseload(principal: Principal, participant: Participant) -> bool:
    """Is the principal the participant's current client manager?"""
    if principal.user_id is None:
        return False
    found = db.session.scalar(
        _current_caseload(principal.user_id).where(
            CaseloadAssignment.participant_id == participant.id
        )
    )
    return found is not None


def caseload_clause(principal: Principal) -> Any:
    """For a client manager, the condition that keeps a participant query to their caseload;
    None for the other roles (their lists are cut by site)."""
    if principal.role != CLIENT_MANAGER:
        return None
    return Participant.id.in_(_current_caseload(principal.user_id or 0))


def visible_participant(principal: Principal, participant_id: int) -> Participant:
    participant = db.session.get(Participant, participant_id)
    if participant is None or not can_see_site(principal, participant.site):
        raise NotFound(f"participant {participant_id} does not exist")
    if principal.role == CLIENT_MANAGER and not in_caseload(principal, participant):
        raise NotFound(f"participant {participant_id} does not exist")
    return participant
