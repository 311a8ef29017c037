"""Allocation throughput, and whether one allocation's cost grows with the allocations before it.

In-process, on SQLite files (migrated with the real migrations), through
``services.randomisation.allocate`` exactly as the API calls it: one unit of work and one
session per allocation.

* ``allocations_per_second``: allocate participants of four strata, interleaved, one by one.
* ``allocation_cost_ratio_100k_vs_1k``: two databases whose big stratum already holds 1,000 and
  100,000 allocations (bulk-inserted participants, consent, blocks, allocations, a consistent
  ``StratumState`` row and a valid audit chain of the same length, so that a scan of any of
  them would show); then 200 allocations in that stratum in each database, timed one by one,
  in alternating rounds so that the machine's noise hits both sides alike. The ratio of the
  median costs must stay at or below 1.5: allocation reads its stratum's state row, never the
  earlier allocations.

Run standalone (``python bench/bench_allocation.py``) or with ``python bench/run.py allocation``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

THROUGHPUT_PER_STRATUM = 100
STRATA = [  # (birth_date, benefit_start): four strata of one site
    (date(1980, 5, 17), date(2020, 1, 1)),
    (date(1990, 3, 9), date(2025, 1, 1)),
    (date(1975, 8, 2), date(2023, 6, 1)),
    (date(1996, 11, 30), date(2019, 2, 1)),
]
LEVELS = {"1k": 1_000, "100k": 100_000}
MEASURED = 200  # allocations timed at each level
ROUNDS = 10  # alternating rounds of MEASURED / ROUNDS allocations per level
WARM_UP = 10
REGISTERED_ON = date(2026, 11, 2)
KEYS = {"SECRET_KEY": "bench-secret", "PSEUDONYM_KEY": "bench-pseudonym-key"}
BATCH = 20_000


# --- Databases ----------------------------------------------------------------------------------


def _create_app(path: Path) -> Any:
    from fiptrial import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **KEYS})


def _migrated_template(workdir: Path) -> Path:
    from flask_migrate import upgrade

    path = workdir / "template.sqlite"
    app = _create_app(path)
    with app.app_context():
        upgrade()
        _dispose()
    return path


def _dispose() -> None:
    from fiptrial.extensions import db

    db.session.remove()
    db.engine.dispose()


@contextmanager
def _database(template: Path, name: str) -> Iterator[Any]:
    path = template.with_name(f"{name}.sqlite")
    shutil.copy(template, path)
    app = _create_app(path)
    try:
        yield app
    finally:
        with app.app_context():
            _dispose()


def _trial() -> dict[str, Any]:
    """Trial, consent form and site through the services; plain values of them, session ended
    (on SQLite an open session holds the write lock that the bulk inserts need)."""
    from fiptrial.extensions import db
    from fiptrial.services import consent, trials

    trial = trials.create_trial(trials.fip_design("bench", "Allocation benchmark"), actor="bench")
    consent.register_form(
        trial, version="v1", valid_from=date(2020, 1, 1), requires_reconsent=False, actor="bench"
    )
    site = trials.add_site(trial, {"code": "bw", "plugin": "brabantse_wal"}, actor="bench")
    setup = {
        "trial_id": trial.id,
        "site_id": site.id,
        "site_code": site.code,
        "ratios": site.ratios(),
        "multipliers": list(trial.block_multipliers),
    }
    setup["templates"] = _templates(site)
    db.session.remove()
    return setup


def _templates(site: Any) -> list[dict[str, Any]]:
    """Register one real participant per stratum; bulk rows copy its computed fields."""
    from stdnum.nl import bsn

    from fiptrial.models import Participant
    from fiptrial.services import participants

    rows = []
    number = 100_000_000
    for birth_date, benefit_start in STRATA:
        number += 1
        while not bsn.is_valid(str(number)):
            number += 1
        participant = participants.register(
            site,
            {
                "bsn": str(number),
                "birth_date": birth_date,
                "sex": "female",
                "benefit_start": benefit_start,
                "registered_on": REGISTERED_ON,
            },
            actor="bench",
        )
        assert participant.eligible, participant.ineligible_reasons
        columns = Participant.__table__.columns.keys()
        rows.append({name: getattr(participant, name) for name in columns if name != "id"})
    return rows


def _next_id(connection: Any, table: Any) -> int:
    from sqlalchemy import func, select

    return (connection.execute(select(func.max(table.c.id))).scalar() or 0) + 1


def _add_participants(template: dict[str, Any], count: int) -> list[int]:
    """Bulk-insert ``count`` eligible, consented participants like ``template``; their ids."""
    from sqlalchemy import insert

    from fiptrial.extensions import db
    from fiptrial.models import ConsentEvent, Participant

    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        first = _next_id(connection, Participant.__table__)
        ids = list(range(first, first + count))
        for start in range(0, count, BATCH):
            chunk = ids[start : start + BATCH]
            connection.execute(
                insert(Participant.__table__),
                [
                    {
                        **template,
                        "id": pid,
                        "pseudonym": f"{pid:064x}",
                        "registered_by": "bench",
                        "created_at": now,
                    }
                    for pid in chunk
                ],
            )
            connection.execute(
                insert(ConsentEvent.__table__),
                [
                    {
                        "participant_id": pid,
                        "status": "given",
                        "form_version": "v1",
                        "date": REGISTERED_ON,
                        "recorded_by": "bench",
                        "recorded_at": now,
                    }
                    for pid in chunk
                ],
            )
    return ids


def _add_earlier_allocations(setup: dict[str, Any], count: int) -> None:
    """``count`` allocations in the template's stratum, as the service would have left them."""
    from sqlalchemy import insert, update

    from fiptrial.extensions import db
    from fiptrial.models import Allocation, AuditEntry, AuditHead, RandomisationBlock, StratumState
    from fiptrial.services.audit import (
        audit_key,
        canonical_json,
        chain_hash,
        entry_content,
        head_mac,
    )
    from fiptrial.services.random_source import new_seed, seed_commitment
    from fiptrial.services.randomisation import derive_block

    template = setup["templates"][0]
    stratum = template["stratum"]
    participant_ids = _add_participants(template, count)
    ratios, multipliers = setup["ratios"], setup["multipliers"]
    trial_id, site_id, site_code = setup["trial_id"], setup["site_id"], setup["site_code"]
    now = datetime.now(UTC)
    blocks: list[dict[str, Any]] = []
    allocations: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    with db.engine.begin() as connection:
        head = connection.execute(db.select(AuditHead).where(AuditHead.id == 1)).one()
        last_id, last_hash = head.last_id, head.last_hash
        key = audit_key()
        block_id = _next_id(connection, RandomisationBlock.__table__) - 1
        allocation_id = _next_id(connection, Allocation.__table__) - 1
        arms: list[str] = []
        position = 0

        def append_audit(action: str, entity: str, entity_id: int, data: dict[str, Any]) -> None:
            nonlocal last_id, last_hash
            last_id += 1
            entry = AuditEntry(
                id=last_id,
                recorded_at=now.isoformat(timespec="microseconds"),
                actor="bench",
                action=action,
                entity=entity,
                entity_id=str(entity_id),
                site=site_code,
                data=canonical_json(data),
                prev_hash=last_hash,
            )
            entry.hash = last_hash = chain_hash(entry.prev_hash, entry_content(entry), key)
            audit.append({c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns})

        for sequence, participant_id in enumerate(participant_ids, start=1):
            if position >= len(arms):
                seed = new_seed()
                arms = derive_block(seed, ratios, multipliers)
                block_id += 1
                position = 0
                blocks.append(
                    {
                        "id": block_id,
                        "trial_id": trial_id,
                        "stratum": stratum,
                        "number": len(blocks) + 1,
                        "seed": seed,
                        "ratios": ratios,
                        "multipliers": multipliers,
                        "arms": arms,
                        "created_at": now,
                    }
                )
                append_audit(
                    "randomisation.block_committed",
                    "randomisation_block",
                    block_id,
                    {
                        "stratum": stratum,
                        "number": len(blocks),
                        "size": len(arms),
                        "seed_sha256": seed_commitment(seed),
                    },
                )
            allocation_id += 1
            allocations.append(
                {
                    "id": allocation_id,
                    "trial_id": trial_id,
                    "site_id": site_id,
                    "participant_id": participant_id,
                    "arm": arms[position],
                    "stratum": stratum,
                    "sequence": sequence,
                    "method": "permuted_blocks",
                    "block_id": block_id,
                    "block_position": position,
                    "cohort_id": None,
                    "evidence": {},
                    "status": "active",
                    "allocated_by": "bench",
                    "allocated_at": now,
                }
            )
            append_audit(
                "allocation.created",
                "participant",
                participant_id,
                {
                    "allocation": allocation_id,
                    "arm": arms[position],
                    "stratum": stratum,
                    "sequence": sequence,
                    "method": "permuted_blocks",
                    "block_position": position,
                },
            )
            position += 1
        for table, rows in (
            (RandomisationBlock, blocks),
            (Allocation, allocations),
            (AuditEntry, audit),
        ):
            for start in range(0, len(rows), BATCH):
                connection.execute(insert(table.__table__), rows[start : start + BATCH])
        connection.execute(
            insert(StratumState.__table__).values(
                trial_id=trial_id,
                stratum=stratum,
                allocated=count,
                block_count=len(blocks),
                block_id=block_id,
                block_position=position,
            )
        )
        connection.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(
                last_id=last_id,
                last_hash=last_hash,
                mac=head_mac(last_id, last_hash, head.keyed_from, key),
            )
        )


def _allocate_timed(participant_ids: list[int]) -> list[float]:
    """Allocate one by one, each in its own session as an API request would; seconds each."""
    from fiptrial.extensions import db
    from fiptrial.services.randomisation import allocate

    costs = []
    for participant_id in participant_ids:
        started = time.perf_counter()
        allocate(participant_id, actor="bench")
        db.session.remove()
        costs.append(time.perf_counter() - started)
    return costs


# --- Measurements -------------------------------------------------------------------------------


def measure_throughput(template_db: Path) -> float:
    with _database(template_db, "throughput") as app, app.app_context():
        templates = _trial()["templates"]
        per_stratum = [_add_participants(t, THROUGHPUT_PER_STRATUM) for t in templates]
        order = [pid for group in zip(*per_stratum, strict=True) for pid in group]
        _allocate_timed(order[:WARM_UP])
        started = time.perf_counter()
        _allocate_timed(order[WARM_UP:])
        elapsed = time.perf_counter() - started
        from fiptrial.services.audit import verify_chain

        assert verify_chain().ok
        return (len(order) - WARM_UP) / elapsed


def measure_cost_ratio(template_db: Path) -> dict[str, float]:
    apps: dict[str, Any] = {}
    pending: dict[str, list[int]] = {}
    with (
        _database(template_db, "level_1k") as app_1k,
        _database(template_db, "level_100k") as app_100k,
    ):
        for level, app in (("1k", app_1k), ("100k", app_100k)):
            with app.app_context():
                setup = _trial()
                _add_earlier_allocations(setup, LEVELS[level])
                pending[level] = _add_participants(setup["templates"][0], WARM_UP + MEASURED)
                _allocate_timed(pending[level][:WARM_UP])
                pending[level] = pending[level][WARM_UP:]
            apps[level] = app
        costs: dict[str, list[float]] = {level: [] for level in LEVELS}
        per_round = MEASURED // ROUNDS
        for round_number in range(ROUNDS):
            order = list(LEVELS) if round_number % 2 == 0 else list(reversed(LEVELS))
            for level in order:
                batch = pending[level][round_number * per_round : (round_number + 1) * per_round]
                with apps[level].app_context():
                    costs[level].extend(_allocate_timed(batch))
        for level, app in apps.items():
            with app.app_context():
                _check_consistent(LEVELS[level] + WARM_UP + MEASURED)
    median = {level: statistics.median(values) for level, values in costs.items()}
    return {
        "allocation_ms_at_1k": median["1k"] * 1000,
        "allocation_ms_at_100k": median["100k"] * 1000,
        "allocation_cost_ratio_100k_vs_1k": median["100k"] / median["1k"],
    }


def _check_consistent(expected: int) -> None:
    """The timed allocations continued the bulk-inserted ones: no gap, no reused slot."""
    from sqlalchemy import func

    from fiptrial.extensions import db
    from fiptrial.models import Allocation, StratumState
    from fiptrial.services.audit import verify_chain

    state = db.session.query(StratumState).filter(StratumState.allocated >= expected).one()
    sequences = (
        db.session.query(
            func.count(Allocation.id),
            func.max(Allocation.sequence),
            func.count(func.distinct(Allocation.sequence)),
        )
        .filter(Allocation.stratum == state.stratum)
        .one()
    )
    assert tuple(sequences) == (expected, expected, expected), sequences
    assert verify_chain().ok
    db.session.remove()


def run() -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="fiptrial-bench-allocation-"))
    previous = os.environ.get("FIPTRIAL_INSTANCE_PATH")
    os.environ["FIPTRIAL_INSTANCE_PATH"] = str(workdir / "instance")
    try:
        template_db = _migrated_template(workdir)
        figures = {"allocations_per_second": measure_throughput(template_db)}
        figures.update(measure_cost_ratio(template_db))
        return figures
    finally:
        if previous is None:
            os.environ.pop("FIPTRIAL_INSTANCE_PATH", None)
        else:
            os.environ["FIPTRIAL_INSTANCE_PATH"] = previous
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name} = {value:.4g}")
