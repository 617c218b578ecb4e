"""Synthetic campaign CDRs for the rating and import benchmarks (benchmark code only).

Five days of outbound traffic, 09:00-21:00: 45 % answered, 45 % no answer, 5 % busy,
5 % failed; lognormal ring and talk times; 80 % of the answered reach an agent; lead,
attempt, hang-up side, result and stage filled like a campaign's. What differs between
benchmarks (talk-time shape, destinations, time zone) is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.cdr import CDRTable, empty_columns, open_categories

__all__ = ["campaign_cdrs"]


def campaign_cdrs(n: int, seed: int = 1, *, talk_median: float, talk_sigma: float,
                  talk_cap: float = np.inf, destinations: Sequence[str],
                  tz: str) -> CDRTable:
    """``n`` calls in start order; talk lognormal(``talk_median``, ``talk_sigma``) capped
    at ``talk_cap`` s; each call to one of ``destinations`` (number prefixes)."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    start = np.sort(rng.integers(0, 5, n) * 86400.0 + rng.uniform(9 * 3600, 21 * 3600, n))
    u = rng.random(n)
    disp = np.select([u < 0.05, u < 0.10, u < 0.55], [3, 2, 1], 0)
    ans = disp == 0
    ring = np.where(ans, rng.lognormal(np.log(8.0), 0.5, n), np.where(disp == 1, 25.0, 2.0))
    talk = np.where(ans, np.minimum(rng.lognormal(np.log(talk_median), talk_sigma, n),
                                    talk_cap), 0.0)
    cols["start"][:] = start
    cols["answer"][:] = np.where(ans, start + ring, np.nan)
    cols["end"][:] = start + ring + talk
    cols["ring_s"][:] = ring
    cols["talk_s"][:] = talk
    cols["billsec"][:] = np.ceil(talk).astype(np.int64)
    cols["disposition"][:] = disp
    conn = ans & (rng.random(n) < 0.8)
    cols["answered_by"][:] = np.where(conn, 1, np.where(ans, 2, 0))
    cols["amd"][:] = cols["answered_by"]
    cols["connect"][:] = np.where(conn, start + ring + 0.5, np.nan)
    cols["wait_s"][:] = np.where(conn, 0.5, 0.0)
    cols["wrap_s"][:] = np.where(conn, 10.0, 0.0)
    cols["agent_id"][:] = np.where(conn, rng.integers(0, 50, n), -1)
    cols["lead_id"][:] = rng.integers(0, n // 2 + 1, n)
    cols["attempt"][:] = rng.integers(1, 4, n)
    cols["hangup_by"][:] = np.where(ans, rng.integers(1, 3, n), 3)
    cols["result"][:] = np.where(conn, rng.integers(1, 5, n), 0)
    cols["stage"][:] = np.where(conn, rng.integers(1, 5, n), 0)
    cols["number_type"][:] = rng.integers(1, 3, n)
    cols["destination"][:] = rng.integers(1, len(destinations) + 1, n)
    cols["segment"][:] = rng.integers(1, 3, n)
    cats = open_categories(stage=["greeting", "pitch", "offer", "close"],
                           number_type=["mobile", "landline"], destination=list(destinations),
                           segment=["warm", "cold"])
    return CDRTable(cols, cats, "2026-03-02T00:00:00", tz, {"bench": True})
