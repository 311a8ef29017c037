"""A demo trial with synthetic participants, for trying the platform and for its tests.

Every person here is generated: BSNs are random numbers that pass the elfproef, and the
distributions only resemble the pilot's Tables 3.1 to 3.3 (mean age about 44, about 47% men,
long benefit durations, the pilot's education levels and regions of birth). Nothing is real.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from fiptrial.demo.trial import DEMO_ACTOR, create_demo_trial
from fiptrial.extensions import db
from fiptrial.models import Allocation, Participant, Site
from fiptrial.services import caseload, consent, lottery, planning, randomisation, trials
from fiptrial.services.participants import register as register_participant
from fiptrial.services.users import create_demo_users

DEMO_START = date(2026, 11, 2)

# Template-plugin demo sites: two real municipalities (CBS codes) with generated clients.
DEMO_SITES: list[dict[str, Any]] = [
    {"code": "brabantse_wal", "plugin": "brabantse_wal", "name": "ISD Brabantse Wal"},
    {
        "code": "breda",
        "plugin": "template",
        "name": "Gemeente Breda (demo)",
        "municipalities": ["GM0758"],
    },
    {
        "code": "tilburg",
        "plugin": "template",
        "name": "Gemeente Tilburg (demo)",
        "municipalities": ["GM0855"],
    },
]
SITE_SHARES = {"brabantse_wal": 0.6, "breda": 0.2, "tilburg": 0.2}
BRABANTSE_WAL_FIP_PLACES = 360  # two client managers with 180 places each
# (a small demo gives FIP at most a third of the caseload, so that there is a control group)

EDUCATION_WEIGHTS = {  # Table 3.2, control group
    "unknown": 535,
    "no_primary": 125,
    "primary": 316,
    "vbo_vmbo": 461,
    "mbo_havo_vwo": 146,
    "hbo": 35,
    "wo": 7,
}
REGION_WEIGHTS = {  # Table 3.3, control group
    "netherlands": 984,
    "europe": 198,
    "middle_east": 63,
    "asia": 46,
    "africa": 289,
    "south_america": 43,
    "oceania": 1,
    "unknown": 1,
}


def synthetic_bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the elfproef (weights 9..2 and -1)."""
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        if digits[0] == 0:
            continue
        total = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True))
        check = total % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def synthetic_client(rng: random.Random, site: Site, registered_on: date) -> dict[str, Any]:
    age_years = min(max(rng.gauss(44.2, 11.5), 18.2), 66.9)
    birth_date = registered_on - timedelta(days=int(age_years * 365.25))
    months_on_benefit = min(6 + int(rng.expovariate(1 / 48)), 360)
    benefit_start = registered_on - timedelta(days=int(months_on_benefit * 30.44))
    benefit_start = max(benefit_start, birth_date + timedelta(days=18 * 366))
    return {
        "bsn": synthetic_bsn(rng),
        "birth_date": birth_date,
        "sex": "male" if rng.random() < 0.465 else "female",
        "benefit_start": benefit_start,
        "municipality": rng.choice(site.municipalities) if site.municipalities else None,
        "education": rng.choices(list(EDUCATION_WEIGHTS), list(EDUCATION_WEIGHTS.values()))[0],
        "country_of_birth_region": rng.choices(list(REGION_WEIGHTS), list(REGION_WEIGHTS.values()))[
            0
        ],
        "registered_on": registered_on,
    }


def create_demo(*, participants: int = 2000, seed: int = 2014) -> dict[str, Any]:
    """Create the demo trial: sites, consent form, participants, consent, allocation."""
    rng = random.Random(seed)
    trial = create_demo_trial(DEMO_START)
    sites = [trials.add_site(trial, dict(spec), actor=DEMO_ACTOR) for spec in DEMO_SITES]
    create_demo_users({site.code: site for site in sites}, actor=DEMO_ACTOR)  # web logins
    registered: dict[str, list[int]] = {site.code: [] for site in sites}
    for site in sites:
        for _ in range(round(participants * SITE_SHARES[site.code])):
            client = synthetic_client(rng, site, DEMO_START)
            participant = register_participant(site, client, actor=DEMO_ACTOR)
            if participant.eligible:
                consent.record(
                    participant, status="given", version="2026-1", on=DEMO_START, actor=DEMO_ACTOR
                )
            registered[site.code].append(participant.id)
    summary: dict[str, Any] = {"trial": trial.code, "synthetic": True, "sites": {}}
    for site in sites:
        ready = len(randomisation.cohort_caseload(site))
        if site.code == "brabantse_wal" and ready >= lottery.minimum_size():
            _add_client_managers(site)  # the lottery gives FIP no more than the free places
            randomisation.allocate_cohort(
                site.id, max(1, min(BRABANTSE_WAL_FIP_PLACES, ready // 3)), actor=DEMO_ACTOR
            )
        else:
            for pid in registered[site.code]:
                participant = db.session.get_one(Participant, pid)
                if participant.eligible:
                    randomisation.allocate(pid, actor=DEMO_ACTOR)
        summary["sites"][site.code] = _site_counts(site)
        summary["sites"][site.code].update(_plan_conversations(site))
    return summary


DEMO_CLIENT_MANAGERS = {"brabantse_wal": 2}  # 180 places each; the template sites get one


def _add_client_managers(site: Site) -> None:
    """The site's demo client managers (180 places each), unless it has them already."""
    existing = len(caseload.client_managers(site.id))  # the web demo users may hold one
    for n in range(existing, DEMO_CLIENT_MANAGERS.get(site.code, 1)):
        caseload.add_client_manager(
            site,
            f"km_{site.code}_{n + 1}",
            capacity=180,
            display_name=f"Demo klantmanager {site.name} {n + 1}",
            actor=DEMO_ACTOR,
        )


def _plan_conversations(site: Site) -> dict[str, int]:
    """Client managers for the site, its FIP participants assigned by load, and their plan."""
    _add_client_managers(site)
    assigned = caseload.assign_by_load(site, on=DEMO_START, actor=DEMO_ACTOR)
    planned = planning.plan_site(site, actor=DEMO_ACTOR, starts_on=DEMO_START)
    return {
        "client_managers": len(caseload.client_managers(site.id)),
        "fip_assigned": len(assigned),
        "planned_conversations": planned["conversations"],
    }


def _site_counts(site: Site) -> dict[str, int]:
    registered = db.session.query(Participant).filter_by(site_id=site.id).count()
    eligible = db.session.query(Participant).filter_by(site_id=site.id, eligible=True).count()
    fip = db.session.query(Allocation).filter_by(site_id=site.id, arm="fip").count()
    control = db.session.query(Allocation).filter_by(site_id=site.id, arm="control").count()
    return {"registered": registered, "eligible": eligible, "fip": fip, "control": control}
