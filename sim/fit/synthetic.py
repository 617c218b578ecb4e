"""Exports drawn straight from known laws, without the simulator: the estimators' test bed.

An estimator is trusted when it recovers a truth it was not told. ``draw_export``
writes a CDR table whose dials follow given laws exactly — failed / busy / picked up
with probability ``p_pickup`` after a ring time from ``ring``, no answer when that is
beyond the ring timeout, talk from ``talk``, retries up to ``max_attempts`` — so a
fit's CIs can be checked against the truth over many seeds, fast, and a million-row
export can be made for the benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..cdr import CDRTable, empty_columns, encode, open_categories
from ..distributions import Distribution, parse_distribution
from ..errors import ScenarioError
from ..validate import Problems

__all__ = ["draw_export"]


def _law(raw: Any, key: str) -> Distribution:
    problems = Problems("draw_export", ScenarioError)
    dist = parse_distribution(raw, key, problems)
    problems.raise_if_any()
    assert dist is not None
    return dist


def draw_export(*, leads: int, seed: int = 1, p_fail: float = 0.03, p_busy: float = 0.05,
                p_pickup: float = 0.5, ring: Mapping[str, Any] | float | None = None,
                ring_timeout_s: float = 15.0, talk: Mapping[str, Any] | float | None = None,
                max_attempts: int = 1, retry_s: float = 7200.0,
                whole_seconds: bool = False,
                pickup_by_hour: Mapping[int, float] | None = None) -> CDRTable:
    """A CDR table of ``leads`` leads drawn from the given laws.

    Parameters
    ----------
    leads
        Number of leads; each is dialled until answered or ``max_attempts`` dials.
    seed
        Root seed.
    p_fail, p_busy, p_pickup
        Per-dial probabilities (pick-up: of the dials that ring).
    ring, talk
        Distribution specs (as in a scenario) of ring-to-answer and talk time, s.
    ring_timeout_s
        The line stops ringing after this many seconds (s).
    max_attempts
        Dials per lead at most.
    retry_s
        Delay from a dial's end to the lead's next dial (s).
    whole_seconds
        Truncate timestamps to the second and billsec to whole seconds (ceil of talk).
    pickup_by_hour
        Pick-up multiplier by hour of day (UTC) of the dial's start (1 for other hours).
    """
    ring_d = _law(ring if ring is not None else
                  {"dist": "lognormal", "median": 12, "sigma": 0.5}, "ring")
    talk_d = _law(talk if talk is not None else
                  {"dist": "lognormal", "median": 40, "sigma": 1.0}, "talk")
    # its own seed family (13, the issue): never the simulator's streams
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(13,))))
    rows: list[dict[str, np.ndarray]] = []
    alive = np.arange(leads)
    t0 = 9 * 3600.0 + rng.random(leads) * 8 * 3600.0  # first dials between 09:00 and 17:00
    when = t0
    for a in range(1, max_attempts + 1):
        n = len(alive)
        if n == 0:
            break
        u = rng.random(n)
        r = ring_d.sample(rng, n)
        mult = np.ones(n)
        if pickup_by_hour:
            hod = (when // 3600 % 24).astype(np.int64)
            for h, m in pickup_by_hour.items():
                mult[hod == int(h)] = float(m)
        picks = rng.random(n) < np.minimum(p_pickup * mult, 1.0)
        fail = u < p_fail
        busy = (u >= p_fail) & (u < p_fail + p_busy)
        answered = ~fail & ~busy & picks & (r <= ring_timeout_s)
        disp = np.where(fail, 3, np.where(busy, 2, np.where(answered, 0, 1))).astype(np.int8)
        talk_s = np.where(answered, talk_d.sample(rng, n), 0.0)
        ring_s = np.where(answered, r, np.where(fail | busy, 2.0, ring_timeout_s))
        start = when
        answer = np.where(answered, start + ring_s, np.nan)
        end = start + ring_s + talk_s
        rows.append({"lead": alive, "attempt": np.full(n, a), "start": start,
                     "answer": answer, "end": end, "disp": disp})
        retry = ~answered
        alive = alive[retry]
        when = end[retry] + retry_s
    cat = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    order = np.argsort(cat["start"], kind="stable")
    cat = {k: v[order] for k, v in cat.items()}
    n = len(order)
    cols = empty_columns(n)
    start, answer, end = cat["start"], cat["answer"], cat["end"]
    if whole_seconds:
        start, answer, end = np.floor(start), np.floor(answer), np.floor(end)
    ans = cat["disp"] == 0
    cols["lead_id"][:] = cat["lead"]
    cols["attempt"][:] = cat["attempt"]
    cols["start"][:] = start
    cols["answer"][:] = answer
    cols["end"][:] = end
    cols["ring_s"][:] = np.where(ans, answer - start, end - start)
    talk_s = np.where(ans, end - answer, 0.0)
    cols["talk_s"][:] = talk_s
    cols["billsec"][:] = np.where(ans, np.ceil(np.where(ans, cat["end"] - cat["answer"], 0)),
                                  0).astype(np.int64)
    cols["disposition"][:] = cat["disp"]
    cols["answered_by"][:] = np.where(ans, encode("answered_by", "person"), 0)
    return CDRTable(cols, open_categories(), "2026-03-02T00:00:00", "UTC",
                    {"source": "draw_export", "seed": seed})
