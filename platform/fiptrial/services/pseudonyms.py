"""BSN validation and pseudonymisation.

There are only about 9 x 10^7 valid BSNs, so a plain hash is reversible by enumeration. The
pseudonym is HMAC-SHA256 under a key that lives outside the database (``FIPTRIAL_PSEUDONYM_KEY``
or the instance key file), diversified per trial so that pseudonyms cannot be linked across
trials (NEN 7524's separation of domains). The BSN itself is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from flask import current_app
from stdnum.exceptions import ValidationError
from stdnum.nl import bsn as stdnum_bsn

from fiptrial.errors import field_error
from fiptrial.services.retention import ensure_key_available_for


def normalise_bsn(raw: str | int, *, field: str = "bsn") -> str:
    """Return the 9-digit BSN (restoring a leading zero Excel dropped) or raise a 422."""
    text = str(raw).strip().replace(" ", "").replace(".", "").replace("-", "")
    if text.isdigit() and len(text) == 8:
        text = "0" + text
    try:
        return str(stdnum_bsn.validate(text))
    except ValidationError:
        raise field_error(
            field, "is not a valid BSN (9 digits passing the elfproef)", code="invalid_bsn"
        ) from None


def trial_key(trial_code: str, key: str | None = None) -> bytes:
    """The per-trial pseudonym key, derived from the platform key.

    Without ``key`` it is the platform's own key (the app's configuration), refused (409) once
    the retention schedule destroyed the trial's key (``services.retention``). With ``key`` it
    is the bare derivation, which needs no database (tests, the municipality's own tools)."""
    if key is None:
        ensure_key_available_for(trial_code)
        key = current_app.config["PSEUDONYM_KEY"]
    return hmac.new(key.encode(), b"fiptrial-trial:" + trial_code.encode(), hashlib.sha256).digest()


def pseudonymise(trial_code: str, bsn: str, *, key: bytes | None = None) -> str:
    """Keyed pseudonym (hex) of an already normalised BSN within one trial."""
    derived = key if key is not None else trial_key(trial_code)
    return hmac.new(derived, bsn.encode(), hashlib.sha256).hexdigest()


def pseudonymiser(key: bytes) -> Callable[[str], str]:
    """:func:`pseudonymise` for many BSNs under one trial key, faster.

    The HMAC is keyed once and copied per BSN instead of re-keyed (which hashes the key pads
    again): the same HMAC-SHA256, a third cheaper, which matters at a million rows. A test
    checks that it gives exactly ``pseudonymise``'s pseudonyms.
    """
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    copy = keyed.copy

    def pseudonym(bsn: str) -> str:
        mac = copy()
        mac.update(bsn.encode())
        return mac.hexdigest()

    return pseudonym


def normalise_unit_key(raw: str) -> str | None:
    """The benefit registration number as the platform compares it, or ``None`` when empty.

    Spaces and case are ignored and leading zeros dropped (a spreadsheet drops them anyway), so
    ``"000123"`` in one export and ``"123"`` in the next are the same benefit.
    """
    text = "".join(str(raw).split()).upper().lstrip("0")
    return text or None


def unit_pseudonymiser(key: bytes, site_code: str) -> Callable[[str], str | None]:
    """The keyed pseudonym (hex) of a benefit's registration number (BUS kenmerk 7) at a site.

    The same HMAC-SHA256 under the same per-trial key as the BSN, in its own domain: the input
    is prefixed with ``unit:`` and the site's code, so a registration number can never collide
    with a BSN's pseudonym, and two sites' (independent) numbering never links two benefits.
    Returns ``None`` for an empty number: a participant without one is a unit of one.
    """
    keyed = hmac.new(key, f"unit:{site_code}:".encode(), hashlib.sha256)
    copy = keyed.copy

    def pseudonym(raw: str) -> str | None:
        number = normalise_unit_key(raw)
        if number is None:
            return None
        mac = copy()
        mac.update(number.encode())
        return mac.hexdigest()

    return pseudonym
