"""The site coordinator's pages: participants, registration, consent, randomisation, imports.

An uploaded export is imported in the background (:mod:`fiptrial.services.import_tasks`): the
upload answers at once with a status page that follows the import and moves on to its report.

Every URL names its site; :func:`load_site` resolves it through ``access.visible_site``, so a
coordinator who types another site's code gets the same 404 as for a site that does not exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from fiptrial.errors import Forbidden, NotFound, PlatformError
from fiptrial.models import Site
from fiptrial.services import (
    access,
    caseload,
    consent,
    import_tasks,
    lottery,
    randomisation,
    trials,
)
from fiptrial.services import imports as import_service
from fiptrial.services import participants as participant_service
from fiptrial.services.conversation_reads import open_conversations_from
from fiptrial.services.pseudonyms import normalise_bsn, pseudonymise
from fiptrial.services.site_reads import (
    ParticipantFilters,
    active_staff,
    consent_versions,
    followup_rounds,
    list_participants,
    site_allocations,
    site_import_batch,
)
from fiptrial.services.spells import participant_spells
from fiptrial.timezone import local_today
from fiptrial.web import messages
from fiptrial.web.common import (
    apply_service_error,
    install_error_pages,
    principal,
    render_form,
    requested_page,
    requires,
)
from fiptrial.web.formatting import municipality_name
from fiptrial.web.forms import (
    ArrivalsForm,
    BulkConsentForm,
    ClearTaskForm,
    CohortForm,
    ParticipantForm,
    UploadForm,
    WithdrawalForm,
    options,
)
from fiptrial.web.forms import ConsentForm as ConsentEntryForm

bp = Blueprint("site", __name__, template_folder="templates", url_prefix="/locatie/<site_code>")
install_error_pages(bp)

# Client managers work from their own caseload (agenda, participant page), not the site lists.
SITE_LIST_ROLES = (access.ADMIN, access.COORDINATOR, access.ANALYST)


def load_site(site_code: str) -> Site:
    return access.visible_site(principal(), trials.get_site(site_code))


def site_page(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``requires(action)``, the site lists' roles, and the site resolved for the principal."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(site_code: str, **kwargs: Any) -> Any:
            if principal().role not in SITE_LIST_ROLES:
                raise Forbidden("site lists are for coordinators and the research team")
            return view(load_site(site_code), **kwargs)

        return requires(action)(wrapper)

    return decorate


@bp.get("/deelnemers")
@site_page("participant.list")
def participants(site: Site) -> Any:
    filters = ParticipantFilters(
        query=request.args.get("q", "")[:64],
        arm=request.args.get("arm", ""),
        eligible=request.args.get("geschikt", ""),
        consent=request.args.get("toestemming", ""),
        page=requested_page(request.args),
    )
    pseudonym, search_error = None, None
    digits = filters.query.replace(" ", "").replace(".", "")
    if digits.isdigit() and len(digits) >= 8:
        try:
            pseudonym = pseudonymise(site.trial.code, normalise_bsn(digits, field="q"))
        except PlatformError:
            search_error = _("Dit is geen geldig BSN (9 cijfers die voldoen aan de elfproef).")
            pseudonym = ""
    page = list_participants(site, filters, pseudonym_for_bsn=pseudonym)
    if pseudonym is not None:  # a BSN (or a try at one) is never echoed into the page or links
        filters = dataclasses.replace(filters, query="")
    return render_template(
        "site/participants.html", site=site, page=page, filters=filters, search_error=search_error
    )


@bp.route("/deelnemers/nieuw", methods=["GET", "POST"])
@site_page("participant.register")
def register(site: Site) -> Any:
    form = ParticipantForm()
    form.municipality.choices = options(
        [("", _("— kies —"))] + [(m, municipality_name(m)) for m in site.municipalities]
    )
    if form.validate_on_submit():
        data = {
            "bsn": form.bsn.data,
            "birth_date": form.birth_date.data,
            "sex": form.sex.data,
            "benefit_start": form.benefit_start.data,
            "municipality": form.municipality.data or None,
            "registered_on": form.registered_on.data or local_today(),
        }
        try:
            participant = participant_service.register(site, data, actor=principal().actor)
        except PlatformError as error:
            apply_service_error(form, error, default_field="bsn")
        else:
            flash(_("Deelnemer %(id)s is ingeschreven.", id=participant.id), "success")
            return redirect(url_for(".participant", site_code=site.code, pid=participant.id))
    if form.is_submitted():
        form.bsn.data = ""  # a refused form never sends the BSN back into the page
    return render_form("site/register.html", form, site=site)


def _site_participant(site: Site, pid: int) -> Any:
    participant = access.visible_participant(principal(), pid)
    if participant.site_id != site.id:
        raise NotFound(f"participant {pid} does not exist")
    return participant


def _consent_versions(site: Site) -> list[tuple[str, str]]:
    return [(version, version) for version in consent_versions(site)]


def _consent_form(site: Site) -> ConsentEntryForm:
    form = ConsentEntryForm(prefix="consent")
    form.version.choices = options(_consent_versions(site))
    if not form.is_submitted():
        form.on.data = local_today()
    return form


def _withdrawal_form() -> WithdrawalForm:
    form = WithdrawalForm(prefix="withdraw")
    if not form.is_submitted():
        form.on.data = local_today()
    return form


@bp.get("/deelnemers/<int:pid>")
@site_page("participant.read")
def participant(site: Site, pid: int) -> Any:
    return _render_participant(site, _site_participant(site, pid))


def _render_participant(
    site: Site,
    person: Any,
    form: ConsentEntryForm | None = None,
    withdrawal: WithdrawalForm | None = None,
    status: int = 200,
) -> Any:
    allocation = randomisation.existing_allocation(person.id)
    return render_template(
        "site/participant.html",
        site=site,
        person=person,
        allocation=allocation,
        age_at_allocation=randomisation.age_at_allocation(person) if allocation else None,
        consent_events=consent.history(person),
        consent_state=consent.current_state(person),
        form=form or _consent_form(site),
        withdrawal=withdrawal or _withdrawal_form(),
        spells=participant_spells(person),
        reasons=[
            messages.label(messages.ELIGIBILITY_REASONS, r) for r in person.ineligible_reasons
        ],
    ), status


@bp.post("/deelnemers/<int:pid>/toestemming")
@site_page("consent.record")
def record_consent(site: Site, pid: int) -> Any:
    person = _site_participant(site, pid)
    form = _consent_form(site)
    if form.validate_on_submit() and form.on.data is not None:
        try:
            consent.record(
                person,
                status=form.status.data,
                version=form.version.data,
                on=form.on.data,
                actor=principal().actor,
            )
        except PlatformError as error:
            apply_service_error(form, error, {"date": "on"})
        else:
            flash(_("Toestemming is vastgelegd."), "success")
            return redirect(url_for(".participant", site_code=site.code, pid=pid))
    return _render_participant(site, person, form=form, status=422)


@bp.post("/deelnemers/<int:pid>/intrekken")
@site_page("consent.record")
def withdraw(site: Site, pid: int) -> Any:
    """Step one shows what a withdrawal means; step two (confirmed) records it."""
    person = _site_participant(site, pid)
    form = _withdrawal_form()
    state = consent.current_state(person)
    if not form.validate_on_submit() or form.on.data is None:
        return _render_participant(site, person, withdrawal=form, status=422)
    if state.status != "given":
        # Refuse before asking to confirm: only consent given can be withdrawn.
        form.on.errors = [messages.message("withdrawal_without_consent")]
        return _render_participant(site, person, withdrawal=form, status=422)
    if form.confirmed.data and not form.confirm.data:
        form.confirm.errors = [_("Vink aan dat u de toestemming definitief wilt intrekken.")]
    elif form.confirmed.data:
        try:
            consent.record(
                person,
                status="withdrawn",
                version=state.version or "",
                on=form.on.data,
                actor=principal().actor,
            )
        except PlatformError as error:
            apply_service_error(form, error, {"date": "on"}, default_field="on")
            return _render_participant(site, person, withdrawal=form, status=422)
        flash(
            _(
                "De toestemming van deelnemer %(id)s is ingetrokken per %(d)s.",
                id=person.id,
                d=form.on.data.strftime("%d-%m-%Y"),
            ),
            "success",
        )
        return redirect(url_for(".participant", site_code=site.code, pid=pid))
    allocation = randomisation.existing_allocation(person.id)
    return render_template(
        "site/withdraw_confirm.html",
        site=site,
        person=person,
        form=form,
        in_fip=allocation is not None and allocation.arm == "fip",
        conversations=open_conversations_from(person.id, form.on.data),
    ), (422 if form.errors else 200)


def _staff_choices(site: Site) -> list[tuple[str, str]]:
    """Who can have collected the forms: the site's coordinators and client managers."""
    staff = active_staff(site)
    return [("", _("— kies —"))] + [
        (f"user:{u.username}", u.display_name or u.username) for u in staff
    ]


@bp.route("/toestemming", methods=["GET", "POST"])
@site_page("consent.record")
def bulk_consent(site: Site) -> Any:
    """Paper consent forms for many clients at once: each an individual consent event."""
    waiting = consent.awaiting_consent(site)
    form = BulkConsentForm()
    form.version.choices = options(_consent_versions(site))
    form.obtained_by.choices = options(_staff_choices(site))
    if not form.is_submitted():
        form.on.data = local_today()
        form.obtained_by.data = principal().actor
    chosen: set[int] = set()
    refusals: dict[int, str] = {}
    if form.is_submitted():
        chosen = form.chosen()
    if form.validate_on_submit() and form.on.data is not None:
        try:
            done = consent.record_many(
                site,
                sorted(chosen),
                version=form.version.data,
                on=form.on.data,
                actor=principal().actor,
                obtained_by=form.obtained_by.data,
            )
        except consent.BulkConsentRefused as refused:
            form.form_errors.append(messages.error_text(refused))
            refusals = {r.participant_id: messages.error_text(r.error) for r in refused.refusals}
        except PlatformError as error:
            apply_service_error(form, error, {"date": "on"})
        else:
            flash(
                ngettext(
                    "Toestemming vastgelegd voor %(num)s deelnemer.",
                    "Toestemming vastgelegd voor %(num)s deelnemers.",
                    len(done),
                ),
                "success",
            )
            return redirect(url_for(".cohort", site_code=site.code))
    return render_form(
        "site/bulk_consent.html",
        form,
        site=site,
        waiting=waiting,
        chosen=chosen,
        refusals=refusals,
    )


@bp.route("/loting", methods=["GET", "POST"])
@site_page("cohort.create")
def cohort(site: Site) -> Any:
    """The lottery page: the rules of ``services.lottery`` shown before, and said on refusal."""
    ready = randomisation.cohort_caseload(site)
    units = len(randomisation.cohort_units(ready)[0])
    places = caseload.site_capacity(site.id)
    free = lottery.free_fip_places(site.id)
    research_admin = principal().role == access.ADMIN
    earlier = lottery.earlier_cohorts(site.id)
    form = CohortForm()
    if not form.is_submitted() and units > 1 and free:
        form.fip.data = min(free, units - 1)
    if form.validate_on_submit():
        try:
            done = randomisation.allocate_cohort(
                site.id,
                form.fip.data,
                actor=principal().actor,
                research_admin=research_admin,
                reason=form.reason.data or None,
            )
        except PlatformError as error:
            apply_service_error(form, error)
            form.confirm.data = False  # the confirmation was for the number refused
        else:
            flash(
                _(
                    "De loting is uitgevoerd: %(fip)s van %(n)s deelnemers naar FIP.",
                    fip=done.fip,
                    n=done.caseload,
                ),
                "success",
            )
            return redirect(url_for(".allocations", site_code=site.code))
    return render_form(
        "site/cohort.html",
        form,
        site=site,
        caseload=len(ready),
        units=units,
        places=places,
        free=free,
        minimum=lottery.minimum_size(),
        earlier=earlier,
        closed=lottery.refuses_second_cohort(site.id, research_admin=research_admin),
        waiting=len(consent.awaiting_consent(site)),
        arrivals_form=ArrivalsForm(prefix="arrivals"),
    )


@bp.post("/loting/instroom")
@site_page("allocation.create")
def arrivals(site: Site) -> Any:
    """After the lottery, later arrivals are allocated one by one by the trial's method."""
    form = ArrivalsForm(prefix="arrivals")
    if not form.validate_on_submit():
        flash(_("Bevestig dat u wilt toewijzen."), "error")
        return redirect(url_for(".cohort", site_code=site.code))
    done = randomisation.allocate_arrivals(site.id, actor=principal().actor)
    flash(
        ngettext(
            "%(num)s nieuwe deelnemer toegewezen volgens de methode van het onderzoek.",
            "%(num)s nieuwe deelnemers toegewezen volgens de methode van het onderzoek.",
            len(done),
        ),
        "success",
    )
    return redirect(url_for(".allocations", site_code=site.code))


@bp.get("/toewijzingen")
@site_page("allocation.list")
def allocations(site: Site) -> Any:
    requested = requested_page(request.args)
    rows, total, pages = site_allocations(site, page=requested)
    page = min(max(1, requested), pages)
    return render_template(
        "site/allocations.html", site=site, rows=rows, total=total, pages=pages, page=page
    )


IMPORT_KINDS = {"deelnemers": "participants", "uitkomsten": "outcomes"}


def _render_imports(
    site: Site, forms: dict[str, UploadForm] | None = None, status: int = 200
) -> Any:
    forms = forms or {}
    return render_template(
        "site/imports.html",
        site=site,
        caseload_form=forms.get("participants") or UploadForm(prefix="participants"),
        outcome_form=forms.get("outcomes") or UploadForm(prefix="outcomes"),
        rounds=followup_rounds(site),
        today=local_today(),
        caseload_batches=import_service.list_batches(site, "participants")[:10],
        outcome_batches=import_service.list_batches(site, "outcomes")[:10],
        tasks=import_tasks.site_tasks(site),
        clear_form=ClearTaskForm(),
    ), status


@bp.get("/bestanden")
@site_page("import.read")
def imports(site: Site) -> Any:
    return _render_imports(site)


@bp.post("/bestanden/<kind>")
@site_page("import.create")
def upload(site: Site, kind: str) -> Any:
    """Spool an uploaded export and start its import; the status page follows it."""
    if kind not in IMPORT_KINDS:
        raise NotFound("no such import")
    service_kind = IMPORT_KINDS[kind]
    form = UploadForm(prefix=service_kind)
    if form.validate_on_submit():
        upload, site_code = form.file.data, site.code  # nothing is read after the commit
        try:
            task_id = import_tasks.start_import(
                site,
                service_kind,
                upload.stream,
                actor=principal().actor,
                filename=upload.filename or "",
            )
        except PlatformError as error:
            apply_service_error(form, error, default_field="file")
        else:
            return redirect(url_for(".import_status", site_code=site_code, task_id=task_id))
    return _render_imports(site, {service_kind: form}, 422)


@bp.get("/bestanden/taak/<int:task_id>")
@site_page("import.read")
def import_status(site: Site, task_id: int) -> Any:
    """Where the import stands; once it is done, its report."""
    task = import_tasks.get_task(principal(), site, task_id)
    if task.status == "done" and task.batch_id is not None:
        if task.duplicate:
            flash(
                _(
                    "Dit bestand is al eerder ingelezen met dezelfde mapping; er is niets "
                    "veranderd. Hieronder staat het verslag van de eerdere keer."
                ),
                "info",
            )
        else:
            flash(_("Het bestand is ingelezen."), "success")
        return redirect(url_for(".import_report", site_code=site.code, batch_id=task.batch_id))
    status = 422 if task.status in ("failed", import_tasks.INTERRUPTED) else 200
    return render_template(
        "site/import_status.html",
        site=site,
        task=task,
        error=messages.stored_error_text(task.error_code, task.error_params),
        clear_form=ClearTaskForm(),
    ), status


@bp.post("/bestanden/taak/<int:task_id>/wissen")
@site_page("import.create")
def clear_import(site: Site, task_id: int) -> Any:
    """Take a failed or interrupted upload off the list (nothing of it was stored)."""
    form = ClearTaskForm()
    if form.validate_on_submit():
        import_tasks.clear_task(principal(), site, task_id)
        flash(_("De mislukte import is uit de lijst gewist."), "success")
    return redirect(url_for(".imports", site_code=site.code))


@bp.get("/bestanden/taak/<int:task_id>.json")
@site_page("import.read")
def import_status_json(site: Site, task_id: int) -> Any:
    """The status page's script asks this every few seconds."""
    task = import_tasks.get_task(principal(), site, task_id)
    return jsonify(
        status=task.status, rows_done=task.rows_done, finished=task.finished, attempts=task.attempts
    )


@bp.get("/bestanden/<int:batch_id>")
@site_page("import.read")
def import_report(site: Site, batch_id: int) -> Any:
    batch = site_import_batch(site, batch_id)
    if batch is None:
        raise NotFound(f"import batch {batch_id} does not exist")
    return render_template(
        "site/import_report.html", site=site, batch=batch, report=batch.report or {}
    )
