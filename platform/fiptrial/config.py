"""Settings, read from the environment so that one image serves every deployment.

Every setting is documented in the README. Secrets never have a usable default in production:
the pseudonym key is read from ``FIPTRIAL_PSEUDONYM_KEY`` or, in development, from a key file
under the instance folder that is created once with mode 0600 and never enters the database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def _key_file(instance_path: Path, name: str) -> str:
    """Return a random key kept in ``instance/<name>``, creating it (mode 0600) on first use."""
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def settings_from_environment(instance_path: Path) -> dict[str, Any]:
    """Collect the platform's settings from ``FIPTRIAL_*`` environment variables."""
    env = os.environ
    database_url = (
        env.get("FIPTRIAL_DATABASE_URL") or f"sqlite:///{instance_path / 'fiptrial.sqlite'}"
    )
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": env.get("FIPTRIAL_SECRET_KEY") or _key_file(instance_path, "secret.key"),
        "PSEUDONYM_KEY": env.get("FIPTRIAL_PSEUDONYM_KEY")
        or _key_file(instance_path, "pseudonym.key"),
        # Keys the audit chain (HMAC); like the pseudonym key, never in the database.
        "AUDIT_KEY": env.get("FIPTRIAL_AUDIT_KEY") or _key_file(instance_path, "audit.key"),
        "SESSION_LIFETIME_MINUTES": int(env.get("FIPTRIAL_SESSION_MINUTES", "30")),
        "IMPORT_MAX_BYTES": int(env.get("FIPTRIAL_IMPORT_MAX_MB", "200")) * 1024 * 1024,
        "FORM_MAX_BYTES": int(env.get("FIPTRIAL_FORM_MAX_KB", "1024")) * 1024,
        "RATELIMIT_STORAGE_URI": env.get("FIPTRIAL_RATELIMIT_STORAGE_URI") or "memory://",
        "TRUSTED_PROXIES": int(env.get("FIPTRIAL_TRUSTED_PROXIES", "0")),
        # Roles that must sign in with a second factor (issue 16); empty: nobody must.
        "TWO_FACTOR_ROLES": tuple(
            role.strip()
            for role in env.get(
                "FIPTRIAL_TWO_FACTOR_ROLES", "research_admin,site_coordinator"
            ).split(",")
            if role.strip()
        ),
        # Read-log entries of no trial (logins) are kept this long (issue 16).
        "READ_LOG_KEEP_MONTHS": int(env.get("FIPTRIAL_READ_LOG_KEEP_MONTHS", "60")),
        # Cells below this count are suppressed in analysts' exports and reports (issue 16).
        "SMALL_CELL_THRESHOLD": int(env.get("FIPTRIAL_SMALL_CELL_THRESHOLD", "5")),
        # The lottery's smallest cohort (drawn units), see services.lottery.
        "COHORT_MIN_SIZE": int(env.get("FIPTRIAL_COHORT_MIN_SIZE", "20")),
        # Behind HTTPS the session cookie must never travel in clear; plain-HTTP demos need it off.
        "SESSION_COOKIE_SECURE": env.get("FIPTRIAL_SECURE_COOKIES", "").lower()
        in ("1", "true", "yes"),
    }
