"""Two-factor sign-in: a TOTP code (RFC 6238, pyotp) after the password, or a recovery code.

Required for the roles in the ``TWO_FACTOR_ROLES`` setting (research admins and site
coordinators: they see identifying site data and every site), optional for everybody else
(client managers may enrol). A user who has enrolled always gives the second factor.

Enrolment is two steps: :func:`begin_enrolment` makes a secret (shown as a QR code and as text),
:func:`confirm_enrolment` accepts the first code from the authenticator app and only then puts
the enrolment in force, with ten one-time recovery codes that are shown once and stored as
argon2 hashes. A code is accepted once (the time step is remembered), so a code seen over a
shoulder cannot be replayed in the same half minute. Enrolment, confirmation, use of a
recovery code and reset by an admin are recorded in the audit chain.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from flask import current_app

from fiptrial.errors import field_error
from fiptrial.extensions import db
from fiptrial.models import RecoveryCode, User, UserTotp
from fiptrial.services import audit
from fiptrial.services.passwords import hash_password, verify_password
from fiptrial.services.transaction import existing_row, locked, unit_of_work

ISSUER = "FIP-onderzoek"
RECOVERY_CODES = 10
DEFAULT_REQUIRED_ROLES = ("research_admin", "site_coordinator")
#: The demo's public TOTP secret (README, ``fiptrial demo``): for the demo users only.
DEMO_SECRET = "FIPDEMOSECRETFIPDEMOSECRET234567"


def required_roles() -> tuple[str, ...]:
    return tuple(current_app.config.get("TWO_FACTOR_ROLES", DEFAULT_REQUIRED_ROLES))


def required_for(role: str) -> bool:
    return role in required_roles()


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def enrolment(user_id: int) -> UserTotp | None:
    return db.session.get(UserTotp, user_id)


def is_enrolled(user_id: int) -> bool:
    row = enrolment(user_id)
    return row is not None and row.confirmed_at is not None


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


def begin_enrolment(user: User) -> Enrolment:
    """A new (not yet confirmed) secret for ``user``; an enrolment in force is not replaced."""
    with unit_of_work():
        row = locked(db.session.query(UserTotp).filter_by(user_id=user.id)).one_or_none()
        if row is not None and row.confirmed_at is not None:
            raise field_error("code", "two-factor sign-in is already set up", code="mfa_enrolled")
        secret = pyotp.random_base32()
        if row is None:
            db.session.add(UserTotp(user_id=user.id, secret=secret, last_step=0))
        else:
            row.secret = secret
    return Enrolment(secret, _totp(secret).provisioning_uri(name=user.username, issuer_name=ISSUER))


def pending_enrolment(user: User) -> Enrolment | None:
    row = enrolment(user.id)
    if row is None or row.confirmed_at is not None:
        return None
    return Enrolment(
        row.secret, _totp(row.secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    )


def _accept_totp(row: UserTotp, code: str, now: datetime) -> bool:
    """The code is valid now (one step of clock drift either way) and newer than the last."""
    totp = _totp(row.secret)
    for drift in (0, -1, 1):
        moment = now.timestamp() + drift * totp.interval
        step = int(moment // totp.interval)
        if step > (row.last_step or 0) and secrets.compare_digest(totp.at(moment), code):
            row.last_step = step
            return True
    return False


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def new_recovery_codes(user_id: int) -> list[str]:
    """Ten fresh recovery codes (the old ones lapse), in the caller's transaction."""
    db.session.query(RecoveryCode).filter_by(user_id=user_id).delete()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits, argon2-hashed, one use each
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user_id, code_hash=hash_password(raw)))
    return codes


def confirm_enrolment(user: User, code: str, *, now: datetime | None = None) -> list[str]:
    """Put the pending enrolment in force with its first code; returns the recovery codes."""
    now = now or datetime.now(UTC)
    with unit_of_work():
        row = locked(db.session.query(UserTotp).filter_by(user_id=user.id)).one_or_none()
        if row is None or row.confirmed_at is not None:
            raise field_error("code", "start the set-up first", code="mfa_not_pending")
        if not _accept_totp(row, _clean(code), now):
            raise field_error("code", "the code is wrong or has expired", code="mfa_code_wrong")
        row.confirmed_at = now
        codes = new_recovery_codes(user.id)
        audit.record(
            "user.mfa_enrolled",
            actor=f"user:{user.username}",
            entity="user",
            entity_id=user.id,
            data={"username": user.username, "recovery_codes": len(codes)},
        )
    return codes


def verify(user_id: int, code: str, *, now: datetime | None = None) -> bool:
    """The second factor: a TOTP code or an unused recovery code (then used up, audited)."""
    now = now or datetime.now(UTC)
    cleaned = _clean(code)
    with unit_of_work():
        row = locked(db.session.query(UserTotp).filter_by(user_id=user_id)).one_or_none()
        if row is None or row.confirmed_at is None or not cleaned:
            return False
        if cleaned.isdigit() and len(cleaned) == 6:
            return _accept_totp(row, cleaned, now)
        for recovery in db.session.query(RecoveryCode).filter_by(user_id=user_id, used_at=None):
            if verify_password(recovery.code_hash, cleaned):
                recovery.used_at = now
                left = (
                    db.session.query(RecoveryCode).filter_by(user_id=user_id, used_at=None).count()
                )
                user = db.session.get_one(User, user_id)
                audit.record(
                    "user.mfa_recovery_used",
                    actor=f"user:{user.username}",
                    entity="user",
                    entity_id=user_id,
                    data={"recovery_codes_left": left},
                )
                return True
    return False


def recovery_codes_left(user_id: int) -> int:
    return db.session.query(RecoveryCode).filter_by(user_id=user_id, used_at=None).count()


def reset(user_id: int, *, actor: str) -> None:
    """Remove a user's enrolment (a lost phone); the user sets it up again at the next login."""
    with unit_of_work():
        user = existing_row(User, user_id, "user")
        db.session.query(RecoveryCode).filter_by(user_id=user_id).delete()
        db.session.query(UserTotp).filter_by(user_id=user_id).delete()
        audit.record(
            "user.mfa_reset",
            actor=actor,
            entity="user",
            entity_id=user_id,
            data={"username": user.username},
        )


def enrol_with_secret(user: User, secret: str, *, actor: str) -> None:
    """Enrol ``user`` with a given secret, in force at once (the demo users: a public secret)."""
    with unit_of_work():
        db.session.query(UserTotp).filter_by(user_id=user.id).delete()
        db.session.add(
            UserTotp(user_id=user.id, secret=secret, last_step=0, confirmed_at=datetime.now(UTC))
        )
        audit.record(
            "user.mfa_enrolled",
            actor=actor,
            entity="user",
            entity_id=user.id,
            data={"username": user.username, "demo": True},
        )


def demo_code(user: User) -> str:
    """The current code of a demo user (refused for any user not on the public demo secret)."""
    row = enrolment(user.id)
    if row is None or row.secret != DEMO_SECRET:
        raise field_error(
            "username", "only demo users on the public demo secret", code="not_demo_user"
        )
    return _totp(row.secret).now()
