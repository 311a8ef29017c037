"""The demo's trial and its consent form, which both the quick demo (:func:`fiptrial.demo.
create_demo`) and the played story (:mod:`fiptrial.demo.story`) set up the same way."""

from __future__ import annotations

from datetime import date, timedelta

from fiptrial.models import Trial
from fiptrial.services import consent, trials

DEMO_TRIAL = "fip-demo"
DEMO_ACTOR = "demo"


def create_demo_trial(start: date) -> Trial:
    """The synthetic FIP trial starting on ``start``, with the consent form of that year, valid
    from a month before so that the first clients can consent on the first day."""
    trial = trials.create_trial(
        trials.fip_design(
            DEMO_TRIAL,
            "FIP follow-up study (demo, synthetic data)",
            start_date=start,
            synthetic=True,
        ),
        actor=DEMO_ACTOR,
    )
    consent.register_form(
        trial,
        version=f"{start.year}-1",
        valid_from=start - timedelta(days=30),
        requires_reconsent=False,
        actor=DEMO_ACTOR,
    )
    return trial
