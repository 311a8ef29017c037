"""CONSORT counts of the report: checked from the sidecar, completed from the participant file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .participants import Participants

CONSORT_KEYS = ("assessed", "eligible", "randomised")
CONSORT_ARM_KEYS = ("allocated", "received_allocated", "lost_to_follow_up", "analysed")


def _check_consort(consort: Mapping[str, Any] | None) -> dict[str, Any]:
    if consort is None:
        return {}
    unknown = set(consort) - {*CONSORT_KEYS, "arms"}
    if unknown:
        raise ValueError(f"unknown CONSORT keys {sorted(unknown)}; use {[*CONSORT_KEYS, 'arms']}")

    def count(value: Any, where: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"CONSORT {where} must be a non-negative whole number, got {value!r}")
        if float(value) != int(value):
            raise ValueError(f"CONSORT {where} must be a whole number, got {value!r}")
        return int(value)

    checked: dict[str, Any] = {key: count(consort.get(key), key) for key in CONSORT_KEYS}
    arms = consort.get("arms") or {}
    if not isinstance(arms, Mapping) or set(arms) - {"fip", "control"}:
        raise ValueError("CONSORT 'arms' must map 'fip' and/or 'control' to counts")
    checked["arms"] = {}
    for arm, values in arms.items():
        if not isinstance(values, Mapping) or set(values) - set(CONSORT_ARM_KEYS):
            raise ValueError(f"CONSORT arms.{arm} may only hold {list(CONSORT_ARM_KEYS)}")
        checked["arms"][arm] = {
            key: count(value, f"arms.{arm}.{key}") for key, value in values.items()
        }
    return checked


def _consort(p: Participants, sidecar: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "assessed": sidecar.get("assessed"),
        "eligible": sidecar.get("eligible"),
        "randomised": sidecar.get("randomised") if sidecar.get("randomised") is not None else p.n,
        "arms": {},
    }
    conversations = p.optional.get("conversations_held")
    consent = p.optional.get("consent_status")
    for arm, mask in (("fip", p.fip), ("control", ~p.fip)):
        n = int(mask.sum())
        if arm == "control":
            received: int | None = n
        elif conversations is not None:
            received = int(np.sum(conversations[mask] > 0))
        else:
            received = None
        lost = None
        if consent is not None:
            lost = int(np.sum(np.char.lower(consent[mask]) == "withdrawn"))
        values = {
            "allocated": n,
            "received_allocated": received,
            "lost_to_follow_up": lost,
            "analysed": n,
        }
        values.update(sidecar.get("arms", {}).get(arm, {}))
        out["arms"][arm] = values
    return out
