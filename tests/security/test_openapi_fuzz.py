"""Schemathesis against the platform's own OpenAPI document: every operation, as a research
admin and as a site coordinator, with bounded examples (valid and invalid inputs, random ids
and the world's real ones). Zero server errors and zero answers outside the documented schema.

The counts of each run (requests, failures) are printed, for the closing note of issue 9.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from security_world import World

EXAMPLES = 5  # per operation and generation mode; every operation runs both tokens
SLOW = {"/api/v1/trials/{trial_code}/analysis": 3}  # each example runs the whole report


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]


def _known(world: World) -> dict[str, Any]:
    from fiptrial.extensions import db
    from fiptrial.models import Allocation

    allocation = db.session.query(Allocation).filter_by(participant_id=world.own.id).one()
    return {
        "site_code": world.bw.code,
        "trial_code": world.trial.code,
        "participant_id": world.own.id,
        "allocation_id": allocation.id,
        "manager_id": world.users["km"].id,
        "task_id": world.jobs["own"],
    }


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(app: Any, world: World) -> None:
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    known = _known(world)
    tokens = [world.tokens["research_admin"], world.tokens["site_coordinator"]]
    checks = _checks()
    counts = {"operations": 0, "requests": 0}
    failures: list[str] = []

    for result in schema.get_all_operations():
        operation = result.ok()
        counts["operations"] += 1
        names = set(re.findall(r"{(\w+)}", operation.path))
        real = {k: v for k, v in known.items() if k in names}
        strategies = [operation.as_strategy(generation_mode=m) for m in GenerationMode]
        if real:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real))

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=SLOW.get(operation.path, EXAMPLES) * len(strategies),
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            for token in tokens:
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                counts["requests"] += 1
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as error:  # collected, reported below
                    first = str(error).strip().splitlines()[0:3]
                    where = f"{case.operation.method.upper()} {case.operation.path}"
                    failures.append(f"{where}: {first}")

        fuzz()

    print(f"\nschemathesis: {counts['operations']} operations, {counts['requests']} requests, "
          f"{len(failures)} failures")  # fmt: skip
    assert counts["operations"] >= 30
    assert not failures, "\n".join(sorted(set(failures))[:40])
