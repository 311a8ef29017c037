"""A coordinator who registers a BSN that another site registered learns nothing about that
participant (no study number), and the attempt lands in the audit trail; at the own site the
answer still names the participant."""

from __future__ import annotations

import json
from typing import Any

from security_world import World, csrf_token, login

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, Participant

BODY = {"birth_date": "1975-04-01", "sex": "male", "benefit_start": "2021-01-01"}


def register(client: Any, world: World, site: str, bsn: str, role: str = "site_coordinator") -> Any:
    return client.post(
        f"/api/v1/sites/{site}/participants",
        json={"bsn": bsn, **BODY},
        headers={"Authorization": f"Bearer {world.tokens[role]}"},
    )


def registered_twice(client: Any, world: World, build: Any, first_site: Any) -> tuple[Any, Any]:
    """A new BSN registered at ``first_site``, then again at bw by bw's coordinator: the
    participant of the first registration and the answer to the second, which must be 409."""
    bsn = build.next_bsn()
    existing = build.participant(first_site, bsn=bsn)
    refused = register(client, world, "bw", bsn)
    assert refused.status_code == 409
    return existing, refused


def test_another_sites_bsn_is_refused_without_the_participants_number(
    client: Any, world: World, build: Any
) -> None:
    theirs, refused = registered_twice(client, world, build, world.other)
    error = refused.json["error"]
    assert error["code"] == "registered_at_other_site"
    assert "existing_id" not in error and str(theirs.id) not in refused.text
    assert '"other"' not in refused.text  # nor the site's code
    entry = db.session.query(AuditEntry).filter_by(action="participant.registration_refused").one()
    assert entry.entity_id == str(theirs.id) and entry.site == "bw"
    assert json.loads(entry.data)["registered_at"] == "other"
    assert db.session.query(Participant).filter_by(site_id=world.bw.id).count() == 1


def test_the_own_sites_duplicate_still_names_the_participant(
    client: Any, world: World, build: Any
) -> None:
    ours, refused = registered_twice(client, world, build, world.bw)
    assert refused.json["error"]["code"] == "duplicate_participant"
    assert refused.json["error"]["existing_id"] == ours.id


def test_the_registration_page_says_so_without_a_number(
    client: Any, world: World, build: Any
) -> None:
    bsn = build.next_bsn()
    theirs = build.participant(world.other, bsn=bsn)
    assert login(client, "coord").status_code == 302
    form = client.get("/locatie/bw/deelnemers/nieuw")
    answer = client.post(
        "/locatie/bw/deelnemers/nieuw",
        data={"csrf_token": csrf_token(form.text), "bsn": bsn, "birth_date": "01-04-1975",
              "sex": "male", "benefit_start": "01-01-2021", "registered_on": ""},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "bij een andere locatie" in answer.text
    assert f"/deelnemers/{theirs.id}" not in answer.text and f">{theirs.id}<" not in answer.text
