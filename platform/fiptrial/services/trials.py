"""Setting up trials and sites."""

from __future__ import annotations

from typing import Any

from fiptrial.errors import Conflict, NotFound, Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import Site, Trial, TrialArm
from fiptrial.plugins.manager import get_site_plugin
from fiptrial.services import audit
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


def _check_design(data: dict[str, Any]) -> None:
    arms = data["arms"]
    codes = [arm["code"] for arm in arms]
    if len(set(codes)) != len(codes):
        raise field_error("arms", "arm codes must be unique")
    if "fip" not in codes or len(codes) < 2:
        raise field_error("arms", "needs the arm 'fip' and at least one comparison arm")
    if any(arm["ratio"] < 1 for arm in arms):
        raise field_error("arms", "ratios are positive integers")
    if data["method"] not in METHODS:
        raise field_error("method", f"must be one of {', '.join(METHODS)}")
    factors = data["stratify_by"]
    unknown = [f for f in factors if f not in STRATIFICATION_FACTORS]
    if unknown:
        raise field_error("stratify_by", f"unknown factors: {', '.join(unknown)}")
    if not factors or factors[0] != "site" or len(set(factors)) != len(factors):
        raise field_error(
            "stratify_by",
            "must start with 'site' (ratios and capacity are per site) and repeat no factor",
        )
    if not data["block_multipliers"] or any(m < 1 for m in data["block_multipliers"]):
        raise field_error("block_multipliers", "needs at least one positive multiplier")
    for field in ("age_band_edges", "duration_band_edges_months"):
        edges = data.get(field)
        if edges is not None and (not edges or sorted(set(edges)) != list(edges)):
            raise field_error(field, "must be strictly increasing")
    if not 0.5 <= data.get("minimisation_probability", 0.8) <= 1:
        raise field_error("minimisation_probability", "must lie between 0.5 and 1")
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
        db.session.flush()
        audit.record(
            "trial.created",
            actor=actor,
            entity="trial",
            entity_id=trial.id,
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
        raise field_error("plugin", f"no installed plugin is called {data['plugin']!r}")
    municipalities = data.get("municipalities") or list(plugin.municipalities)
    ratios = data.get("arm_ratios")
    if ratios is not None and sorted(ratios) != sorted(trial.ratios()):
        raise field_error("arm_ratios", f"must give a ratio for each arm: {sorted(trial.ratios())}")
    if ratios is not None and any(int(v) < 1 for v in ratios.values()):
        raise field_error("arm_ratios", "ratios are positive integers")
    with unit_of_work():
        if db.session.query(Site).filter_by(code=data["code"]).first():
            raise Conflict(f"site {data['code']!r} already exists", code="duplicate_site")
        site = Site(
            trial_id=trial.id,
            code=data["code"],
            name=data.get("name") or plugin.site_name,
            plugin=plugin.name,
            municipalities=municipalities,
            arm_ratios=ratios,
        )
        db.session.add(site)
        db.session.flush()
        audit.record(
            "site.created",
            actor=actor,
            entity="site",
            entity_id=site.id,
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


def set_site_ratio(site: Site, ratios: dict[str, int], *, actor: str) -> Site:
    if sorted(ratios) != sorted(site.trial.ratios()) or any(v < 1 for v in ratios.values()):
        raise Unprocessable("arm_ratios must give a positive ratio for each arm")
    with unit_of_work():
        site.arm_ratios = ratios
        audit.record(
            "site.ratio_changed",
            actor=actor,
            entity="site",
            entity_id=site.id,
            site=site.code,
            data={"arm_ratios": ratios},
        )
    return site
