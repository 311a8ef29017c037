"""Find a participant by BSN, as a test that made the export knows it.

The platform itself never looks a participant up by BSN: it pseudonymises the BSN and matches
the pseudonym (registration refuses a duplicate, the site's list search filters on it).
"""

from __future__ import annotations

from typing import Any


def find_by_bsn(site: Any, bsn: str) -> Any:
    """The participant of ``site``'s trial with this BSN, or None."""
    from fiptrial.extensions import db
    from fiptrial.models import Participant
    from fiptrial.services.pseudonyms import normalise_bsn, pseudonymise

    pseudonym = pseudonymise(site.trial.code, normalise_bsn(bsn))
    return (
        db.session.query(Participant)
        .filter_by(trial_id=site.trial_id, pseudonym=pseudonym)
        .one_or_none()
    )
