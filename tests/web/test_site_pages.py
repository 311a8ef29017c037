"""The coordinator's pages: search and filters, registration, consent, cohort randomisation."""

from __future__ import annotations

from datetime import date
from typing import Any

from web_support import csrf_token

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


def _register(web: Any, **overrides: str) -> Any:
    data = {
        "bsn": "999998523",
        "birth_date": "17-05-1980",
        "sex": "female",
        "benefit_start": "01-01-2020",
        "municipality": "",
        "registered_on": "02-11-2026",
    }
    data.update(overrides)
    return web.post_form("/locatie/bw/deelnemers/nieuw", data)


def test_register_a_participant_with_dutch_dates(staff: Any, web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Participant

    web.login("coord")
    response = _register(web)
    assert response.status_code == 302
    person = db.session.query(Participant).one()
    assert person.birth_date == date(1980, 5, 17)
    assert person.registered_by == "user:coord"
    page = web.client.get(response.headers["Location"])
    assert "17-05-1980" in page.text  # dd-mm-jjjj on screen
    assert "999998523" not in page.text  # the BSN is never shown or stored


def test_errors_are_dutch_and_next_to_their_field(staff: Any, web: Any) -> None:
    web.login("coord")
    response = _register(web, bsn="123456789", birth_date="1980/13/45")
    assert response.status_code == 422
    text = response.text
    assert 'id="bsn-error"' in text and "geen geldig BSN" in text
    assert 'id="birth_date-error"' in text and "dd-mm-jjjj" in text
    assert 'aria-invalid="true"' in text


def test_service_error_lands_next_to_its_field(staff: Any, web: Any) -> None:
    web.login("coord")
    response = _register(web, registered_on="01-01-2999")
    assert response.status_code == 422
    assert 'id="registered_on-error"' in response.text
    assert "ligt in de toekomst" in response.text


def test_duplicate_bsn_names_the_existing_participant(staff: Any, web: Any) -> None:
    web.login("coord")
    _register(web)
    response = _register(web)
    assert response.status_code == 422
    assert "al ingeschreven" in response.text


def test_search_by_bsn_matches_through_the_pseudonym(staff: Any, web: Any, build: Any) -> None:
    wanted = build.participant(staff.bw, bsn="999998535")
    build.participant(staff.bw)
    web.login("coord")
    page = web.client.get("/locatie/bw/deelnemers?q=999998535")
    assert "1 deelnemer gevonden" in page.text  # ngettext: one, not "1 deelnemers"
    assert f"/locatie/bw/deelnemers/{wanted.id}" in page.text
    bad = web.client.get("/locatie/bw/deelnemers?q=123456789")
    assert "geen geldig BSN" in bad.text


def test_filters(staff: Any, web: Any, build: Any) -> None:
    build.participant(staff.bw)
    build.participant(staff.bw, consent_given=False)
    build.participant(staff.bw, birth_date=date(1950, 1, 1))  # past pension age: not eligible
    web.login("coord")
    assert "2 deelnemers gevonden" in web.client.get("/locatie/bw/deelnemers?geschikt=yes").text
    assert (
        "1 deelnemer gevonden"
        in web.client.get("/locatie/bw/deelnemers?geschikt=yes&toestemming=none").text
    )
    assert "3 deelnemers gevonden" in web.client.get("/locatie/bw/deelnemers?arm=none").text


def _record_consent(web: Any, url: str, status: str, on: str) -> Any:
    """Post the consent form (version v1) of the participant page at ``url``."""
    form = {"consent-status": status, "consent-version": "v1", "consent-on": on}
    return web.post_form(f"{url}/toestemming", form, form_page=url)


def test_record_consent(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.services import consent

    person = build.participant(staff.bw, consent_given=False)
    web.login("coord")
    url = f"/locatie/bw/deelnemers/{person.id}"
    response = _record_consent(web, url, "given", "03-11-2026")
    assert response.status_code == 302
    assert consent.current_state(person).status == "given"
    assert "03-11-2026" in web.client.get(url).text


def test_consent_error_next_to_the_date(staff: Any, web: Any, build: Any) -> None:
    person = build.participant(staff.bw)  # consent given on 02-11-2026
    web.login("coord")
    url = f"/locatie/bw/deelnemers/{person.id}"
    response = _record_consent(web, url, "declined", "01-01-2026")
    assert response.status_code == 422
    assert 'id="consent-on-error"' in response.text
    assert "vóór de laatste toestemmingsregistratie" in response.text


def test_cohort_randomisation_and_allocations(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Allocation

    for _ in range(10):
        build.participant(staff.bw)
    web.login("coord")
    page = web.client.get("/locatie/bw/loting")
    assert "10" in page.text
    refused = web.client.post(
        "/locatie/bw/loting", data={"csrf_token": csrf_token(page.text), "fip": "3"}
    )
    assert refused.status_code == 422 and 'id="confirm-error"' in refused.text
    too_many = web.client.post(
        "/locatie/bw/loting",
        data={"csrf_token": csrf_token(page.text), "fip": "11", "confirm": "y"},
    )
    assert too_many.status_code == 422 and "moet liggen tussen 1 en 9" in too_many.text
    done = web.client.post(
        "/locatie/bw/loting", data={"csrf_token": csrf_token(page.text), "fip": "3", "confirm": "y"}
    )
    assert done.status_code == 302
    assert db.session.query(Allocation).filter_by(arm="fip").count() == 3
    listing = web.client.get(done.headers["Location"])
    assert "10 deelnemers toegewezen" in listing.text
    assert listing.text.count("tag-fip") == 3
    assert db.session.query(Allocation).first().allocated_by == "user:coord"


def test_cohort_default_is_one_less_than_the_cohort(staff: Any, web: Any, build: Any) -> None:
    """The client manager has more places than the cohort: the default leaves a lottery."""
    for _ in range(4):
        build.participant(staff.bw)
    web.login("coord")
    page = web.client.get("/locatie/bw/loting")
    assert 'name="fip" type="number" value="3"' in page.text or 'value="3"' in page.text
