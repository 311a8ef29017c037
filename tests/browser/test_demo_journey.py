"""A newcomer's first look at the three-year demo, in Chromium with JavaScript on.

A server of its own (the other journeys share the small one-day demo): ``fiptrial demo``'s
story at a small size (``played_story``), on its own copy of the story's SQLite database. The
analyst opens the pooled report, the research admin the monitoring and fidelity of Brabantse
Wal, the coordinator an import report; each page must show its figures (images that loaded)
and its numbers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def _browser_support(config: pytest.Config) -> Any:
    """tests/browser/conftest.py as pytest loaded it: its plugin manager holds every conftest,
    while ``sys.modules["conftest"]`` (and ``import conftest``) may be another directory's."""
    here = str(Path(__file__).with_name("conftest.py"))
    return next(
        p for p in config.pluginmanager.get_plugins() if getattr(p, "__file__", None) == here
    )


@pytest.fixture(scope="module")
def demo_server(
    tmp_path_factory: pytest.TempPathFactory, played_story: Any, pytestconfig: pytest.Config
) -> Iterator[Any]:
    from werkzeug.serving import make_server

    app = played_story.app(tmp_path_factory.mktemp("demo-browser"))
    with app.app_context():
        from fiptrial.extensions import db
        from fiptrial.models import ImportBatch, Site

        site = db.session.query(Site).filter_by(code="brabantse_wal").one()
        batch = (
            db.session.query(ImportBatch)
            .filter_by(site_id=site.id, kind="outcomes")
            .order_by(ImportBatch.id.desc())
            .first()
        )
        assert batch is not None
        ids = {"batch": batch.id}
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        yield _browser_support(pytestconfig).LiveServer(url, app, [], ids)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def demo_journey(chromium: Any, demo_server: Any, pytestconfig: pytest.Config) -> Iterator[Any]:
    journeys: list[Any] = []

    def start(name: str) -> Any:
        j = _browser_support(pytestconfig).Journey(chromium, demo_server, name)
        # The pooled report of three years is computed on the first request: on this shared
        # machine that can take longer than the other journeys' 15 seconds.
        j.page.set_default_timeout(90_000)
        j.page.set_default_navigation_timeout(90_000)
        journeys.append(j)
        return j

    yield start
    for j in journeys:
        j.finish()
        assert not [e for e in j.console_errors if "Content Security Policy" in e]


def images_loaded(page: Any, selector: str) -> list[int]:
    """The natural widths of the page's images (0 for an image that did not load)."""
    page.wait_for_load_state("networkidle")
    return page.eval_on_selector_all(
        selector, "els => els.map(e => e.complete ? e.naturalWidth : 0)"
    )


def test_the_demo_report_monitoring_fidelity_and_import_report(demo_journey: Any) -> None:
    analyst = demo_journey("demo-report")
    analyst.login("analist")
    analyst.go("/onderzoek/rapport")
    page = analyst.page
    assert "synthetische demogegevens" in page.content()
    widths = images_loaded(page, "img.report-plot")
    assert len(widths) >= 5 and all(w > 100 for w in widths), widths  # CONSORT ... forest
    # The exits per arm: both arms have participants and exits after three years.
    table = page.locator("table", has_text="Uitstroom per groep binnen de follow-up")
    rows = table.first.locator("tbody tr")
    assert rows.count() == 2
    for i in range(2):
        cells = rows.nth(i).locator("td").all_inner_texts()
        n, exits = (int(re.sub(r"\D", "", text) or 0) for text in cells[1:3])
        assert n > 0 and exits > 0, cells
    primary = page.locator("p.primary").all_inner_texts()  # the estimates with their intervals
    assert primary and all(re.search(r"\d", text) for text in primary), primary
    assert page.locator("section, h2").count() > 8  # the plan's sections: HR, costs, managers

    admin = demo_journey("demo-monitoring")
    admin.login("admin")
    admin.go("/onderzoek/monitoring/brabantse_wal")
    page = admin.page
    assert images_loaded(page, "img.plot")[0] > 100  # enrolment per month and balance
    fidelity = page.get_by_role("heading", name=re.compile("fideliteit"))
    assert fidelity.is_visible()
    held, planned = (
        int(re.sub(r"\D", "", part) or 0)
        for part in page.locator(".card", has_text="gesprekken gehouden / gepland")
        .locator(".figure")
        .inner_text()
        .split("/")
    )
    assert planned > 100 and 0 < held <= planned, (held, planned)  # three years of talks
    managers = page.get_by_role("region", name="Per klantmanager").locator("tbody tr")
    assert managers.count() >= 2  # the pilot's two client managers
    figures = managers.first.locator("td.num").all_inner_texts()
    assert int(re.sub(r"\D", "", figures[0])) > 0 and int(re.sub(r"\D", "", figures[1])) > 0

    coordinator = demo_journey("demo-import-report")
    coordinator.login("coordinator")
    coordinator.go(f"/locatie/brabantse_wal/bestanden/{admin.server.ids['batch']}")
    page = coordinator.page
    assert page.get_by_role("heading", name=re.compile("Verslag: uitkomstbestand")).is_visible()
    counts = page.locator("table", has_text="Onderdeel").locator("td.num").all_inner_texts()
    assert counts and int(re.sub(r"\D", "", counts[0])) > 100, counts  # rows read
    coordinator.go("/locatie/brabantse_wal/bestanden")
    listed = coordinator.page.locator("a[href*='/bestanden/']").count()
    assert listed == 20, listed  # the page lists the latest ten of each kind: both full
