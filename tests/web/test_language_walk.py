"""Every page as each role, in Dutch and in English: no English words on the Dutch pages, no
Dutch words on the English ones, and never a raw code (``reaches_``, ``consent_first``,
``GM0748``, ``user:coordinator``, ``km_brabantse_wal_2`` or any other snake_case word).

The walk starts at each role's home page and follows every link on every page it reaches,
one page per shape of address (``/klantmanager/deelnemer/7`` stands for every participant),
and posts the forms whose answers carry the catalogue's messages (a refused registration, a
withdrawal's confirmation, a second conversation on one day, a setting fixed since the first
allocation, a second lottery, arrivals without confirmation, an export request without its
purpose, a read-log search it cannot read). The privacy officer walks too (the read log), and
a user of its own sets up two-factor sign-in and passes the second step in each language.
Data that people typed or that names things (site and user names, municipality
names, agreement texts, the trial's name, file names) is taken out of the text first: it is
in the language it was entered in. What ``<code>`` shows (plugin names, hashes, log-in names)
is technical on purpose.

The pooled report's body (the analysis package's own template and Dutch catalogue) is checked
like every other page.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from web_support import csrf_token, seed_daily_work, trial_settings_form

ROLES = ("admin", "coordinator", "klantmanager", "analist", "fg")
DEMO_PASSWORD = "fip-demo-2027"
PASSWORDS = {"fg": "privacy-officer-walks-the-log-7"}  # not a demo user: its own password

ENGLISH_WORDS = [
    "the",
    "and",
    "with",
    "must",
    "not",
    "are",
    "participant",
    "participants",
    "consent",
    "allocation",
    "allocated",
    "withdrawn",
    "declined",
    "held",
    "missed",
    "planned",
    "overdue",
    "eligible",
    "site",
    "sites",
    "trial",
    "report",
    "settings",
    "user",
    "users",
    "password",
    "conversation",
    "conversations",
    "record",
    "recorded",
    "before",
    "after",
    "future",
    "required",
    "unknown",
    "found",
    "none",
    "error",
    "invalid",
    "choose",
    "save",
    "delete",
    "file",
    "reaches",
    "lies",
    "should",
    "cannot",
    "yes",
    "page",
    "search",
    "back",
    "next",
    "previous",
    "from",
]
DUTCH_WORDS = [
    "de",
    "het",
    "een",
    "en",
    "van",
    "niet",
    "geen",
    "deelnemer",
    "deelnemers",
    "toestemming",
    "gesprek",
    "gesprekken",
    "locatie",
    "onderzoek",
    "voor",
    "met",
    "bij",
    "wordt",
    "zijn",
    "klantmanager",
    "uitkering",
    "gemeente",
    "loting",
    "opslaan",
    "ingeschreven",
    "nog",
    "naar",
    "op",
    "uit",
    "ook",
    "dit",
    "deze",
    "wat",
    "wie",
    "kies",
    "vul",
]
RAW_CODES = [
    re.compile(r"reaches_"),
    re.compile(r"consent_first"),
    re.compile(r"\bGM\d{3}"),
    re.compile(r"\buser:"),
    re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b"),  # any snake_case code: km_brabantse_wal_2, ...
    re.compile(r"%\(\w+\)s"),  # a placeholder the catalogue did not fill
]
ATTRIBUTES = ("alt", "title", "aria-label", "placeholder")
SKIP_PATHS = ("/static/", "/uitloggen", "/taal", "/api/")
SKIP_SUFFIXES = (".png", ".zip", ".json")


class VisibleText(HTMLParser):
    """The text a person sees or hears: text nodes, option labels, alt, title, aria-label and
    placeholder; not scripts, styles or ``<code>``."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []  # checked against the word lists and the raw codes
        self.links: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # tag, hidden

    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        hidden = tag in ("script", "style", "code")
        if not (hidden or self._hidden()):
            self.words += [values[name] or "" for name in ATTRIBUTES if values.get(name)]
        if tag not in self.VOID:
            self._stack.append((tag, hidden))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.words.append(data)


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def check(self, where: str, html: str, lang: str, data_strings: list[str]) -> list[str]:
        parser = VisibleText()
        parser.feed(html)
        text = _data_pattern(tuple(data_strings)).sub(" ", " \n ".join(parser.words))
        wrong = ENGLISH_WORDS if lang == "nl" else DUTCH_WORDS
        for word in wrong:
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE):
                context = re.search(
                    rf".{{0,40}}(?<![\w-]){re.escape(word)}(?![\w-]).{{0,40}}",
                    text,
                    re.IGNORECASE | re.S,
                )
                self.problems.append(
                    f"{where}: {lang} page has {word!r}: …{context.group(0) if context else ''}…"
                )
        for pattern in RAW_CODES:
            match = pattern.search(text)
            if match:
                self.problems.append(f"{where}: raw code {match.group(0)!r}")
        return parser.links


@functools.cache
def _data_pattern(data_strings: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for the names the data brings (longest first, so that a longer name wins
    over a name inside it), instead of a substitution per name on every page."""
    names = "|".join(re.escape(value) for value in data_strings)
    return re.compile(rf"(?<!\w)(?:{names})(?!\w)")


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


@pytest.fixture(scope="module")
def demo_app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from fiptrial import create_app

    folder = tmp_path_factory.mktemp("language-walk")
    shutil.copy(sqlite_template, folder / "fiptrial.sqlite")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'fiptrial.sqlite'}",
            "SECRET_KEY": "language-walk-secret",
            "PSEUDONYM_KEY": "language-walk-pseudonym-key",
        }
    )
    with app.app_context():
        from fiptrial.services.users import create_user

        ids = seed_daily_work()
        app.config["SEED_IDS"] = ids
        create_user(
            username="fg",
            role="privacy_officer",
            password=PASSWORDS["fg"],
            display_name="Functionaris van de gemeenten",
            actor="test",
        )
    yield app
    with app.app_context():
        from fiptrial.extensions import db

        db.engine.dispose()


def _data_strings(app: Flask) -> list[str]:
    from fiptrial.extensions import db
    from fiptrial.models import Agreement, ConsentForm, ImportTask, Site, Trial, User
    from fiptrial.web.formatting import municipality_names

    with app.app_context():
        values = [s.name for s in db.session.query(Site)]
        values += [t.name for t in db.session.query(Trial)]
        values += [u.display_name for u in db.session.query(User) if u.display_name]
        values += [a.description for a in db.session.query(Agreement)]
        values += [f.version for f in db.session.query(ConsentForm)]
        values += [t.filename for t in db.session.query(ImportTask)]
        values += list(municipality_names().values())
    values += ["English", "Nederlands", "FIP"]
    return sorted({v for v in values if v}, key=len, reverse=True)


def _login(client: Any, username: str, password: str | None = None) -> None:
    page = client.get("/inloggen")
    password = password or PASSWORDS.get(username, DEMO_PASSWORD)
    response = client.post(
        "/inloggen",
        data={"csrf_token": csrf_token(page.text), "username": username, "password": password},
    )
    assert response.status_code == 302, username


def _set_language(client: Any, lang: str) -> None:
    page = client.get("/inloggen")
    client.post("/taal", data={"csrf_token": csrf_token(page.text), "lang": lang})


def _walk(client: Any, start: str, visit: Any, limit: int = 120) -> None:
    queue, seen = [start], set()
    while queue and len(seen) < limit:
        url = queue.pop(0)
        path = urlsplit(url).path
        if _shape(path) in seen or path.startswith(SKIP_PATHS) or path.endswith(SKIP_SUFFIXES):
            continue
        seen.add(_shape(path))
        response = client.get(url, follow_redirects=True)
        assert response.status_code < 500, url
        for link in visit(url, response.text):
            if link.startswith("/") and not link.startswith("//"):
                queue.append(link.split("#", 1)[0])


def _posted_pages(app: Flask, client: Any, role: str) -> Iterator[tuple[str, str]]:
    """Answers to forms that carry the catalogue's messages, for the role that uses them."""
    ids = app.config["SEED_IDS"]
    today = date.today().strftime("%d-%m-%Y")

    def answer(page: Any, url: str, data: dict[str, Any] | None = None, **options: Any) -> str:
        """What a form post answers, its token taken from the form's page ``page``."""
        response = client.post(
            url, data={"csrf_token": csrf_token(page.text), **(data or {})}, **options
        )
        return response.text

    if role == "coordinator":
        form = client.get("/locatie/brabantse_wal/deelnemers/nieuw")
        yield (
            "registration refused",
            answer(
                form,
                "/locatie/brabantse_wal/deelnemers/nieuw",
                {
                    "bsn": "123456789",
                    "birth_date": "17-05-2015",
                    "sex": "female",
                    "benefit_start": "01-01-2020",
                },
            ),
        )
        yield (
            "registration refused by the service",
            answer(
                form,
                "/locatie/brabantse_wal/deelnemers/nieuw",
                {
                    "bsn": "999998523",
                    "birth_date": "17-05-2015",
                    "sex": "female",
                    "benefit_start": "01-01-2020",
                },
            ),
        )
        url = f"/locatie/brabantse_wal/deelnemers/{ids['talked']}"
        page = client.get(url)
        yield (
            "withdrawal confirmation",
            answer(page, f"{url}/intrekken", {"withdraw-on": today}),
        )
        yield (
            "withdrawal without consent",
            answer(
                page,
                f"/locatie/brabantse_wal/deelnemers/{ids['waiting']}/intrekken",
                {"withdraw-on": today},
            ),
        )
        bulk = client.get("/locatie/brabantse_wal/toestemming")
        yield (
            "bulk consent refused",
            answer(
                bulk,
                "/locatie/brabantse_wal/toestemming",
                {
                    "version": "2026-1",
                    "on": (date.today() + timedelta(days=3)).strftime("%d-%m-%Y"),
                    "obtained_by": "user:coordinator",
                    "deelnemer": [str(ids["waiting"])],
                },
            ),
        )
        page = client.get("/locatie/brabantse_wal/loting")
        yield (
            "a second lottery",
            answer(page, "/locatie/brabantse_wal/loting", {"fip": "1", "confirm": "y"}),
        )
        yield (
            "arrivals without confirmation",
            answer(page, "/locatie/brabantse_wal/loting/instroom", follow_redirects=True),
        )
    if role == "analist":
        page = client.get("/privacy/exportverzoeken")
        yield (
            "an export request without its purpose",
            answer(
                page,
                "/privacy/exportverzoeken",
                {"request-trial": "fip-demo", "request-fmt": "csv", "request-purpose": "kort"},
            ),
        )
    if role in ("admin", "fg"):
        yield (
            "a read-log search it cannot read",
            client.get("/privacy/leeslog?deelnemer=abc&van=31-02-2026&tot=1-1").text,
        )
    if role == "klantmanager":
        url = f"/klantmanager/deelnemer/{ids['talked']}/gesprek"
        page = client.get(url)
        yield (
            "second conversation on a day",
            answer(
                page,
                url,
                {
                    "held_on": (date.today() - timedelta(days=2)).strftime("%d-%m-%Y"),
                    "status": "held",
                    "duration_minutes": "45",
                    "moved-housing": "ja",
                },
            ),
        )
    if role == "admin":
        url = "/beheer/onderzoek/fip-demo"
        page = client.get(url)
        yield (
            "a fixed setting",
            answer(
                page,
                url,
                trial_settings_form(
                    "FIP follow-up study (demo, synthetic data)", method="minimisation"
                ),
            ),
        )
        page = client.get("/onderzoek/exports")
        yield (
            "freeze check",
            answer(page, f"/onderzoek/bevriezingen/{ids['freeze']}/controle"),
        )


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("role", ROLES)
def test_every_page_speaks_one_language(demo_app: Flask, role: str, lang: str) -> None:
    data_strings = _data_strings(demo_app)
    findings = Findings()
    visited: list[str] = []
    with demo_app.app_context():
        client = demo_app.test_client()
        _set_language(client, lang)
        _login(client, role)

        def visit(url: str, html: str) -> list[str]:
            visited.append(url)
            return findings.check(url, html, lang, data_strings)

        _walk(client, "/", visit)
        for name, html in _posted_pages(demo_app, client, role):
            findings.check(name, html, lang, data_strings)
    assert len(visited) >= 4, visited
    assert findings.problems == [], "\n".join(findings.problems[:40])


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_two_factor_pages_speak_one_language(demo_app: Flask, lang: str) -> None:
    """Set-up (a wrong code, then the recovery codes) and the second step at the next login
    (a wrong code), for a user of its own: the demo users stay without a second factor."""
    import pyotp

    from fiptrial.services.users import create_user

    username, password = f"tweestap_{lang}", "twee-stappen-door-de-duinen-4"
    data_strings = _data_strings(demo_app)
    findings = Findings()
    with demo_app.app_context():
        create_user(
            username=username,
            role="analyst",
            password=password,
            display_name="Tessa Tweestap",
            actor="test",
        )
        client = demo_app.test_client()
        _set_language(client, lang)
        _login(client, username, password)
        page = client.get("/privacy/tweestapsverificatie")
        findings.check("set-up", page.text, lang, data_strings)
        secret_match = re.search(r'class="totp-secret">([A-Z2-7 ]+)<', page.text)
        assert secret_match, "the set-up page shows its secret"
        secret = secret_match.group(1).replace(" ", "")
        token = csrf_token(page.text)
        wrong = client.post(
            "/privacy/tweestapsverificatie", data={"csrf_token": token, "code": "1"}
        )
        assert wrong.status_code == 422
        findings.check("set-up with a wrong code", wrong.text, lang, data_strings)
        codes = client.post(
            "/privacy/tweestapsverificatie",
            data={"csrf_token": token, "code": pyotp.TOTP(secret).now()},
        )
        assert "recovery-codes" in codes.text
        findings.check("recovery codes", codes.text, lang, data_strings)
        findings.check("set up", client.get("/privacy/tweestapsverificatie").text, lang, [])
        client.post("/uitloggen", data={"csrf_token": csrf_token(codes.text)})
        _set_language(client, lang)
        _login(client, username, password)
        step = client.get("/onderzoek/", follow_redirects=True)
        assert "/tweede-stap" in step.request.path
        findings.check("second step", step.text, lang, data_strings)
        refused = client.post(
            "/privacy/tweede-stap", data={"csrf_token": csrf_token(step.text), "code": "000000"}
        )
        findings.check("second step with a wrong code", refused.text, lang, data_strings)
    assert findings.problems == [], "\n".join(findings.problems)


def test_the_check_finds_a_foreign_word_but_not_inside_a_name_from_the_data() -> None:
    """The walk proves nothing unless its check sees an English word on a Dutch page; a site
    called "The Hague Office" is data, not the page's language."""
    html = "<p>Deelnemers van The Hague Office</p><p>Opslaan and verder</p><script>the</script>"
    findings = Findings()
    findings.check("/page", html, "nl", ["The Hague Office", "Hague"])
    assert [problem.split(":")[1] for problem in findings.problems] == [" nl page has 'and'"]
    clean = Findings()
    clean.check("/page", html.replace(" and ", " en "), "nl", ["The Hague Office"])
    assert clean.problems == []
