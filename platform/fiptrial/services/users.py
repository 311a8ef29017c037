"""People who log in: creating them, checking their password, locking them out.

After :data:`MAX_FAILED_LOGINS` wrong passwords in a row an account is locked for
:data:`LOCKOUT_MINUTES`; a correct password resets the count. The counter is updated under a
row lock so that parallel guesses cannot slip past it. Lock-outs and user changes are audited;
single failed logins are not (the counter holds them), so the trail is not flooded by typos.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from fiptrial.errors import NotFound, Unauthorized, field_error
from fiptrial.extensions import db
from fiptrial.models import ApiToken, Site, User
from fiptrial.models.identity import ALL_ROLES, SITE_ROLES
from fiptrial.services import audit
from fiptrial.services.passwords import (
    burn_time,
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from fiptrial.services.transaction import locked, unit_of_work

MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
USERNAME_MAX = 80


class LoginFailed(Unauthorized):
    """Wrong user name or password; the message never says which."""

    code = "login_failed"


class AccountLocked(Unauthorized):
    code = "account_locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"account locked until {until.isoformat()}", until=until.isoformat())
        self.until = until


def check_role_and_site(role: str, site: Site | None) -> None:
    """422 naming the field unless ``role`` is a role and has a site exactly when it works at
    one (coordinators and client managers). The one rule for users and for API tokens."""
    if role not in ALL_ROLES:
        raise field_error("role", f"must be one of {', '.join(ALL_ROLES)}", code="invalid_choice")
    if role in SITE_ROLES and site is None:
        raise field_error(
            "site", f"a {role} belongs to one site: it needs a site", code="site_required"
        )
    if role not in SITE_ROLES and site is not None:
        raise field_error(
            "site", f"a {role} works across sites: it has no site", code="site_not_allowed"
        )


def find_user(username: str) -> User | None:
    return db.session.query(User).filter_by(username=username.strip().lower()).one_or_none()


def create_user(
    *,
    username: str,
    role: str,
    password: str,
    site: Site | None = None,
    display_name: str = "",
    capacity: int | None = None,
    actor: str,
) -> User:
    """Create a user after checking role, site and password strength (422 naming the field)."""
    username = username.strip().lower()
    if (
        not username
        or len(username) > USERNAME_MAX
        or not all(c.isalnum() or c in "._-" for c in username)
    ):
        raise field_error(
            "username",
            "use 1 to 80 letters, digits, dots, hyphens or underscores",
            code="invalid_username",
        )
    check_role_and_site(role, site)
    if capacity is not None and capacity < 0:
        raise field_error("capacity", "must not be negative", code="capacity_invalid")
    check_strength(password, username=username)
    with unit_of_work():
        if db.session.query(User.id).filter_by(username=username).scalar() is not None:
            raise field_error(
                "username", f"the user {username!r} already exists", code="duplicate_user"
            )
        user = User(
            username=username,
            display_name=display_name or username,
            role=role,
            site_id=site.id if site else None,
            password_hash=hash_password(password),
            active=True,
            failed_logins=0,
        )
        if capacity is not None:
            user.capacity = capacity
        db.session.add(user)
        db.session.flush()
        audit.record(
            "user.created",
            actor=actor,
            entity="user",
            entity_id=user.id,
            site=site.code if site else None,
            data={"username": username, "role": role},
        )
    return user


def set_password(user_id: int, password: str, *, actor: str) -> User:
    """Replace a password (and lift a lock-out: an operator has checked who asked)."""
    with unit_of_work():
        user = locked(db.session.query(User).filter_by(id=user_id)).one()
        check_strength(password, username=user.username)
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        audit.record(
            "user.password_set",
            actor=actor,
            entity="user",
            entity_id=user.id,
            data={"username": user.username},
        )
    return user


def authenticate(username: str, password: str, *, now: datetime | None = None) -> User:
    """The user whose password this is, or :class:`LoginFailed` / :class:`AccountLocked`."""
    now = now or datetime.now(UTC)
    name = username.strip().lower()
    with unit_of_work():
        user = locked(db.session.query(User).filter_by(username=name)).one_or_none()
        if user is None or not user.active:
            burn_time(password)
            raise LoginFailed("wrong user name or password")
        until = user.locked_until
        if until is not None and until > now:
            raise AccountLocked(until)
        if not verify_password(user.password_hash, password):
            if until is not None:  # an expired lock-out starts a fresh count
                user.locked_until = None
                user.failed_logins = 0
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
                audit.record(
                    "user.locked",
                    actor=f"user:{user.username}",
                    entity="user",
                    entity_id=user.id,
                    data={
                        "failed_logins": user.failed_logins,
                        "until": user.locked_until.isoformat(),
                    },
                )
                locked_out = AccountLocked(user.locked_until)
            else:
                locked_out = None
        else:
            user.failed_logins = 0
            user.locked_until = None
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            return user
    # Outside the unit of work, so that the raised error does not roll back the counter.
    if locked_out is not None:
        raise locked_out
    raise LoginFailed("wrong user name or password")


def load_user(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.active else None


# The demo's web users (README.md, "Web pages and demo users"). Demo only: the password is public.
DEMO_PASSWORD = "fip-demo-2027"


class DemoUser(NamedTuple):
    username: str
    role: str
    site: str | None
    display_name: str
    capacity: int | None = None


DEMO_USERS = (
    DemoUser("admin", "research_admin", None, "Demo onderzoeksbeheerder"),
    DemoUser("coordinator", "site_coordinator", "brabantse_wal", "Demo coördinator Brabantse Wal"),
    DemoUser(
        "klantmanager", "client_manager", "brabantse_wal", "Demo klantmanager Brabantse Wal", 180
    ),
    DemoUser("analist", "analyst", None, "Demo analist"),
)


def create_demo_users(sites: dict[str, Site], *, actor: str) -> list[User]:
    """Create the demo users that do not exist yet (sites by code)."""
    created = []
    for spec in DEMO_USERS:
        if find_user(spec.username) is not None:
            continue
        site = sites.get(spec.site) if spec.site else None
        if spec.site and site is None:
            continue
        created.append(
            create_user(
                username=spec.username,
                role=spec.role,
                password=DEMO_PASSWORD,
                site=site,
                display_name=spec.display_name,
                capacity=spec.capacity,
                actor=actor,
            )
        )
    return created


# --- The research admin's user screens ---------------------------------------------------------
# Separate functions, so that the login and session rules above stay as they are.


def _locked_user(user_id: int) -> User:
    user = locked(db.session.query(User).filter_by(id=user_id)).one_or_none()
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def deactivate_user(user_id: int, *, actor: str) -> User:
    """Switch a user off: no login, and every API token of the user is revoked."""
    with unit_of_work():
        user = _locked_user(user_id)
        if actor == f"user:{user.username}":
            raise field_error("user", "you cannot switch off your own account", code="own_account")
        user.active = False
        now = datetime.now(UTC)
        revoked = 0
        for token in db.session.query(ApiToken).filter_by(user_id=user.id, revoked_at=None):
            token.revoked_at = now
            revoked += 1
        _audit_user("user.deactivated", user, actor, tokens_revoked=revoked)
    return user


def _audit_user(action: str, user: User, actor: str, **data: object) -> None:
    audit.record(
        action,
        actor=actor,
        entity="user",
        entity_id=user.id,
        site=user.site.code if user.site else None,
        data={"username": user.username, **data},
    )


def reactivate_user(user_id: int, *, actor: str) -> User:
    with unit_of_work():
        user = _locked_user(user_id)
        user.active = True
        user.failed_logins = 0
        user.locked_until = None
        _audit_user("user.reactivated", user, actor)
    return user


def unlock_user(user_id: int, *, actor: str) -> User:
    """Lift a lock-out after too many wrong passwords (the password stays as it is)."""
    with unit_of_work():
        user = _locked_user(user_id)
        user.failed_logins = 0
        user.locked_until = None
        _audit_user("user.unlocked", user, actor)
    return user


def is_locked(user: User, now: datetime | None = None) -> bool:
    until = user.locked_until
    return until is not None and until > (now or datetime.now(UTC))


def list_users() -> list[User]:
    return db.session.query(User).order_by(User.role, User.username).all()
