"""Who may do what: users (people who log in) and API tokens (scripts)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import UTCDateTime, created_at_column
from fiptrial.models.trial import Site

ROLES = ("research_admin", "site_coordinator", "client_manager", "analyst")
SITE_ROLES = ("site_coordinator", "client_manager")
#: The data protection officer (FG, functionaris gegevensbescherming): reads the read log, the
#: retention runs and the privacy paperwork, and nothing of the participants themselves. Kept
#: out of ROLES so that no permission granted to "every role" reaches the FG by accident.
PRIVACY_OFFICER = "privacy_officer"
ALL_ROLES = (*ROLES, PRIVACY_OFFICER)


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "app_user"
    #: The audit trail's name for a user, whichever service writes the entry (the table's name
    #: only avoids SQL's reserved word).
    audit_entity: ClassVar[str] = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(30))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True, index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # FIP places of a client manager (the report: 180 clients, 3 conversations a working day).
    capacity: Mapped[int] = mapped_column(Integer, default=180)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # Every web session carries the version it was opened under and is checked against it on
    # each request: logging out, a password change or switching the user off raise it, which
    # ends every session of the user at once (services.users.end_sessions).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()

    site: Mapped[Site | None] = relationship()


class ApiToken(db.Model):  # type: ignore[name-defined]
    """Only the SHA-256 of a token is kept; the token itself is shown once, at creation."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(30))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    site: Mapped[Site | None] = relationship()
    user: Mapped[User | None] = relationship()
