"""Password hashing (argon2id) and the rules a password must meet.

argon2-cffi's :class:`~argon2.PasswordHasher` picks salt and parameters and encodes them in the
hash, so a later change of parameters only needs :func:`needs_rehash` at the next login. The
strength rules follow NIST SP 800-63B: length matters more than character classes, and known
or guessable passwords (common ones, the user name itself) are refused outright.
"""

from __future__ import annotations

from contextlib import suppress

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fiptrial.errors import field_error

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 copes with more, but nobody types it and it bounds the work per login

# A small list of passwords that attackers try first; the length rule already stops most others.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "password1234",
        "password12345",
        "passwordpassword",
        "qwertyuiop12",
        "qwertyuiopasdf",
        "welkom123456",
        "welkomwelkom",
        "wachtwoord12",
        "wachtwoord123",
        "wachtwoord1234",
        "wachtwoordwachtwoord",
        "iloveyou1234",
        "letmein12345",
        "administrator",
        "administrator1",
        "geheimgeheim",
        "zomer2026zomer",
        "aaaaaaaaaaaa",
        "abcdefghijkl",
        "abc123abc123",
        "fiptrial2026",
        "fip-trial-2026",
        "changeme1234",
        "trustno1trustno1",
        "football1234",
        "monkey123456",
    }
)

_hasher = PasswordHasher()
# Verifying against this hash when a user name is unknown makes a failed login take as long
# as a wrong password, so timing does not tell which user names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing-only")


def password_problems(password: str, *, username: str = "") -> list[str]:
    """Every rule the password breaks, in plain English (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        problems.append("is one of the most common passwords")
    if username and username.lower() in lowered:
        problems.append("must not contain the user name")
    if password and len(set(password)) < 4:
        problems.append("uses too few different characters")
    return problems


def check_strength(password: str, *, username: str = "") -> None:
    """Raise a 422 naming the field ``password`` when the password is too weak."""
    problems = password_problems(password, username=username)
    if problems:
        raise field_error("password", "; ".join(problems), code="weak_password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing or damaged hash never matches."""
    if not password_hash:
        burn_time(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_time(password: str) -> None:
    """Take as long as checking a real password, without a result (see ``_DUMMY_HASH``): for
    callers that found no user or no stored hash."""
    with suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
