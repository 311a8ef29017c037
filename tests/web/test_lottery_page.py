"""The lottery page says why it refuses (services.lottery), in Dutch and in English."""

from __future__ import annotations

from typing import Any

import pytest
from web_support import csrf_token

from fiptrial.extensions import db
from fiptrial.models import CohortRandomisation
from fiptrial.services import caseload, lottery

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


@pytest.fixture
def default_minimum(app: Any) -> int:
    app.config.pop("COHORT_MIN_SIZE")
    return lottery.DEFAULT_MIN_SIZE


def _ready(staff: Any, build: Any, n: int, capacity: int) -> None:
    """``n`` participants ready for the lottery; the site's one client manager (km) has
    ``capacity`` places."""
    from fiptrial.models import User

    km = db.session.query(User).filter_by(username="km").one()
    caseload.set_capacity(km.id, capacity, actor="test")
    for _ in range(n):
        build.participant(staff.bw)


def _draw(web: Any, page: Any, fip: str, **more: str) -> Any:
    """Post the lottery form of the site's lottery page ``page``: ``fip`` places for FIP,
    confirmed."""
    data = {"csrf_token": csrf_token(page.text), "fip": fip, "confirm": "y", **more}
    return web.client.post("/locatie/bw/loting", data=data)


def test_the_page_says_why_a_small_cohort_is_refused_in_dutch_and_english(
    staff: Any, web: Any, build: Any, default_minimum: int
) -> None:
    _ready(staff, build, 12, 10)
    web.login("coord")
    page = web.client.get("/locatie/bw/loting")
    assert page.status_code == 200
    assert "Een loting vraagt ten minste 20 deelnemers klaar voor loting; nu zijn het er 12" in (
        page.text
    )
    assert 'name="fip"' not in page.text
    with web.client.session_transaction() as session:
        session["lang"] = "en"
    english = web.client.get("/locatie/bw/loting")
    assert "at least 20 participants ready for the lottery; there are 12" in english.text


def test_the_page_refuses_too_many_places_and_a_second_cohort(
    staff: Any, web: Any, build: Any
) -> None:
    _ready(staff, build, 25, 4)
    free = lottery.free_fip_places(staff.bw.id)
    assert free == 4
    web.login("coord")
    page = web.client.get("/locatie/bw/loting")
    assert f'value="{free}"' in page.text  # the default: the free places
    refused = _draw(web, page, str(free + 1))
    assert refused.status_code == 422
    assert f"groter dan de {free} vrije plaatsen" in refused.text
    done = _draw(web, page, "4")
    assert done.status_code == 302
    for _ in range(21):
        build.participant(staff.bw)
    closed = web.client.get("/locatie/bw/loting")
    assert "Deze locatie heeft al geloot" in closed.text and 'name="fip"' not in closed.text
    again = _draw(web, page, "2")
    assert again.status_code == 422 and "Deze locatie heeft al geloot" in again.text
    assert db.session.query(CohortRandomisation).count() == 1


def test_a_research_admin_gives_the_reason_on_the_page(staff: Any, web: Any, build: Any) -> None:
    _ready(staff, build, 6, 10)
    web.login("coord")
    page = web.client.get("/locatie/bw/loting")
    _draw(web, page, "2")
    for _ in range(4):
        build.participant(staff.bw)
    web.post_form("/uitloggen", {}, form_page="/locatie/bw/loting")
    web.login("beheer")
    page = web.client.get("/locatie/bw/loting")
    assert 'name="reason"' in page.text
    without = _draw(web, page, "1")
    assert without.status_code == 422 and "Geef een reden voor deze volgende loting" in without.text
    done = _draw(web, page, "1", reason="tweede instroom, akkoord van de stuurgroep")
    assert done.status_code == 302, done.text
    assert db.session.query(CohortRandomisation).count() == 2


def test_later_arrivals_are_allocated_on_the_page_by_the_trials_method(
    staff: Any, web: Any, build: Any
) -> None:
    from fiptrial.models import Allocation

    _ready(staff, build, 6, 10)
    web.login("coord")
    page = web.client.get("/locatie/bw/loting")
    _draw(web, page, "2")
    late = [build.participant(staff.bw) for _ in range(3)]
    page = web.client.get("/locatie/bw/loting")
    assert "3 deelnemers zijn na de loting ingestroomd" in page.text
    unconfirmed = web.client.post(
        "/locatie/bw/loting/instroom", data={"csrf_token": csrf_token(page.text)}
    )
    assert unconfirmed.status_code == 302
    assert db.session.query(Allocation).filter(Allocation.cohort_id.is_(None)).count() == 0
    done = web.client.post(
        "/locatie/bw/loting/instroom",
        data={"csrf_token": csrf_token(page.text), "arrivals-confirm": "y"},
    )
    assert done.status_code == 302
    listing = web.client.get(done.headers["Location"])
    assert "3 nieuwe deelnemers toegewezen volgens de methode van het onderzoek" in listing.text
    methods = {
        a.method
        for a in db.session.query(Allocation).filter(
            Allocation.participant_id.in_([p.id for p in late])
        )
    }
    assert methods == {"permuted_blocks"}
