"""Allocation and registration under real concurrency, on SQLite and on PostgreSQL.

The racers are separate PROCESSES (multiprocessing, forkserver context: a fresh interpreter that
has imported the platform once and forks each racer from there), each with its own app and
engine on the same database, meeting at a barrier so their requests collide; the
same-participant race is also run with threads of one process, each with its own app. Every
test runs on SQLite and on PostgreSQL (the ``app`` fixture). What must hold, whatever the
interleaving:

* one participant asked for by everybody at once gets exactly one allocation; every other
  request gets 409 ``already_allocated`` carrying that same allocation;
* in a stratum, sequences run 1..N with no gap and no duplicate, no block slot is used twice or
  skipped, every arm is the one its block slot holds, and each arm stays within one block of
  its exact share (1:4);
* the same BSN registered at once gives one 201 and 409s naming the existing id;
* a site's cohort allocation racing single allocations of its participants neither fails nor
  deadlocks: whoever locks a participant first allocates them;
* the audit chain verifies afterwards and every allocation re-derives from its recorded seed.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import concurrency_workers as workers
import pytest
from flask import Flask

# Each racer builds an app of its own: still a second or so, not milliseconds.
pytestmark = pytest.mark.slow
#: What the fork server imports once, so that no racer pays for importing the platform again
#: (a spawned racer took about two seconds of CPU for that alone).
FORKSERVER_PRELOAD = ["concurrency_workers", "fiptrial", "fiptrial.services.randomisation"]

WORKERS = 4
RESULT_TIMEOUT_SECONDS = 240

OLDER = {"birth_date": date(1980, 5, 17), "benefit_start": date(2020, 1, 1)}  # 45-54, 60+
YOUNGER = {"birth_date": date(1990, 3, 9), "benefit_start": date(2025, 1, 1)}  # 35-44, 12-23


# --- Running the racers -------------------------------------------------------------------------


def _collect(results: Any, count: int, alive: Callable[[], Any]) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = []
    errors: list[str] = []
    for _ in range(count):
        try:
            worker, worker_outcomes, error = results.get(timeout=RESULT_TIMEOUT_SECONDS)
        except queue.Empty:
            pytest.fail(
                f"a racer gave no result within {RESULT_TIMEOUT_SECONDS} s "
                f"(still running: {alive()})"
            )
        if error:
            errors.append(f"worker {worker}:\n{error}")
        outcomes.extend(worker_outcomes)
    if errors:
        pytest.fail("racers failed:\n" + "\n".join(errors))
    return outcomes


def _race(
    racer: Callable[..., Any],
    target: Callable[..., None],
    args: Sequence[tuple[Any, ...]],
    barrier: Any,
    results: Any,
) -> list[dict]:
    """Start ``racer(target=target, args=(i, *args[i], barrier, results))`` for each entry (a
    process or a thread), collect their outcomes and wait for them to end. A process still
    running after that is terminated (a thread cannot be)."""
    racers = [
        racer(target=target, args=(i, *worker_args, barrier, results), daemon=True)
        for i, worker_args in enumerate(args)
    ]
    for each in racers:
        each.start()
    try:
        return _collect(
            results, len(racers), lambda: [each.name for each in racers if each.is_alive()]
        )
    finally:
        for each in racers:
            each.join(timeout=30)
            if isinstance(each, multiprocessing.process.BaseProcess) and each.is_alive():
                each.terminate()
                each.join(timeout=10)


def race_processes(target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> list[dict]:
    """Run ``target(i, *args[i], barrier, results)`` in one process per entry, forked from a
    clean server process (never from this one, which holds open connections and threads)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORKSERVER_PRELOAD)
    return _race(context.Process, target, args, context.Barrier(len(args)), context.Queue())


def race_threads(target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> list[dict]:
    """The same with threads of this process (each given its own app by the caller)."""
    results: queue.Queue[Any] = queue.Queue()
    return _race(threading.Thread, target, args, threading.Barrier(len(args)), results)


def release_database() -> None:
    """End this process's transaction: on SQLite an open one holds the write lock."""
    from fiptrial.extensions import db

    db.session.remove()


def dispose() -> None:
    from fiptrial.extensions import db

    db.session.remove()
    db.engine.dispose()


def keys_of(app: Flask) -> dict[str, Any]:
    """The racers pseudonymise and audit with the test app's keys and draw its lotteries
    under its minimum cohort size."""
    names = ("SECRET_KEY", "PSEUDONYM_KEY", "AUDIT_KEY", "COHORT_MIN_SIZE")
    return {key: app.config[key] for key in names}


# --- Checks -------------------------------------------------------------------------------------


def check_exactly_one_allocation_each(outcomes: list[dict], expected_attempts: int) -> dict:
    """Every participant allocated once; every other attempt a 409 carrying that allocation."""
    by_participant: dict[int, list[dict]] = defaultdict(list)
    for outcome in outcomes:
        assert outcome["outcome"] != "error", outcome["error"]
        by_participant[outcome["participant"]].append(outcome)
    allocated = {}
    for participant_id, attempts in by_participant.items():
        assert len(attempts) == expected_attempts, (participant_id, attempts)
        wins = [a for a in attempts if a["outcome"] == "allocated"]
        assert len(wins) == 1, (participant_id, attempts)
        allocation = wins[0]["allocation"]
        for attempt in attempts:
            if attempt is wins[0]:
                continue
            assert (attempt["status"], attempt["code"]) == (409, "already_allocated"), attempt
            assert attempt["allocation"] == allocation, (attempt, allocation)
        allocated[participant_id] = allocation
    return allocated


def check_strata(trial_id: int, expected: dict[int, dict]) -> None:
    """Sequences, block slots and arm balance of every stratum, read back from the database."""
    from fiptrial.extensions import db
    from fiptrial.models import Allocation, RandomisationBlock, StratumState, Trial

    trial = db.session.get(Trial, trial_id)
    rows = db.session.query(Allocation).filter_by(trial_id=trial.id).all()
    assert {row.participant_id for row in rows} == set(expected)
    for row in rows:
        summary = expected[row.participant_id]
        assert (row.id, row.arm, row.sequence) == (
            summary["id"],
            summary["arm"],
            summary["sequence"],
        )
    blocks = {b.id: b for b in db.session.query(RandomisationBlock).filter_by(trial_id=trial_id)}
    states = {s.stratum: s for s in db.session.query(StratumState).filter_by(trial_id=trial_id)}
    ratios = trial.ratios()
    largest = max(trial.block_multipliers)
    by_stratum: dict[str, list[Allocation]] = defaultdict(list)
    for row in rows:
        by_stratum[row.stratum].append(row)
    for stratum, allocations in by_stratum.items():
        count = len(allocations)
        assert sorted(a.sequence for a in allocations) == list(range(1, count + 1)), stratum
        slots = [(a.block_id, a.block_position) for a in allocations]
        assert len(set(slots)) == count, f"a block slot was used twice in {stratum}"
        for allocation in allocations:
            assert blocks[allocation.block_id].arms[allocation.block_position] == allocation.arm
        state = states[stratum]
        assert state.allocated == count
        numbers = sorted(b.number for b in blocks.values() if b.stratum == stratum)
        assert numbers == list(range(1, state.block_count + 1))
        used: dict[int, list[int]] = defaultdict(list)
        for block_id, position in slots:
            used[block_id].append(position)
        for block_id, positions in used.items():
            block = blocks[block_id]
            size = state.block_position if block_id == state.block_id else len(block.arms)
            assert sorted(positions) == list(range(size)), f"a slot was skipped in {stratum}"
        arms = Counter(a.arm for a in allocations)
        for arm, ratio in ratios.items():
            exact = count * ratio / sum(ratios.values())
            # Within one block: no arm is further from its share than its count in the largest
            # block (2 FIP and 8 control for 1:4 with multipliers [1, 2]).
            assert abs(arms[arm] - exact) <= ratio * largest, (stratum, dict(arms), count)


def check_audit_and_derivation(trial_id: int) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Trial
    from fiptrial.services.audit import verify_chain
    from fiptrial.services.randomisation import verify_trial

    trial = db.session.get(Trial, trial_id)
    report = verify_chain()
    assert report.ok, report.to_dict()
    assert verify_trial(trial) == []
    db.session.remove()


# --- Tests --------------------------------------------------------------------------------------


def test_same_participant_in_parallel_processes(app: Flask, build: Any) -> None:
    from fiptrial.models import AuditEntry

    trial = build.trial()
    trial_id = trial.id
    site = build.site(trial)
    participant_ids = [build.participant(site, **OLDER).id for _ in range(6)]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    release_database()

    outcomes = race_processes(
        workers.allocate_rounds,
        [(url, keys_of(app), [[pid] for pid in participant_ids])] * WORKERS,
    )

    allocated = check_exactly_one_allocation_each(outcomes, WORKERS)
    assert set(allocated) == set(participant_ids)
    check_strata(trial_id, allocated)
    check_audit_and_derivation(trial_id)
    from fiptrial.extensions import db

    actions = Counter(a for (a,) in db.session.query(AuditEntry.action))
    assert actions["allocation.created"] == len(participant_ids)


def test_same_participant_in_threads(app: Flask, build: Any) -> None:
    """The same race between threads of one process, each thread with its own app."""
    trial = build.trial()
    trial_id = trial.id
    site = build.site(trial)
    participant_ids = [build.participant(site, **OLDER).id for _ in range(8)]
    release_database()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    # Flask app factories are not thread-safe: build the racers' apps here, one after another.
    apps = [workers.build_app(url, keys_of(app)) for _ in range(WORKERS)]
    try:
        outcomes = race_threads(
            workers.allocate_rounds,
            [(each, keys_of(app), [[pid] for pid in participant_ids]) for each in apps],
        )
    finally:
        for each in apps:
            with each.app_context():
                dispose()

    allocated = check_exactly_one_allocation_each(outcomes, WORKERS)
    check_strata(trial_id, allocated)
    check_audit_and_derivation(trial_id)


def test_one_stratum_allocated_concurrently(app: Flask, build: Any) -> None:
    """Many participants of one stratum (and a few of another), each asked for by two racers."""
    trial = build.trial()
    trial_id = trial.id
    site = build.site(trial)
    older = [build.participant(site, **OLDER) for _ in range(48)]
    younger = [build.participant(site, **YOUNGER) for _ in range(12)]
    assert len({p.stratum for p in older}) == 1 and older[0].stratum != younger[0].stratum
    participant_ids = [p.id for p in older + younger]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    release_database()

    # Each participant goes to two racers, in a different order for each racer.
    rng = random.Random(20141101)
    queues: list[list[int]] = [[] for _ in range(WORKERS)]
    for index, participant_id in enumerate(participant_ids):
        queues[index % WORKERS].append(participant_id)
        queues[(index + 1) % WORKERS].append(participant_id)
    for each in queues:
        rng.shuffle(each)

    outcomes = race_processes(
        workers.allocate_rounds, [(url, keys_of(app), [each]) for each in queues]
    )

    allocated = check_exactly_one_allocation_each(outcomes, 2)
    assert set(allocated) == set(participant_ids)
    check_strata(trial_id, allocated)
    check_audit_and_derivation(trial_id)


def test_same_bsn_registered_in_parallel_processes(app: Flask, build: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Participant

    trial = build.trial()
    trial_id = trial.id
    build.site(trial)
    token = build.token("research_admin")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    bsns = [build.next_bsn() for _ in range(5)]
    release_database()
    rounds = [
        {"bsn": bsn, "birth_date": "1980-05-17", "sex": "male", "benefit_start": "2020-01-01"}
        for bsn in bsns
    ]

    outcomes = race_processes(
        workers.register_rounds, [(url, keys_of(app), "bw", token, rounds)] * WORKERS
    )

    by_bsn: dict[str, list[dict]] = defaultdict(list)
    for outcome in outcomes:
        by_bsn[outcome["bsn"]].append(outcome)
    assert set(by_bsn) == set(bsns)
    created_ids = set()
    for bsn, attempts in by_bsn.items():
        statuses = sorted(a["status"] for a in attempts)
        assert statuses == [201] + [409] * (WORKERS - 1), (bsn, attempts)
        created = next(a for a in attempts if a["status"] == 201)["body"]["id"]
        created_ids.add(created)
        for attempt in attempts:
            if attempt["status"] == 409:
                error = attempt["body"]["error"]
                assert error["code"] == "duplicate_participant"
                assert error["existing_id"] == created
    stored = {pid for (pid,) in db.session.query(Participant.id).filter_by(trial_id=trial_id)}
    assert stored == created_ids
    from fiptrial.services.audit import verify_chain

    assert verify_chain().ok


def test_cohort_allocation_racing_single_allocations(app: Flask, build: Any) -> None:
    """A site's cohort allocation while its participants are also allocated one by one.

    Whoever comes first allocates a participant; the other side leaves them out (the cohort)
    or gets 409 with the cohort's allocation (a single request). Nothing fails, nothing is
    allocated twice, the cohort sends exactly ``fip`` of its own allocations to FIP, and the
    strata's sequences stay unbroken.
    """
    from fiptrial.extensions import db
    from fiptrial.models import Allocation, CohortRandomisation

    trial = build.trial()
    trial_id = trial.id
    site = build.site(trial)
    site_id = site.id
    from fiptrial.services import caseload

    # The lottery gives FIP no more than the free places (single allocations take some too).
    caseload.add_client_manager(site, "km", capacity=40, actor="test")
    people = [build.participant(site, **OLDER) for _ in range(30)]
    people += [build.participant(site, **YOUNGER) for _ in range(10)]
    participant_ids = [p.id for p in people]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    release_database()

    rng = random.Random(20160101)
    # Few FIP places: the lottery needs more drawn units than places, and the racers may leave few.
    tasks: list[dict[str, Any]] = [{"cohort": site_id, "fip": 2}]
    for _ in range(WORKERS - 1):
        tasks.append({"participants": rng.sample(participant_ids, 15)})
    outcomes = race_processes(
        workers.cohort_or_allocate, [(url, keys_of(app), task) for task in tasks]
    )

    errors = [o["error"] for o in outcomes if o["outcome"] == "error"]
    assert not errors, "\n".join(errors)
    [cohort_outcome] = [o for o in outcomes if "participant" not in o]
    assert cohort_outcome["outcome"] == "cohort", cohort_outcome
    rows = {a.participant_id: a for a in db.session.query(Allocation).filter_by(trial_id=trial_id)}
    assert sorted(rows) == sorted(participant_ids)
    for outcome in outcomes:
        if "participant" not in outcome:
            continue
        stored = rows[outcome["participant"]]
        if outcome["outcome"] == "allocated":
            assert outcome["allocation"]["id"] == stored.id and stored.cohort_id is None
        else:
            assert (outcome["status"], outcome["code"]) == (409, "already_allocated"), outcome
            assert outcome["allocation"]["id"] == stored.id

    cohort = db.session.get(CohortRandomisation, cohort_outcome["cohort"])
    mine = [a for a in rows.values() if a.cohort_id == cohort.id]
    assert len(mine) == cohort.caseload
    assert sorted(a.participant_id for a in mine) == sorted(
        pid for entry in cohort.per_stratum.values() for pid in entry["participants"]
    )
    assert Counter(a.arm for a in mine)["fip"] == cohort.fip == 2
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for allocation in rows.values():
        by_stratum[allocation.stratum].append(allocation.sequence)
    for stratum, sequences in by_stratum.items():
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), stratum
    slots = [(a.block_id, a.block_position) for a in rows.values() if a.block_id is not None]
    assert len(slots) == len(set(slots))
    check_audit_and_derivation(trial_id)


def test_partners_allocated_at_the_same_moment_get_one_arm(app: Flask, build: Any) -> None:
    """Two partners on one benefit (issue 10), each asked for by three racers at once: the unit
    still draws once. Racers allocate the partners in opposite orders, so the unit's lock order
    (its members' rows by id) is what keeps them from deadlocking."""
    from fiptrial.extensions import db
    from fiptrial.models import Allocation

    trial = build.trial()
    trial_id = trial.id
    site = build.site(trial)
    couples = [
        (build.participant(site, unit_key=f"B{n}", **OLDER).id,
         build.participant(site, unit_key=f"B{n}", sex="male", **OLDER).id)
        for n in range(6)
    ]  # fmt: skip
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    release_database()
    first = [[a] for a, _b in couples]
    second = [[b] for _a, b in couples]
    both = [[a, b] for a, b in couples]
    reverse = [[b, a] for a, b in couples]

    outcomes = race_processes(
        workers.allocate_rounds,
        [(url, keys_of(app), rounds) for rounds in (first, second, both, reverse)],
    )

    allocated = check_exactly_one_allocation_each(outcomes, 3)  # each partner asked 3 times
    rows = {a.participant_id: a for a in db.session.query(Allocation).filter_by(trial_id=trial_id)}
    for a, b in couples:
        assert allocated[a]["arm"] == allocated[b]["arm"]
        drawn, follower = sorted((rows[a], rows[b]), key=lambda row: row.id)
        assert (drawn.unit_allocation_id, follower.unit_allocation_id) == (None, drawn.id)
        assert follower.method == "unit" and follower.block_id is None
    slots = [(a.block_id, a.block_position) for a in rows.values() if a.block_id is not None]
    assert len(slots) == len(set(slots)) == len(couples)  # one slot per unit
    check_audit_and_derivation(trial_id)
