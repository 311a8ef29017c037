"""The small trial of the analysis-platform tests: every outcome is written down here, so
each expected export value and figure can be worked out by hand.

Ten participants at one site, allocated on 2025-12-01, one year of follow-up, data cut-off
2026-11-20. Arms are set after allocation (the randomisation draws them) and outcome events
and conversations are created directly through the models, as the import and conversation
services would store them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

CUTOFF = date(2026, 11, 20)
ALLOCATED = date(2025, 12, 1)
WITHDRAWN = date(2026, 11, 10)

# name -> (arm, expected exit_date, expected exit_code)
EXPECTED: dict[str, tuple[str, date | None, str | None]] = {
    "work": ("fip", date(2026, 3, 1), "11"),  # plain exit to work
    "pension": ("fip", date(2026, 4, 1), "03"),  # left out of the net ratio
    "undone": ("fip", None, None),  # exit corrected into a move within the site
    "moved": ("fip", None, None),  # transfer within the site only
    "corrected": ("control", date(2026, 3, 15), "19"),  # exit 98 corrected to 19, earlier
    "withdrew": ("control", None, None),  # exit after the consent withdrawal
    "returned": ("control", date(2026, 5, 1), "13"),  # exit before allocation, re-entry, exit
    "late": ("control", None, None),  # exit after the data cut-off
    "job": ("control", date(2026, 6, 1), "11"),
    "stays": ("control", None, None),
}


class Outcomes:
    """Writes outcome events for one site, as the outcome import stores them."""

    files = 0  # each batch stands for another file

    def __init__(self, site: Any) -> None:
        from fiptrial.extensions import db

        Outcomes.files += 1
        from fiptrial.models import ImportBatch

        self.site = site
        self.batch = ImportBatch(
            site_id=site.id, kind="outcomes", file_sha256=f"{Outcomes.files:064d}", plugin="test",
            plugin_version="1", mapping_version="1", rows=0, report={}, created_by="test",
        )  # fmt: skip
        db.session.add(self.batch)
        db.session.flush()
        self.line = 1

    def add(self, participant: Any, kind: str, day: date, bus: str | None = None,
            previous: tuple[date, str | None] | None = None, local: str = "") -> None:  # fmt: skip
        from fiptrial.extensions import db
        from fiptrial.models import OutcomeEvent

        self.line += 1
        db.session.add(
            OutcomeEvent(
                participant_id=participant.id,
                site_id=self.site.id,
                kind=kind,
                event_date=day,
                bus_code=bus,
                local_code=local or f"L{self.line}",
                mapping_version="1",
                previous_date=previous[0] if previous else None,
                previous_bus_code=previous[1] if previous else None,
                batch_id=self.batch.id,
                line=self.line,
            )
        )
        db.session.flush()


def build_small_trial(build: Any) -> dict[str, Any]:
    from fiptrial.extensions import db
    from fiptrial.models import Allocation, CaseloadAssignment, ConversationRecord, User
    from fiptrial.services import consent, randomisation

    trial = build.trial("t1", followup_years=1)
    site = build.site(trial, "bw", "brabantse_wal")
    people = {name: build.participant(site) for name in EXPECTED}
    for name, person in people.items():
        allocation = randomisation.allocate(person.id, actor="test")
        allocation = db.session.get(Allocation, allocation.id)
        allocation.arm = EXPECTED[name][0]
        allocation.allocated_at = datetime(2025, 12, 1, 9, 30, tzinfo=UTC)
    # Randomised in error: left out of the rows, still counted as randomised.
    mistake = build.participant(site)
    wrong = randomisation.allocate(mistake.id, actor="test")
    db.session.get(Allocation, wrong.id).allocated_at = datetime(2025, 12, 1, 9, 30, tzinfo=UTC)
    db.session.commit()
    randomisation.correct_allocation(wrong.id, kind="randomised_in_error", reason="duplicate",
                                     actor="test")  # fmt: skip
    # Registered but ineligible (too young): assessed, not eligible, never allocated.
    build.participant(site, birth_date=date(2010, 1, 1))

    out = Outcomes(site)
    p = people
    out.add(p["work"], "exit", date(2026, 3, 1), "11")
    out.add(p["pension"], "exit", date(2026, 4, 1), "03")
    out.add(p["undone"], "exit", date(2026, 2, 1), "32")
    out.add(p["undone"], "correction", date(2026, 2, 1), None, previous=(date(2026, 2, 1), "32"))
    out.add(p["moved"], "transfer_within_site", date(2026, 2, 10))
    out.add(p["corrected"], "exit", date(2026, 4, 1), "98")
    out.add(p["corrected"], "correction", date(2026, 3, 15), "19",
            previous=(date(2026, 4, 1), "98"))  # fmt: skip
    out.add(p["withdrew"], "exit", date(2026, 11, 15), "11")
    out.add(p["returned"], "exit", date(2025, 6, 1), "11")
    out.add(p["returned"], "reentry", date(2025, 9, 1))
    out.add(p["returned"], "exit", date(2026, 5, 1), "13")
    out.add(p["late"], "exit", date(2026, 11, 22), "11")
    out.add(p["job"], "exit", date(2026, 6, 1), "11")

    first = User(username="km1", display_name="Karin Klantmanager", role="client_manager",
                 site_id=site.id)  # fmt: skip
    second = User(username="km2", display_name="Kees Klantmanager", role="client_manager",
                  site_id=site.id)  # fmt: skip
    db.session.add_all([first, second])
    db.session.flush()
    db.session.add_all([
        CaseloadAssignment(participant_id=p["work"].id, client_manager_id=first.id,
                           site_id=site.id, assigned_on=date(2025, 12, 1),
                           ended_on=date(2026, 6, 1), assigned_by="test"),
        CaseloadAssignment(participant_id=p["work"].id, client_manager_id=second.id,
                           site_id=site.id, assigned_on=date(2026, 6, 1), assigned_by="test"),
    ])  # fmt: skip
    for day, status in [(date(2026, 1, 10), "held"), (date(2026, 4, 10), "missed"),
                        (date(2026, 7, 10), "held"), (date(2026, 11, 22), "held")]:  # fmt: skip
        db.session.add(ConversationRecord(
            participant_id=p["work"].id, client_manager_id=first.id, site_id=site.id,
            held_on=day, status=status, duration_minutes=45 if status == "held" else None,
            missed_reason=None if status == "held" else "no_show", notes="private note",
            recorded_by="test"))  # fmt: skip
    db.session.commit()
    consent.record(p["withdrew"], status="withdrawn", version="v1", on=WITHDRAWN, actor="test")
    return {"trial": trial, "site": site, "people": people, "managers": (first, second),
            "mistake": mistake}  # fmt: skip


def seed_small_trial(build: Any) -> dict[str, Any]:
    """The small trial built, as a snapshot keeps it: the ids of what the tests refer to, and
    the builder's last BSN (so that a test's own participants get fresh ones after a restore)."""
    small = build_small_trial(build)
    first, second = small["managers"]
    return {
        "trial": small["trial"].id,
        "site": small["site"].id,
        "people": {name: person.id for name, person in small["people"].items()},
        "managers": (first.id, second.id),
        "mistake": small["mistake"].id,
    }


def load_small_trial(ids: dict[str, Any]) -> dict[str, Any]:
    """What ``build_small_trial`` returns, read back from the (seeded or restored) database."""
    from fiptrial.extensions import db
    from fiptrial.models import Participant, Site, Trial, User

    get = db.session.get_one
    return {
        "trial": get(Trial, ids["trial"]),
        "site": get(Site, ids["site"]),
        "people": {name: get(Participant, pid) for name, pid in ids["people"].items()},
        "managers": tuple(get(User, uid) for uid in ids["managers"]),
        "mistake": get(Participant, ids["mistake"]),
    }
