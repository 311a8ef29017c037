"""/api/v1/trials: set up trials, their consent forms and list them."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from fiptrial.api.auth import principal, requires
from fiptrial.models import ConsentForm, Trial
from fiptrial.schemas import (
    ConsentFormCreateSchema,
    ConsentFormSchema,
    SiteCreateSchema,
    SiteSchema,
    TrialCreateSchema,
    TrialSchema,
)
from fiptrial.services import consent, trials
from fiptrial.services.access import visible_site

blp = Blueprint("trials", __name__, url_prefix="/api/v1", description="Trials and their design")


@blp.post("/trials")
@requires("trial.create")
@blp.arguments(TrialCreateSchema)
@blp.response(201, TrialSchema)
def create_trial(data: dict[str, Any]) -> Trial:
    who = principal()
    return trials.create_trial(data, actor=who.actor)


@blp.get("/trials")
@requires("trial.read")
@blp.response(200, TrialSchema(many=True))
def list_trials() -> list[Trial]:
    who = principal()
    return trials.list_trials(site_id=who.site_id if who.site_bound else None)


@blp.get("/trials/<trial_code>")
@requires("trial.read")
@blp.response(200, TrialSchema)
def get_trial(trial_code: str) -> Trial:
    return _visible_trial(trial_code)


@blp.post("/trials/<trial_code>/sites")
@requires("site.create")
@blp.arguments(SiteCreateSchema)
@blp.response(201, SiteSchema)
def create_site(data: dict[str, Any], trial_code: str) -> Any:
    who = principal()
    return trials.add_site(trials.get_trial(trial_code), data, actor=who.actor)


@blp.post("/trials/<trial_code>/consent-forms")
@requires("consent_form.create")
@blp.arguments(ConsentFormCreateSchema)
@blp.response(201, ConsentFormSchema)
def create_consent_form(data: dict[str, Any], trial_code: str) -> ConsentForm:
    who = principal()
    return consent.register_form(trials.get_trial(trial_code), actor=who.actor, **data)


@blp.get("/trials/<trial_code>/consent-forms")
@requires("consent_form.read")
@blp.response(200, ConsentFormSchema(many=True))
def list_consent_forms(trial_code: str) -> list[ConsentForm]:
    """The trial's consent forms; a site role sees only those of a trial its site is in."""
    return consent.forms_of(_visible_trial(trial_code))


def _visible_trial(trial_code: str) -> Trial:
    """The trial ``trial_code`` as the caller may see it: a site role only a trial its site is
    in (another trial answers the same 404 as one that does not exist)."""
    who = principal()
    trial = trials.get_trial(trial_code)
    if who.site_bound and not any(s.id == who.site_id for s in trial.sites):
        visible_site(who, None, "trial")
    return trial
