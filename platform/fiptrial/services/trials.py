"""Setting up trials and sites."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from fiptrial.errors import Conflict, NotFound, field_error
from fiptrial.extensions import db
from fiptrial.models import Allocation, DataFreeze, Site, Trial, TrialArm
from fiptrial.plugins.manager import get_site_plugin
from fiptrial.services import audit, planning
from fiptrial.services.eligibility import STRATIFICATION_FACTORS
from fiptrial.services.randomisation import METHODS
from fiptrial.services.spells import check_spell_settings
from fiptrial.services.transaction import unit_of_work


def get_trial(code: str) -> Trial:
    trial = db.session.query(Trial).filter_by(code=code).one_or_none()
    if trial is None:
        raise NotFound(f"trial {code!r} does not exist")
    return trial


def get_site(code: str) -> Site:
    site = db.session.query(Site).filter_by(code=code).one_or_none()
    if site is None:
        raise NotFound(f"site {code!r} does not exist")
    return site


def find_site(code: str) -> Site | None:
    """The site with this code, or None (the caller answers as for a site it may not see)."""
    return db.session.scalar(select(Site).where(Site.code == code))


def list_trials(*, site_id: int | None = None) -> list[Trial]:
    """All trials by code; with ``site_id``, only the trial that site takes part in."""
    query = select(Trial).order_by(Trial.code)
    if site_id is not None:
        query = query.where(Trial.sites.any(Site.id == site_id))
    return list(db.session.scalars(query))


def first_trial() -> Trial | None:
    """The trial a page shows when none is chosen: the first by code."""
    return db.session.scalar(select(Trial).order_by(Trial.code).limit(1))


def list_sites() -> list[Site]:
    """All sites, by name (for choice lists)."""
    return list(db.session.scalars(select(Site).order_by(Site.name)))


def trials_by_site() -> dict[int, Trial]:
    """Site id -> its trial, read in one query (for rows of several sites)."""
    rows = db.session.execute(select(Site.id, Trial).join(Trial, Site.trial_id == Trial.id))
    return {site_id: trial for site_id, trial in rows}


def site_names() -> dict[str, str]:
    """Site code -> name, for pages that name the sites in their rows."""
    return {
        code: name
        for code, name in db.session.execute(select(Site.code, Site.name).order_by(Site.name))
    }


def fip_design(code: str, name: str, /, **settings: Any) -> dict[str, Any]:
    """The body of a trial with the FIP study's design: one FIP client to four controls in
    permuted blocks of one or two rounds, strata of site, age and benefit duration, consent
    before the lottery, three years' follow-up. The demo, the tests and the benchmarks all run
    that study; ``settings`` add to the design or replace a part of it. A new dict each call:
    ``create_trial`` takes the arms out of the one it gets."""
    return {
        "code": code,
        "name": name,
        "arms": [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 4}],
        "method": "permuted_blocks",
        "block_multipliers": [1, 2],
        "stratify_by": ["site", "age_band", "benefit_duration_band"],
        "consent_design": "consent_first",
        "followup_years": 3,
        **settings,
    }


def _check_design(data: dict[str, Any]) -> None:
    arms = data["arms"]
    codes = [arm["code"] for arm in arms]
    if len(set(codes)) != len(codes):
        raise field_error("arms", "arm codes must be unique", code="ratio_invalid")
    if "fip" not in codes or len(codes) < 2:
        raise field_error(
            "arms", "needs the arm 'fip' and at least one comparison arm", code="ratio_invalid"
        )
    if any(arm["ratio"] < 1 for arm in arms):
        raise field_error("arms", "ratios are positive integers", code="ratio_invalid")
    if data["method"] not in METHODS:
        raise field_error("method", f"must be one of {', '.join(METHODS)}", code="invalid_choice")
    factors = data["stratify_by"]
    unknown = [f for f in factors if f not in STRATIFICATION_FACTORS]
    if unknown:
        raise field_error(
            "stratify_by", f"unknown factors: {', '.join(unknown)}", code="invalid_choice"
        )
    if not factors or factors[0] != "site" or len(set(factors)) != len(factors):
        raise field_error(
            "stratify_by",
            "must start with 'site' (ratios and capacity are per site) and repeat no factor",
            code="strata_invalid",
        )
    if not data["block_multipliers"] or any(m < 1 for m in data["block_multipliers"]):
        raise field_error(
            "block_multipliers",
            "needs at least one positive multiplier",
            code="block_sizes_invalid",
        )
    for field in ("age_band_edges", "duration_band_edges_months"):
        edges = data.get(field)
        if edges is not None and (not edges or sorted(set(edges)) != list(edges)):
            raise field_error(field, "must be strictly increasing", code="band_edges_invalid")
    if not 0.5 <= data.get("minimisation_probability", 0.8) <= 1:
        raise field_error(
            "minimisation_probability",
            "must lie between 0.5 and 1",
            code="value_out_of_range",
            low="0.5",
            high="1",
        )
    check_spell_settings(data)


def create_trial(data: dict[str, Any], *, actor: str) -> Trial:
    _check_design(data)
    with unit_of_work():
        if db.session.query(Trial).filter_by(code=data["code"]).first():
            raise Conflict(f"trial {data['code']!r} already exists", code="duplicate_trial")
        arms = data.pop("arms")
        trial = Trial(**{k: v for k, v in data.items() if v is not None})
        trial.arms = [
            TrialArm(code=arm["code"], ratio=arm["ratio"], position=i) for i, arm in enumerate(arms)
        ]
        db.session.add(trial)
        db.session.flush()  # fills the columns' defaults the entry reads
        audit.record_about(
            "trial.created",
            trial,
            actor=actor,
            data={
                "code": trial.code,
                "arms": arms,
                "method": trial.method,
                "stratify_by": trial.stratify_by,
                "consent_design": trial.consent_design,
                "move_gap_days": trial.move_gap_days,
                "benefit_statistic_codes": trial.benefit_statistic_codes,
            },
        )
    return trial


def add_site(trial: Trial, data: dict[str, Any], *, actor: str) -> Site:
    plugin = get_site_plugin(data["plugin"])
    if plugin is None:
        raise field_error(
            "plugin", f"no installed plugin is called {data['plugin']!r}", code="plugin_unknown"
        )
    municipalities = data.get("municipalities") or list(plugin.municipalities)
    ratios = data.get("arm_ratios")
    if ratios is not None and sorted(ratios) != sorted(trial.ratios()):
        raise field_error(
            "arm_ratios",
            f"must give a ratio for each arm: {sorted(trial.ratios())}",
            code="ratio_invalid",
        )
    if ratios is not None and any(int(v) < 1 for v in ratios.values()):
        raise field_error("arm_ratios", "ratios are positive integers", code="ratio_invalid")
    with unit_of_work():
        if db.session.query(Site).filter_by(code=data["code"]).first():
            raise Conflict(
                f"site {data['code']!r} already exists",
                code="duplicate_site",
                fields={"code": ["already exists"]},
            )
        site = Site(
            trial_id=trial.id,
            code=data["code"],
            name=data.get("name") or plugin.site_name,
            plugin=plugin.name,
            municipalities=municipalities,
            arm_ratios=ratios,
        )
        audit.record_created(
            "site.created",
            site,
            actor=actor,
            site=site.code,
            data={
                "trial": trial.code,
                "plugin": plugin.name,
                "plugin_version": plugin.version,
                "mapping_version": plugin.mapping_version,
                "municipalities": municipalities,
                "arm_ratios": ratios,
            },
        )
    return site


# --- Changing a trial and its sites (the research admin's screens) ------------------------------

#: Fixed at the first allocation: changing them would change who was randomised how.
DESIGN_FIELDS = (
    "method", "consent_design", "stratify_by", "block_multipliers", "arms",
    # Who is enrolled and what the imports link as one spell.
    "move_gap_days", "benefit_statistic_codes",
)  # fmt: skip
#: Fixed once the analysis is frozen: they change what the analysis counts.
ANALYSIS_FIELDS = ("followup_years", "cost_per_benefit_year")
EDITABLE_FIELDS = ("name", "start_date", *ANALYSIS_FIELDS, *DESIGN_FIELDS)


def design_locked_since(trial: Trial) -> Any:
    """The date of the trial's first allocation (its design is fixed from then), or None."""
    return db.session.query(func.min(Allocation.allocated_at)).filter_by(trial_id=trial.id).scalar()


def analysis_locked_since(trial: Trial) -> Any:
    """When the analysis was frozen (the trial's first data freeze), or None."""
    return db.session.query(func.min(DataFreeze.created_at)).filter_by(trial_id=trial.id).scalar()


def update_settings(trial: Trial, changes: dict[str, Any], *, actor: str) -> Trial:
    """Change a trial's settings; each change audited with its old and new value.

    The design (method, consent design, strata, arms and ratio) is fixed at the first
    allocation, follow-up and cost per benefit-year once the analysis is frozen: a change of
    either afterwards is refused with ``settings_locked``.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise field_error(unknown[0], "is not a trial setting", code="not_a_setting")
    current = {name: getattr(trial, name) for name in EDITABLE_FIELDS if name != "arms"}
    current["arms"] = [{"code": a.code, "ratio": a.ratio} for a in trial.arms]
    changed = _changed(current, changes)
    for fields, since in (
        (DESIGN_FIELDS, design_locked_since(trial)),
        (ANALYSIS_FIELDS, analysis_locked_since(trial)),
    ):
        locked_field = next((name for name in changed if name in fields), None)
        if locked_field is not None and since is not None:
            raise field_error(
                locked_field,
                f"is fixed since {since:%Y-%m-%d}",
                code="settings_locked",
                since=f"{since:%Y-%m-%d}",
            )
    if not str(changed.get("name", trial.name)).strip():
        raise field_error("name", "must not be empty", code="value_required")
    for name, (low, high) in {
        "followup_years": (1, 10),
        "cost_per_benefit_year": (0, 10**7),
    }.items():
        if name in changed and not low <= int(changed[name]) <= high:
            raise field_error(
                name,
                f"must lie between {low} and {high}",
                code="value_out_of_range",
                low=low,
                high=high,
            )
    design = {**current, **changed}
    _check_design(dict(design))
    if not changed:
        return trial
    with unit_of_work():
        for name, value in changed.items():
            if name == "arms":
                ratios = {arm["code"]: arm["ratio"] for arm in value}
                if sorted(ratios) != sorted(trial.ratios()):
                    raise field_error(
                        "arms", "the arms themselves cannot change", code="ratio_invalid"
                    )
                for arm in trial.arms:
                    arm.ratio = ratios[arm.code]
            else:
                setattr(trial, name, value)
        _record_changes("trial.settings_changed", "trial", trial.id, current, changed, actor=actor)
    return trial


def _changed(before: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The requested settings whose value differs from the one they have: only these are
    written and audited, so a form sent back unchanged leaves no audit entry."""
    return {name: value for name, value in changes.items() if before[name] != value}


def _record_changes(
    action: str,
    entity: str,
    entity_id: int,
    before: dict[str, Any],
    changed: dict[str, Any],
    *,
    actor: str,
    site: str | None = None,
) -> None:
    """Audit changed settings: each one's value before and after (dates as text)."""
    audit.record(
        action,
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        site=site,
        data={
            name: {"from": _plain(before[name]), "to": _plain(value)}
            for name, value in changed.items()
        },
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def update_site(site: Site, changes: dict[str, Any], *, actor: str) -> Site:
    """Change a site's name, member municipalities or own ratio (audited)."""
    allowed = ("name", "municipalities", "arm_ratios")
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise field_error(unknown[0], "is not a site setting", code="not_a_setting")
    if "name" in changes and not str(changes["name"]).strip():
        raise field_error("name", "must not be empty", code="value_required")
    ratios = changes.get("arm_ratios")
    if ratios is not None and (
        sorted(ratios) != sorted(site.trial.ratios()) or any(int(v) < 1 for v in ratios.values())
    ):
        raise field_error("arm_ratios", "a positive ratio for each arm", code="ratio_invalid")
    before = {name: getattr(site, name) for name in allowed}
    changed = _changed(before, changes)
    if not changed:
        return site
    with unit_of_work():
        for name, value in changed.items():
            setattr(site, name, value)
        _record_changes(
            "site.updated", "site", site.id, before, changed, actor=actor, site=site.code
        )
    return site


def change_closing_day(site: Site, day: Any, *, add: bool, actor: str) -> int:
    """Add or remove one of the site's own closing days (audited).

    Open conversations planned on a new closing day move to the manager's nearest working
    day with room; returns how many moved.
    """
    days = list(site.closing_days or [])
    text = day.isoformat()
    if add and text in days:
        raise field_error("day", "is already a closing day", code="closing_day_exists", date=text)
    if not add and text not in days:
        raise field_error("day", "is not a closing day", code="closing_day_unknown", date=text)
    with unit_of_work():
        site.closing_days = sorted({*days, text}) if add else [d for d in days if d != text]
        db.session.flush()
        moved = planning.move_off_day(site, day) if add else 0
        audit.record_for_site(
            "site.closing_days_changed",
            site,
            actor=actor,
            data={"added" if add else "removed": text, "conversations_moved": moved},
        )
    return moved
