"""The read log: who looked at which participants' data, when, and with what query.

The audit trail (``services.audit``) records every *change*; a data protection officer also
asks who *read* what. Every request of a logged-in user or an API token that reads personal
data is written here by :func:`log_request` (an ``after_request`` hook, so no view can forget
it), with the participants it showed: the pages' template context and the API's JSON are
searched for participants (:func:`participants_in`), and a view may add more with
:func:`shown`. Logins and failed logins are written by :func:`log_login`.

Failing closed: when the entry cannot be written the response is replaced by a 503, so no data
leaves unlogged. The log never holds a BSN: every run of 8 or more digits in a query is masked.
Rows are append-only in the database (migration 0016_privacy); only the retention run may
delete entries older than their trial's cut-off (:func:`allow_purge_before`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request, template_rendered
from flask_login import current_user
from sqlalchemy import delete, insert, select

from fiptrial.extensions import db
from fiptrial.models import Participant, ReadLogEntry, ReadLogPurge, ReadLogSubject, Site, Trial
from fiptrial.services.paging import page_count, page_of
from fiptrial.services.transaction import unit_of_work
from fiptrial.services.users import find_user

DIGIT_RUN = re.compile(r"\d{8,}")
MASK = "[number masked]"
#: API paths whose answer's objects are participants (their ``id`` is a participant id).
PARTICIPANT_PATHS = re.compile(r"/participants(/\d+)?/?$")
MAX_JSON_BYTES = 5 * 1024 * 1024
#: Requests that read nothing personal, or that a page polls (the import status).
SKIPPED_ENDPOINTS = frozenset(
    {
        "static",
        "static_web.static",
        "index",
        "health",
        "site.import_status_json",
        "auth.language",
        "api-docs.openapi_json",
        # The figures of a page already logged (the report, the monitoring page): aggregates,
        # fetched in parallel with the page; a write per image would only slow them down.
        "research.report_figure",
        "research.monitoring_plot",
    }
)
#: POSTs that read: the export download sends its choices in a form.
READING_POSTS = frozenset({"research.download_export"})
#: Endpoint -> what it reads, for the FG's search; otherwise derived from the endpoint.
ACTIONS = {
    "site.participants": "participant.list",
    "site.participant": "participant.view",
    "manager.participant": "participant.view",
    "manager.agenda": "participant.list",
    "manager.overdue": "participant.list",
    "manager.record_conversation": "conversation.view",
    "manager.correct_conversation": "conversation.view",
    "site.allocations": "participant.list",
    "site.bulk_consent": "participant.list",
    "site.import_report": "report.view",
    "research.report": "report.view",
    "research.monitoring": "report.view",
    "research.exports": "export.view",
    "research.download_export": "export.download",
    "research.download_freeze": "export.download",
    "research.audit": "audit.view",
}
READ_ACTIONS = (
    "participant.view",
    "participant.list",
    "conversation.view",
    "export.download",
    "export.view",
    "report.view",
    "audit.view",
    "readlog.view",
    "page.view",
    "login",
    "login.failed",
    "login.second_factor",
    "login.second_factor_failed",
)


@dataclass
class Collected:
    participant_ids: set[int] = field(default_factory=set)
    trial_ids: set[int] = field(default_factory=set)
    action: str | None = None


def _collected() -> Collected:
    if "read_log" not in g:
        g.read_log = Collected()
    return g.read_log  # type: ignore[no-any-return]


def shown(participant_ids: Iterable[int], *, action: str | None = None) -> None:
    """A view says which participants it showed (added to what is found automatically)."""
    collected = _collected()
    collected.participant_ids.update(int(pid) for pid in participant_ids)
    if action:
        collected.action = action


def masked(value: Any) -> Any:
    """The value with every run of 8+ digits masked (a BSN never enters the log)."""
    if isinstance(value, str):
        return DIGIT_RUN.sub(MASK, value)
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def participants_in(value: Any, found: Collected, depth: int = 0) -> None:
    """Participants in a page's template context: Participant rows, rows with a
    ``participant_id``, and the containers (lists, dicts, dataclasses) that hold them."""
    if depth > 4 or value is None or isinstance(value, str | bytes | int | float | bool):
        return
    if isinstance(value, Participant):
        found.participant_ids.add(value.id)
        found.trial_ids.add(value.trial_id)
        return
    if hasattr(value, "_sa_instance_state"):
        # Another ORM row: its loaded participant_id only (no lazy loads of relationships).
        pid = vars(value).get("participant_id")
        if isinstance(pid, int):
            found.participant_ids.add(pid)
        return
    if isinstance(value, Mapping):
        for item in value.values():
            participants_in(item, found, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            participants_in(item, found, depth + 1)
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            participants_in(getattr(value, item.name, None), found, depth + 1)


def _json_participants(value: Any, found: Collected, participant_objects: bool) -> None:
    if isinstance(value, list):
        for item in value:
            _json_participants(item, found, participant_objects)
    elif isinstance(value, dict):
        for key, item in value.items():
            if (key == "participant_id" and isinstance(item, int)) or (
                key == "id" and participant_objects and isinstance(item, int)
            ):
                found.participant_ids.add(item)
            elif isinstance(item, list | dict):
                _json_participants(item, found, participant_objects=False)


def _template_rendered(_sender: Flask, template: Any, context: dict[str, Any], **_: Any) -> None:
    if request and request.endpoint not in SKIPPED_ENDPOINTS:
        participants_in(
            {k: v for k, v in context.items() if k not in ("g", "request", "session")},
            _collected(),
        )


def _who() -> tuple[str, str, str, int | None] | None:
    """(actor, role, channel, site id) of the request's principal, or None."""
    if request.path.startswith("/api/"):
        principal = g.get("principal")
        return (principal.actor, principal.role, "api", principal.site_id) if principal else None
    if not current_user.is_authenticated:
        return None
    p = current_user.principal
    return p.actor, p.role, "web", p.site_id


def _action(endpoint: str, found: Collected) -> str:
    if found.action:
        return found.action
    if endpoint in ACTIONS:
        return ACTIONS[endpoint]
    name = endpoint.lower()
    for word, action in (
        ("export", "export.download"),
        ("freeze", "export.download"),
        ("analysis", "report.view"),
        ("report", "report.view"),
        ("conversation", "conversation.view"),
        ("readlog", "readlog.view"),
        ("read_log", "readlog.view"),
    ):
        if word in name:
            return action
    if "participant" in name:
        return (
            "participant.view"
            if "participant_id" in (request.view_args or {})
            else ("participant.list")
        )
    return "page.view"


def _trial_of(found: Collected) -> tuple[int | None, str | None]:
    args = request.view_args or {}
    site_code = args.get("site_code")
    if site_code:
        site = db.session.execute(
            select(Site.trial_id, Site.code).where(Site.code == site_code)
        ).first()
        if site is not None:
            return site.trial_id, site.code
    trial_code = (
        args.get("trial_code") or request.values.get("trial") or request.values.get("onderzoek")
    )
    if trial_code:
        trial_id = db.session.execute(select(Trial.id).where(Trial.code == trial_code)).scalar()
        if trial_id is not None:
            return trial_id, None
    if len(found.trial_ids) == 1:
        return next(iter(found.trial_ids)), None
    if found.participant_ids:
        first = min(found.participant_ids)
        trial_id = db.session.execute(
            select(Participant.trial_id).where(Participant.id == first)
        ).scalar()
        return trial_id, None
    return None, None


def _query() -> dict[str, Any]:
    values = request.form if request.method == "POST" else request.args
    return {
        key: masked(items if len(items) > 1 else items[0])
        for key, items in values.lists()
        if key not in ("csrf_token", "password")
    }


def record(
    *,
    actor: str,
    role: str,
    action: str,
    channel: str,
    endpoint: str = "",
    path: str = "",
    query: dict[str, Any] | None = None,
    status: int = 200,
    trial_id: int | None = None,
    site: str | None = None,
    participant_ids: Iterable[int] = (),
    remote_addr: str = "",
) -> int:
    """Write one entry with its participants, in its own transaction; returns its id."""
    ids = sorted(set(participant_ids))
    with unit_of_work():
        entry = ReadLogEntry(
            recorded_at=datetime.now(UTC),
            actor=actor[:80],
            role=role[:30],
            action=action[:60],
            channel=channel,
            endpoint=endpoint[:120],
            path=masked(path)[:500],
            query=query or {},
            status=status,
            trial_id=trial_id,
            site=site,
            participants=len(ids),
            remote_addr=(remote_addr or "")[:64],
        )
        db.session.add(entry)
        db.session.flush()
        if ids:
            db.session.execute(
                insert(ReadLogSubject), [{"entry_id": entry.id, "participant_id": p} for p in ids]
            )
        return entry.id


def log_request(response: Response) -> Response:
    """``after_request``: write the entry of a request that read, or answer 503."""
    endpoint = request.endpoint or ""
    if (
        request.path.startswith(("/static/", "/inloggen"))
        or endpoint in SKIPPED_ENDPOINTS
        or endpoint.startswith("auth.")
        or (request.method != "GET" and endpoint not in READING_POSTS)
    ):
        return response
    who = _who()
    if who is None:
        return response
    actor, role, channel, _site_id = who
    found = _collected()
    if response.status_code < 400:
        for name in ("pid", "participant_id"):
            pid = (request.view_args or {}).get(name)
            if isinstance(pid, int):
                found.participant_ids.add(pid)
        if (
            channel == "api"
            and response.is_json
            and (response.content_length or 0) <= MAX_JSON_BYTES
        ):
            try:
                body = json.loads(response.get_data())
            except ValueError:
                body = None
            objects_are_participants = bool(PARTICIPANT_PATHS.search(request.path))
            _json_participants(body, found, participant_objects=objects_are_participants)
    else:
        found.participant_ids.clear()
    try:
        trial_id, site = _trial_of(found)
        record(
            actor=actor,
            role=role,
            action=_action(endpoint, found),
            channel=channel,
            endpoint=endpoint,
            path=request.path,
            query=_query(),
            status=response.status_code,
            trial_id=trial_id,
            site=site or (request.view_args or {}).get("site_code"),
            participant_ids=found.participant_ids,
            remote_addr=request.remote_addr or "",
        )
    except Exception:  # fail closed: nothing leaves that the log does not show
        db.session.rollback()
        current_app.logger.exception("read log entry could not be written")
        return Response("The read log could not be written; nothing was shown.", status=503)
    return response


def log_login(username: str, *, ok: bool, action: str | None = None) -> None:
    """A login or a refused one. An unknown user name is not stored (it may be a mistyped
    password); a known one is the account's own name."""
    user = find_user(username) if username else None
    record(
        actor=f"user:{user.username}" if user is not None else "user:(unknown)",
        role=user.role if user is not None else "",
        action=action or ("login" if ok else "login.failed"),
        channel="web",
        endpoint=request.endpoint or "" if request else "",
        path=request.path if request else "",
        status=200 if ok else 401,
        remote_addr=(request.remote_addr or "") if request else "",
    )


def _after_login_post(response: Response) -> Response:
    """Logins and failed logins, written without touching the login view: a POST to the login
    page that ends logged in is a login, any other is a failed one."""
    if request.endpoint != "auth.login" or request.method != "POST":
        return response
    if response.status_code == 413:
        return response  # refused unread (fiptrial.limits): no form, no name to log
    ok = bool(current_user.is_authenticated) and response.status_code in (302, 303)
    try:
        log_login(request.form.get("username", "").strip().lower()[:80], ok=ok)
    except Exception:
        db.session.rollback()
        current_app.logger.exception("login could not be logged")
        return Response("The read log could not be written.", status=503)
    return response


def _fresh_collection() -> None:
    """Start each request with nothing collected (an app context may outlive a request)."""
    g.read_log = Collected()


def install(app: Flask) -> None:
    """Hook the read log into every request of ``app``."""
    template_rendered.connect(_template_rendered, app)
    app.before_request(_fresh_collection)
    app.after_request(log_request)
    app.after_request(_after_login_post)


# --- Searching ---------------------------------------------------------------------------------


@dataclass
class ReadLogFilters:
    actor: str = ""
    action: str = ""
    participant_id: int | None = None
    site: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = 50


@dataclass
class ReadLogRow:
    entry: ReadLogEntry
    participant_ids: list[int]


@dataclass
class ReadLogPage:
    rows: list[ReadLogRow]
    total: int
    page: int
    pages: int


def search(filters: ReadLogFilters) -> ReadLogPage:
    """The entries matching every given filter, newest first, with their participants."""
    query = db.session.query(ReadLogEntry)
    if filters.actor:
        query = query.filter(ReadLogEntry.actor.contains(filters.actor.strip()))
    if filters.action:
        query = query.filter(ReadLogEntry.action == filters.action)
    if filters.site:
        query = query.filter(ReadLogEntry.site == filters.site)
    if filters.participant_id is not None:
        query = query.filter(
            ReadLogEntry.id.in_(
                select(ReadLogSubject.entry_id).where(
                    ReadLogSubject.participant_id == filters.participant_id
                )
            )
        )
    if filters.since is not None:
        query = query.filter(ReadLogEntry.recorded_at >= filters.since)
    if filters.until is not None:
        query = query.filter(ReadLogEntry.recorded_at < filters.until)
    size = max(1, min(filters.page_size, 500))
    pagination = page_of(query.order_by(ReadLogEntry.id.desc()), filters.page, size)
    entries = list(pagination.items)
    subjects: dict[int, list[int]] = {entry.id: [] for entry in entries}
    if entries:
        for entry_id, pid in db.session.execute(
            select(ReadLogSubject.entry_id, ReadLogSubject.participant_id)
            .where(ReadLogSubject.entry_id.in_(list(subjects)))
            .order_by(ReadLogSubject.entry_id, ReadLogSubject.participant_id)
        ):
            subjects[entry_id].append(pid)
    return ReadLogPage(
        [ReadLogRow(e, subjects[e.id]) for e in entries],
        pagination.total or 0,
        pagination.page,
        page_count(pagination),
    )


# --- Retention ---------------------------------------------------------------------------------


def allow_purge_before(trial_id: int | None, moment: datetime) -> None:
    """Move the trial's purge cut-off forward (never back); inside the caller's transaction."""
    key = trial_id or 0
    row = db.session.query(ReadLogPurge).filter_by(trial_key=key).one_or_none()
    if row is None:
        db.session.add(ReadLogPurge(trial_key=key, purge_before=moment))
    else:
        current = (
            row.purge_before if row.purge_before.tzinfo else row.purge_before.replace(tzinfo=UTC)
        )
        if moment > current:
            row.purge_before = moment
    db.session.flush()


def purge(trial_id: int | None, before: datetime) -> int:
    """Delete the trial's entries older than ``before`` (inside the caller's transaction;
    :func:`allow_purge_before` first, or the triggers refuse). Returns how many."""
    trial_filter = (
        ReadLogEntry.trial_id.is_(None) if trial_id is None else ReadLogEntry.trial_id == trial_id
    )
    old = select(ReadLogEntry.id).where(trial_filter, ReadLogEntry.recorded_at < before)
    db.session.execute(delete(ReadLogSubject).where(ReadLogSubject.entry_id.in_(old)))
    result = db.session.execute(
        delete(ReadLogEntry).where(trial_filter, ReadLogEntry.recorded_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
