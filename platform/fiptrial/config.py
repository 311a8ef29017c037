"""Settings, read from the environment so that one image serves every deployment.

Every setting is documented in the README. Secrets never have a usable default in production:
the pseudonym key is read from ``FIPTRIAL_PSEUDONYM_KEY`` or, in development, from a key file
under the instance folder that is created once with mode 0600 and never enters the database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

MIN_KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """A key that is missing, too short or unreadable: the platform refuses to start."""


def _checked(key: str, where: str) -> str:
    if len(key.encode()) < MIN_KEY_BYTES:
        raise KeyFileError(
            f"{where} holds a key of fewer than {MIN_KEY_BYTES} bytes: give a random key of at "
            f"least {MIN_KEY_BYTES} bytes (e.g. python -c 'import secrets; "
            "print(secrets.token_hex(32))')"
        )
    return key


def _key_file(instance_path: Path, name: str) -> str:
    """Return a random key kept in ``instance/<name>``, creating it (mode 0600) on first use.

    Creation is atomic, so that processes starting at the same moment (gunicorn workers, the
    scheduler, a CLI command) all end up with the one key: the key is written and synced to a
    private temporary file first (``os.open`` with ``O_EXCL``), which is then linked to its
    name -- ``os.link`` fails if another process got there first, and then that key is read.
    (A rename would silently replace the other process's key.) A reader never sees a file
    that is empty or half-written.
    """
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        temporary = instance_path / f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first: use theirs
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return _checked(path.read_text().strip(), str(path))


def _key(env: Any, variable: str, instance_path: Path, name: str) -> str:
    value = env.get(variable)
    if value:
        return _checked(value, f"the environment variable {variable}")
    return _key_file(instance_path, name)


def settings_from_environment(instance_path: Path) -> dict[str, Any]:
    """Collect the platform's settings from ``FIPTRIAL_*`` environment variables."""
    env = os.environ
    database_url = (
        env.get("FIPTRIAL_DATABASE_URL") or f"sqlite:///{instance_path / 'fiptrial.sqlite'}"
    )
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": _key(env, "FIPTRIAL_SECRET_KEY", instance_path, "secret.key"),
        "PSEUDONYM_KEY": _key(env, "FIPTRIAL_PSEUDONYM_KEY", instance_path, "pseudonym.key"),
        # Keys the audit chain (HMAC); like the pseudonym key, never in the database.
        "AUDIT_KEY": _key(env, "FIPTRIAL_AUDIT_KEY", instance_path, "audit.key"),
        "SESSION_LIFETIME_MINUTES": int(env.get("FIPTRIAL_SESSION_MINUTES", "30")),
        "IMPORT_MAX_BYTES": int(env.get("FIPTRIAL_IMPORT_MAX_MB", "200")) * 1024 * 1024,
        "FORM_MAX_BYTES": int(env.get("FIPTRIAL_FORM_MAX_KB", "1024")) * 1024,
        "RATELIMIT_STORAGE_URI": env.get("FIPTRIAL_RATELIMIT_STORAGE_URI") or "memory://",
        "TRUSTED_PROXIES": int(env.get("FIPTRIAL_TRUSTED_PROXIES", "0")),
        # Roles that must sign in with a second factor; empty: nobody must.
        "TWO_FACTOR_ROLES": tuple(
            role.strip()
            for role in env.get(
                "FIPTRIAL_TWO_FACTOR_ROLES", "research_admin,site_coordinator"
            ).split(",")
            if role.strip()
        ),
        # Read-log entries of no trial (logins) are kept this long.
        "READ_LOG_KEEP_MONTHS": int(env.get("FIPTRIAL_READ_LOG_KEEP_MONTHS", "60")),
        # Cells below this count are suppressed in analysts' exports and reports.
        "SMALL_CELL_THRESHOLD": int(env.get("FIPTRIAL_SMALL_CELL_THRESHOLD", "5")),
        # The lottery's smallest cohort (drawn units), see services.lottery.
        "COHORT_MIN_SIZE": int(env.get("FIPTRIAL_COHORT_MIN_SIZE", "20")),
        # Behind HTTPS the session cookie must never travel in clear; plain-HTTP demos need it off.
        "SESSION_COOKIE_SECURE": env.get("FIPTRIAL_SECURE_COOKIES", "").lower()
        in ("1", "true", "yes"),
    }
