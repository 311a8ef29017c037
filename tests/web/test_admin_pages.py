"""The research admin's screens over HTTP: every change made through the form, shown on the
page, stored, and audited; the audit viewer's filters and paging; freezes downloaded and
checked; and every error code of the services has its sentence in the catalogue."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from web_support import PASSWORD, csrf_token, trial_settings_form

from lottery_support import allocate_cohort_with_places

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True

PLATFORM = Path(__file__).resolve().parents[2] / "platform" / "fiptrial"


def _audit(action: str) -> list[Any]:
    from fiptrial.extensions import db
    from fiptrial.models import AuditEntry

    db.session.expire_all()
    return db.session.query(AuditEntry).filter_by(action=action).all()


def _settings(**overrides: str) -> dict[str, str]:
    return trial_settings_form(overrides.pop("name", "Test trial"), start_date="", **overrides)


def test_trial_settings_change_until_fixed(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.services import randomisation

    web.login("beheer")
    url = "/beheer/onderzoek/t1"
    assert "Kan worden gewijzigd tot de eerste loting." in web.client.get(url).text
    saved = web.post_form(url, _settings(name="FIP Noord", control_ratio="3"))
    assert saved.status_code == 302
    page = web.client.get(saved.headers["Location"]).text
    assert "De instellingen van het onderzoek zijn opgeslagen." in page
    assert staff.trial.ratios() == {"fip": 1, "control": 3}
    (entry,) = _audit("trial.settings_changed")
    assert '"from":"Test trial"' in entry.data and '"to":"FIP Noord"' in entry.data
    overview = web.client.get("/onderzoek/").text
    assert "FIP 1 : controle 3" in overview and "€ 14.000" in overview
    assert "permuted_blocks" not in overview and "consent_first" not in overview
    person = build.participant(staff.bw)
    randomisation.allocate(person.id, actor="test")
    locked = web.post_form(
        url, _settings(name="FIP Noord", control_ratio="3", method="minimisation")
    )
    assert locked.status_code == 422
    assert "ligt vast sinds" in locked.text
    assert staff.trial.method == "permuted_blocks"


def test_add_a_site_and_set_closing_days_and_capacity(staff: Any, web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Site

    web.login("beheer")
    added = web.post_form(
        "/beheer/locaties",
        {"code": "roosendaal", "name": "Gemeente Roosendaal", "plugin": "template"},
    )
    assert added.status_code == 302
    assert (
        "Locatie Gemeente Roosendaal is toegevoegd."
        in web.client.get(added.headers["Location"]).text
    )
    assert db.session.query(Site).filter_by(code="roosendaal").one()
    listing = web.client.get("/beheer/locaties").text
    assert "Breda" in listing and "GM0758" not in listing  # names, not CBS codes
    day = date.today() + timedelta(days=30)
    closing = web.post_form(
        "/beheer/locaties/bw/sluitingsdagen",
        {"closing-day": day.strftime("%d-%m-%Y")},
        form_page="/beheer/locaties/bw",
    )
    assert closing.status_code == 302
    db.session.expire_all()
    assert db.session.get(Site, staff.bw.id).closing_days == [day.isoformat()]
    assert len(_audit("site.closing_days_changed")) == 1
    page = web.client.get("/beheer/locaties/bw")
    removed = web.client.post(
        f"/beheer/locaties/bw/sluitingsdagen/{day.isoformat()}/verwijderen",
        data={"csrf_token": csrf_token(page.text)},
    )
    assert removed.status_code == 302
    db.session.expire_all()
    assert db.session.get(Site, staff.bw.id).closing_days == []
    from fiptrial.models import User

    km = db.session.query(User).filter_by(username="km").one()
    capacity = web.post_form(
        f"/beheer/locaties/bw/klantmanagers/{km.id}",
        {f"capacity-{km.id}-capacity": "120"},
        form_page="/beheer/locaties/bw",
    )
    assert capacity.status_code == 302
    assert "heeft nu 120 FIP-plaatsen" in web.client.get(capacity.headers["Location"]).text
    assert len(_audit("client_manager.capacity_changed")) == 1


def test_users_create_deactivate_unlock_and_reset(staff: Any, web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import User
    from fiptrial.services import users

    web.login("beheer")
    weak = web.post_form(
        "/beheer/gebruikers",
        {
            "new-username": "jdevries",
            "new-display_name": "J. de Vries",
            "new-role": "site_coordinator",
            "new-site": "bw",
            "new-password": "kort",
        },
    )
    assert weak.status_code == 422 and "Dit wachtwoord is te zwak" in weak.text
    made = web.post_form(
        "/beheer/gebruikers",
        {
            "new-username": "jdevries",
            "new-display_name": "J. de Vries",
            "new-role": "site_coordinator",
            "new-site": "bw",
            "new-password": PASSWORD,
        },
    )
    assert made.status_code == 302
    assert (
        "J. de Vries kan nu inloggen als locatiecoördinator."
        in web.client.get("/beheer/gebruikers").text
    )
    person = db.session.query(User).filter_by(username="jdevries").one()
    page = web.client.get("/beheer/gebruikers")
    off = web.client.post(
        f"/beheer/gebruikers/{person.id}/uitschakelen", data={"csrf_token": csrf_token(page.text)}
    )
    assert off.status_code == 302
    db.session.expire_all()
    assert not db.session.get(User, person.id).active
    assert len(_audit("user.deactivated")) == 1
    web.client.post(
        f"/beheer/gebruikers/{person.id}/inschakelen", data={"csrf_token": csrf_token(page.text)}
    )
    reset = web.post_form(
        f"/beheer/gebruikers/{person.id}/wachtwoord",
        {f"password-{person.id}-password": "een-nieuw-lang-wachtwoord-9"},
        form_page="/beheer/gebruikers",
    )
    assert reset.status_code == 302
    assert users.authenticate("jdevries", "een-nieuw-lang-wachtwoord-9").id == person.id
    assert len(_audit("user.password_set")) == 1


def test_admin_screens_are_for_the_research_admin_only(staff: Any, web: Any) -> None:
    for username in ("coord", "km", "analyse"):
        web.login(username)
        for url in ("/beheer/locaties", "/beheer/gebruikers", "/beheer/onderzoek/t1"):
            assert web.client.get(url).status_code == 403, (username, url)
        web.post_form(
            "/uitloggen",
            {},
            form_page="/locatie/bw/deelnemers"
            if username == "coord"
            else "/klantmanager/agenda"
            if username == "km"
            else "/onderzoek/",
        )


def test_audit_viewer_filters_and_pages(staff: Any, web: Any, build: Any) -> None:
    for _ in range(55):
        build.participant(staff.bw, consent_given=False)
    web.login("beheer")
    first = web.client.get("/onderzoek/audit?wat=participant.registered")
    assert "55 wijzigingen gevonden." in first.text
    assert "Pagina 1 van 2" in first.text and "deelnemer ingeschreven" in first.text
    second = web.client.get("/onderzoek/audit?wat=participant.registered&pagina=2")
    assert "Pagina 2 van 2" in second.text
    nobody = web.client.get("/onderzoek/audit?wie=user:coord")
    assert "0 wijzigingen gevonden." in nobody.text
    today = date.today().strftime("%d-%m-%Y")
    period = web.client.get(f"/onderzoek/audit?van={today}&tot={today}&soort=participant")
    assert "55 wijzigingen gevonden." in period.text
    past = web.client.get("/onderzoek/audit?tot=01-01-2000")
    assert "0 wijzigingen gevonden." in past.text
    assert "user:" not in first.text.split("<main", 1)[1].replace('value="user:', "")


def test_analyst_may_check_the_chain_but_not_read_entries(staff: Any, web: Any) -> None:
    web.login("analyse")
    page = web.client.get("/onderzoek/audit")
    assert page.status_code == 200 and "Wijzigingen zoeken" not in page.text


def test_freeze_download_and_verify(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.services import freezes

    for site in (staff.bw, staff.breda):
        for _ in range(6):
            build.participant(site)
        allocate_cohort_with_places(site.id, 2)
    frozen = freezes.freeze_trial(staff.trial, "user:beheer")
    web.login("beheer")
    page = web.client.get("/onderzoek/exports")
    assert f'id="bevriezing-{frozen.id}"' in page.text
    download = web.client.get(f"/onderzoek/bevriezingen/{frozen.id}.zip")
    assert download.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert any(n.endswith("-export.csv") for n in names) and any(n.endswith(".json") for n in names)
    assert len(_audit("analysis.freeze_downloaded")) == 1
    checked = web.client.post(
        f"/onderzoek/bevriezingen/{frozen.id}/controle", data={"csrf_token": csrf_token(page.text)}
    )
    assert checked.status_code == 200 and "In orde: de export en het rapport zijn onveranderd" in (
        checked.text
    )


def test_every_error_code_has_a_message() -> None:
    """Each code a service raises has its sentence in the catalogue (web/messages.py)."""
    from fiptrial.web.messages import ERRORS

    api_only = {
        "invalid_field",
        "invalid_token",
        "forbidden_role",
        "login_failed",
        "account_locked",
        "bad_request",
        "unauthorized",
        "forbidden",
        "conflict",
        "unprocessable",
    }
    codes: set[str] = set()
    for path in (PLATFORM / "services").rglob("*.py"):
        codes.update(re.findall(r'code="([a-z_]+)"', path.read_text()))
    for path in (PLATFORM / "plugins").rglob("*.py"):
        codes.update(re.findall(r'code = "([a-z_]+)"', path.read_text()))
    missing = sorted(codes - set(ERRORS) - api_only)
    assert missing == []
