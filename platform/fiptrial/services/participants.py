"""Registering participants: the BSN is validated and replaced by its pseudonym at once."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError

from fiptrial.errors import Conflict, field_error
from fiptrial.extensions import db
from fiptrial.models import Allocation, Participant, Site
from fiptrial.plugins.parsing import normalise_municipality
from fiptrial.services import audit
from fiptrial.services.eligibility import assess, stratum_key
from fiptrial.services.pseudonyms import (
    normalise_bsn,
    pseudonymise,
    trial_key,
    unit_pseudonymiser,
)
from fiptrial.services.transaction import unit_of_work
from fiptrial.timezone import local_today

SEXES = ("male", "female")
EDUCATION_LEVELS = (  # the report's Table 3.2
    "unknown",
    "no_primary",
    "primary",
    "vbo_vmbo",
    "mbo_havo_vwo",
    "hbo",
    "wo",
)
BIRTH_REGIONS = (  # the report's Table 3.3
    "netherlands",
    "europe",  # including Turkey and the former Soviet Union
    "middle_east",
    "asia",
    "africa",
    "south_america",
    "oceania",
    "unknown",
)


def unit_key_of(site: Site, registration_number: str | None) -> str | None:
    """The pseudonym of a benefit's registration number at ``site`` (None without one)."""
    if not registration_number:
        return None
    return unit_pseudonymiser(trial_key(site.trial.code), site.code)(registration_number)


def check_baseline_codes(data: dict[str, Any]) -> None:
    """422 naming the field when education or region of birth is not a shared code."""
    for field, allowed in (
        ("education", EDUCATION_LEVELS),
        ("country_of_birth_region", BIRTH_REGIONS),
    ):
        if data.get(field) and data[field] not in allowed:
            raise field_error(field, f"must be one of {', '.join(allowed)}", code="invalid_choice")


def _duplicate(existing_id: int) -> Conflict:
    return Conflict(
        "this BSN is already registered in the trial",
        code="duplicate_participant",
        existing_id=existing_id,
    )


class RegisteredElsewhere(Conflict):
    """The BSN belongs to a participant of another site: said without their number."""

    code = "registered_at_other_site"

    def __init__(self) -> None:
        super().__init__("this BSN is already registered in the trial at another site")


def _refuse_duplicate(site: Site, existing: tuple[int, int], actor: str) -> Conflict:
    """The refusal for a BSN that is registered already (``existing``: id and site id).

    At the caller's own site the answer names the participant, whom the caller may see anyway.
    At another site it names nobody, so that a coordinator cannot learn which study number
    (or that a client is in the trial at all at a known site) by trying BSNs, and the attempt
    is audited in its own transaction, so that the refusal does not roll it back.
    """
    existing_id, existing_site_id = existing
    if existing_site_id == site.id:
        return _duplicate(existing_id)
    with unit_of_work():
        other = db.session.get(Site, existing_site_id)
        audit.record(
            "participant.registration_refused",
            actor=actor,
            entity="participant",
            entity_id=existing_id,
            site=site.code,
            data={
                "reason": "registered_at_other_site",
                "attempted_at": site.code,
                "registered_at": other.code if other else None,
            },
        )
    return RegisteredElsewhere()


def new_participant(
    site: Site,
    *,
    pseudonym: str,
    birth_date: date,
    sex: str,
    benefit_start: date,
    registered_on: date,
    actor: str,
    municipality: str | None = None,
    education: str | None = None,
    country_of_birth_region: str | None = None,
    unit_key: str | None = None,
) -> Participant:
    """The one place a participant is made: eligibility, bands and stratum decided and stored.

    Not yet added to the session: :func:`register` adds one, the caseload import adds many.
    ``unit_key`` is the benefit unit's pseudonym (:func:`unit_key_of`), never the raw number.
    Raises a 422 naming the field for impossible dates.
    """
    trial = site.trial
    assessment = assess(
        trial, birth_date=birth_date, benefit_start=benefit_start, registered_on=registered_on
    )
    return Participant(
        trial_id=trial.id,
        site_id=site.id,
        pseudonym=pseudonym,
        unit_key=unit_key,
        birth_date=birth_date,
        sex=sex,
        benefit_start=benefit_start,
        municipality=municipality,
        education=education,
        country_of_birth_region=country_of_birth_region,
        registered_on=registered_on,
        age_band=assessment.age_band,
        benefit_duration_band=assessment.benefit_duration_band,
        stratum=stratum_key(
            trial,
            site,
            age_band=assessment.age_band,
            duration_band=assessment.benefit_duration_band,
            sex=sex,
        ),
        eligible=assessment.eligible,
        ineligible_reasons=assessment.reasons,
        pension_age_date=assessment.pension_age_date,
        registered_by=actor,
    )


def register(site: Site, data: dict[str, Any], *, actor: str) -> Participant:
    """Register one client; 409 naming the existing id when the BSN is already in the trial."""
    trial = site.trial
    bsn = normalise_bsn(data["bsn"])
    pseudonym = pseudonymise(trial.code, bsn)
    municipality = data.get("municipality")
    if municipality:
        municipality = normalise_municipality(municipality)
        if municipality is None:
            raise field_error(
                "municipality",
                "must be a CBS municipality code: GM and up to four digits",
                code="invalid_choice",
            )
        if site.municipalities and municipality not in site.municipalities:
            raise field_error(
                "municipality",
                f"{municipality} is not a member of site {site.code} "
                f"({', '.join(site.municipalities)})",
                code="municipality_not_member",
                municipality=municipality,
                site=site.code,
            )
    if data["sex"] not in SEXES:
        raise field_error("sex", f"must be one of {', '.join(SEXES)}", code="invalid_choice")
    check_baseline_codes(data)
    registered_on: date = data.get("registered_on") or local_today()
    if registered_on > local_today():
        raise field_error("registered_on", "lies in the future", code="date_in_future")
    participant = new_participant(
        site,
        pseudonym=pseudonym,
        birth_date=data["birth_date"],
        sex=data["sex"],
        benefit_start=data["benefit_start"],
        registered_on=registered_on,
        actor=actor,
        municipality=municipality,
        education=data.get("education"),
        country_of_birth_region=data.get("country_of_birth_region"),
        unit_key=unit_key_of(site, data.get("unit_key")),
    )
    existing: tuple[int, int] | None = None
    try:
        with unit_of_work():
            existing = _registered(trial.id, pseudonym)
            if existing is None:
                audit.record_created(
                    "participant.registered",
                    participant,
                    actor=actor,
                    site=site.code,
                    data={
                        "stratum": participant.stratum,
                        "eligible": participant.eligible,
                        "ineligible_reasons": participant.ineligible_reasons,
                    },
                )
    except IntegrityError:
        existing = _registered(trial.id, pseudonym)
        if existing is None:
            raise
    if existing is not None:
        raise _refuse_duplicate(site, existing, actor) from None
    return participant


def _registered(trial_id: int, pseudonym: str) -> tuple[int, int] | None:
    """(id, site id) of the trial's participant with this pseudonym, if any."""
    row = (
        db.session.query(Participant.id, Participant.site_id)
        .filter_by(trial_id=trial_id, pseudonym=pseudonym)
        .one_or_none()
    )
    return (row[0], row[1]) if row is not None else None


def unallocated_eligible(site: Site) -> list[Participant]:
    """The site's eligible participants without an allocation, by id: the lottery's
    candidates, and those of them who still wait for consent."""
    return (
        db.session.query(Participant)
        .outerjoin(Allocation, Allocation.participant_id == Participant.id)
        .filter(
            Participant.site_id == site.id,
            Participant.eligible.is_(True),
            Allocation.id.is_(None),
        )
        .order_by(Participant.id)
        .all()
    )
