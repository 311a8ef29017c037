"""The client manager's pages: agenda, overdue list, participant history, quick conversation form.

They sit on the conversations back end (issue 5). A client manager sees only their own caseload:
participants are loaded through ``access.visible_participant``, which asks the caseload rule.
The quick form is meant for the minute after a talk: today's date and the planned length are
filled in, life domains are checkboxes, and only what happened needs a click.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import date, timedelta
from importlib import resources
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from fiptrial.errors import PlatformError
from fiptrial.services import access, conversations, planning
from fiptrial.web.common import (
    apply_service_error,
    dutch_message,
    install_error_pages,
    principal,
    requires,
)
from fiptrial.web.forms import ConversationEntryForm, parse_dutch_date
from fiptrial.web.queries import conversation_history, overdue_conversations

bp = Blueprint("manager", __name__, template_folder="templates", url_prefix="/klantmanager")
install_error_pages(bp)

GROUPS = (
    "domains",
    "agreements",
    "agreement_followups",
    "interventions_started",
    "interventions_ended",
)
AGREEMENT_ROWS = 3
INTERVENTION_ROWS = 2
RESPONSIBLE_LABELS = {
    "client": _l("cliënt"),
    "client_manager": _l("klantmanager"),
    "other": _l("iemand anders"),
}
STATUS_LABELS = {
    "planned": _l("gepland"),
    "overdue": _l("achterstallig"),
    "held": _l("gehouden"),
    "missed": _l("niet doorgegaan"),
    "cancelled": _l("vervallen"),
}


def _labels(filename: str) -> dict[str, str]:
    """Code -> label in the page's language, from the platform's data files."""
    text = resources.files("fiptrial.data").joinpath(filename).read_text(encoding="utf-8")
    column = "label_en" if str(get_locale() or "nl").startswith("en") else "label_nl"
    return {row["code"]: row[column] for row in csv.DictReader(text.splitlines())}


def life_domain_labels() -> dict[str, str]:
    return _labels("life_domains.csv")


def intervention_labels() -> dict[str, str]:
    return _labels("intervention_types.csv")


@bp.get("/agenda")
@requires("plan.read")
def agenda() -> Any:
    today = date.today()
    monday = today - timedelta(days=today.weekday())
    rows = planning.agenda(principal().user_id or 0, monday, monday + timedelta(days=13))
    return render_template(
        "manager/agenda.html",
        today=today,
        rows=rows,
        week_end=monday + timedelta(days=6),
        status_labels=STATUS_LABELS,
    )


@bp.get("/achterstand")
@requires("plan.read")
def overdue() -> Any:
    rows = overdue_conversations(principal().user_id, date.today())
    return render_template("manager/overdue.html", rows=rows, status_labels=STATUS_LABELS)


@bp.get("/deelnemer/<int:pid>")
@requires("conversation.read")
def participant(pid: int) -> Any:
    person = access.visible_participant(principal(), pid)
    return render_template(
        "manager/participant.html",
        person=person,
        status_labels=STATUS_LABELS,
        responsible=RESPONSIBLE_LABELS,
        domain_labels=life_domain_labels(),
        intervention_types=intervention_labels(),
        **conversation_history(person),
    )


def conversation_data(
    form: ConversationEntryForm, values: Mapping[str, str], errors: dict[str, list[str]]
) -> dict[str, Any]:
    """The service's record from the form: fixed fields plus the repeated rows."""
    held_on = form.held_on.data
    data: dict[str, Any] = {
        "date": held_on,
        "status": form.status.data,
        "duration_minutes": form.duration_minutes.data,
        "missed_reason": form.missed_reason.data or None,
        "notes": (form.notes.data or "").strip() or None,
        "domains": [],
        "agreements": [],
        "agreement_followups": [],
        "interventions_started": [],
        "interventions_ended": [],
    }
    for domain in conversations.life_domains():
        if values.get(f"domain-{domain}"):
            moved = values.get(f"moved-{domain}", "")
            data["domains"].append(
                {"domain": domain, "moved_forward": {"ja": True, "nee": False}.get(moved)}
            )
    for n in range(AGREEMENT_ROWS):
        text = values.get(f"agreement-{n}-description", "").strip()
        if not text:
            continue
        due_text = values.get(f"agreement-{n}-due", "").strip()
        due = parse_dutch_date(due_text) if due_text else None
        if due_text and due is None:
            errors.setdefault("agreements", []).append(
                _("Schrijf de datum van afspraak %(n)s als dd-mm-jjjj.", n=n + 1)
            )
        data["agreements"].append(
            {
                "description": text[:2000],
                "due_on": due,
                "responsible": values.get(f"agreement-{n}-responsible", "client"),
            }
        )
    for key, value in values.items():
        if key.startswith("followup-") and value in ("ja", "nee"):
            data["agreement_followups"].append(
                {"agreement_id": int(key.split("-")[1]), "kept": value == "ja"}
            )
        if key.startswith("end-intervention-") and value and held_on:
            data["interventions_ended"].append(
                {"intervention_id": int(key.rsplit("-", 1)[1]), "end": held_on}
            )
    for n in range(INTERVENTION_ROWS):
        kind = values.get(f"intervention-{n}-type", "")
        if kind and held_on:
            data["interventions_started"].append(
                {
                    "type": kind,
                    "start": held_on,
                    "provider": values.get(f"intervention-{n}-provider", "").strip()[:200] or None,
                }
            )
    return data


@bp.route("/deelnemer/<int:pid>/gesprek", methods=["GET", "POST"])
@requires("conversation.record")
def record_conversation(pid: int) -> Any:
    person = access.visible_participant(principal(), pid)
    history = conversation_history(person)
    form = ConversationEntryForm()
    group_errors: dict[str, list[str]] = {}
    if not form.is_submitted():
        form.held_on.data = date.today()
        upcoming = history["next_planned"]
        form.duration_minutes.data = upcoming.minutes if upcoming else 45
    if form.validate_on_submit():
        data = conversation_data(form, request.form, group_errors)
        if not group_errors:
            try:
                conversations.record(person, data, actor=principal().actor)
            except PlatformError as error:
                for name, messages in error.fields.items():
                    if name in GROUPS:
                        group_errors.setdefault(name, []).extend(map(dutch_message, messages))
                if not group_errors:
                    apply_service_error(form, error, {"date": "held_on"})
            else:
                flash(_("Het gesprek is opgeslagen."), "success")
                return redirect(url_for(".participant", pid=pid))
    status = 422 if form.errors or form.form_errors or group_errors else 200
    return render_template(
        "manager/conversation.html",
        person=person,
        form=form,
        group_errors=group_errors,
        domains=life_domain_labels(),
        intervention_types=intervention_labels(),
        agreement_rows=range(AGREEMENT_ROWS),
        intervention_rows=range(INTERVENTION_ROWS),
        responsible=RESPONSIBLE_LABELS,
        values=request.form,
        **history,
    ), status
