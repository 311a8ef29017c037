"""The data protection officer's pages (issue 16): the read log, and (with the research admin)
the privacy facts of the platform. Access as everywhere: ``services.access``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask_babel import lazy_gettext as _l

from fiptrial.extensions import db
from fiptrial.models import Site
from fiptrial.services import readlog
from fiptrial.web.common import install_error_pages, requires
from fiptrial.web.forms import parse_dutch_date

READ_ACTION_LABELS = {
    "participant.view": _l("deelnemer bekeken"),
    "participant.list": _l("lijst met deelnemers bekeken"),
    "conversation.view": _l("gesprek bekeken"),
    "export.download": _l("export gedownload"),
    "export.view": _l("exportpagina bekeken"),
    "report.view": _l("rapport bekeken"),
    "audit.view": _l("audittrail bekeken"),
    "readlog.view": _l("leeslog bekeken"),
    "page.view": _l("pagina bekeken"),
    "login": _l("ingelogd"),
    "login.failed": _l("inloggen mislukt"),
    "login.second_factor": _l("tweede stap gelukt"),
    "login.second_factor_failed": _l("tweede stap mislukt"),
}

bp = Blueprint("privacy", __name__, template_folder="templates", url_prefix="/privacy")
install_error_pages(bp)


def _moment(text: str, *, end: bool = False) -> datetime | None:
    day = parse_dutch_date(text) if text else None
    if day is None:
        return None
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def read_log_filters(args: Any) -> tuple[readlog.ReadLogFilters, list[str]]:
    """The search's filters from a query string, and what in it could not be read."""
    problems = []
    pid_text = args.get("deelnemer", "").strip()
    participant_id = int(pid_text) if pid_text.isdigit() and len(pid_text) < 8 else None
    if pid_text and participant_id is None:
        problems.append("deelnemer")
    since, until = _moment(args.get("van", "")), _moment(args.get("tot", ""), end=True)
    for name, value in (("van", since), ("tot", until)):
        if args.get(name) and value is None:
            problems.append(name)
    action = args.get("wat", "")
    return readlog.ReadLogFilters(
        actor=args.get("wie", "")[:80],
        action=action if action in readlog.READ_ACTIONS else "",
        participant_id=participant_id,
        site=args.get("locatie", "")[:40],
        since=since,
        until=until,
        page=args.get("pagina", 1, type=int) or 1,
    ), problems


@bp.get("/leeslog")
@requires("readlog.read")
def read_log() -> Any:
    """Who read what: searchable by person, kind of read, participant, site and period."""
    filters, problems = read_log_filters(request.args)
    page = readlog.search(filters)
    args = {key: value for key, value in request.args.items() if value and key != "pagina"}
    status = 422 if problems else 200
    return render_template(
        "privacy/read_log.html",
        page=page,
        filters=filters,
        problems=problems,
        args=args,
        actions=READ_ACTION_LABELS,
        site_names={site.code: site.name for site in db.session.query(Site)},
    ), status


def register_privacy(app: Flask) -> None:
    """The read log's hooks and the privacy pages."""
    readlog.install(app)
    app.register_blueprint(bp)
