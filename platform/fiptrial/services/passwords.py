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
from zxcvbn import zxcvbn

from fiptrial.errors import field_error

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 copes with more, but nobody types it and it bounds the work per login

#: Guesses (log10) an attacker needs at the least, as zxcvbn estimates them: 10^10 is beyond an
#: online attack and, against argon2id, a long offline one.
MIN_GUESSES_LOG10 = 10.0
#: Words that make a password guessable here, fed to zxcvbn next to its own lists (the most
#: common passwords of public breaches, English words, names): Dutch words people put in
#: passwords, and the platform's own names. Refusing them is the point; the list need not be long.
CONTEXT_WORDS = (
    "welkom", "wachtwoord", "geheim", "hallo", "liefde", "schat", "zomer", "winter", "lente",
    "voorjaar", "herfst", "najaar", "januari", "december", "amsterdam", "rotterdam", "utrecht",
    "nederland", "holland", "brabant", "gemeente", "bijstand", "uitkering", "klantmanager",
    "onderzoek", "ajax", "feyenoord", "psv", "fiptrial", "fip", "trial", "demo",
)  # fmt: skip
#: The public demo password (README-demo-users.md): accepted for the demo's users only.
DEMO_PASSWORD = "fip-demo-2027"

_hasher = PasswordHasher()
# Verifying against this hash when a user name is unknown makes a failed login take as long
# as a wrong password, so timing does not tell which user names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing-only")


def password_problems(password: str, *, username: str = "", demo: bool = False) -> list[str]:
    """Every rule the password breaks, in plain English (empty when it is acceptable).

    Besides length, zxcvbn (a maintained port of Dropbox's estimator, shipping the most common
    passwords of public breaches and word lists) must estimate at least 10^10 guesses, with the
    user name and :data:`CONTEXT_WORDS` counted as known words. The demo password is refused
    outside the demo (``demo``), whatever its estimate: it is published.
    """
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
        return problems  # not worth estimating
    lowered = password.lower()
    if username and username.lower() in lowered:
        problems.append("must not contain the user name")
    if password and len(set(password)) < 4:
        problems.append("uses too few different characters")
    if lowered == DEMO_PASSWORD and not demo:
        problems.append("is the public demo password")
    elif password and not demo:
        estimate = zxcvbn(password, user_inputs=[*CONTEXT_WORDS, *([username] if username else [])])
        if float(estimate["guesses_log10"]) < MIN_GUESSES_LOG10:
            problems.append("is too easy to guess (a common password or built from common words)")
    return problems


def check_strength(password: str, *, username: str = "", demo: bool = False) -> None:
    """Raise a 422 naming the field ``password`` when the password is too weak."""
    problems = password_problems(password, username=username, demo=demo)
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
