"""A synthetic multi-site FIP trial with a known effect, for the recovery test and the bench.

Sites differ in base exit rate and in allocation ratio, and the two go together (the sites
that could give FIP to more of their clients are the ones whose clients leave the benefit
least), so a comparison pooled over sites is confounded and points the wrong way. FIP
multiplies each participant's exit hazard by ``hazard_ratio`` times a client-manager effect
``exp(u_m)``. Each participant's random numbers are drawn once, so the same trial can be
generated with everyone in FIP and everyone in usual care: the two potential outcomes, whose
difference is the true effect in this very sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

START = np.datetime64("2024-01-01")
CUTOFF = np.datetime64("2027-09-01")
CODES_PRIMARY = np.array(["11", "13", "19", "02"])
CODES_COMPETING = np.array(["32", "04", "33"])
CODES_ADMIN = np.array(["31", "98"])


@dataclass(frozen=True)
class Draws:
    site: np.ndarray
    fip: np.ndarray
    manager: np.ndarray
    unit: np.ndarray
    allocated: np.ndarray
    age: np.ndarray
    months_on_benefit: np.ndarray
    rate: np.ndarray  # control hazard per day
    manager_effect: np.ndarray
    exponentials: np.ndarray  # (n, spells) unit exponentials
    kind: np.ndarray  # (n, spells) uniform for the class of the end
    code_pick: np.ndarray  # (n, spells) uniform for the code within the class
    comes_back: np.ndarray  # (n, spells) uniform for a return
    gap: np.ndarray  # (n, spells) days off benefit before a return
    conversations: np.ndarray
    withdrawn: np.ndarray


def draw(n: int, sites: int, seed: int, managers_per_site: int = 3) -> Draws:
    rng = np.random.default_rng(seed)
    base = np.exp(rng.uniform(np.log(0.0002), np.log(0.003), sites))  # exits per day
    # Confounding: the sites with the lowest exit rates give FIP to the most participants.
    order = np.argsort(np.argsort(base))
    fip_share = 0.85 - 0.75 * order / max(sites - 1, 1)
    size = rng.dirichlet(np.full(sites, 2.0)) * n
    site = np.minimum(np.searchsorted(np.cumsum(size), rng.uniform(0, n, n)), sites - 1)
    fip = rng.uniform(size=n) < fip_share[site]
    manager_u = rng.normal(0, 0.35, sites * managers_per_site)
    manager = site * managers_per_site + rng.integers(0, managers_per_site, n)
    age = rng.integers(18, 67, n)
    rate = base[site] * np.exp(-0.015 * (age - 40))
    # Partners: about one in twenty participants shares a unit with the previous one.
    unit = np.arange(n)
    partner = np.flatnonzero(rng.uniform(size=n) < 0.05)
    partner = partner[(partner > 0) & (site[partner] == site[partner - 1])]
    unit[partner] = partner - 1
    fip[partner] = fip[partner - 1]
    spells = 3
    return Draws(
        site=site,
        fip=fip,
        manager=manager,
        unit=unit,
        allocated=START + rng.integers(0, 730, n),
        age=age,
        months_on_benefit=rng.integers(6, 120, n),
        rate=rate,
        manager_effect=np.exp(manager_u[manager]),
        exponentials=rng.exponential(size=(n, spells)),
        kind=rng.uniform(size=(n, spells)),
        code_pick=rng.uniform(size=(n, spells)),
        comes_back=rng.uniform(size=(n, spells)),
        gap=rng.uniform(20, 500, size=(n, spells)),
        conversations=rng.integers(0, 7, n),
        withdrawn=rng.uniform(size=n) < 0.02,
    )


def build(d: Draws, fip: np.ndarray, hazard_ratio: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The participant and spells columns with the arms ``fip`` (the same draws otherwise)."""
    n = fip.size
    followup_end = np.minimum(d.allocated + 1096, CUTOFF)
    aow_days = np.round((67.25 - d.age) * 365.25 - 180).astype(int)
    rate = d.rate * np.where(fip, hazard_ratio * d.manager_effect, 1.0)
    start = d.allocated - (d.months_on_benefit * 30.4).astype(int)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("participant", "spell", "start", "end",
                                                          "end_code")}  # fmt: skip
    alive = np.ones(n, dtype=bool)
    first_exit = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    first_code = np.full(n, "", dtype="<U2")
    since = np.maximum(start, d.allocated)  # exits happen from allocation on
    for j in range(d.exponentials.shape[1]):
        duration = np.ceil(d.exponentials[:, j] / rate).astype(int)
        end = since + duration
        ends = alive & (end <= followup_end)
        kind = d.kind[:, j]
        primary = kind < 0.6
        competing = (kind >= 0.6) & (kind < 0.75)
        pick = d.code_pick[:, j]
        code = np.where(
            primary, CODES_PRIMARY[(pick * 4).astype(int)],
            np.where(competing, CODES_COMPETING[(pick * 3).astype(int)],
                     CODES_ADMIN[(pick * 2).astype(int)]),
        )  # fmt: skip
        # Fewer come back after work than after an administrative end; nobody after death.
        back_p = np.where(primary, 0.25, np.where(competing, 0.05, 0.5))
        back_p = np.where(code == "04", 0.0, back_p)
        rows["participant"].append(np.flatnonzero(alive))
        rows["spell"].append(np.full(int(alive.sum()), j + 1))
        rows["start"].append(start[alive])
        rows["end"].append(np.where(ends, end, np.datetime64("NaT"))[alive])
        rows["end_code"].append(np.where(ends, code, "")[alive])
        new = ends & np.isnat(first_exit)
        first_exit[new] = end[new]
        first_code[new] = code[new]
        returns = ends & (d.comes_back[:, j] < back_p)
        start = end + d.gap[:, j].astype(int)
        alive = returns & (start <= followup_end)
        since = start
    order = np.lexsort((np.concatenate(rows["spell"]), np.concatenate(rows["participant"])))
    spells = {k: np.concatenate(v)[order] for k, v in rows.items()}
    spells["participant"] = spells["participant"] + 1
    spells["start"] = spells["start"].astype("datetime64[D]")
    spells["end"] = spells["end"].astype("datetime64[D]")
    age_band = np.where(d.age < 35, "18-34", np.where(d.age < 55, "35-54", "55+"))
    participants = {
        "participant": np.arange(1, n + 1),
        "site": np.char.add("site", d.site.astype(str)),
        "arm": np.where(fip, "fip", "control"),
        "allocated_on": d.allocated,
        "followup_end": followup_end,
        "exit_date": first_exit,
        "exit_code": first_code,
        "age_band": age_band,
        "consent_status": np.where(d.withdrawn, "withdrawn", "given"),
        "conversations_held": np.where(fip, d.conversations, 0),
        "client_manager": np.where(fip, np.char.add("km", d.manager.astype(str)), ""),
        "unit": d.unit + 1,
        "aow_days_from_allocation": aow_days,
    }
    return participants, spells


def write_csv(columns: dict[str, Any], path: Any) -> None:
    """Write columns as the platform's export writes them (ISO dates, empty for missing)."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            k: (np.where(np.isnat(v), "", v.astype(str)) if v.dtype.kind == "M" else v)
            for k, v in columns.items()
        }
    )
    frame.to_csv(path, index=False)
