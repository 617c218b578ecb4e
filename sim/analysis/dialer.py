"""The dialer's own figures: dial level, lines in flight, agent wait, and their timeline.

Computed from CDRs and the agent log afterwards, so they mean the same thing for
every pacing mode (and for imported calls): a line is "in flight" from dial to answer
(or to giving up); the dial level is lines in flight per logged-in agent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..agentlog import AgentLog
from ..cdr import CDRTable

__all__ = ["dialer_stats", "timeline"]


def _integral(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """∫ (number of intervals open at t) dt from −∞ to each edge (vectorised)."""
    s = np.sort(starts)
    e = np.sort(ends)
    cs = np.concatenate([[0.0], np.cumsum(s)])
    ce = np.concatenate([[0.0], np.cumsum(e)])
    ns = np.searchsorted(s, edges, side="left")
    ne = np.searchsorted(e, edges, side="left")
    return (ns * edges - cs[ns]) - (ne * edges - ce[ne])


def _ringing(cdrs: CDRTable) -> tuple[np.ndarray, np.ndarray]:
    start = cdrs["start"]
    stop = np.where(np.isnan(cdrs["answer"]), cdrs["end"], cdrs["answer"])
    return start, stop


def timeline(cdrs: CDRTable, agents: AgentLog, bin_s: float = 300.0) -> dict[str, np.ndarray]:
    """Per time bin: lines in flight, agents logged in and idle, dial level, abandonment.

    Returns arrays ``t`` (bin start, s), ``lines_in_flight``, ``agents_logged_in``,
    ``agents_idle`` (time averages over the bin), ``dial_level`` (lines per logged-in
    agent), ``live``, ``abandoned`` (counts by answer time) and ``abandon_rate``
    (cumulative abandoned / live answers up to the bin's end). Bins where nobody is
    logged in are dropped.
    """
    if not len(cdrs):
        return {k: np.zeros(0) for k in ("t", "lines_in_flight", "agents_logged_in",
                                         "agents_idle", "dial_level", "live", "abandoned",
                                         "abandon_rate")}
    t0 = float(np.floor(cdrs["start"].min() / bin_s) * bin_s)
    t1 = float(max(np.nanmax(cdrs["end"]), agents.end.max() if len(agents) else 0.0))
    edges = np.arange(t0, t1 + bin_s, bin_s)
    s, e = _ringing(cdrs)
    lines = np.diff(_integral(s, e, edges)) / bin_s
    logged = np.diff(_integral(agents.start, agents.end, edges)) / bin_s
    idle_m = agents.state == 0
    idle = np.diff(_integral(agents.start[idle_m], agents.end[idle_m], edges)) / bin_s
    person = cdrs.mask("answered_by", "person")
    at = cdrs["answer"]
    live = np.histogram(at[person], edges)[0].astype(float)
    ab = np.histogram(at[person & cdrs["abandoned"]], edges)[0].astype(float)
    cum_live, cum_ab = np.cumsum(live), np.cumsum(ab)
    rate = np.divide(cum_ab, cum_live, out=np.zeros_like(cum_ab), where=cum_live > 0)
    level = np.divide(lines, logged, out=np.zeros_like(lines), where=logged > 1e-9)
    keep = logged > 1e-9
    return {"t": edges[:-1][keep], "lines_in_flight": lines[keep],
            "agents_logged_in": logged[keep], "agents_idle": idle[keep],
            "dial_level": level[keep], "live": live[keep], "abandoned": ab[keep],
            "abandon_rate": rate[keep]}


def dialer_stats(cdrs: CDRTable, agents: AgentLog,
                 tl: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Mean dial level and lines in flight (while agents are logged in), dials per
    contact, and the mean wait of an agent between calls (idle time per call handled)."""
    logged = agents.logged_in()
    s, e = _ringing(cdrs)
    ring_time = float(np.sum(np.maximum(e - s, 0.0)))
    tl = tl if tl is not None else timeline(cdrs, agents)
    lines = tl["lines_in_flight"]
    handled = int(((cdrs["agent_id"] >= 0) & ~np.isnan(cdrs["connect"])).sum())
    contacts = int((cdrs.mask("answered_by", "person") & ~np.isnan(cdrs["connect"])).sum())
    return {
        "mean_dial_level": ring_time / logged if logged else 0.0,
        "mean_lines_in_flight": float(lines.mean()) if lines.size else 0.0,
        "dials_per_contact": len(cdrs) / contacts if contacts else float("nan"),
        "agent_wait_between_calls_s": agents.total("idle") / handled if handled else
        float("nan"),
    }
