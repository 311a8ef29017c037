"""People who log in: creating them, checking their password, locking them out.

Wrong passwords never lock an account (that would let anyone lock anyone out): logins are
throttled per client address by ``fiptrial.limits``. Wrong passwords in a row are counted under
a row lock, and the :data:`MAX_FAILED_LOGINS`-th in a row is audited, as are user changes;
single failed logins are not (the counter holds them), so the trail is not flooded by typos.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from fiptrial.errors import Unauthorized, field_error
from fiptrial.extensions import db
from fiptrial.models import ApiToken, Site, User
from fiptrial.models.identity import ALL_ROLES, SITE_ROLES
from fiptrial.services import audit, passwords
from fiptrial.services.passwords import (
    burn_time,
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from fiptrial.services.transaction import locked, locked_row, unit_of_work

MAX_FAILED_LOGINS = 5
USERNAME_MAX = 80


class LoginFailed(Unauthorized):
    """Wrong user name or password; the message never says which."""

    code = "login_failed"


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
    demo: bool = False,
) -> User:
    """Create a user after checking role, site and password strength (422 naming the field);
    ``demo`` (the demo's own users only) accepts the public demo password."""
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
    check_strength(password, username=username, demo=demo)
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
    """Replace a password (the count of wrong passwords starts again). Every session of the
    user ends: whoever knew the old password is logged out everywhere."""
    with unit_of_work():
        user = locked(db.session.query(User).filter_by(id=user_id)).one()
        check_strength(password, username=user.username)
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.session_version = (user.session_version or 0) + 1
        audit.record(
            "user.password_set",
            actor=actor,
            entity="user",
            entity_id=user.id,
            data={"username": user.username},
        )
    return user


def authenticate(username: str, password: str) -> User:
    """The user whose password this is, or :class:`LoginFailed` (the same for an unknown name,
    a switched-off user and a wrong password, and as slow).

    An account is never locked by wrong passwords: anyone could lock anyone out. Guessing is
    throttled per client address instead (``fiptrial.limits``). Wrong passwords in a row are
    still counted (``failed_logins``, reset by a success), and the :data:`MAX_FAILED_LOGINS`-th
    is audited, so that the research admin sees an account under attack.
    """
    name = username.strip().lower()
    with unit_of_work():
        user = locked(db.session.query(User).filter_by(username=name)).one_or_none()
        if user is None or not user.active:
            burn_time(password)
            raise LoginFailed("wrong user name or password")
        if verify_password(user.password_hash, password):
            user.failed_logins = 0
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            return user
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins == MAX_FAILED_LOGINS:
            audit.record(
                "user.login_failures",
                actor=f"user:{user.username}",
                entity="user",
                entity_id=user.id,
                data={"failed_logins": user.failed_logins},
            )
    # Outside the unit of work, so that the raised error does not roll back the counter.
    raise LoginFailed("wrong user name or password")


def change_own_password(user_id: int, current: str, new: str) -> User:
    """A user's own change: the current password first (422 on ``current_password`` when it is
    wrong), then the rules of :func:`set_password`, which ends every session of the user."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise LoginFailed("wrong user name or password")
    if not verify_password(user.password_hash, current):
        raise field_error("current_password", "is not your password", code="wrong_password")
    if new == current:
        raise field_error("password", "must differ from the current one", code="same_password")
    return set_password(user.id, new, actor=f"user:{user.username}")


def end_sessions(user_id: int) -> None:
    """End every web session of the user (logout ends them all, not only this browser's)."""
    with unit_of_work():
        user = locked(db.session.query(User).filter_by(id=user_id)).one_or_none()
        if user is not None:
            user.session_version = (user.session_version or 0) + 1


def load_user(user_id: int, session_version: int | None = None) -> User | None:
    """The active user of a session opened under ``session_version`` (None otherwise)."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return None
    if session_version is not None and session_version != (user.session_version or 0):
        return None
    return user


# The demo's web users (README.md, "Web pages and demo users"). Demo only: the password is public.
DEMO_PASSWORD = passwords.DEMO_PASSWORD


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
                demo=True,
            )
        )
    return created


# --- The research admin's user screens ---------------------------------------------------------
# Separate functions, so that the login and session rules above stay as they are.


def deactivate_user(user_id: int, *, actor: str) -> User:
    """Switch a user off: no login, and every API token of the user is revoked."""
    with unit_of_work():
        user = locked_row(User, user_id, "user")
        if actor == f"user:{user.username}":
            raise field_error("user", "you cannot switch off your own account", code="own_account")
        user.active = False
        user.session_version = (user.session_version or 0) + 1
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
        user = locked_row(User, user_id, "user")
        user.active = True
        user.failed_logins = 0
        _audit_user("user.reactivated", user, actor)
    return user


def display_names() -> dict[str, str]:
    """username -> display name (the username where none is set), for pages naming people."""
    return {
        username: display or username
        for username, display in db.session.query(User.username, User.display_name)
    }


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def list_users() -> list[User]:
    return db.session.query(User).order_by(User.role, User.username).all()
