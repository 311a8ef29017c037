"""The daily work over HTTP: conversations, consent, lottery, uploads, monitoring.

Each test posts the real forms (CSRF token included) as the role that does the work, checks
what the page then says, and checks what the database and the audit trail hold.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from web_support import csrf_token, dmy, record_conversation

from lottery_support import allocate_cohort_with_places

TODAY = date.today()
#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


def _plan(pid: int) -> list[Any]:
    from fiptrial.extensions import db
    from fiptrial.models import PlannedConversation

    db.session.expire_all()
    return (
        db.session.query(PlannedConversation)
        .filter_by(participant_id=pid)
        .order_by(PlannedConversation.sequence)
        .all()
    )


def _correction_url(pid: int) -> str:
    """The correction form of the participant's conversation, the one recorded."""
    from fiptrial.extensions import db
    from fiptrial.models import ConversationRecord

    row = db.session.query(ConversationRecord).filter_by(participant_id=pid).one()
    return f"/klantmanager/deelnemer/{pid}/gesprek/{row.id}/corrigeren"


def _audit(action: str) -> list[Any]:
    from fiptrial.extensions import db
    from fiptrial.models import AuditEntry

    return db.session.query(AuditEntry).filter_by(action=action).all()


# --- Conversations ----------------------------------------------------------------------------


def test_a_second_conversation_on_the_same_day_is_refused(caseload: list[Any], web: Any) -> None:
    person = caseload[0]
    web.login("km")
    assert record_conversation(web, person.id).status_code == 302
    before = [(p.sequence, p.status) for p in _plan(person.id)]
    again = record_conversation(web, person.id)
    assert again.status_code == 422
    assert f"Op {dmy(TODAY)} is al een gesprek met deze deelnemer vastgelegd" in again.text
    assert [(p.sequence, p.status) for p in _plan(person.id)] == before  # nothing marked held


def test_an_early_extra_conversation_leaves_the_plan_alone(
    caseload: list[Any], web: Any, staff: Any
) -> None:
    """Conversation 1 is held; a talk two weeks later is an extra one, not conversation 2
    (planned about three months on)."""
    from fiptrial.extensions import db
    from fiptrial.models import ConversationRecord

    person = caseload[0]
    web.login("km")
    assert (
        record_conversation(web, person.id, held_on=dmy(TODAY - timedelta(days=14))).status_code
        == 302
    )
    assert record_conversation(web, person.id).status_code == 302
    statuses = [p.status for p in _plan(person.id)]
    assert statuses[0] == "held" and "held" not in statuses[1:]
    extra = db.session.query(ConversationRecord).filter_by(held_on=TODAY).one()
    assert extra.planned_conversation_id is None
    page = web.client.get(f"/klantmanager/deelnemer/{person.id}")
    assert "extra" in page.text


def test_correct_a_conversation_date_re_derives_the_plan(caseload: list[Any], web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ConversationCorrection, ConversationRecord

    person = caseload[0]
    web.login("km")
    record_conversation(
        web, person.id, status="missed", missed_reason="no_show", duration_minutes=""
    )
    url = _correction_url(person.id)
    page = web.client.get(url)
    assert page.status_code == 200 and "Gesprek van" in page.text
    no_reason = web.post_form(
        url, {"held_on": dmy(TODAY), "status": "held", "duration_minutes": "40"}
    )
    assert no_reason.status_code == 422 and "Kies een reden voor de correctie." in no_reason.text
    done = web.post_form(
        url,
        {
            "held_on": dmy(TODAY - timedelta(days=1)),
            "status": "held",
            "duration_minutes": "40",
            "domain-housing": "1",
            "moved-housing": "ja",
            "reason": "typing_error",
        },
    )
    assert done.status_code == 302
    assert "De correctie is opgeslagen." in web.client.get(done.headers["Location"]).text
    db.session.expire_all()
    row = db.session.query(ConversationRecord).one()
    assert row.status == "held" and row.held_on == TODAY - timedelta(days=1)
    assert [d.domain for d in row.domains] == ["housing"]
    assert _plan(person.id)[0].status == "held"
    correction = db.session.query(ConversationCorrection).one()
    assert correction.before["status"] == "missed" and correction.reason == "typing_error"
    (entry,) = _audit("conversation.corrected")
    assert '"reason":"typing_error"' in entry.data and '"status"' in entry.data


def test_delete_a_wrongly_recorded_conversation(caseload: list[Any], web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Agreement, ConversationRecord, Intervention

    person = caseload[0]
    web.login("km")
    record_conversation(
        web,
        person.id,
        **{
            "agreement-0-description": "Cv bijwerken",
            "agreement-0-due": dmy(TODAY + timedelta(days=7)),
            "intervention-0-type": "volunteering",
        },
    )
    response = web.post_form(
        _correction_url(person.id),
        {"held_on": dmy(TODAY), "status": "held", "reason": "wrong_participant", "delete": "y"},
    )
    assert response.status_code == 302
    assert "Het gesprek is verwijderd." in web.client.get(response.headers["Location"]).text
    assert db.session.query(ConversationRecord).count() == 0
    assert db.session.query(Agreement).count() == 0
    assert db.session.query(Intervention).count() == 0
    first = _plan(person.id)[0]
    assert first.record_id is None and first.status in ("planned", "overdue")
    (entry,) = _audit("conversation.deleted")
    assert "wrong_participant" in entry.data and "Cv bijwerken" not in entry.data


def test_progress_on_an_unticked_domain_and_past_agreements_are_refused(
    caseload: list[Any], web: Any
) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ConversationRecord

    person = caseload[0]
    web.login("km")
    unticked = record_conversation(web, person.id, **{"moved-housing": "ja"})
    assert unticked.status_code == 422
    assert "U vulde vooruitgang in bij Wonen, maar vinkte dat leefgebied niet aan" in (
        unticked.text
    )
    past = record_conversation(
        web,
        person.id,
        **{
            "agreement-0-description": "Bellen met de woningcorporatie",
            "agreement-0-due": dmy(TODAY - timedelta(days=3)),
        },
    )
    assert past.status_code == 422
    assert "Afspraak 1 heeft een uiterste datum vóór de datum van het gesprek." in past.text
    assert db.session.query(ConversationRecord).count() == 0


def test_move_a_planned_conversation_with_a_reason_and_a_time(
    caseload: list[Any], web: Any
) -> None:
    from fiptrial.services.planning import is_working_day

    person = caseload[0]
    planned = next(p for p in _plan(person.id) if p.status in ("planned", "overdue"))
    target = TODAY + timedelta(days=10)
    while not is_working_day(target):
        target += timedelta(days=1)
    web.login("km")
    page = web.client.get(f"/klantmanager/deelnemer/{person.id}")
    assert f'id="gesprek-{planned.id}"' in page.text
    url = f"/klantmanager/deelnemer/{person.id}/gesprek/{planned.id}/verplaatsen"
    prefix = f"move-{planned.id}"
    refused = web.client.post(
        url, data={"csrf_token": csrf_token(page.text), f"{prefix}-new_date": dmy(target)}
    )
    assert refused.status_code == 422 and "Kies een reden voor het verplaatsen." in refused.text
    moved = web.client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            f"{prefix}-new_date": dmy(target),
            f"{prefix}-start_time": "10:15",
            f"{prefix}-reason": "client_ill",
        },
    )
    assert moved.status_code == 302
    after = web.client.get(moved.headers["Location"]).text
    assert f"is verplaatst naar {dmy(target)} om 10:15" in after
    assert next(p for p in _plan(person.id) if p.id == planned.id).start_time == "10:15"
    (entry,) = _audit("conversation.moved")
    assert "client_ill" in entry.data


def test_agenda_shows_time_slots_and_the_sites_client_number(caseload: list[Any], web: Any) -> None:
    from fiptrial.extensions import db

    person = caseload[0]
    person.client_number = "BW-4711"
    db.session.commit()
    web.login("km")
    agenda = web.client.get("/klantmanager/agenda").text
    assert "09:00" in agenda or "Geen gesprekken in deze twee weken" in agenda
    page = web.client.get(f"/klantmanager/deelnemer/{person.id}").text
    assert "klantnr. BW-4711" in page
    assert "09:00" in page or "10:15" in page or "11:30" in page


def test_end_an_intervention_outside_a_conversation(caseload: list[Any], web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Intervention

    person = caseload[0]
    web.login("km")
    record_conversation(web, person.id, **{"intervention-0-type": "volunteering"})
    intervention = db.session.query(Intervention).one()
    page = web.client.get(f"/klantmanager/deelnemer/{person.id}")
    response = web.client.post(
        f"/klantmanager/deelnemer/{person.id}/interventie/{intervention.id}/beeindigen",
        data={"csrf_token": csrf_token(page.text), f"end-{intervention.id}-end": dmy(TODAY)},
    )
    assert response.status_code == 302
    assert "De interventie is beëindigd." in web.client.get(response.headers["Location"]).text
    db.session.expire_all()
    assert db.session.get(Intervention, intervention.id).ended_on == TODAY
    assert len(_audit("intervention.ended")) == 1


# --- Consent and the lottery ------------------------------------------------------------------


def _withdraw(web: Any, url: str, page: Any, *ticked: str) -> Any:
    """Post the withdrawal form of the participant page ``page`` (at ``url``), dated today,
    with the checkboxes ``ticked`` (``confirm``, ``confirmed``) ticked."""
    data = {"csrf_token": csrf_token(page.text), "withdraw-on": dmy(TODAY)}
    return web.client.post(
        f"{url}/intrekken", data={**data, **{f"withdraw-{box}": "y" for box in ticked}}
    )


def test_withdrawal_asks_for_confirmation_naming_the_consequence(
    caseload: list[Any], web: Any
) -> None:
    from fiptrial.services import consent

    person = caseload[0]
    web.login("coord")
    url = f"/locatie/bw/deelnemers/{person.id}"
    page = web.client.get(url)
    assert "Toestemming intrekken" in page.text
    step_one = _withdraw(web, url, page)
    assert step_one.status_code == 200
    assert "Intrekken is definitief" in step_one.text
    assert "geplande FIP-gesprekken vervallen" in step_one.text
    assert consent.current_state(person).status == "given"  # nothing recorded yet
    unticked = _withdraw(web, url, page, "confirmed")
    assert unticked.status_code == 422 and "Vink aan dat u de toestemming" in unticked.text
    done = _withdraw(web, url, page, "confirm", "confirmed")
    assert done.status_code == 302
    assert consent.current_state(person).status == "withdrawn"
    open_after = [p for p in _plan(person.id) if p.planned_date >= TODAY]
    assert open_after and all(p.status == "cancelled" for p in open_after)
    assert "intrekken is definitief" in web.client.get(url).text


def test_withdrawal_without_consent_is_refused(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.services import consent

    person = build.participant(staff.bw, consent_given=False)
    web.login("coord")
    url = f"/locatie/bw/deelnemers/{person.id}"
    page = web.client.get(url)
    assert "Toestemming intrekken" not in page.text  # only offered after consent
    response = _withdraw(web, url, page, "confirm", "confirmed")
    assert response.status_code == 422
    assert "nooit toestemming gegeven" in response.text
    assert consent.current_state(person).status is None


def test_bulk_paper_consent_and_the_lottery_count(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ConsentEvent

    waiting = [build.participant(staff.bw, consent_given=False) for _ in range(3)]
    build.participant(staff.bw)  # already consented
    web.login("coord")
    lottery = web.client.get("/locatie/bw/loting").text
    assert "3 geschikte deelnemers hebben nog geen toestemming gegeven" in lottery
    page = web.client.get("/locatie/bw/toestemming")
    assert "3 deelnemers wachten op toestemming." in page.text
    data = {
        "csrf_token": csrf_token(page.text),
        "version": "v1",
        "on": dmy(TODAY),
        "obtained_by": "user:km",
        "deelnemer": [str(p.id) for p in waiting[:2]],
    }
    response = web.client.post("/locatie/bw/toestemming", data=data)
    assert response.status_code == 302
    after = web.client.get(response.headers["Location"]).text
    assert "Toestemming vastgelegd voor 2 deelnemers." in after
    assert "1 geschikte deelnemer heeft nog geen toestemming gegeven" in after  # ngettext
    events = db.session.query(ConsentEvent).filter_by(obtained_by="user:km").all()
    assert sorted(e.participant_id for e in events) == sorted(p.id for p in waiting[:2])
    assert len([e for e in _audit("consent.given") if '"bulk":2' in e.data]) == 2
    participant_page = web.client.get(f"/locatie/bw/deelnemers/{waiting[0].id}").text
    assert "user:" not in participant_page and "km</td>" in participant_page


def test_bulk_consent_is_all_or_nothing(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ConsentEvent

    waiting = [build.participant(staff.bw, consent_given=False) for _ in range(2)]
    web.login("coord")
    page = web.client.get("/locatie/bw/toestemming")
    before = db.session.query(ConsentEvent).count()
    response = web.client.post(
        "/locatie/bw/toestemming",
        data={
            "csrf_token": csrf_token(page.text),
            "version": "v1",
            "on": dmy(TODAY + timedelta(days=2)),
            "obtained_by": "user:coord",
            "deelnemer": [str(p.id) for p in waiting],
        },
    )
    assert response.status_code == 422
    assert "Deze datum ligt in de toekomst." in response.text
    assert db.session.query(ConsentEvent).count() == before


def test_a_client_born_in_2015_is_refused(staff: Any, web: Any) -> None:
    web.login("coord")
    response = web.post_form(
        "/locatie/bw/deelnemers/nieuw",
        {
            "bsn": "999998523",
            "birth_date": "17-05-2015",
            "sex": "female",
            "benefit_start": "01-01-2020",
            "registered_on": dmy(TODAY),
        },
    )
    assert response.status_code == 422
    assert 'id="birth_date-error"' in response.text
    assert "jonger dan 16 jaar" in response.text and "controleer het geboortejaar" in response.text


# --- Uploads ----------------------------------------------------------------------------------


def test_a_failed_upload_can_be_cleared(staff: Any, web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask

    task = ImportTask(
        site_id=staff.bw.id,
        kind="participants",
        status="failed",
        duplicate=False,
        filename="te-groot.csv",
        spool_name="import-gone.upload",
        created_by="user:coord",
        error="file: is larger than 200 MB",
        error_code="file_too_large",
        error_params={"max_mb": 200},
    )
    db.session.add(task)
    db.session.commit()
    web.login("coord")
    status = web.client.get(f"/locatie/bw/bestanden/taak/{task.id}")
    assert "Het bestand is groter dan 200 MB." in status.text
    listing = web.client.get("/locatie/bw/bestanden")
    assert "niet ingelezen" in listing.text
    response = web.client.post(
        f"/locatie/bw/bestanden/taak/{task.id}/wissen",
        data={"csrf_token": csrf_token(listing.text)},
    )
    assert response.status_code == 302
    after = web.client.get(response.headers["Location"]).text
    assert "De mislukte import is uit de lijst gewist." in after
    assert "niet ingelezen" not in after
    assert len(_audit("import_task.cleared")) == 1


# --- Monitoring -------------------------------------------------------------------------------


def test_monitoring_flags_a_stratum_outside_its_expected_range(
    staff: Any, web: Any, build: Any
) -> None:
    """A cohort gives each stratum its quota within one; a stratum whose arms were changed
    behind the lottery's back (here: directly in the table) is flagged."""
    from fiptrial.extensions import db
    from fiptrial.models import Allocation

    for _ in range(12):
        build.participant(staff.bw)
    allocate_cohort_with_places(staff.bw.id, 4)
    web.login("beheer")
    fine = web.client.get("/onderzoek/monitoring/bw").text
    assert "Alle strata liggen binnen het verwachte bereik." in fine
    for allocation in db.session.query(Allocation).filter_by(arm="control").limit(6):
        allocation.arm = "fip"
    db.session.commit()
    flagged = web.client.get("/onderzoek/monitoring/bw").text
    assert "buiten het verwachte bereik" in flagged and 'class="flagged"' in flagged
