"""Conversation planning at national scale.

- ``plan_seconds_national``: the in-memory planning core (working-day calendar, per-manager
  day-capacity arrays, next-free-day lookup) planning 360,000 FIP clients of 2,000 client
  managers, 4 conversations each: 1.44 million conversations.
- ``plan_growth_ratio``: CPU time for 360,000 clients (2,000 managers) over 180,000 (1,000
  managers, the same load per manager); linear is about 2.
- ``plan_site_seconds_36k`` and ``plan_site_growth_ratio``: the whole ``plan_site`` service on
  a SQLite database (load existing load per manager and day in one grouped query, plan, bulk
  insert, audit) for 36,000 clients over 18,000: the database side must be linear too.

Standalone: ``python bench/bench_planning.py``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

START = date(2026, 11, 2)
PER_MANAGER = 180


def time_core(clients: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to plan ``clients`` in memory."""
    from fiptrial.services import planning

    managers = clients // PER_MANAGER
    rules = planning.PlanRules()
    started, started_cpu = time.perf_counter(), time.process_time()
    calendar = planning.WorkingCalendar(START, date(2028, 3, 1))
    batch = [planning.ClientToPlan(i, i % managers, START) for i in range(clients)]
    slots = planning.plan_clients(batch, rules, calendar, {})
    elapsed = time.perf_counter() - started, time.process_time() - started_cpu
    assert len(slots) == clients * rules.conversations
    return elapsed


def _site_with_clients(clients: int) -> Any:
    """A trial, a site, its managers, and ``clients`` FIP participants (bulk inserted)."""
    from fiptrial.extensions import db
    from fiptrial.models import Allocation, Participant, User
    from fiptrial.services import caseload, trials

    trial = trials.create_trial(
        {
            "code": "bench",
            "name": "bench",
            "start_date": START,
            "method": "permuted_blocks",
            "arms": [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 1}],
            "block_multipliers": [1, 2],
            "stratify_by": ["site"],
            "consent_design": "consent_first",
            "followup_years": 3,
        },
        actor="bench",
    )
    site = trials.add_site(
        trial, {"code": "bench", "plugin": "template", "municipalities": ["GM0758"]}, actor="bench"
    )
    db.session.execute(
        User.__table__.insert(),
        [
            {
                "username": f"km{n}",
                "display_name": f"km{n}",
                "role": "client_manager",
                "site_id": site.id,
                "capacity": PER_MANAGER,
                "active": True,
                "failed_logins": 0,
            }
            for n in range(clients // PER_MANAGER)
        ],
    )
    db.session.execute(
        Participant.__table__.insert(),
        [
            {
                "trial_id": trial.id,
                "site_id": site.id,
                "pseudonym": f"{n:064x}",
                "birth_date": date(1980, 1, 1),
                "sex": "female",
                "benefit_start": date(2020, 1, 1),
                "registered_on": START,
                "age_band": "b",
                "benefit_duration_band": "b",
                "stratum": "s",
                "eligible": True,
                "ineligible_reasons": [],
                "pension_age_date": date(2047, 1, 1),
                "registered_by": "bench",
            }
            for n in range(clients)
        ],
    )
    ids = [pid for (pid,) in db.session.query(Participant.id).order_by(Participant.id)]
    allocated_at = datetime(2026, 10, 30, tzinfo=UTC)
    db.session.execute(
        Allocation.__table__.insert(),
        [
            {
                "trial_id": trial.id,
                "site_id": site.id,
                "participant_id": pid,
                "arm": "fip",
                "stratum": "s",
                "sequence": n,
                "method": "bench",
                "evidence": {},
                "status": "active",
                "allocated_by": "bench",
                "allocated_at": allocated_at,
            }
            for n, pid in enumerate(ids)
        ],
    )
    db.session.commit()
    caseload.assign_by_load(site, on=START, actor="bench")
    return site


def time_plan_site(clients: int) -> tuple[float, float]:
    from flask_migrate import upgrade

    from fiptrial import create_app
    from fiptrial.extensions import db
    from fiptrial.services import planning

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "PSEUDONYM_KEY": "bench"}
        )
        with app.app_context():
            upgrade()
            site = _site_with_clients(clients)
            started, started_cpu = time.perf_counter(), time.process_time()
            result = planning.plan_site(site, actor="bench", starts_on=START)
            elapsed = time.perf_counter() - started, time.process_time() - started_cpu
            assert result["conversations"] == clients * 4
            db.session.remove()
            db.engine.dispose()
    return elapsed


def run() -> dict[str, float]:
    # The shared machines are noisy: the best of two runs of each, and the growth ratios from
    # CPU time (this process's own work; other users' load does not count).
    half = min(time_core(180_000) for _ in range(2))
    national = min(time_core(360_000) for _ in range(2))
    site_half = min(time_plan_site(18_000) for _ in range(2))
    site_full = min(time_plan_site(36_000) for _ in range(2))
    return {
        "plan_seconds_national": national[0],
        "plan_growth_ratio": national[1] / half[1],
        "plan_site_seconds_36k": site_full[0],
        "plan_site_growth_ratio": site_full[1] / site_half[1],
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key} = {value:.4g}")
