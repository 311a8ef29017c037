"""The client manager's pages: agenda, overdue list, participant history, quick conversation form.

They sit on the conversations back end (``services.conversations``, ``services.planning``).
A client manager sees only their own caseload: participants are loaded through
``access.visible_participant``, which asks the caseload rule.
The quick form is meant for the minute after a talk: today's date and the planned length are
filled in, life domains are checkboxes, and only what happened needs a click.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from fiptrial.errors import NotFound, PlatformError
from fiptrial.models import Participant, PlannedConversation
from fiptrial.models.conversations import OPEN_STATUSES
from fiptrial.services import access, conversations, planning, timeslots, trials
from fiptrial.services.conversation_reads import (
    conversation_history,
    overdue_conversations,
    planned_conversation,
)
from fiptrial.timezone import local_today
from fiptrial.web import messages
from fiptrial.web.common import (
    apply_service_error,
    form_status,
    install_error_pages,
    principal,
    requires,
)
from fiptrial.web.formatting import intervention_labels, life_domain_labels
from fiptrial.web.forms import (
    AGREEMENT_ROWS,
    INTERVENTION_ROWS,
    ConversationEntryForm,
    CorrectionForm,
    EndInterventionForm,
    MoveForm,
    options,
    parse_dutch_date,
)

bp = Blueprint("manager", __name__, template_folder="templates", url_prefix="/klantmanager")
install_error_pages(bp)

GROUPS = (
    "domains",
    "agreements",
    "agreement_followups",
    "interventions_started",
    "interventions_ended",
)
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


def _times(rows: list[PlannedConversation]) -> dict[int, str]:
    return timeslots.times_for(rows, trials.trials_by_site())


@bp.get("/agenda")
@requires("plan.read")
def agenda() -> Any:
    today = local_today()
    monday = today - timedelta(days=today.weekday())
    rows = planning.agenda(principal().user_id or 0, monday, monday + timedelta(days=13))
    times = _times(rows)
    rows = sorted(rows, key=lambda r: (r.planned_date, times.get(r.id, ""), r.id))
    return render_template(
        "manager/agenda.html",
        today=today,
        rows=rows,
        times=times,
        week_end=monday + timedelta(days=6),
        status_labels=STATUS_LABELS,
    )


@bp.get("/achterstand")
@requires("plan.read")
def overdue() -> Any:
    rows = overdue_conversations(principal().user_id, local_today())
    return render_template(
        "manager/overdue.html", rows=rows, times=_times(rows), status_labels=STATUS_LABELS
    )


@bp.get("/deelnemer/<int:pid>")
@requires("conversation.read")
def participant(pid: int) -> Any:
    person = access.visible_participant(principal(), pid)
    return _render_participant(person)


def _render_participant(
    person: Any,
    *,
    move: tuple[int, MoveForm] | None = None,
    end: tuple[int, EndInterventionForm] | None = None,
    status: int = 200,
) -> Any:
    history = conversation_history(person)
    open_plan = [p for p in history["plan"] if p.status in OPEN_STATUSES]
    move_forms = {}
    for planned in open_plan:
        form = move[1] if move and move[0] == planned.id else MoveForm(prefix=f"move-{planned.id}")
        form.start_time.choices = options(
            [("", _("eerste vrije tijd"))] + [(t, t) for t in timeslots.grid(person.trial)]
        )
        move_forms[planned.id] = form
    end_forms = {}
    for intervention in history["running_interventions"]:
        form = (
            end[1]
            if end and end[0] == intervention.id
            else EndInterventionForm(prefix=f"end-{intervention.id}")
        )
        if not form.is_submitted():
            form.end.data = local_today()
        end_forms[intervention.id] = form
    return render_template(
        "manager/participant.html",
        person=person,
        status_labels=STATUS_LABELS,
        responsible=RESPONSIBLE_LABELS,
        domain_labels=life_domain_labels(),
        intervention_types=intervention_labels(),
        times=_times(history["plan"]),
        move_forms=move_forms,
        end_forms=end_forms,
        corrections=conversations.corrections_of(person.id),
        correction_reasons=messages.CORRECTION_REASONS,
        **history,
    ), status


@bp.post("/deelnemer/<int:pid>/gesprek/<int:planned_id>/verplaatsen")
@requires("conversation.record")
def move(pid: int, planned_id: int) -> Any:
    """Move a planned conversation to another day (and time), with a reason."""
    person = access.visible_participant(principal(), pid)
    planned = planned_conversation(person.id, planned_id=planned_id)
    if planned is None:
        raise NotFound(f"planned conversation {planned_id} does not exist")
    form = MoveForm(prefix=f"move-{planned_id}")
    form.start_time.choices = options([("", "")] + [(t, t) for t in timeslots.grid(person.trial)])
    if form.validate_on_submit() and form.new_date.data is not None:
        try:
            moved = planning.move_conversation(
                planned_id,
                form.new_date.data,
                actor=principal().actor,
                reason=form.reason.data,
                start_time=form.start_time.data or None,
            )
        except PlatformError as error:
            apply_service_error(form, error, {"date": "new_date", "time": "start_time"})
        else:
            flash(
                _(
                    "Gesprek %(n)s is verplaatst naar %(d)s om %(t)s.",
                    n=moved.sequence,
                    d=moved.planned_date.strftime("%d-%m-%Y"),
                    t=_times([moved]).get(moved.id, "–"),
                ),
                "success",
            )
            return redirect(url_for(".participant", pid=pid) + "#planning")
    return _render_participant(person, move=(planned_id, form), status=422)


@bp.post("/deelnemer/<int:pid>/interventie/<int:intervention_id>/beeindigen")
@requires("conversation.record")
def end_intervention(pid: int, intervention_id: int) -> Any:
    person = access.visible_participant(principal(), pid)
    form = EndInterventionForm(prefix=f"end-{intervention_id}")
    if form.validate_on_submit() and form.end.data is not None:
        try:
            conversations.end_intervention(
                person, intervention_id, form.end.data, actor=principal().actor
            )
        except PlatformError as error:
            apply_service_error(form, error)
        else:
            flash(_("De interventie is beëindigd."), "success")
            return redirect(url_for(".participant", pid=pid) + "#interventies")
    return _render_participant(person, end=(intervention_id, form), status=422)


def domain_rows(values: Mapping[str, str], errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The ticked life domains with their progress; progress on an unticked one is refused
    (it was silently dropped before)."""
    rows = []
    for domain in conversations.life_domains():
        moved = values.get(f"moved-{domain}", "")
        if values.get(f"domain-{domain}"):
            rows.append({"domain": domain, "moved_forward": {"ja": True, "nee": False}.get(moved)})
        elif moved in ("ja", "nee"):
            errors.setdefault("domains", []).append(
                messages.message("progress_without_domain", {"domain": domain})
            )
    return rows


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
    data["domains"] = domain_rows(values, errors)
    for n, entry in enumerate(form.agreement.entries):
        row = entry.form
        text = (row.description.data or "").strip()
        if not text:
            continue
        due_text = (row.due.data or "").strip()
        due = parse_dutch_date(due_text) if due_text else None
        if due_text and due is None:
            errors.setdefault("agreements", []).append(
                messages.message("agreement_date_invalid", {"number": n + 1})
            )
        data["agreements"].append(
            {
                "description": text[:2000],
                "due_on": due,
                "responsible": row.responsible.data,
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
    for entry in form.intervention.entries:
        row = entry.form
        if row.type.data and held_on:
            data["interventions_started"].append(
                {
                    "type": row.type.data,
                    "start": held_on,
                    "provider": (row.provider.data or "").strip()[:200] or None,
                }
            )
    return data


def _conversation_page(
    template: str,
    person: Participant,
    form: ConversationEntryForm,
    group_errors: dict[str, list[str]],
    values: Mapping[str, str],
    **context: Any,
) -> tuple[str, int]:
    """The quick form and its correction show the same conversation form (the macros
    ``conversation_form`` and ``domain_rows``): this is what it needs, beside the page's own."""
    status = form_status(form, group_errors)
    return render_template(
        template,
        person=person,
        form=form,
        group_errors=group_errors,
        domains=life_domain_labels(),
        values=values,
        **context,
    ), status


@bp.route("/deelnemer/<int:pid>/gesprek", methods=["GET", "POST"])
@requires("conversation.record")
def record_conversation(pid: int) -> Any:
    person = access.visible_participant(principal(), pid)
    history = conversation_history(person)
    form = ConversationEntryForm()
    group_errors: dict[str, list[str]] = {}
    if not form.is_submitted():
        form.held_on.data = local_today()
        upcoming = history["next_planned"]
        form.duration_minutes.data = upcoming.minutes if upcoming else 45
    if form.validate_on_submit():
        data = conversation_data(form, request.form, group_errors)
        if not group_errors:
            try:
                conversations.record(person, data, actor=principal().actor)
            except PlatformError as error:
                group = next((name for name in error.fields if name in GROUPS), None)
                if group is not None:
                    group_errors.setdefault(group, []).append(messages.error_text(error))
                else:
                    apply_service_error(form, error, {"date": "held_on"})
            else:
                flash(_("Het gesprek is opgeslagen."), "success")
                return redirect(url_for(".participant", pid=pid))
    return _conversation_page(
        "manager/conversation.html",
        person,
        form,
        group_errors,
        request.form,
        intervention_types=intervention_labels(),
        agreement_rows=range(AGREEMENT_ROWS),
        intervention_rows=range(INTERVENTION_ROWS),
        responsible=RESPONSIBLE_LABELS,
        **history,
    )


@bp.route("/deelnemer/<int:pid>/gesprek/<int:record_id>/corrigeren", methods=["GET", "POST"])
@requires("conversation.record")
def correct_conversation(pid: int, record_id: int) -> Any:
    """Put a wrongly recorded conversation right, or delete it; both need a reason."""
    person = access.visible_participant(principal(), pid)
    row = next((r for r in conversations.records(person) if r.id == record_id), None)
    if row is None:
        raise NotFound(f"conversation record {record_id} does not exist")
    form = CorrectionForm()
    group_errors: dict[str, list[str]] = {}
    if not form.is_submitted():
        form.held_on.data = row.held_on
        form.status.data = row.status
        form.duration_minutes.data = row.duration_minutes
        form.missed_reason.data = row.missed_reason or ""
        form.notes.data = row.notes or ""
        values: Mapping[str, str] = {
            **{f"domain-{d.domain}": "1" for d in row.domains},
            **{
                f"moved-{d.domain}": ""
                if d.moved_forward is None
                else ("ja" if d.moved_forward else "nee")
                for d in row.domains
            },
        }
    else:
        values = request.form
    if form.validate_on_submit():
        domains = domain_rows(request.form, group_errors)
        try:
            if form.delete.data:
                conversations.delete_record(
                    person,
                    record_id,
                    reason=form.reason.data,
                    reason_text=form.reason_text.data,
                    actor=principal().actor,
                )
            elif not group_errors:
                conversations.correct_record(
                    person,
                    record_id,
                    {
                        "date": form.held_on.data,
                        "status": form.status.data,
                        "duration_minutes": form.duration_minutes.data,
                        "missed_reason": form.missed_reason.data or None,
                        "notes": (form.notes.data or "").strip() or None,
                        "domains": domains,
                    },
                    reason=form.reason.data,
                    reason_text=form.reason_text.data,
                    actor=principal().actor,
                )
        except PlatformError as error:
            if "domains" in error.fields:
                group_errors.setdefault("domains", []).append(messages.error_text(error))
            else:
                apply_service_error(form, error, {"date": "held_on"})
        else:
            if not group_errors:
                flash(
                    _("Het gesprek is verwijderd.")
                    if form.delete.data
                    else _("De correctie is opgeslagen."),
                    "success",
                )
                return redirect(url_for(".participant", pid=pid))
    return _conversation_page("manager/correct.html", person, form, group_errors, values, row=row)
