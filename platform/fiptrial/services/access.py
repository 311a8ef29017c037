"""Who may do what, in one place.

A :class:`Principal` is whoever makes a request: an API token or a logged-in user. Every view
asks :func:`authorise` before acting, and loads sites and participants through
:func:`visible_site` and :func:`visible_participant`, which keep site roles inside their own
site (another site's records answer 404, so their existence is not revealed) and client
managers inside their own caseload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fiptrial.errors import Forbidden, NotFound
from fiptrial.extensions import db
from fiptrial.models import Participant, Site
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
    # Issue 16 (privacy): the read log and the privacy facts for the FG; decisions for the admin.
    "readlog.read": frozenset({ADMIN, PRIVACY_OFFICER}),
    "privacy.read": frozenset({ADMIN, PRIVACY_OFFICER}),
    "retention.manage": frozenset({ADMIN}),
    "export.approve": frozenset({ADMIN}),
    "export.request": frozenset({ANALYST}),
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


# Issue 5 (caseloads) installs the real test; until then a client manager sees nobody.
CaseloadTest = Callable[[int, int], bool]
_caseload_test: list[CaseloadTest] = [lambda _user_id, _participant_id: False]


def set_caseload_test(test: CaseloadTest) -> None:
    _caseload_test[0] = test


def in_caseload(principal: Principal, participant: Participant) -> bool:
    return principal.user_id is not None and _caseload_test[0](principal.user_id, participant.id)


def visible_participant(principal: Principal, participant_id: int) -> Participant:
    participant = db.session.get(Participant, participant_id)
    if participant is None or not can_see_site(principal, participant.site):
        raise NotFound(f"participant {participant_id} does not exist")
    if principal.role == CLIENT_MANAGER and not in_caseload(principal, participant):
        raise NotFound(f"participant {participant_id} does not exist")
    return participant


def site_filter(principal: Principal) -> int | None:
    """The only site a principal's lists may cover, or None for all sites."""
    return principal.site_id if principal.site_bound else None
