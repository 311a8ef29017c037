"""API tokens: random, shown once, stored only as their SHA-256.

A token has 256 bits of entropy, so a fast hash is enough to make the stored value useless to
an attacker (passwords, with little entropy, get argon2 instead; see services.passwords).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from fiptrial.errors import Unauthorized, field_error
from fiptrial.extensions import db
from fiptrial.models import ApiToken, Site, User
from fiptrial.services import audit
from fiptrial.services.access import Principal
from fiptrial.services.transaction import existing_row, unit_of_work
from fiptrial.services.users import check_role_and_site

TOKEN_PREFIX = "fip_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *,
    role: str,
    site: Site | None,
    user: User | None = None,
    label: str = "",
    actor: str,
) -> tuple[ApiToken, str]:
    """Create a token; returns the stored row and the token, which is never shown again."""
    check_role_and_site(role, site)
    if role == "client_manager" and (user is None or user.role != "client_manager"):
        raise field_error("user", "a client_manager token belongs to a client manager user")
    if user is not None and site is not None and user.site_id != site.id:
        raise field_error("user", "the user belongs to another site")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work():
        row = ApiToken(
            token_hash=token_hash(token),
            prefix=token[:12],
            role=role,
            site_id=site.id if site else None,
            user_id=user.id if user else None,
            label=label,
            created_by=actor,
        )
        audit.record_created(
            "token.created",
            row,
            actor=actor,
            site=site.code if site else None,
            data={
                "role": role,
                "prefix": row.prefix,
                "label": label,
                "user": user.username if user else None,
            },
        )
    return row, token


def revoke_token(token_id: int, *, actor: str) -> ApiToken:
    with unit_of_work():
        row = existing_row(ApiToken, token_id, "token")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            audit.record_about(
                "token.revoked",
                row,
                actor=actor,
                data={"prefix": row.prefix},
            )
    return row


def authenticate(token: str | None) -> Principal:
    """The principal behind a bearer token; 401 for a missing, unknown or revoked token and
    for the token of a user who has been switched off."""
    if not token:
        raise Unauthorized("an API token is required (Authorization: Bearer <token>)")
    row = db.session.query(ApiToken).filter_by(token_hash=token_hash(token)).one_or_none()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("the API token is unknown or revoked", code="invalid_token")
    # Checked on every request: a token dies with its user, whatever switched the user off.
    if row.user_id is not None and (row.user is None or not row.user.active):
        raise Unauthorized("the API token is unknown or revoked", code="invalid_token")
    return Principal(
        role=row.role,
        actor=f"token:{row.prefix}",
        site_id=row.site_id,
        user_id=row.user_id,
    )
