"""Code that runs inside the racing processes of the concurrency tests.

It lives in its own module (not in a test module) so that ``multiprocessing``'s fork server
can import it once in a fresh interpreter and fork every racer from there. Every worker builds
its own app, and so its own engine and connection pool, on the shared database, exactly as a
separate gunicorn worker or host would. Workers meet at a barrier before each round so that
their requests really collide, and end every attempt's session at once: on SQLite every
transaction holds the write lock (``BEGIN IMMEDIATE``), so a session left open while waiting
at the barrier would starve the other workers.

A worker never raises: it reports its outcomes, or its error, on the result queue and aborts
the barrier when it fails, so the parent test fails with the reason instead of hanging.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Sequence
from typing import Any

BARRIER_TIMEOUT_SECONDS = 120


def build_app(source: Any, keys: dict[str, str]) -> Any:
    """The worker's own app: ``source`` is a database URL, or an app built by a thread's parent
    (Flask app factories are not meant to run in several threads at once)."""
    if not isinstance(source, str):
        return source
    from fiptrial import create_app

    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": source, **keys})


def _warm_up(app: Any) -> None:
    """Import everything and open a connection before the race, so the race is the request."""
    from sqlalchemy import text

    from fiptrial.extensions import db

    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.remove()


def racer(race: Callable[..., list[dict[str, Any]]]) -> Callable[..., None]:
    """``race(worker, app, *args, barrier)`` as a racer ``(worker, source, keys, *args, barrier,
    results)``: it gets its app (built and warmed up), and its outcomes, or its error, go on the
    result queue. A failing racer aborts the barrier, so that the others stop waiting for it.
    An app the racer built itself has its engine disposed of at the end."""

    @functools.wraps(race)
    def run(worker: int, source: Any, keys: dict[str, str], *args: Any) -> None:
        *race_args, barrier, results = args
        try:
            app = build_app(source, keys)
            _warm_up(app)
            outcomes = race(worker, app, *race_args, barrier)
            if isinstance(source, str):
                from fiptrial.extensions import db

                with app.app_context():
                    db.engine.dispose()
            results.put((worker, outcomes, None))
        except Exception:
            barrier.abort()
            results.put((worker, [], traceback.format_exc()))

    return run


def _attempt_allocation(participant_id: int, actor: str) -> dict[str, Any]:
    from fiptrial.errors import PlatformError
    from fiptrial.extensions import db
    from fiptrial.services import randomisation

    try:
        allocation = randomisation.allocate(participant_id, actor=actor)
        return {
            "participant": participant_id,
            "outcome": "allocated",
            "allocation": randomisation.allocation_summary(allocation),
        }
    except PlatformError as error:
        return {
            "participant": participant_id,
            "outcome": "refused",
            "status": error.status,
            "code": error.code,
            "allocation": error.extra.get("allocation"),
        }
    except Exception:
        return {"participant": participant_id, "outcome": "error", "error": traceback.format_exc()}
    finally:
        db.session.remove()


@racer
def allocate_rounds(
    worker: int, app: Any, rounds: Sequence[Sequence[int]], barrier: Any
) -> list[dict[str, Any]]:
    """Allocate the participants of each round through ``services.randomisation.allocate``."""
    outcomes = []
    with app.app_context():
        for participant_ids in rounds:
            barrier.wait(BARRIER_TIMEOUT_SECONDS)
            for participant_id in participant_ids:
                outcomes.append(_attempt_allocation(participant_id, f"worker-{worker}"))
    return outcomes


@racer
def register_rounds(
    worker: int,
    app: Any,
    site_code: str,
    token: str,
    rounds: Sequence[dict[str, Any]],
    barrier: Any,
) -> list[dict[str, Any]]:
    """POST one registration per round through the JSON API (``test_client``, no server)."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    outcomes = []
    for body in rounds:
        barrier.wait(BARRIER_TIMEOUT_SECONDS)
        response = client.post(
            f"/api/v1/sites/{site_code}/participants", json=body, headers=headers
        )
        outcomes.append(
            {
                "bsn": body["bsn"],
                "status": response.status_code,
                "body": response.get_json(silent=True),
            }
        )
    return outcomes


@racer
def cohort_or_allocate(
    worker: int, app: Any, task: dict[str, Any], barrier: Any
) -> list[dict[str, Any]]:
    """Either a cohort allocation of a site (``{"cohort": site_id, "fip": n}``) or single
    allocations (``{"participants": [...]}``), started together at the barrier."""
    outcomes = []
    with app.app_context():
        from fiptrial.errors import PlatformError
        from fiptrial.extensions import db
        from fiptrial.services import randomisation

        barrier.wait(BARRIER_TIMEOUT_SECONDS)
        if "cohort" in task:
            try:
                cohort = randomisation.allocate_cohort(
                    task["cohort"], task["fip"], actor=f"worker-{worker}"
                )
                outcomes.append({"outcome": "cohort", "cohort": cohort.id})
            except PlatformError as error:
                outcomes.append(
                    {
                        "outcome": "refused",
                        "status": error.status,
                        "code": error.code,
                        "message": error.message,
                    }
                )
            except Exception:
                outcomes.append({"outcome": "error", "error": traceback.format_exc()})
            finally:
                db.session.remove()
        for participant_id in task.get("participants", []):
            outcomes.append(_attempt_allocation(participant_id, f"worker-{worker}"))
    return outcomes
